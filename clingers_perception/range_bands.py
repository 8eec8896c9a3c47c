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
Detector constraints that adapt as docking progresses, one set per range band.

Far away an LED is a small, round, unsaturated spot; close in, fixed exposure saturates it and
lens flare and blooming stretch it into a long rectangular smear. One fixed set of blob
constraints cannot accept both, so the constraints are chosen each frame from the range the
tracker expects.
"""

from dataclasses import dataclass, fields, replace

BAND_NAMES = ('far', 'mid', 'near')


@dataclass(frozen=True)
class DetectorBand:
    """Blob constraints for ranges from `min_range_m` up to the next farther band's limit."""

    name: str
    min_range_m: float
    threshold_min: int
    threshold_max: int
    threshold_step: int
    min_area_px: float
    max_area_px: float
    min_circularity: float
    min_inertia_ratio: float
    min_convexity: float
    locate_core: bool
    centroid_noise_px: float
    max_reprojection_rms_px: float
    # Place saturated spots by radial_profile (more precise, several times the cost).
    fit_profile: bool = False


# Tuned on the rendered approach of the tests and the evaluation suite (see docs/evaluation.md):
# far spots are a few pixels wide and dim, near ones are saturated smears hundreds of pixels long.
DEFAULT_BANDS = (
    DetectorBand('far', 1.2, threshold_min=30, threshold_max=230, threshold_step=20,
                 min_area_px=2.0, max_area_px=600.0, min_circularity=0.5,
                 min_inertia_ratio=0.3, min_convexity=0.8, locate_core=False,
                 centroid_noise_px=0.05, max_reprojection_rms_px=0.25),
    DetectorBand('mid', 0.6, threshold_min=60, threshold_max=250, threshold_step=20,
                 min_area_px=6.0, max_area_px=20000.0, min_circularity=0.4,
                 min_inertia_ratio=0.2, min_convexity=0.7, locate_core=False,
                 centroid_noise_px=0.05, max_reprojection_rms_px=0.25),
    DetectorBand('near', 0.0, threshold_min=200, threshold_max=254, threshold_step=18,
                 min_area_px=20.0, max_area_px=400000.0, min_circularity=0.0,
                 min_inertia_ratio=0.0, min_convexity=0.5, locate_core=True,
                 centroid_noise_px=0.1, max_reprojection_rms_px=1.0),
)

# Area limits are given for a camera of this focal length (pixels) and scale with the square
# of the actual one: a spot covers (f / REFERENCE_FOCAL_PX)^2 times as many pixels.
REFERENCE_FOCAL_PX = 700.0
# Scaled down, a minimum area stays at least this: single hot pixels are not LEDs.
MIN_SCALED_AREA_PX = 2.0

# The fields a parameter file may set for each band, with their Python types.
BAND_FIELDS = {f.name: f.type for f in fields(DetectorBand) if f.name != 'name'}


class BandError(ValueError):
    """A set of bands that cannot work; the message says why."""


def validate_bands(bands):
    """Check a band set ordered far to near; raise BandError naming the first problem."""
    for band in bands:
        if not 0 <= band.threshold_min <= band.threshold_max <= 255:
            raise BandError(f'band {band.name}: need 0 <= threshold_min <= threshold_max <= 255')
        if band.threshold_step < 1:
            raise BandError(f'band {band.name}: threshold_step must be at least 1')
        if not 0.0 < band.min_area_px < band.max_area_px:
            raise BandError(f'band {band.name}: need 0 < min_area_px < max_area_px')
        for name in ('min_circularity', 'min_inertia_ratio', 'min_convexity'):
            if not 0.0 <= getattr(band, name) <= 1.0:
                raise BandError(f'band {band.name}: {name} must lie in [0, 1]')
        if band.centroid_noise_px <= 0.0 or band.max_reprojection_rms_px <= 0.0:
            raise BandError(f'band {band.name}: noise and reprojection limits must be positive')
    limits = [band.min_range_m for band in bands]
    if any(a <= b for a, b in zip(limits, limits[1:])) or limits[-1] != 0.0:
        raise BandError('band min_range_m must decrease from far to near and end at 0.0 '
                        f'(got {", ".join(f"{v:g}" for v in limits)})')


def with_field(bands, band_name, field_name, value):
    """Return a copy of `bands` with one field of one band changed."""
    return tuple(replace(b, **{field_name: value}) if b.name == band_name else b for b in bands)


def select_band(bands, range_m, current=None, hysteresis=0.1):
    """
    Return the band for `range_m`; stay in `current` until the range leaves it by a margin.

    The margin (a fraction of the limit) keeps the detector from flickering between two
    constraint sets when the range hovers at a band limit.
    """
    def nominal(r):
        return next(b for b in bands if r >= b.min_range_m)

    chosen = nominal(range_m)
    if current is None or chosen.name == current.name:
        return chosen
    index = [b.name for b in bands].index(current.name)
    upper = bands[index - 1].min_range_m if index > 0 else float('inf')
    if current.min_range_m * (1.0 - hysteresis) <= range_m <= upper * (1.0 + hysteresis):
        return current
    return chosen


def band_range_m(bands, band):
    """Return the (near, far) range interval in which `band` (one of `bands`) is chosen."""
    index = [b.name for b in bands].index(band.name)
    return band.min_range_m, bands[index - 1].min_range_m if index > 0 else float('inf')


def scaled_for_camera(bands, focal_length_px):
    """
    Return `bands` fitted to a camera of this focal length from one of REFERENCE_FOCAL_PX.

    Area limits scale with the square of the focal length. A shorter focal length also puts a
    far LED on fewer pixels, whose centroid is less certain: the centroid-noise prior (what an
    acquisition is judged by before any residual has been measured) grows in proportion. It
    is not reduced for a longer one.
    """
    scale = (focal_length_px / REFERENCE_FOCAL_PX) ** 2
    noise_scale = max(1.0, REFERENCE_FOCAL_PX / focal_length_px)
    scaled = []
    for band in bands:
        low = max(MIN_SCALED_AREA_PX, band.min_area_px * scale)
        # Below f ~ 40 px the floor on the minimum passes the scaled maximum: keep a range.
        scaled.append(replace(band, min_area_px=low,
                              max_area_px=max(band.max_area_px * scale, 2.0 * low),
                              centroid_noise_px=band.centroid_noise_px * noise_scale))
    return tuple(scaled)
