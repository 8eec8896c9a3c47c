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
Place an LED inside its spot to a fraction of a pixel.

An unsaturated spot is placed by its intensity-weighted centroid. A saturated spot has lost its
profile to the clip, and the centroid of what is left depends on where the pixel grid cuts the
clipped edge; its rim has not: points where the flanks cross a few levels between background and
the clip, interpolated along rows and columns, lie on circles concentric with the LED, and a
circle fitted through them finds it. Any radial error common to the whole rim (halo, blur,
interpolation) changes the radius only. A flare streak bulges the rim on its side; that side is
left out of the fit.
"""

import cv2
import numpy as np

# Pixels at or above this 8-bit level count as saturated.
SATURATION_LEVEL = 250
# A spot needs this many saturated pixels for its rim to be worth a circle fit.
MIN_SATURATED_PX = 9
# Rim levels as fractions of the way from the background to the clip: the flanks are steep and
# smooth there, and averaging three levels averages their different interpolation errors.
RIM_LEVELS = (0.3, 0.5, 0.7)
# Fewer rim points than this do not constrain a circle.
MIN_RIM_POINTS = 8
# Fraction of the deepest distance that still belongs to the core disc of a smear.
CORE_DEPTH_FRACTION = 0.9
# A smear is a streak when its binary centroid is this far from its core (fraction of the core
# radius, plus the pixel-grid jitter of the core).
STREAK_OFFSET_FRACTION = 0.25
STREAK_OFFSET_PX = 0.3
# Rim points within this angle of the streak (cosine) are the streak's, not the disc's.
STREAK_CONE_COS = 0.5
# A rim bulging out on one side by this much more than elsewhere (px) marks a faint streak.
BULGE_PX = 0.03
_RIM_KERNEL = np.ones((5, 5), np.uint8)


def weighted_centroid(crop, mask):
    """
    Return (x, y) of the intensity-weighted centroid of the spot `mask` in `crop`.

    The support is the mask with a two-pixel rim: the flanks below threshold carry most of the
    sub-pixel information, and the rim's mean is the local background.
    """
    support = cv2.dilate(mask, _RIM_KERNEL)
    rim = crop[support > mask]
    weights = crop.astype(np.float32)
    weights -= float(rim.mean()) if rim.size else 0.0
    np.maximum(weights, 0.0, out=weights)
    weights *= support
    moments = cv2.moments(weights)
    if moments['m00'] <= 0.0:
        moments = cv2.moments(mask, binaryImage=True)
    return moments['m10'] / moments['m00'], moments['m01'] / moments['m00']


def spot_centre(crop, mask):
    """
    Return (x, y) of a round spot: its rim circle when saturated, else its weighted centroid.

    `crop` is the 8-bit image around the spot with a margin of two pixels or more, `mask` the
    spot's pixels (uint8, 0 or 1).
    """
    saturated = (crop >= SATURATION_LEVEL) & (mask > 0)
    if int(np.count_nonzero(saturated)) >= MIN_SATURATED_PX:
        points = _rim_points(crop, mask)
        if points.shape[0] >= MIN_RIM_POINTS:
            centre, _ = _fit_circle(points)
            if _plausible(centre, crop.shape):
                return float(centre[0]), float(centre[1])
    return weighted_centroid(crop, mask)


def core_centre(crop, mask):
    """
    Return (x, y) of the LED in a spot that may be a saturated flare smear.

    The smear extends to one side of the LED only, so its centroid is not the LED: the disc is
    located by the circle through its rim, leaving out the side where the streak leaves it.
    """
    saturated = ((crop >= SATURATION_LEVEL) & (mask > 0)).astype(np.uint8)
    if int(cv2.countNonZero(saturated)) < MIN_SATURATED_PX:
        return weighted_centroid(crop, mask)
    points = _rim_points(crop, mask)
    core, radius = _deepest_core(saturated)
    blob = cv2.moments(mask, binaryImage=True)
    streak = np.array([blob['m10'], blob['m01']]) / blob['m00'] - core
    length = float(np.linalg.norm(streak))
    if points.shape[0] < MIN_RIM_POINTS:
        centre = core
    elif length < STREAK_OFFSET_FRACTION * radius + STREAK_OFFSET_PX:
        # Round, or a streak too faint to reach the threshold: it can still bulge the rim.
        centre = _fit_without_bulge(points, core)
    else:
        offsets = points - core
        distance = np.linalg.norm(offsets, axis=1)
        disc = (offsets @ (streak / length) < STREAK_CONE_COS * distance) \
            & (distance < 2.0 * radius + 3.0)
        centre = _fit_circle(points[disc])[0] if np.count_nonzero(disc) >= MIN_RIM_POINTS \
            else core
    if not _plausible(centre, crop.shape) or np.linalg.norm(centre - core) > radius + 1.0:
        centre = core
    return float(centre[0]), float(centre[1])


def _rim_points(crop, mask):
    """
    Return Nx2 (x, y) where the spot's flanks cross RIM_LEVELS, interpolated along rows and cols.

    Only crossings inside the mask grown by two pixels count, so a neighbour in the crop does
    not. Linear interpolation errs by a fraction of a pixel that depends on where the grid cuts
    the flank; that error varies around the rim and across levels, and mostly averages out.
    """
    support = cv2.dilate(mask, _RIM_KERNEL)
    rim = crop[support > mask]
    background = float(rim.mean()) if rim.size else 0.0
    top = float(crop[mask > 0].max())
    image = crop.astype(np.float32)
    inside = support > 0
    points = []
    for level in RIM_LEVELS:
        level = background + level * (top - background)
        above = image >= level
        for axis in (1, 0):
            first = [slice(None), slice(None)]
            second = [slice(None), slice(None)]
            first[axis], second[axis] = slice(None, -1), slice(1, None)
            first, second = tuple(first), tuple(second)
            cross = (above[first] != above[second]) & (inside[first] | inside[second])
            rows, cols = np.nonzero(cross)
            low, high = image[first][cross], image[second][cross]
            step = (level - low) / (high - low)
            if axis == 1:
                points.append(np.column_stack([cols + step, rows]))
            else:
                points.append(np.column_stack([cols, rows + step]))
    return np.vstack(points).astype(np.float64)


def _fit_circle(points):
    """Return (centre, radius) of the algebraic circle fit x^2 + y^2 + D x + E y + F = 0."""
    mean = points.mean(axis=0)
    centred = points - mean
    design = np.column_stack([centred, np.ones(centred.shape[0])])
    solution = np.linalg.lstsq(design, -(centred ** 2).sum(axis=1), rcond=None)[0]
    centre = -0.5 * solution[:2]
    radius = float(np.sqrt(max(float(centre @ centre) - solution[2], 0.0)))
    return centre + mean, radius


def _fit_without_bulge(points, start):
    """
    Fit a circle to the rim without the side that bulges out, if one does.

    A faint streak below threshold still lifts the flank on its side and pushes the rim out
    there. Distances from `start` (the core, near the LED even when the rim is not) about their
    median show where; the circle is fitted to the rest and the test repeated from its centre,
    until the rim is round about it.
    """
    centre = start
    for _ in range(3):
        offsets = points - centre
        distance = np.maximum(np.linalg.norm(offsets, axis=1), 1e-9)
        residual = distance - np.median(distance)
        unit = offsets / distance[:, None]
        pull = (np.maximum(residual, 0.0) ** 2) @ unit
        norm = float(np.linalg.norm(pull))
        bulge = unit @ (pull / max(norm, 1e-12)) >= STREAK_CONE_COS
        rest = ~bulge
        if norm < 1e-12 or np.count_nonzero(bulge) < 3 \
                or np.count_nonzero(rest) < MIN_RIM_POINTS \
                or residual[bulge].mean() - residual[rest].mean() < BULGE_PX:
            # Round about this centre: the whole rim is the disc's.
            return _fit_circle(points)[0]
        centre = _fit_circle(points[rest])[0]
    return centre


def _deepest_core(saturated):
    """Return (centre, radius) of the deepest part of the saturated region (distance transform)."""
    padded = cv2.copyMakeBorder(saturated, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    radius = float(depth.max())
    weights = depth - CORE_DEPTH_FRACTION * radius
    np.maximum(weights, 0.0, out=weights)
    moments = cv2.moments(weights)
    return np.array([moments['m10'], moments['m01']]) / moments['m00'], radius


def _plausible(centre, shape):
    return bool(np.all(np.isfinite(centre))) and 0.0 <= centre[0] <= shape[1] - 1 \
        and 0.0 <= centre[1] <= shape[0] - 1
