# Copyright 2026 The clingers_perception authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
A physically plausible IR camera that images the docking LEDs, with no ROS import.

Shared by the tests, the simulated camera node, the demo and the evaluation. The model, with
every brightness in 8-bit DN (a 16-bit frame is the same frame scaled by 257):

- An LED is a uniform emitting disk of radius `led_radius_m`. Its image is that disk (apparent
  radius f * led_radius_m / z, with the local scale of the lens distortion) convolved with the lens
  PSF: a narrow Gaussian core plus a wide, weak Gaussian halo, rendered at the distorted projection
  of the LED centre (the PSF is taken as shift-invariant over one spot).
- Exposure is fixed, so the flux of a spot goes as 1 / range^2 and its disk radius as 1 / z: the
  disk's surface brightness is constant, and once the disk is resolved the core clips at full
  scale and the clipped area, widened by the halo, grows as the range shrinks. Relative
  illumination of the wide-angle lens dims spots towards the corners.
- Below `flare_range_m` lens flare adds a rectangular streak that starts at the LED and runs to
  one side only (radially outwards by default), clipped near the LED and fading along its length,
  so the centroid of the clipped blob is not the LED centre.
- The sensor adds a black level, read noise, shot noise in the spots, fixed hot pixels, and
  clips at full scale.

Use `IrSceneRenderer` to render many frames of one camera: it holds the noise banks. The function
`render_frame` is a thin wrapper that reuses a cached renderer for the same camera and config.
Pixel coordinates follow OpenCV: the centre of pixel (col, row) is at (col, row).
"""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .camera_model import CameraModel

DISTRACTOR_KINDS = ('glint', 'reflection', 'hot_spot')

# Points closer to the lens plane than this are not imaged (metres).
_MIN_DEPTH_M = 1e-3
# A 16-bit frame is the 8-bit DN scale times this, so 255 DN maps to 65535.
_SCALE_16_BIT = 257.0
# The dark-frame bank is this much larger than the image on each side; a frame takes a random
# offset into it (and a random vertical flip), so consecutive frames get uncorrelated read noise.
_DARK_BANK_PAD_PX = 32
_SHOT_BANK_SIZE = 1 << 20
# Pixel integration adds the variance of a unit box to the optical PSF.
_PIXEL_BOX_VARIANCE = 1.0 / 12.0
# Windows around a spot reach this many PSF sigmas beyond the disk edge; the halo is weak, so
# what it leaves outside is a fraction of a DN.
_CORE_REACH_SIGMAS = 5.0
_HALO_REACH_SIGMAS = 3.5
# Along the streak the flare fades as (1 - s / L)^p: clipped near the LED at close range, with
# a visible gradient before the tip.
_FLARE_FADE_POWER = 2.0
_MAX_FLARE_WIDTH_FRACTION = 0.6
_PROFILE_CACHE_SIZE = 512
# cv2.remap needs the table narrower than SHRT_MAX.
_MAX_TABLE_SIZE = 30000
# The flare streak is sampled at this spacing in its own frame before it is rotated in (px).
_STREAK_SAMPLE_PX = 0.5
_RENDERER_CACHE_SIZE = 4
# Renderers reused by render_frame, keyed by camera and config.
_RENDERERS = {}

# Gauss-Legendre nodes over theta in [0, pi/2] for the chord integral of a blurred disk.
_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(64)
_CHORD_THETA = (_LEGENDRE_X + 1.0) * (np.pi / 4.0)
_CHORD_WEIGHT = _LEGENDRE_W * (np.pi / 4.0)


def default_sim_camera(width=1280, height=1024):
    """
    Return the simulated wide-angle IR camera: about 85 deg horizontal FOV, barrel distortion.

    The focal length scales with the width (fx = fy = 700 px at 1280 px), the principal point
    sits a few pixels off the centre as in a real calibration, and the plumb_bob coefficients
    stay monotonic well beyond the image corners.
    """
    width, height = int(width), int(height)
    focal = 700.0 * width / 1280.0
    cx = 0.5 * (width - 1) + 0.006 * width
    cy = 0.5 * (height - 1) - 0.005 * height
    k = [focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0]
    p = [focal, 0.0, cx, 0.0, 0.0, focal, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    d = [-0.28, 0.09, 6e-4, -4e-4, -0.005]
    return CameraModel.from_camera_info(width, height, 'plumb_bob', d, k, p)


@dataclass(frozen=True)
class IrSceneConfig:
    """
    Optics, LEDs and sensor of the simulated IR camera; brightness in 8-bit DN.

    Frozen so that a renderer built from it cannot go stale; use dataclasses.replace to vary it.
    """

    # Radius of the LED's emitting area (metres).
    led_radius_m: float = 0.0025
    # Peak of the unclipped spot of an on-axis LED at 1 m; scales as 1 / range^2 (fixed exposure).
    led_peak_dn_at_1m: float = 800.0
    # Sigma of the Gaussian core of the lens PSF (pixels, before pixel integration).
    psf_sigma_px: float = 0.8
    # Share of the flux scattered into the wide halo, and the halo's sigma (pixels).
    halo_fraction: float = 0.08
    halo_sigma_px: float = 5.0
    # Flare streaks appear below this range and grow as the range shrinks (metres).
    flare_range_m: float = 0.45
    # Streak length: focal_length_px * flare_length_rad_per_m * (flare_range_m - range_m) pixels,
    # i.e. the angle it subtends grows by this many radians per metre of closing.
    flare_length_rad_per_m: float = 0.6
    # Streak width as a fraction of the diameter of the clipped core (at most 0.6).
    flare_width_fraction: float = 0.45
    # None: the streak runs radially away from the principal point; else this image angle,
    # degrees from +x (right) towards +y (down).
    flare_direction_deg: Optional[float] = None
    # Streak brightness at its root in units of the LED's surface brightness, times
    # ((flare_range_m / range_m)^2 - 1); 0 disables flare.
    flare_strength: float = 1.0
    # Relative illumination of the lens at the image corner (1 = no vignetting).
    relative_illumination_at_corner: float = 0.7
    # Black level, Gaussian read noise sigma, and sensor gain for shot noise (DN per electron).
    background_dn: float = 6.0
    noise_sigma_dn: float = 1.5
    dn_per_electron: float = 0.03
    # Fixed hot pixels of the sensor (same place every frame for one seed).
    hot_pixel_count: int = 12
    # 8 -> uint8 frames, 16 -> uint16 frames scaled to the full 16-bit range.
    bit_depth: int = 8
    # Seeds the noise banks and hot pixels; frame-to-frame noise comes from the rng passed in.
    seed: int = 0

    def __post_init__(self):
        """Refuse settings that cannot describe a camera, naming the field."""
        if self.bit_depth not in (8, 16):
            raise ValueError(f'bit_depth must be 8 or 16, got {self.bit_depth}')
        non_negative = ('led_radius_m', 'led_peak_dn_at_1m', 'halo_fraction', 'flare_range_m',
                        'flare_length_rad_per_m', 'flare_width_fraction', 'flare_strength',
                        'background_dn', 'noise_sigma_dn', 'dn_per_electron', 'hot_pixel_count')
        for name in non_negative:
            if not getattr(self, name) >= 0.0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        for name in ('psf_sigma_px', 'halo_sigma_px'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.halo_fraction >= 1.0:
            raise ValueError(f'halo_fraction must be < 1, got {self.halo_fraction}')
        if self.flare_width_fraction > _MAX_FLARE_WIDTH_FRACTION:
            raise ValueError(f'flare_width_fraction must be <= {_MAX_FLARE_WIDTH_FRACTION}, '
                             f'got {self.flare_width_fraction}')
        if not 0.0 < self.relative_illumination_at_corner <= 1.0:
            raise ValueError('relative_illumination_at_corner must be in (0, 1], got '
                             f'{self.relative_illumination_at_corner}')


@dataclass(frozen=True)
class Distractor:
    """
    A bright spot that is not an LED: an elliptical Gaussian blob.

    `peak_dn` is the unclipped peak in 8-bit DN (above 255 clips), `sigma_px` the sigma across the
    blob, `elongation` (>= 1) the ratio of the sigma along it, and `angle_deg` the direction of
    its long axis from +x towards +y.
    """

    x_px: float
    y_px: float
    peak_dn: float
    sigma_px: float
    elongation: float = 1.0
    angle_deg: float = 0.0
    kind: str = 'glint'


@dataclass
class RenderedFrame:
    """
    A rendered frame and its ground truth.

    `led_pixels` are the distorted projections of the LED centres (NaN for LEDs behind the
    camera or outside the lens's field); `visible` is True where the LED is in front of the
    camera, its centre is inside the image, and the caller's mask did not hide it; `ranges_m` are
    the distances from the camera centre; `full_scale_dn` is the clip level in the image's units.
    """

    image: np.ndarray
    led_pixels: np.ndarray
    visible: np.ndarray
    ranges_m: np.ndarray
    full_scale_dn: int


class IrSceneRenderer:
    """
    Renders frames of one camera and config; holds the noise banks and profile cache.

    Build once and call `render` per frame: a frame costs one copy of a pre-generated dark frame
    plus work in small windows around the spots.
    """

    def __init__(self, camera, config=None):
        """Generate the dark-frame and shot-noise banks and the fixed hot pixels."""
        self.camera = camera
        self.config = IrSceneConfig() if config is None else config
        cfg = self.config
        self._scale = _SCALE_16_BIT if cfg.bit_depth == 16 else 1.0
        self._dtype = np.uint16 if cfg.bit_depth == 16 else np.uint8
        self.full_scale_dn = int(np.iinfo(self._dtype).max)
        self._saturation_dn = self.full_scale_dn / self._scale
        self._rng = np.random.default_rng(cfg.seed)
        bank_rng = np.random.default_rng([cfg.seed, 1])
        height, width = camera.height, camera.width
        pad = _DARK_BANK_PAD_PX
        dark = bank_rng.standard_normal((height + 2 * pad, width + 2 * pad), dtype=np.float32)
        dark *= cfg.noise_sigma_dn * self._scale
        dark += cfg.background_dn * self._scale
        self._dark_bank = np.clip(np.rint(dark), 0, self.full_scale_dn).astype(self._dtype)
        self._shot_bank = bank_rng.standard_normal(_SHOT_BANK_SIZE, dtype=np.float32)
        count = int(cfg.hot_pixel_count)
        self._hot_rows = bank_rng.integers(0, height, count)
        self._hot_cols = bank_rng.integers(0, width, count)
        self._hot_dn = bank_rng.uniform(40.0, 255.0, count) * self._scale
        self._principal_point = camera.camera_matrix[:2, 2].copy()
        corners = np.array([[0.0, 0.0], [width - 1.0, 0.0], [0.0, height - 1.0],
                            [width - 1.0, height - 1.0]])
        self._corner_radius_px = float(np.max(np.linalg.norm(
            corners - self._principal_point, axis=1)))
        self._max_normalized_radius = _monotonic_radius(camera)
        self._core_sigma = float(np.sqrt(cfg.psf_sigma_px ** 2 + _PIXEL_BOX_VARIANCE))
        self._halo_sigma = float(np.sqrt(cfg.halo_sigma_px ** 2 + _PIXEL_BOX_VARIANCE))
        self._profiles = {}
        # Flux (DN * px) of an on-axis LED at 1 m that gives the configured peak.
        radius_at_1m = camera.focal_length_px * cfg.led_radius_m
        unit_peak = float(self._spot_table(radius_at_1m)[1][0, 0])
        self._flux_at_1m = cfg.led_peak_dn_at_1m / unit_peak

    @property
    def hot_pixels(self):
        """Return the sensor's hot pixels: columns, rows and the DN each adds (8-bit scale)."""
        return self._hot_cols.copy(), self._hot_rows.copy(), self._hot_dn / self._scale

    def add_hot_pixels(self, cols, rows, dn):
        """Give the sensor more hot pixels, fixed like its own: where a test wants one."""
        self._hot_cols = np.concatenate([self._hot_cols, np.asarray(cols, np.int64)])
        self._hot_rows = np.concatenate([self._hot_rows, np.asarray(rows, np.int64)])
        self._hot_dn = np.concatenate([self._hot_dn,
                                       np.asarray(dn, np.float64) * self._scale])

    def render(self, points_camera, visible=None, distractors=(), rng=None):
        """
        Render LEDs at Nx3 camera-frame points (and distractors); return a RenderedFrame.

        `visible` (N bools) hides LEDs, e.g. occluded ones; `rng` (numpy Generator) drives the
        per-frame noise, the renderer's own seeded generator when None.
        """
        rng = self._rng if rng is None else rng
        points = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
        count = points.shape[0]
        if visible is None:
            shown = np.ones(count, dtype=bool)
        else:
            shown = np.asarray(visible, dtype=bool).reshape(-1)
            if shown.size != count:
                raise ValueError(f'visible has {shown.size} entries for {count} LEDs')
        ranges = np.linalg.norm(points, axis=1)
        depth = points[:, 2]
        in_front = depth > _MIN_DEPTH_M
        # Beyond the radius where the distortion polynomial folds back, a projection lands inside
        # the image although the lens cannot see the point.
        with np.errstate(divide='ignore', invalid='ignore'):
            radial = np.linalg.norm(points[:, :2], axis=1) / depth
        imaged = in_front & (radial < self._max_normalized_radius)
        pixels = np.full((count, 2), np.nan)
        radii = np.zeros(count)
        if np.any(imaged):
            pixels[imaged], radii[imaged] = self._project_disks(points[imaged])
        width, height = self.camera.width, self.camera.height
        with np.errstate(invalid='ignore'):
            inside = imaged & (pixels[:, 0] >= -0.5) & (pixels[:, 0] < width - 0.5) \
                & (pixels[:, 1] >= -0.5) & (pixels[:, 1] < height - 0.5)

        image = self._dark_frame(rng)
        for index in np.flatnonzero(imaged & shown):
            self._draw_led(image, pixels[index], radii[index], ranges[index], rng)
        for distractor in distractors:
            self._draw_distractor(image, distractor, rng)
        return RenderedFrame(image, pixels, inside & shown, ranges, self.full_scale_dn)

    def _project_disks(self, points):
        # The disk's apparent radius follows the local scale of the distortion, not only f / z.
        radius = self.config.led_radius_m
        offsets = np.concatenate(
            [points, points + [radius, 0.0, 0.0], points + [0.0, radius, 0.0]])
        projected = self.camera.project(offsets).reshape(3, -1, 2)
        centres = projected[0]
        scale = 0.5 * (np.linalg.norm(projected[1] - centres, axis=1)
                       + np.linalg.norm(projected[2] - centres, axis=1))
        return centres, scale

    def _dark_frame(self, rng):
        pad2 = 2 * _DARK_BANK_PAD_PX
        row, col = rng.integers(0, pad2 + 1, 2)
        view = self._dark_bank[row:row + self.camera.height, col:col + self.camera.width]
        if rng.integers(0, 2):
            view = view[::-1]
        image = view.copy(order='C')
        if self._hot_rows.size:
            hot = image[self._hot_rows, self._hot_cols] + self._hot_dn
            image[self._hot_rows, self._hot_cols] = np.minimum(hot, self.full_scale_dn)
        return image

    def _draw_led(self, image, pixel, disk_radius, range_m, rng):
        cfg = self.config
        offset = pixel - self._principal_point
        falloff = min(1.0, float(np.dot(offset, offset)) / self._corner_radius_px ** 2)
        illumination = 1.0 - (1.0 - cfg.relative_illumination_at_corner) * falloff
        flux = self._flux_at_1m * illumination / range_m ** 2
        step, table = self._spot_table(disk_radius)
        reach = disk_radius + _CORE_REACH_SIGMAS * self._core_sigma
        if cfg.halo_fraction > 0.0:
            reach = max(reach, disk_radius + _HALO_REACH_SIGMAS * self._halo_sigma)
        spot_window = self._window(pixel - reach, pixel + reach)
        streak = self._flare_streak(pixel, disk_radius, range_m, flux, step, table)
        window = spot_window
        if streak is not None:
            direction, length, width, _ = streak
            tip = pixel + direction * length
            margin = 0.5 * width + 4.0 * self._core_sigma
            window = self._window(np.minimum(pixel, tip) - margin, np.maximum(pixel, tip) + margin)
            if spot_window is not None and window is not None:
                window = (min(window[0], spot_window[0]), max(window[1], spot_window[1]),
                          min(window[2], spot_window[2]), max(window[3], spot_window[3]))
            else:
                window = window or spot_window
        if window is None:
            return
        row0, row1, col0, col1 = window
        signal = np.zeros((row1 - row0, col1 - col0), dtype=np.float32)
        if spot_window is not None:
            srow0, srow1, scol0, scol1 = spot_window
            dx = (np.arange(scol0, scol1) - pixel[0]).astype(np.float32)[None, :]
            dy = (np.arange(srow0, srow1) - pixel[1]).astype(np.float32)[:, None]
            rho = np.sqrt(dx * dx + dy * dy)
            signal[srow0 - row0:srow1 - row0, scol0 - col0:scol1 - col0] = \
                np.float32(flux) * _lookup(table, rho * np.float32(1.0 / step))
        if streak is not None:
            signal += _streak_signal(streak, self._core_sigma, pixel - (col0, row0),
                                     signal.shape)
        self._add_signal(image, window, signal, rng)

    def _flare_streak(self, pixel, disk_radius, range_m, flux, step, table):
        cfg = self.config
        if cfg.flare_strength <= 0.0 or range_m >= cfg.flare_range_m:
            return None
        length = self.camera.focal_length_px * cfg.flare_length_rad_per_m \
            * (cfg.flare_range_m - range_m)
        if cfg.flare_direction_deg is None:
            outward = pixel - self._principal_point
            norm = float(np.linalg.norm(outward))
            direction = outward / norm if norm > 1e-6 else np.array([1.0, 0.0])
        else:
            angle = np.deg2rad(cfg.flare_direction_deg)
            direction = np.array([np.cos(angle), np.sin(angle)])
        # The width follows the clipped core (the half-maximum contour when nothing clips).
        values = flux * table[0]
        level = min(self._saturation_dn, 0.5 * float(values[0]))
        core_diameter = 2.0 * step * float(np.flatnonzero(values >= level)[-1])
        width = cfg.flare_width_fraction * max(core_diameter, 2.0 * self._core_sigma)
        # Scaled by the disk's surface brightness so the streak clips near the LED like the core.
        surface_dn = flux / (np.pi * max(disk_radius, self._core_sigma) ** 2)
        root_dn = cfg.flare_strength * surface_dn * ((cfg.flare_range_m / range_m) ** 2 - 1.0)
        return direction, length, width, root_dn

    def _spot_table(self, disk_radius):
        """
        Return (step, 1xN float32 table) of the unit-flux spot against distance from its centre.

        The spot is the disk convolved with the core and halo PSF. Radii are cached at 0.01 px,
        far below anything the spot's shape can show.
        """
        key = round(float(disk_radius), 2)
        entry = self._profiles.get(key)
        if entry is None:
            if len(self._profiles) >= _PROFILE_CACHE_SIZE:
                self._profiles.clear()
            halo = self.config.halo_fraction
            core_step, core = _blurred_disk_profile(key, self._core_sigma)
            extent = core_step * core.size
            if halo > 0.0:
                halo_step, halo_table = _blurred_disk_profile(key, self._halo_sigma)
                extent = max(extent, halo_step * halo_table.size)
            step = max(core_step, extent / _MAX_TABLE_SIZE)
            rho = np.arange(0.0, extent, step)
            values = (1.0 - halo) * np.interp(rho, np.arange(core.size) * core_step, core,
                                              right=0.0)
            if halo > 0.0:
                values += halo * np.interp(rho, np.arange(halo_table.size) * halo_step,
                                           halo_table, right=0.0)
            entry = (step, values.astype(np.float32).reshape(1, -1))
            self._profiles[key] = entry
        return entry

    def _draw_distractor(self, image, distractor, rng):
        sigma_minor = float(np.sqrt(distractor.sigma_px ** 2 + _PIXEL_BOX_VARIANCE))
        sigma_major = float(np.sqrt((distractor.sigma_px * max(distractor.elongation, 1.0)) ** 2
                                    + _PIXEL_BOX_VARIANCE))
        # Keep the blob's flux when pixel integration widens it.
        peak = distractor.peak_dn * distractor.sigma_px ** 2 * max(distractor.elongation, 1.0) \
            / (sigma_minor * sigma_major)
        centre = np.array([distractor.x_px, distractor.y_px], dtype=np.float64)
        reach = 4.0 * sigma_major
        window = self._window(centre - reach, centre + reach)
        if window is None:
            return
        row0, row1, col0, col1 = window
        dx = (np.arange(col0, col1) - centre[0]).astype(np.float32)[None, :]
        dy = (np.arange(row0, row1) - centre[1]).astype(np.float32)[:, None]
        angle = np.deg2rad(distractor.angle_deg)
        along = (dx * np.float32(np.cos(angle)) + dy * np.float32(np.sin(angle))) \
            * np.float32(1.0 / sigma_major)
        across = (dy * np.float32(np.cos(angle)) - dx * np.float32(np.sin(angle))) \
            * np.float32(1.0 / sigma_minor)
        signal = np.float32(peak) * np.exp(np.float32(-0.5) * (along * along + across * across))
        self._add_signal(image, window, signal, rng)

    def _window(self, lo, hi):
        col0 = max(int(np.floor(lo[0])), 0)
        row0 = max(int(np.floor(lo[1])), 0)
        col1 = min(int(np.ceil(hi[0])) + 1, self.camera.width)
        row1 = min(int(np.ceil(hi[1])) + 1, self.camera.height)
        if col0 >= col1 or row0 >= row1:
            return None
        return row0, row1, col0, col1

    def _add_signal(self, image, window, signal, rng):
        row0, row1, col0, col1 = window
        patch = image[row0:row1, col0:col1]
        signal = np.maximum(signal, np.float32(0.0))
        gain = self.config.dn_per_electron
        if gain > 0.0:
            size = signal.size
            if size <= _SHOT_BANK_SIZE:
                start = int(rng.integers(0, _SHOT_BANK_SIZE - size + 1))
                normal = self._shot_bank[start:start + size].reshape(signal.shape)
            else:
                normal = rng.standard_normal(signal.shape, dtype=np.float32)
            signal += np.sqrt(signal * np.float32(gain)) * normal
        total = patch.astype(np.float32)
        total += signal * np.float32(self._scale)
        np.clip(total, 0.0, self.full_scale_dn, out=total)
        # Adding 0.5 before the truncating cast rounds the non-negative values.
        total += np.float32(0.5)
        patch[...] = total


def render_frame(camera, config, points_camera, visible=None, distractors=(), rng=None):
    """
    Render one frame: a thin wrapper over a cached IrSceneRenderer for this camera and config.

    See IrSceneRenderer.render for the arguments. The cache keeps a few renderers, so repeated
    calls with the same camera and config cost no bank generation.
    """
    config = IrSceneConfig() if config is None else config
    key = (camera.width, camera.height, camera.camera_matrix.tobytes(),
           camera.distortion.tobytes(), config)
    renderer = _RENDERERS.get(key)
    if renderer is None:
        if len(_RENDERERS) >= _RENDERER_CACHE_SIZE:
            _RENDERERS.pop(next(iter(_RENDERERS)))
        renderer = IrSceneRenderer(camera, config)
        _RENDERERS[key] = renderer
    return renderer.render(points_camera, visible, distractors, rng)


def random_distractors(rng, camera, count, kinds=DISTRACTOR_KINDS, min_separation_px=None,
                       avoid_px=None):
    """
    Return `count` Distractors placed at random in the image, cycling through `kinds`.

    glint: a small LED-like spot at LED brightness, the hard case for identification;
    reflection: a dimmer, larger, often elongated blob (light on a structure);
    hot_spot: a 1-2 pixel clipped point.
    Spots keep `min_separation_px` (default 3 % of the width) from each other and from the Mx2
    pixels `avoid_px` (e.g. the LEDs); ValueError when they cannot be placed.
    """
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in DISTRACTOR_KINDS]
    if unknown or (count > 0 and not kinds):
        raise ValueError(f'distractor kinds must be among {DISTRACTOR_KINDS}, got {kinds}')
    if min_separation_px is None:
        min_separation_px = 0.03 * camera.width
    taken = [] if avoid_px is None else [np.asarray(p, dtype=np.float64)
                                         for p in np.asarray(avoid_px).reshape(-1, 2)]
    scale = camera.focal_length_px / 700.0
    margin = 4.0
    distractors = []
    order = [kinds[i % len(kinds)] for i in range(count)]
    rng.shuffle(order)
    for kind in order:
        for _ in range(1000):
            x = rng.uniform(margin, camera.width - 1 - margin)
            y = rng.uniform(margin, camera.height - 1 - margin)
            if kind == 'hot_spot':
                # On a pixel centre, or between two for a 2-pixel spot.
                x = np.floor(x) + (0.5 if rng.random() < 0.5 else 0.0)
                y = float(np.floor(y))
            if all(np.hypot(x - p[0], y - p[1]) >= min_separation_px for p in taken):
                break
        else:
            raise ValueError(f'cannot place {count} distractors {min_separation_px:.0f} px apart '
                             f'in a {camera.width}x{camera.height} image')
        taken.append(np.array([x, y]))
        distractors.append(_random_distractor(rng, kind, float(x), float(y), scale))
    return distractors


def _random_distractor(rng, kind, x, y, scale):
    angle = rng.uniform(0.0, 180.0)
    if kind == 'glint':
        return Distractor(x, y, peak_dn=rng.uniform(120.0, 700.0), sigma_px=rng.uniform(0.8, 1.4),
                          elongation=rng.uniform(1.0, 1.3), angle_deg=angle, kind=kind)
    if kind == 'reflection':
        return Distractor(x, y, peak_dn=rng.uniform(25.0, 110.0),
                          sigma_px=rng.uniform(2.5, 8.0) * scale,
                          elongation=rng.uniform(1.0, 3.0), angle_deg=angle, kind=kind)
    return Distractor(x, y, peak_dn=rng.uniform(500.0, 1200.0), sigma_px=0.3, elongation=1.0,
                      angle_deg=0.0, kind=kind)


def _streak_signal(streak, sigma, origin, shape):
    """
    Return the flare streak over a window whose pixel (0, 0) is `origin` px from the LED.

    The streak is separable in its own frame: a box across (sharp sides after the PSF blur)
    times a profile along it that starts at the LED and fades to zero at the tip. It is sampled
    there at half a pixel and turned into the window by one warpAffine, much cheaper than
    evaluating it at every window pixel.
    """
    direction, length, width, root_dn = streak
    margin = 4.0 * sigma
    half = 0.5 * width
    along = np.arange(-margin, length + margin + _STREAK_SAMPLE_PX, _STREAK_SAMPLE_PX)
    across = np.arange(-half - margin, half + margin + _STREAK_SAMPLE_PX, _STREAK_SAMPLE_PX)
    scale = 1.0 / (np.sqrt(2.0) * sigma)
    box = 0.5 * (_erf((across + half) * scale) - _erf((across - half) * scale))
    fraction = np.clip(along / max(length, 1e-6), 0.0, 1.0)
    profile = 0.5 * (1.0 + _erf(along * scale)) * (1.0 - fraction) ** _FLARE_FADE_POWER
    patch = (root_dn * np.outer(box, profile)).astype(np.float32)
    # Inverse map: window pixel (x, y) -> streak sample (column along, row across).
    ux, uy = direction
    ox, oy = -np.asarray(origin, dtype=np.float64)
    inverse = np.array([
        [ux, uy, ox * ux + oy * uy + margin],
        [-uy, ux, -ox * uy + oy * ux + half + margin],
    ]) / _STREAK_SAMPLE_PX
    return cv2.warpAffine(patch, inverse, (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _blurred_disk_profile(disk_radius, sigma):
    """
    Return (step, table): the radial profile of a unit-flux disk convolved with a Gaussian.

    table[i] is the density at radius i * step and integrates to 1 over the plane. Integrated
    exactly along x (the normal CDF of each chord) and by Gauss-Legendre along y = a sin(theta).
    """
    step = sigma / 10.0
    rho = np.arange(0.0, disk_radius + 7.0 * sigma, step)
    if disk_radius < 1e-3 * sigma:
        table = np.exp(-0.5 * (rho / sigma) ** 2) / (2.0 * np.pi * sigma ** 2)
    else:
        chord_y = disk_radius * np.sin(_CHORD_THETA)
        half_chord = disk_radius * np.cos(_CHORD_THETA)
        weight = _CHORD_WEIGHT * half_chord * np.exp(-0.5 * (chord_y / sigma) ** 2) \
            / (np.sqrt(2.0 * np.pi) * sigma)
        scale = 1.0 / (np.sqrt(2.0) * sigma)
        inside = 0.5 * (_erf((rho[:, None] + half_chord) * scale)
                        - _erf((rho[:, None] - half_chord) * scale))
        table = 2.0 * (inside @ weight) / (np.pi * disk_radius ** 2)
    # Normalise numerically so clipped tables and quadrature error do not change the flux.
    table /= np.sum(2.0 * np.pi * rho * table) * step
    return step, table


def _lookup(table, index):
    # Linear interpolation in a 1xN float32 table at fractional indices, zero past its end;
    # cv2.remap does it in one pass, several times faster than NumPy.
    return cv2.remap(table, index, np.zeros_like(index), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _erf(x):
    # Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf and SciPy is not needed.
    magnitude = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * magnitude)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-magnitude * magnitude))


def _monotonic_radius(camera):
    """Return the normalized radius up to which the distortion maps outwards monotonically."""
    radius = np.linspace(0.0, 4.0, 801)[1:]
    limits = []
    for axis in (0, 1):
        points = np.zeros((radius.size, 3))
        points[:, axis] = radius
        points[:, 2] = 1.0
        image = camera.project(points)[:, axis]
        folds = np.flatnonzero(np.diff(image) <= 0.0)
        limits.append(radius[folds[0]] if folds.size else radius[-1])
    return float(min(limits))
