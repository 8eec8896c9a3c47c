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

An unsaturated spot, or one clipped at its top only, is placed by a Gaussian fitted to the
logarithm of its brightness: the pixels the detector's threshold cuts off or the sensor clips
leave it unbiased where they pull a weighted centroid. A saturated spot has lost its profile
to the clip, and the centroid of what is left depends on where the pixel grid cuts the clipped
edge; its rim has not: points where the flanks cross a few levels between background and
the clip, interpolated along rows and columns, lie on circles concentric with the LED, and a
circle fitted through them finds it. Any radial error common to the whole rim (halo, blur,
interpolation) changes the radius only. A flare streak bulges the rim on its side; that side is
left out of the fit.
"""

import math

import cv2
import numpy as np

# Pixels at or above this 8-bit level count as saturated.
SATURATION_LEVEL = 250
# A spot needs this many saturated pixels for its rim to be worth a circle fit.
MIN_SATURATED_PX = 9
# A saturated disc with fewer clipped pixels than this is placed by the Gaussian fit: its rim
# has too few crossings for the circle (640x480 at 1.2-0.6 m: bias 0.005 px against 0.014; at
# 40 the larger discs of 1280x1024 lose by it, 0.007 against 0.0056).
SMALL_DISC_PX = 20
# Pixels above the local background by this (DN), and by this fraction of the spot's peak,
# enter the Gaussian fit: in fainter ones the logarithm is mostly noise (with 6 DN of read
# noise, a floor of 8 DN alone doubled the centroid noise at 5-3 m).
GAUSSIAN_FLOOR_DN = 8.0
GAUSSIAN_FLOOR_FRACTION = 0.15
# A clipped pixel the Gaussian fitted to the rest of its spot puts below this fraction of its
# brightness is a hot pixel, not the spot's clipped top (spot at 4 m, 640x480: 3 DN of 250).
STRAY_CLIP_FRACTION = 0.5
# A spot's top pixel whose log-brightness curves more sharply than this (the sum of its second
# differences along rows and columns; 2/s^2 for a Gaussian spot of s px, so 5 for 0.63 px) may
# be a hot pixel below the clip (one 2 px from a 100 DN spot's centre at 3 m: 8.6).
LONE_PEAK_CURVATURE = 5.0
# A pixel other than a spot's top, this far (DN) above the background, whose log-brightness
# curves by this much more than the median of such pixels (measured as LONE_PEAK_CURVATURE; the
# same at every pixel of a Gaussian spot) may be a hot pixel on the spot's flank: a 150 DN one
# 2 px from a 200 DN spot's centre curves by 12 against 2. Fainter pixels' logarithms are too
# noisy to tell, and 6 DN of read noise put pixels at 20-31 DN at a spot's edge where its
# Gaussian puts half that; with fewer such pixels than SIDE_PEAK_MIN_PX the median is not the
# spot's.
SIDE_PEAK_DN = 30.0
SIDE_PEAK_MARGIN = 4.0
SIDE_PEAK_MIN_PX = 4
# Far above any 16-bit level, and below where math.exp overflows.
MAX_LOG_DN = 50.0
# Fewer fitted pixels than this leave the Gaussian's four parameters unconstrained.
MIN_GAUSSIAN_PX = 6
# A spot clipped at its top with fewer pixels than this above the fraction of its peak (a thin
# ring of flank round the clip) is fitted on every pixel above GAUSSIAN_FLOOR_DN. On the ring
# alone the curvature, and with it the centre, is ill-posed (640x480 at 1.5 m: up to 0.09 px
# off on noise-free renders, 0.007 with the lower floor); unclipped spots keep the fraction,
# whose pixels are less noisy.
RING_PX = 10
# A Gaussian peak further than this (px) from the spot's weighted centroid is an ill-posed fit
# (a few pixels on a thin ring round a clipped top were 1.6 px off), not a better placement:
# the two differ by hundredths of a pixel otherwise.
GAUSSIAN_AGREEMENT_PX = 0.15
# Rim levels as fractions of the way from the background to the clip: the flanks are steep and
# smooth there, and averaging five levels averages their different interpolation errors.
RIM_LEVELS = (0.2, 0.35, 0.5, 0.65, 0.8)
# Fewer rim points than this do not constrain a circle.
MIN_RIM_POINTS = 8
# Fraction of the deepest distance that still belongs to the core disc of a smear.
CORE_DEPTH_FRACTION = 0.9
# A smear is a streak when its binary centroid is this far from its core (fraction of the core
# radius, plus the pixel-grid jitter of the core).
STREAK_OFFSET_FRACTION = 0.15
STREAK_OFFSET_PX = 0.3
# Rim points within this angle of the streak (cosine) are the streak's, not the disc's.
STREAK_CONE_COS = 0.5
# A blob more elongated than this is a smear, not a disc (pixel-grid discs reach 1.15).
ELONGATED_BLOB = 1.25
# A rim no point of which is further than this from the fitted circle (px) has no streak.
ROUND_RIM_PX = 0.3
# A side of the rim bulging out by less than the first of these (px) is the rim's own
# irregularity, by more than the second a faint streak; in between the two fits are blended.
BULGE_PX = (0.1, 0.3)
# A rim bulging out by more than this (px) has dragged the circle fitted to all of it.
LARGE_BULGE_PX = 1.0
# A pixel further above the median of its 3x3 neighbourhood than this fraction of its crop's
# range, with few neighbours near it, is a hot pixel, not a spot's flank.
STRAY_FRACTION = 0.5
_RIM_KERNEL = np.ones((5, 5), np.uint8)
# The eight neighbours of a pixel, for a maximum over them (cv2.dilate).
NEIGHBOURS = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)
# Minus the sum of the second differences along rows and columns (cv2.filter2D).
_LOG_LAPLACIAN = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float32)
_LEVELS = np.array(RIM_LEVELS)


def spot_support(mask, foreign=None):
    """
    Return the pixels that hold the light of the spot `mask`: the mask grown by two pixels.

    `foreign` (0/1 like `mask`, or None) are pixels of other spots above the detector's
    threshold, a hot pixel or a glint beside the LED: they are left out, their light is not
    this spot's.
    """
    support = cv2.dilate(mask, _RIM_KERNEL)
    return support if foreign is None else cv2.subtract(support, foreign)


def spot_weights(crop, mask, foreign=None):
    """
    Return the brightness of the spot `mask` in `crop` above its local background (float32).

    The support is the mask with a two-pixel rim, without `foreign` pixels (spot_support): the
    flanks below threshold carry most of the sub-pixel information, and the rim's mean is the
    local background.
    """
    support = spot_support(mask, foreign)
    weights = crop.astype(np.float32)
    # cv2.mean gives 0 for an empty rim, as for no background.
    weights -= cv2.mean(crop, cv2.subtract(support, mask))[0]
    np.maximum(weights, 0.0, out=weights)
    weights *= support
    return weights


def centroid_noise_px(weights, light, read_noise_dn):
    """
    Return the standard deviation (px, per axis) that read noise gives a weighted centroid.

    Each pixel with light in `weights` (spot_weights; `light` are their moments) carries
    `read_noise_dn` into them, and a pixel r from the centroid moves it by r / (total light)
    per DN. Pixels the background subtraction left dark add none. NaN for a spot without light.
    """
    if light['m00'] <= 0.0:
        return math.nan
    spread = cv2.moments(cv2.threshold(weights, 0.0, 1.0, cv2.THRESH_BINARY)[1])
    return read_noise_dn * math.sqrt(0.5 * (spread['mu20'] + spread['mu02'])) / light['m00']


def weighted_centroid(crop, mask, moments=None, foreign=None):
    """
    Return (x, y) of the intensity-weighted centroid of the spot `mask` in `crop`.

    `moments` are those of spot_weights(crop, mask, foreign) when the caller has them already.
    """
    if moments is None:
        moments = cv2.moments(spot_weights(crop, mask, foreign))
    if moments['m00'] <= 0.0:
        moments = cv2.moments(mask, binaryImage=True)
    return moments['m10'] / moments['m00'], moments['m01'] / moments['m00']


def clipped_pixels(crop, mask):
    """
    Return how many pixels of the spot `mask` are saturated in the 8-bit `crop`.

    MIN_SATURATED_PX of them make the spot saturated: enough for its rim circle.
    """
    return cv2.countNonZero(_clipped(crop, mask))


def gaussian_fit(crop, weights):
    """
    Return the Gaussian fitted to the log-brightness of a spot, or None.

    `weights` is the spot's brightness b above the local background (spot_weights). The fit is
    log b = a + d x + e y + c (x^2 + y^2) about the crop's centre, weighted by b^2 (the
    logarithm's noise is inversely proportional to b): four linear unknowns, one small solve;
    (a, d, e, c) is returned. Clipped pixels of `crop` and faint ones (GAUSSIAN_FLOOR_DN,
    GAUSSIAN_FLOOR_FRACTION, RING_PX) are left out, and a radially symmetric model fitted to a
    radially symmetric spot is centred on it whichever pixels are missing. None when too few
    pixels remain.
    """
    unclipped = crop < SATURATION_LEVEL
    floor = max(GAUSSIAN_FLOOR_DN, GAUSSIAN_FLOOR_FRACTION * cv2.minMaxLoc(weights)[1])
    use = (weights > floor) & unclipped
    if np.count_nonzero(use) < RING_PX and np.any((weights > 0.0) & ~unclipped):
        use = (weights > GAUSSIAN_FLOOR_DN) & unclipped
    rows, cols = np.nonzero(use)
    if rows.size < MIN_GAUSSIAN_PX:
        return None
    lifted = weights[rows, cols].astype(np.float64)
    design = np.empty((rows.size, 4))
    design[:, 0] = 1.0
    np.subtract(cols, 0.5 * crop.shape[1], out=design[:, 1])
    np.subtract(rows, 0.5 * crop.shape[0], out=design[:, 2])
    design[:, 3] = design[:, 1] * design[:, 1] + design[:, 2] * design[:, 2]
    weighted = design * (lifted * lifted)[:, None]
    ok, solution = cv2.solve(weighted.T @ design, weighted.T @ np.log(lifted)[:, None],
                             flags=cv2.DECOMP_CHOLESKY)
    return solution[:, 0] if ok else None


def gaussian_centre(crop, weights, moments=None, fit=None):
    """
    Return (x, y) of the peak of the Gaussian fitted to a spot (gaussian_fit), or None.

    `moments` are those of `weights` and `fit` the Gaussian when the caller has them already.
    None when there is no fit, the fit has no peak, or the peak lies more than
    GAUSSIAN_AGREEMENT_PX from the weighted centroid.
    """
    if fit is None:
        fit = gaussian_fit(crop, weights)
    curvature = float(fit[3]) if fit is not None else 0.0
    if not curvature < 0.0:
        return None
    centre_x = 0.5 * crop.shape[1] - 0.5 * float(fit[1]) / curvature
    centre_y = 0.5 * crop.shape[0] - 0.5 * float(fit[2]) / curvature
    if moments is None:
        moments = cv2.moments(weights)
    if math.hypot(centre_x - moments['m10'] / moments['m00'],
                  centre_y - moments['m01'] / moments['m00']) > GAUSSIAN_AGREEMENT_PX:
        return None
    return centre_x, centre_y


def without_hot_pixels(crop, weights, clipped, flank=True, defects=None):
    """
    Return (weights, fit): a spot's light with the hot pixels its Gaussian shows up replaced.

    A hot pixel joined to a dim spot would stretch its light past the shape filters and pull
    its centroid; nothing but the spot's own shape tells it from the spot's light. With
    `clipped` (the spot has clipped pixels) each of those is judged by the spot's Gaussian
    (without_stray_clips), else the spot's top by the Gaussian of the rest (without_lone_peak).
    With `flank`, a pixel on the flank far sharper than the rest of the spot (_side_peaks) is
    left out of that Gaussian and judged by it too. `defects` (0/1, the crop's shape, or None)
    are learned hot pixels the detector painted out: where they hold the spot's light, they are
    known and take the value of the Gaussian fitted without them (without_known_defects), and
    nothing else is judged. `fit` is the Gaussian fitted without the pixels it judged, for the
    placement to reuse, or None when none was made or none that holds.
    """
    if defects is not None:
        known, fit = without_known_defects(crop, weights, defects)
        if fit is not None:
            return known, fit
    side = _side_peaks(crop, weights) if flank else None
    if side is not None:
        cleaned = _without_side_peaks(crop, weights, clipped, side)
        if cleaned is not None:
            return cleaned
    return _without_top_hot_pixel(crop, weights, clipped)


def _without_top_hot_pixel(crop, weights, clipped):
    """Return without_hot_pixels' (weights, fit) for the clipped pixels or the top alone."""
    if not clipped:
        return without_lone_peak(crop, weights)
    fit = gaussian_fit(crop, weights)
    return (weights, None) if fit is None else (without_stray_clips(crop, weights, fit), fit)


def _side_peaks(crop, weights):
    """
    Return (rows, cols) of the spot's unclipped pixels, other than its top, too sharp for it.

    A hot pixel on a dim spot's flank joins its blob without being its top or clipped, and pulls
    its centre by tenths of a pixel (640x480 at 2 m: 0.36 px). A blurred spot's log-brightness
    curves alike at every pixel (the sum of its second differences along rows and columns is
    2 / s^2 for a Gaussian of s px); a pixel SIDE_PEAK_DN above the background curving by
    SIDE_PEAK_MARGIN more than the median of such pixels is tried. None when no pixel is.
    """
    _, top, _, (x, y) = cv2.minMaxLoc(weights)
    if top <= SIDE_PEAK_DN:
        return None
    curvature = cv2.filter2D(np.log(np.maximum(weights, 1.0)), -1, _LOG_LAPLACIAN,
                             borderType=cv2.BORDER_CONSTANT)
    bright = (weights > SIDE_PEAK_DN) & (crop < SATURATION_LEVEL)
    bright[y, x] = False
    curves = curvature[bright]
    if curves.size < SIDE_PEAK_MIN_PX:
        return None
    limit = float(median(curves)) + SIDE_PEAK_MARGIN
    if float(curves.max()) < limit:
        return None
    rows, cols = np.nonzero(bright & (curvature >= limit))
    return rows, cols


def _without_side_peaks(crop, weights, clipped, side):
    """
    Return (weights, fit) with the `side` pixels the Gaussian of the rest cannot explain replaced.

    The rest is judged as without_hot_pixels judges a spot (its clipped pixels or its top);
    a side pixel keeps its light when the Gaussian puts STRAY_CLIP_FRACTION of it there, or all
    but SIDE_PEAK_DN. None when no Gaussian with a peak fits the rest, or every side pixel
    keeps its light.
    """
    rows, cols = side
    rest = weights.copy()
    rest[rows, cols] = 0.0
    rest, fit = _without_top_hot_pixel(crop, rest, clipped)
    if fit is None and not clipped:
        # The top was not tried: no fit made yet.
        fit = gaussian_fit(crop, rest)
    if fit is None or not fit[3] < 0.0:
        return None
    coefficients, replaced = fit.tolist(), False
    for row, col in zip(rows.tolist(), cols.tolist()):
        fitted, light = _fitted_light(coefficients, crop.shape, col, row), float(weights[row, col])
        # Read noise can double a faint pixel's light, not add SIDE_PEAK_DN to it.
        if fitted < min(STRAY_CLIP_FRACTION * light, light - SIDE_PEAK_DN):
            rest[row, col], replaced = fitted, True
        else:
            rest[row, col] = weights[row, col]
    return (rest, fit) if replaced else None


def without_known_defects(crop, weights, defects):
    """
    Return (weights, fit): a spot's light at known defect pixels replaced by its Gaussian's.

    `defects` (0/1, the crop's shape) are the sensor's learned hot pixels, painted out of the
    image with the mean of their neighbours (defect_pixels), which underestimates a dim spot's
    peak. The Gaussian fitted without them gives them their value, as for a hot pixel found in
    one frame. Those painted full scale beside a clipped pixel stay clipped. (weights, None)
    when no defect holds the spot's light or no Gaussian with a peak fits the rest.
    """
    rows, cols = np.nonzero(defects & (weights > 0.0) & (crop < SATURATION_LEVEL))
    if not rows.size:
        return weights, None
    rest, fit = _fitted_without(crop, weights, rows, cols)
    if fit is None:
        return weights, None
    coefficients = fit.tolist()
    for row, col in zip(rows.tolist(), cols.tolist()):
        rest[row, col] = _fitted_light(coefficients, crop.shape, col, row)
    return rest, fit


def without_stray_clips(crop, weights, fit):
    """
    Return `weights` with the values of the Gaussian `fit` at clipped pixels it cannot explain.

    A clipped top is brighter still in the Gaussian fitted to its flanks (gaussian_fit); a
    clipped pixel that the Gaussian puts at less than STRAY_CLIP_FRACTION of its brightness is
    a hot pixel joined to a dim spot (the optics spread an LED's light; they cannot put 255 DN
    next to 10). Left in, it would stretch the spot's light past the shape filters and pull
    its weighted centroid. `weights` itself when there is none.
    """
    if not fit[3] < 0.0:
        # No peak: the fit says nothing of the spot's shape.
        return weights
    cleaned, coefficients = weights, fit.tolist()
    # The spot's own clipped pixels, not another spot's in the crop: fewer than SMALL_DISC_PX,
    # for which plain floats cost less than arrays.
    clipped = np.nonzero((crop >= SATURATION_LEVEL) & (weights > 0.0))
    for row, col in zip(*(i.tolist() for i in clipped)):
        fitted = _fitted_light(coefficients, crop.shape, col, row)
        if fitted < STRAY_CLIP_FRACTION * float(weights[row, col]):
            if cleaned is weights:
                cleaned = weights.copy()
            # The fit's value, not none: a hole at a dim spot's peak would move the centroid.
            cleaned[row, col] = fitted
    return cleaned


def without_lone_peak(crop, weights):
    """
    Return (weights, fit): a spot's top pixel replaced by the Gaussian of the rest, if it is hot.

    A hot pixel below the clip that joins a dim spot becomes its top and stands far above its
    neighbours. A spot's own top can too, when the spot is sharp; the Gaussian fitted to the
    rest of the spot (gaussian_fit) tells which: it puts a sharp spot's top where it is, and
    less than STRAY_CLIP_FRACTION of a hot pixel's light there. Only a top sharper than
    LONE_PEAK_CURVATURE is tried. (weights, None) when nothing is replaced; else the fit is the
    one of the rest of the spot.
    """
    _, top, _, (x, y) = cv2.minMaxLoc(weights)
    height, width = weights.shape
    if top <= 1.0 or crop[y, x] >= SATURATION_LEVEL or not (0 < x < width - 1
                                                            and 0 < y < height - 1):
        return weights, None
    # The second differences of log-brightness across the top, along rows and columns: 1/s^2
    # each for a Gaussian spot of s px wherever the top lies among the pixels.
    beside = [max(float(v), 1.0) for v in (weights[y, x - 1], weights[y, x + 1],
                                           weights[y - 1, x], weights[y + 1, x])]
    if 4.0 * math.log(top) - sum(math.log(v) for v in beside) < LONE_PEAK_CURVATURE:
        return weights, None
    rest, fit = _fitted_without(crop, weights, y, x)
    if fit is None:
        return weights, None
    fitted = _fitted_light(fit.tolist(), crop.shape, x, y)
    if fitted >= STRAY_CLIP_FRACTION * top:
        return weights, None
    rest[y, x] = fitted
    return rest, fit


def _fitted_without(crop, weights, rows, cols):
    """Return (weights without the light of those pixels, the Gaussian of the rest or None)."""
    rest = weights.copy()
    rest[rows, cols] = 0.0
    fit = gaussian_fit(crop, rest)
    return rest, fit if fit is not None and fit[3] < 0.0 else None


def _fitted_light(coefficients, shape, col, row):
    """Return the light that gaussian_fit's `coefficients` (floats) put on a pixel of a crop."""
    a, d, e, c = coefficients
    x, y = col - 0.5 * shape[1], row - 0.5 * shape[0]
    return math.exp(min(a + d * x + e * y + c * (x * x + y * y), MAX_LOG_DN))


def rim_centre(crop, mask, foreign=None):
    """
    Return (x, y) of the circle through the rim of a saturated round spot, or None.

    `crop` is the 8-bit image around the spot with a margin of two pixels or more, `mask` the
    spot's pixels (uint8, 0 or 1), `foreign` those of other spots (spot_support). None when the
    rim has too few points for a circle or the circle's centre falls outside the crop.
    """
    # A hot pixel touching the disc joins its blob and would bulge its rim (by up to 0.5 px):
    # its light is not the LED's.
    hot = _hot_pixels(crop)
    if hot is not None:
        foreign = hot if foreign is None else cv2.bitwise_or(foreign, hot)
    x, y, _ = _rim_points(crop, mask, foreign)
    circle = _fit_circle(x, y) if x.size >= MIN_RIM_POINTS else None
    if circle is not None and _plausible(circle[0], circle[1], crop.shape):
        return circle[0], circle[1]
    return None


def elongation(moments):
    """Return the ratio of the major to the minor axis of a spot from its (any) moments."""
    if moments['m00'] <= 0.0:
        return 1.0
    mu20, mu02, mu11 = (moments[k] / moments['m00'] for k in ('mu20', 'mu02', 'mu11'))
    spread = math.sqrt(max(0.0, (mu20 - mu02) ** 2 + 4.0 * mu11 ** 2))
    major, minor = mu20 + mu02 + spread, mu20 + mu02 - spread
    return math.sqrt(major / minor) if minor > 1e-9 else math.inf


def core_centre(crop, mask, blob=None, foreign=None):
    """
    Return (x, y) of the LED in a spot that may be a saturated flare smear.

    The smear extends to one side of the LED only, so its centroid is not the LED: the disc is
    located by the circle through its rim, leaving out the side where the streak leaves it.
    `blob` are the binary moments of `mask` when the caller has them already; `foreign` are
    the pixels of other spots in the crop (spot_support).
    """
    saturated = _clipped(crop, mask)
    if cv2.countNonZero(saturated) < MIN_SATURATED_PX:
        return weighted_centroid(crop, mask, foreign=foreign)
    if blob is None:
        blob = cv2.moments(mask, binaryImage=True)
    rim = whole = None
    if elongation(blob) < ELONGATED_BLOB:
        rim = _rim_points(crop, mask, foreign)
        whole = _fit_circle(*rim) if rim[0].size >= MIN_RIM_POINTS else None
        if whole is not None:
            if float(np.max(np.abs(whole[3]))) < ROUND_RIM_PX \
                    and _plausible(whole[0], whole[1], crop.shape):
                # No streak, not even a faint one: the whole rim is the disc's.
                return whole[0], whole[1]
    core_x, core_y, radius = _deepest_core(saturated)
    streak_x = blob['m10'] / blob['m00'] - core_x
    streak_y = blob['m01'] / blob['m00'] - core_y
    length = math.hypot(streak_x, streak_y)
    circle = None
    if length >= STREAK_OFFSET_FRACTION * radius + STREAK_OFFSET_PX:
        left = top = 0
        if rim is None:
            # Only the rim near the core is the disc's: the rest of the smear is not searched.
            reach = int(2.0 * radius) + 4
            left, top = max(0, int(core_x) - reach), max(0, int(core_y) - reach)
            right, bottom = int(core_x) + reach + 1, int(core_y) + reach + 1
            rim = _rim_points(crop[top:bottom, left:right], mask[top:bottom, left:right],
                              None if foreign is None else foreign[top:bottom, left:right])
        x, y, level = rim
        dx, dy = x + (left - core_x), y + (top - core_y)
        distance = np.hypot(dx, dy)
        disc = (dx * streak_x + dy * streak_y < STREAK_CONE_COS * length * distance) \
            & (distance < 2.0 * radius + 3.0)
        if np.count_nonzero(disc) >= MIN_RIM_POINTS:
            circle = _fit_circle(x[disc] + left, y[disc] + top)
    else:
        # A streak too faint or short to move the blob's centroid can still bulge the rim.
        if rim is None:
            rim = _rim_points(crop, mask, foreign)
            whole = _fit_circle(*rim) if rim[0].size >= MIN_RIM_POINTS else None
        if whole is not None:
            circle = _fit_without_bulge(*rim, whole, (core_x, core_y))
    if circle is None or not _plausible(circle[0], circle[1], crop.shape) \
            or math.hypot(circle[0] - core_x, circle[1] - core_y) > radius + 1.0:
        return core_x, core_y
    return circle[0], circle[1]


def _clipped(crop, mask):
    """Return the spot's saturated pixels (uint8, 0 or 1) of the 8-bit `crop` and 0/1 `mask`."""
    _, clipped = cv2.threshold(crop, SATURATION_LEVEL - 1, 1, cv2.THRESH_BINARY)
    return cv2.bitwise_and(clipped, mask)


def _rim_points(crop, mask, foreign=None):
    """
    Return x, y and level index of where the spot's flanks cross RIM_LEVELS, along rows and cols.

    Only the mask grown by two pixels, without `foreign` pixels, is searched (spot_support), so
    a neighbour in the crop adds no crossing.
    Linear interpolation errs by a fraction of a pixel that depends on where the grid cuts the
    flank; that error varies around the rim and across levels, and mostly averages out.
    """
    support = spot_support(mask, foreign)
    background = cv2.mean(crop, support - mask)[0]
    top = cv2.minMaxLoc(crop, mask)[1]
    levels = background + _LEVELS * (top - background)
    height, width = crop.shape
    # One column and row more, NaN, so that in the flat image the neighbour to the right of
    # pixel k is k + 1 and the one below k + width + 1: a pair reaching into the extra column
    # or row (or from the extra column round to the next row) compares false and spans nothing.
    image = np.empty((height + 1, width + 1), np.float32)
    image[height], image[:height, width] = np.nan, np.nan
    body = image[:height, :width]
    body[...] = background
    np.copyto(body, crop, where=support > 0)
    flat = image.ravel()
    size = height * (width + 1)
    here = flat[:size]
    after = np.empty((2, size), np.float32)
    after[0], after[1] = flat[1:size + 1], flat[width + 1:width + 1 + size]
    # Only pairs spanning part of the levels' range can cross one: the flanks, a small share
    # of the crop. They are found in one pass, and the levels compared on them alone.
    spans = (np.maximum(here, after) >= levels[0]) & (np.minimum(here, after) < levels[-1])
    down, start = np.nonzero(spans)
    low, high = here[start], after[down, start]
    pair, level = np.nonzero((low[:, None] >= levels) != (high[:, None] >= levels))
    down, start, low = down[pair], start[pair], low[pair]
    step = (levels[level] - low) / (high[pair] - low)
    row, col = np.divmod(start, width + 1)
    return col + step * (1 - down), row + step * down, level


def _hot_pixels(crop):
    """
    Return the hot pixels of `crop` (uint8, 0 or 1), or None: pixels no blurred spot makes.

    Such a pixel stands above the median of its 3x3 neighbourhood by STRAY_FRACTION of the
    crop's range, and fewer than three of its neighbours come within half that of it. The
    corner of a small clipped disc can stand out as much but has three clipped neighbours; a
    thin streak of flare stands out along its length, so a pixel beside another that stands
    out is the spot's light too.
    """
    low, high = cv2.minMaxLoc(crop)[:2]
    limit = STRAY_FRACTION * (high - low)
    stray = cv2.subtract(crop, cv2.medianBlur(crop, 3)) > limit
    if not stray.any():
        return None
    stray &= cv2.dilate(stray.view(np.uint8), NEIGHBOURS) == 0
    padded = np.pad(crop, 1)
    for row, col in zip(*np.nonzero(stray)):
        near = padded[row:row + 3, col:col + 3] >= crop[row, col] - 0.5 * limit
        if np.count_nonzero(near) - 1 >= 3:
            stray[row, col] = False
    return stray.view(np.uint8) if stray.any() else None


def _fit_circle(x, y, level=None):
    """
    Return (x, y, radii, residuals) of the circle fitted to rim points, or None.

    Algebraic fit of x^2 + y^2 + D x + E y + F = 0; about the points' mean the normal equations
    for D and E are 2x2. One radius for all levels finds the centre better than one per level
    (measured on rendered spots): the levels' interpolation errors are alike and cancel better.
    `radii` has the mean distance of each level's points from the centre and `residuals` each
    point's distance outside its level's circle; both None without `level`.
    """
    mean_x, mean_y = float(x.sum()) / x.size, float(y.sum()) / y.size
    uvz = np.empty((3, x.size))
    np.subtract(x, mean_x, out=uvz[0])
    np.subtract(y, mean_y, out=uvz[1])
    np.add(uvz[0] * uvz[0], uvz[1] * uvz[1], out=uvz[2])
    (suu, svu), (suv, svv), (suz, svz) = (uvz @ uvz[:2].T).tolist()
    det = suu * svv - suv * suv
    if not det > 1e-9 * (suu + svv) ** 2:
        return None
    cx = 0.5 * (svv * suz - suv * svz) / det
    cy = 0.5 * (suu * svz - suv * suz) / det
    radii = residuals = None
    if level is not None:
        distance = np.hypot(uvz[0] - cx, uvz[1] - cy)
        count = np.maximum(np.bincount(level, minlength=_LEVELS.size), 1)
        radii = np.bincount(level, distance, _LEVELS.size) / count
        residuals = distance - radii[level]
    return mean_x + cx, mean_y + cy, radii, residuals


def _fit_without_bulge(x, y, level, whole, core):
    """
    Fit a circle to the rim without the side that bulges out.

    A faint streak below threshold still lifts the flank on its side and pushes the rim out
    there. `whole` is the fit to all the rim (_fit_circle with levels). A small bulge barely
    moves that fit and its residuals show where it is. A large one drags the fit towards it, and
    distances from the `core` of the saturated region may show it better, unless the streak's
    light has pulled the core towards it too: of the two, the side whose removal leaves the rest
    of the rim the rounder is the bulge. The circle is fitted to the rest. How far the left-out
    side then lies outside it decides between this fit and `whole`, smoothly so that a marginal
    bulge does not make the position jump between frames.
    """
    fits = [_fit_without_side(x, y, level, whole[:2], whole[3])]
    if float(whole[3].max()) >= LARGE_BULGE_PX:
        fits.append(_fit_without_side(x, y, level, core, None))
    fits = [fit for fit in fits if fit is not None]
    if not fits:
        return whole
    bulge, circle = min(fits, key=lambda fit: float(np.mean(fit[1][3] ** 2)))
    out = float(np.mean(np.hypot(x[bulge] - circle[0], y[bulge] - circle[1])
                        - circle[2][level[bulge]]))
    share = min(max((out - BULGE_PX[0]) / (BULGE_PX[1] - BULGE_PX[0]), 0.0), 1.0)
    return (share * circle[0] + (1.0 - share) * whole[0],
            share * circle[1] + (1.0 - share) * whole[1])


def _fit_without_side(x, y, level, centre, residual):
    """
    Return (bulge, circle) of the rim's side bulging out from `centre` and the fit to the rest.

    `residual` are the rim points' distances outside the circle about `centre`, or None to
    measure them from the median distance. None when no side bulges or too few points remain.
    """
    dx, dy = x - centre[0], y - centre[1]
    distance = np.hypot(dx, dy)
    if residual is None:
        residual = distance - median(distance)
    # The outward residuals pull towards the bulge.
    weight = np.maximum(residual, 0.0) ** 2 / np.maximum(distance, 1e-9)
    pull_x, pull_y = float(weight @ dx), float(weight @ dy)
    norm = math.hypot(pull_x, pull_y)
    bulge = dx * pull_x + dy * pull_y >= STREAK_CONE_COS * norm * distance
    count = int(np.count_nonzero(bulge))
    if norm < 1e-12 or count < 3 or x.size - count < MIN_RIM_POINTS:
        return None
    rest = ~bulge
    circle = _fit_circle(x[rest], y[rest], level[rest])
    return None if circle is None else (bulge, circle)


def _deepest_core(saturated):
    """Return (x, y, radius) of the deepest part of the saturated region (distance transform)."""
    padded = cv2.copyMakeBorder(saturated, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    # The 5x5 chamfer mask is within 2 % of the exact distance and three times faster. The core
    # only locates the disc roughly (which side of the rim is the disc's; a fallback): the
    # placement's bias and noise stayed the same (benchmarks/spot_centre_bias.py).
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_5)[1:-1, 1:-1]
    radius = float(depth.max())
    weights = depth - CORE_DEPTH_FRACTION * radius
    np.maximum(weights, 0.0, out=weights)
    moments = cv2.moments(weights)
    return moments['m10'] / moments['m00'], moments['m01'] / moments['m00'], radius


def median(values):
    """Return np.median of a 1-D array, without its overhead (several times the work here)."""
    middle = values.size // 2
    if values.size % 2:
        return np.partition(values, middle)[middle]
    ordered = np.partition(values, (middle - 1, middle))
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def _plausible(x, y, shape):
    return math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= shape[1] - 1 \
        and 0.0 <= y <= shape[0] - 1
