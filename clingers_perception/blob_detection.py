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
Find LED spots and place each LED inside its spot, with one of two detector back-ends.

`simple_blob` is OpenCV's SimpleBlobDetector, as in the prototype; `threshold` binarises once and
labels connected components, which gives the same blobs for a fraction of the cost. Both apply the
constraints of the current range band and share the sub-pixel placement of the LED
(spot_centre): a Gaussian fitted to the log-brightness of unsaturated spots and of those
clipped over a few pixels, a circle through the rim of saturated ones, and for flare smears the
circle through the rim away from the streak, because the smear extends to one side of the LED
only and its centroid is not the LED. A band with `fit_profile` then moves each saturated spot
to the centre of radial symmetry of its flanks (radial_profile): less bias, more cost.
"""

from dataclasses import dataclass
import math

from clingers_perception.image_decoding import to_8bit
from clingers_perception.radial_profile import profile_centre, spot_disc
from clingers_perception.spot_centre import (centroid_noise_px, clipped_pixels, core_centre,
                                             elongation, gaussian_centre, MIN_SATURATED_PX,
                                             rim_centre, SATURATION_LEVEL, SMALL_DISC_PX,
                                             spot_weights, weighted_centroid,
                                             without_hot_pixels)
import cv2
import numpy as np


BACKENDS = ('threshold', 'simple_blob')
# Beyond this many components a frame is glare or noise, not LEDs; the largest are kept.
MAX_COMPONENTS = 256
# Blobs smaller than this are not judged by their shape.
MIN_SHAPE_AREA_PX = 6
# Below this area a binarised outline is a few pixels long and one flank pixel either side of
# the threshold decides its circularity and convexity: only the elongation is judged.
MIN_OUTLINE_AREA_PX = 16
# Without `precise` (acquisition, where no Gaussian is fitted to place spots) only spots with
# this many clipped pixels or fewer are checked for hot pixels (spot_centre.without_hot_pixels):
# one joined to an unclipped spot, not the clipped tops of the glints an acquisition wades
# through (7 a frame among 10 distractors; the check costs about 45 us a spot).
LONE_CLIPS_PX = 2
# The read noise is measured on every this-many-th row of a frame: enough differences, little
# time (0.03 ms at 1280x1024). Differences more than this many times their median (and this
# many DN) are spots or edges, not noise.
READ_NOISE_ROW_STEP = 128
READ_NOISE_LIMIT = 6.0
READ_NOISE_MIN_LIMIT_DN = 4.0
# The pixels two away from a spot's peak: its local background.
_RING = np.pad(np.zeros((3, 3), dtype=bool), 1, constant_values=True)


@dataclass(frozen=True)
class Blob:
    """One bright spot: where its LED is, and what it looks like."""

    x: float
    y: float
    area: float
    peak: int
    elongation: float
    bbox: tuple
    clipped: bool
    # Standard deviation (px) the read noise gives its weighted centroid; NaN when not asked
    # for (BlobDetector.detect's read_noise_dn) or when the spot is placed another way.
    noise_px: float = math.nan


@dataclass(frozen=True)
class Window:
    """A search rectangle in image pixels, [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def clamp(self, width, height):
        """Return this window cut to an image of the given size."""
        return Window(max(0, self.x0), max(0, self.y0), min(width, self.x1), min(height, self.y1))

    @property
    def empty(self):
        """Return True when the window holds no pixel."""
        return self.x1 <= self.x0 or self.y1 <= self.y0


class BlobDetector:
    """Detect LED spots with the constraints of a DetectorBand, in the whole frame or windows."""

    def __init__(self, backend='threshold', mono16_bits=16):
        """Choose the back-end; `mono16_bits` says how many bits of a 16-bit frame are used."""
        if backend not in BACKENDS:
            raise ValueError(f"detector backend '{backend}' is not one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.mono16_bits = mono16_bits
        self._simple_blob_detectors = {}

    def detect(self, image, band, windows=None, precise=True, read_noise_dn=None,
               defects=None):
        """
        Return the blobs of `image` (uint8 or uint16) inside `windows` (None: whole frame).

        Without `precise`, unsaturated spots are placed by their weighted centroid instead of
        the Gaussian fit: enough to tell which spot is which LED, and cheaper among many
        distractors. With `read_noise_dn` (read_noise_dn()), such a spot's blob also says how
        much that noise moves its centroid (Blob.noise_px). `defects` (a DefectPixelMap)
        are painted out of each window first.
        """
        height, width = image.shape[:2]
        if windows is None:
            windows = [Window(0, 0, width, height)]
        blobs = []
        for window in windows:
            window = window.clamp(width, height)
            if window.empty:
                continue
            roi = to_8bit(image[window.y0:window.y1, window.x0:window.x1], self.mono16_bits)
            painted = None
            if defects is not None:
                roi, painted = defects.paint_out(roi, window)
            if self.backend == 'threshold':
                found = _threshold_blobs(roi, band, window, (width, height), precise,
                                         read_noise_dn, painted)
            else:
                found = self._simple_blobs(roi, band, window, (width, height), precise,
                                           read_noise_dn, painted)
            blobs.extend(found)
        return _without_duplicates(blobs) if len(windows) > 1 else blobs

    def read_noise_dn(self, image):
        """
        Return the read noise (8-bit DN) of `image`, from every READ_NOISE_ROW_STEP-th row.

        From the differences of neighbouring pixels, without those far beyond their median
        (spots and edges, a small share): the rest are the background's, of twice its
        variance. A plain median of integer differences is too coarse (1.05 DN for 1.5); their
        histogram gives both at little cost.
        """
        rows = to_8bit(image[::READ_NOISE_ROW_STEP], self.mono16_bits).astype(np.int16)
        counts = np.bincount(np.abs(np.diff(rows, axis=1)).ravel())
        middle = int(np.searchsorted(np.cumsum(counts), 0.5 * counts.sum()))
        kept = counts[:int(max(READ_NOISE_MIN_LIMIT_DN, READ_NOISE_LIMIT * middle)) + 1]
        if not kept.any():
            # A frame one pixel wide has no neighbours to compare.
            return 0.0
        steps = np.arange(kept.size)
        return math.sqrt(0.5 * float(kept @ (steps * steps)) / float(kept.sum()))

    def _simple_blobs(self, roi, band, window, image_size, precise, read_noise_dn, painted):
        # One detector per band name, made again only when that band's constraints change
        # (new parameters, or area limits scaled to a new calibration).
        cached = self._simple_blob_detectors.get(band.name)
        if cached is None or cached[0] != band:
            cached = band, cv2.SimpleBlobDetector_create(_simple_blob_params(band))
            self._simple_blob_detectors[band.name] = cached
        detector = cached[1]
        blobs = []
        for keypoint in detector.detect(roi):
            x, y = keypoint.pt
            reach = int(max(8, keypoint.size * 1.5))
            sub = Window(int(x) - reach, int(y) - reach, int(x) + reach + 1, int(y) + reach + 1)
            sub = sub.clamp(roi.shape[1], roi.shape[0])
            crop = roi[sub.y0:sub.y1, sub.x0:sub.x1]
            nested = Window(window.x0 + sub.x0, window.y0 + sub.y0,
                            window.x0 + sub.x1, window.y0 + sub.y1)
            # Place the LED in the component under the keypoint, judged as `threshold` judges.
            candidates = _threshold_blobs(
                crop, band, nested, image_size, precise, read_noise_dn,
                None if painted is None else painted[sub.y0:sub.y1, sub.x0:sub.x1])
            if candidates:
                blobs.append(min(candidates, key=lambda b: (b.x - window.x0 - x) ** 2
                                 + (b.y - window.y0 - y) ** 2))
        return blobs


def _simple_blob_params(band):
    params = cv2.SimpleBlobDetector_Params()
    # SimpleBlobDetector binarises at min, min + step, ... below max; a band whose range holds
    # one threshold or none (min == max) is searched at threshold_min alone.
    thresholds = max(1, math.ceil((band.threshold_max - band.threshold_min)
                                  / band.threshold_step))
    params.minThreshold = float(band.threshold_min)
    params.maxThreshold = float(band.threshold_min + thresholds * band.threshold_step)
    params.thresholdStep = float(band.threshold_step)
    params.filterByColor = True
    params.blobColor = 255
    # SimpleBlobDetector measures area by the outline polygon, in which a blob of a few pixels
    # has almost none, and judges the inertia of such blobs by their binary shape: the band's
    # limits, in pixels and with brightness moments for small spots, are applied to the
    # component under each keypoint instead (_threshold_blobs), as for `threshold`.
    params.filterByArea = False
    # OpenCV 5 refuses a zero minimum even for a filter that is off: set only those in use.
    params.filterByCircularity = band.min_circularity > 0.0
    if params.filterByCircularity:
        params.minCircularity = float(band.min_circularity)
    params.filterByInertia = False
    params.filterByConvexity = band.min_convexity > 0.0
    if params.filterByConvexity:
        params.minConvexity = float(band.min_convexity)
    params.minDistBetweenBlobs = 2.0
    # A spot must be seen at two thresholds where there are two: one noisy level is not enough.
    params.minRepeatability = min(2, thresholds)
    return params


def _threshold_blobs(roi, band, window, image_size, precise, read_noise_dn, painted=None):
    # `painted`: the learned defects painted out of `roi` (DefectPixelMap.paint_out), or None.
    # Binary 0/1: the component masks cut from it weight the centroids directly.
    _, binary = cv2.threshold(roi, band.threshold_min, 1, cv2.THRESH_BINARY)
    # Outer contours locate the components for a fraction of the cost of labelling the whole
    # frame with statistics, and give the perimeter and hull of the shape filters.
    contours = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
    found = [(cv2.boundingRect(c), c) for c in contours]
    # A component covers at most its bounding box: a smaller box passes min_area_px only by
    # the spread of its light.
    small = [f for f in found if f[0][2] * f[0][3] < band.min_area_px]
    if small:
        spread = _light_spread_px(roi, [_peak_pixel(roi, box) for box, _ in small])
        found = [f for f in found if f[0][2] * f[0][3] >= band.min_area_px] + \
            [f for f, worth in zip(small, spread) if worth >= band.min_area_px]
    if len(found) > MAX_COMPONENTS:
        found = sorted(found, key=lambda f: f[0][2] * f[0][3], reverse=True)[:MAX_COMPONENTS]
    roi_h, roi_w = roi.shape
    inside_image = window.x0 > 0 or window.y0 > 0 or window.x1 < image_size[0] \
        or window.y1 < image_size[1]
    blobs = []
    for (left, top, w, h), contour in found:
        x0, y0 = max(0, left - 2), max(0, top - 2)
        x1, y1 = min(roi_w, left + w + 2), min(roi_h, top + h + 2)
        mask = binary[y0:y1, x0:x1]
        foreign = None
        if len(contours) > 1:
            # Other components may reach into this box: keep the pixels inside this outline,
            # and keep theirs (a hot pixel, a glint beside the LED) out of this spot's light.
            outline = np.zeros_like(mask)
            cv2.drawContours(outline, [contour], -1, 1, cv2.FILLED, offset=(-x0, -y0))
            spot_mask = cv2.bitwise_and(mask, outline)
            foreign = cv2.subtract(mask, spot_mask)
            mask = spot_mask
        area = cv2.countNonZero(mask)
        if area > band.max_area_px or (
                area < band.min_area_px and w * h >= band.min_area_px
                and _light_spread_px(roi, [_peak_pixel(roi, (left, top, w, h))])[0]
                < band.min_area_px):
            continue
        crop = roi[y0:y1, x0:x1]
        shape = cv2.moments(mask, binaryImage=True)
        stretch = elongation(shape)
        # The brightness above the local background places an unsaturated LED and judges its
        # shape; a saturated spot is placed by its rim, and a smear's core another way.
        peak = int(cv2.minMaxLoc(crop, mask)[1])
        # Asked only where an answer is used: rim or Gaussian placement, or the profile fit.
        clipped_px = clipped_pixels(crop, mask) if peak >= SATURATION_LEVEL and (
            band.fit_profile or not band.locate_core) else 0
        clipped = clipped_px >= MIN_SATURATED_PX
        saturated = clipped and not band.locate_core
        weights = None if band.locate_core or clipped_px >= SMALL_DISC_PX else \
            spot_weights(crop, mask, foreign)
        fit = None
        if weights is not None and (precise or clipped_px <= LONE_CLIPS_PX):
            # A flank pixel moves a spot by tenths of a pixel, which matters to a pose, not to
            # which spot is which: an acquisition, among distractors, spares that check.
            weights, fit = without_hot_pixels(
                crop, weights, clipped_px > 0, flank=precise,
                defects=None if painted is None else painted[y0:y1, x0:x1])
        light = None if weights is None else cv2.moments(weights)
        if not _passes_shape_filters(contour, area, stretch, band, None if saturated else light):
            continue
        noise_px = math.nan
        if band.locate_core:
            x, y = core_centre(crop, mask, shape, foreign)
        else:
            centre = None
            if clipped_px >= SMALL_DISC_PX:
                centre = rim_centre(crop, mask, foreign)
            elif precise or saturated:
                centre = gaussian_centre(crop, weights, light, fit)
            if centre is None:
                x, y = weighted_centroid(crop, mask, light, foreign)
                if read_noise_dn is not None and light is not None:
                    noise_px = centroid_noise_px(weights, light, read_noise_dn)
            else:
                x, y = centre
        if band.fit_profile and clipped:
            radius, streak = spot_disc(crop, mask, shape, x, y)
            x, y = profile_centre(roi, x0 + x, y0 + y, radius, streak)
            x, y = x - x0, y - y0
        touches_roi = left == 0 or top == 0 or left + w == roi_w or top + h == roi_h
        blobs.append(Blob(
            x=window.x0 + x0 + x, y=window.y0 + y0 + y, area=float(area),
            peak=peak, elongation=stretch,
            bbox=(window.x0 + left, window.y0 + top, w, h),
            clipped=touches_roi and inside_image, noise_px=noise_px))
    return blobs


def _peak_pixel(roi, box):
    left, top, w, h = box
    if w * h == 1:
        return left, top
    _, _, _, (x, y) = cv2.minMaxLoc(roi[top:top + h, left:left + w])
    return left + x, top + y


def _light_spread_px(roi, peaks):
    """
    Return how many pixels' worth of light each small spot spreads around its peak pixel.

    That is one (the peak) plus the light above the local background (the ring of pixels two
    away) in the eight pixels around the peak, in units of the peak above background, less
    three standard deviations of what the ring's noise alone would put there. A dim LED far
    away may cross the threshold in one pixel, but the optics spread its light over its
    neighbours (three or four pixels' worth); a hot pixel's neighbours are dark, and a noise
    spike's hold only noise. All spots at once: a frame has a few dozen such components.
    """
    xs, ys = (np.array(c, dtype=np.intp) for c in zip(*peaks))
    steps = np.arange(-2, 3)
    rows = np.clip(ys[:, None] + steps, 0, roi.shape[0] - 1)
    cols = np.clip(xs[:, None] + steps, 0, roi.shape[1] - 1)
    patch = roi[rows[:, :, None], cols[:, None, :]].astype(np.float64)
    ring = patch[:, _RING]
    background, noise = ring.mean(axis=1), ring.std(axis=1)
    peak = patch[:, 2, 2] - background
    around = patch[:, 1:4, 1:4].sum(axis=(1, 2)) - 9.0 * background - peak
    with np.errstate(divide='ignore', invalid='ignore'):
        spread = 1.0 + (around - 3.0 * math.sqrt(8.0) * noise) / peak
    return np.where(peak > 0.0, spread, 0.0)


def _passes_shape_filters(contour, area, stretch, band, spot):
    if area < MIN_SHAPE_AREA_PX:
        # A spot of a few pixels has no measurable shape: a far LED binarises to 2-5 pixels.
        return True
    if band.min_inertia_ratio > 0.0:
        # The spread of the brightness (`spot`, its moments), not of the binarised pixels:
        # which flank pixels noise lifts over the threshold makes a small round spot's mask
        # look elongated. A saturated spot's steep flanks make its mask's `stretch`
        # (elongation) reliable (no `spot`).
        if spot is not None and spot['m00'] > 0.0:
            stretch = elongation(spot)
        if 1.0 / stretch ** 2 < band.min_inertia_ratio:
            return False
    if area < MIN_OUTLINE_AREA_PX:
        return True
    if band.min_circularity > 0.0:
        perimeter = cv2.arcLength(contour, True)
        if perimeter > 0.0 and 4.0 * math.pi * area / perimeter ** 2 < band.min_circularity:
            return False
    if band.min_convexity > 0.0:
        hull_area = cv2.contourArea(cv2.convexHull(contour))
        if hull_area > 0.0 and cv2.contourArea(contour) / hull_area < band.min_convexity:
            return False
    return True


def _without_duplicates(blobs):
    """
    Drop what overlapping windows saw twice.

    A spot cut by the edge of a neighbour's window is a part of the whole spot its own window
    sees: its box lies inside the whole one's, and only the whole one is kept.
    """
    kept = []
    for blob in sorted(blobs, key=lambda b: (b.clipped, -b.bbox[2] * b.bbox[3])):
        if not any(_inside(blob.bbox, k.bbox) for k in kept):
            kept.append(blob)
    return kept


def _inside(inner, outer):
    return inner[0] >= outer[0] and inner[1] >= outer[1] \
        and inner[0] + inner[2] <= outer[0] + outer[2] \
        and inner[1] + inner[3] <= outer[1] + outer[3]
