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
(spot_centre): an intensity-weighted centroid for unsaturated spots, a circle through the rim
of saturated ones, and for flare smears the circle through the rim away from the streak,
because the smear extends to one side of the LED only and its centroid is not the LED.
"""

from dataclasses import dataclass

from clingers_perception.image_decoding import to_8bit
from clingers_perception.spot_centre import core_centre, spot_centre
import cv2
import numpy as np


BACKENDS = ('threshold', 'simple_blob')
# Beyond this many components a frame is glare or noise, not LEDs; the largest are kept.
MAX_COMPONENTS = 256
# Blobs smaller than this are not judged by their shape.
MIN_SHAPE_AREA_PX = 6


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

    def detect(self, image, band, windows=None):
        """Return the blobs of `image` (uint8 or uint16) inside `windows` (None: whole frame)."""
        height, width = image.shape[:2]
        if windows is None:
            windows = [Window(0, 0, width, height)]
        blobs = []
        for window in windows:
            window = window.clamp(width, height)
            if window.empty:
                continue
            roi = to_8bit(image[window.y0:window.y1, window.x0:window.x1], self.mono16_bits)
            if self.backend == 'threshold':
                found = _threshold_blobs(roi, band, window, (width, height))
            else:
                found = self._simple_blobs(roi, band, window, (width, height))
            blobs.extend(found)
        return _without_duplicates(blobs) if len(windows) > 1 else blobs

    def _simple_blobs(self, roi, band, window, image_size):
        detector = self._simple_blob_detectors.get(band)
        if detector is None:
            detector = cv2.SimpleBlobDetector_create(_simple_blob_params(band))
            self._simple_blob_detectors[band] = detector
        blobs = []
        for keypoint in detector.detect(roi):
            x, y = keypoint.pt
            reach = int(max(8, keypoint.size * 1.5))
            sub = Window(int(x) - reach, int(y) - reach, int(x) + reach + 1, int(y) + reach + 1)
            sub = sub.clamp(roi.shape[1], roi.shape[0])
            crop = roi[sub.y0:sub.y1, sub.x0:sub.x1]
            nested = Window(window.x0 + sub.x0, window.y0 + sub.y0,
                            window.x0 + sub.x1, window.y0 + sub.y1)
            # SimpleBlobDetector has judged the shape; place the LED in the component under it.
            candidates = _threshold_blobs(crop, band, nested, image_size, shape_filters=False)
            if candidates:
                blobs.append(min(candidates, key=lambda b: (b.x - window.x0 - x) ** 2
                                 + (b.y - window.y0 - y) ** 2))
        return blobs


def _simple_blob_params(band):
    params = cv2.SimpleBlobDetector_Params()
    params.minThreshold = float(band.threshold_min)
    params.maxThreshold = float(band.threshold_max)
    params.thresholdStep = float(band.threshold_step)
    params.filterByColor = True
    params.blobColor = 255
    params.filterByArea = True
    params.minArea = float(band.min_area_px)
    params.maxArea = float(band.max_area_px)
    # OpenCV 5 refuses a zero minimum even for a filter that is off: set only those in use.
    params.filterByCircularity = band.min_circularity > 0.0
    if params.filterByCircularity:
        params.minCircularity = float(band.min_circularity)
    params.filterByInertia = band.min_inertia_ratio > 0.0
    if params.filterByInertia:
        params.minInertiaRatio = float(band.min_inertia_ratio)
    params.filterByConvexity = band.min_convexity > 0.0
    if params.filterByConvexity:
        params.minConvexity = float(band.min_convexity)
    params.minDistBetweenBlobs = 2.0
    params.minRepeatability = 2
    return params


def _threshold_blobs(roi, band, window, image_size, shape_filters=True):
    _, binary = cv2.threshold(roi, band.threshold_min, 255, cv2.THRESH_BINARY)
    # Outer contours locate the components for a fraction of the cost of labelling the whole
    # frame with statistics; each component is then labelled in its own small box.
    contours = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
    boxes = [cv2.boundingRect(c) + (c[0, 0, 0], c[0, 0, 1]) for c in contours]
    # A component covers at most its bounding box: smaller boxes cannot pass min_area_px.
    boxes = [b for b in boxes if b[2] * b[3] >= band.min_area_px]
    if len(boxes) > MAX_COMPONENTS:
        boxes = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[:MAX_COMPONENTS]
    blobs = []
    for left, top, w, h, seed_x, seed_y in boxes:
        box = Window(max(0, left - 2), max(0, top - 2),
                     min(roi.shape[1], left + w + 2), min(roi.shape[0], top + h + 2))
        _, labels = cv2.connectedComponents(binary[box.y0:box.y1, box.x0:box.x1],
                                            connectivity=8)
        mask = (labels == labels[seed_y - box.y0, seed_x - box.x0]).astype(np.uint8)
        area = int(cv2.countNonZero(mask))
        if not band.min_area_px <= area <= band.max_area_px:
            continue
        crop = roi[box.y0:box.y1, box.x0:box.x1]
        elongation = _elongation(mask)
        if shape_filters and not _passes_shape_filters(mask, area, elongation, band):
            continue
        if band.locate_core:
            x, y = core_centre(crop, mask)
        else:
            x, y = spot_centre(crop, mask)
        touches_roi = left == 0 or top == 0 or left + w == roi.shape[1] \
            or top + h == roi.shape[0]
        inside_image = window.x0 > 0 or window.y0 > 0 or window.x1 < image_size[0] \
            or window.y1 < image_size[1]
        blobs.append(Blob(
            x=window.x0 + box.x0 + x, y=window.y0 + box.y0 + y, area=float(area),
            peak=int(crop[mask > 0].max()), elongation=elongation,
            bbox=(window.x0 + left, window.y0 + top, int(w), int(h)),
            clipped=bool(touches_roi and inside_image)))
    return blobs


def _elongation(mask):
    moments = cv2.moments(mask, binaryImage=True)
    if moments['m00'] <= 0.0:
        return 1.0
    mu20, mu02, mu11 = (moments[k] / moments['m00'] for k in ('mu20', 'mu02', 'mu11'))
    spread = np.sqrt(max(0.0, (mu20 - mu02) ** 2 + 4.0 * mu11 ** 2))
    major, minor = mu20 + mu02 + spread, mu20 + mu02 - spread
    return float(np.sqrt(major / minor)) if minor > 1e-9 else float('inf')


def _passes_shape_filters(mask, area, elongation, band):
    if area < MIN_SHAPE_AREA_PX:
        # A spot of a few pixels has no measurable shape: a far LED binarises to 2-5 pixels.
        return True
    if band.min_inertia_ratio > 0.0 and 1.0 / elongation ** 2 < band.min_inertia_ratio:
        return False
    if band.min_circularity <= 0.0 and band.min_convexity <= 0.0:
        return True
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    if band.min_circularity > 0.0 and area > 4:
        perimeter = cv2.arcLength(contour, True)
        if perimeter > 0.0 and 4.0 * np.pi * area / perimeter ** 2 < band.min_circularity:
            return False
    if band.min_convexity > 0.0 and area > 4:
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
