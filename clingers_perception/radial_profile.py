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
Place an LED at the centre of radial symmetry of its saturated spot's flanks (opt-in, per band).

spot_centre places a saturated spot by a circle through rim crossings interpolated between
pixels. What is left of its error is bias, not noise: where the pixel grid cuts the flanks, and
how much of the flanks the detector's mask lets it see, shift the circle by 0.01 to 0.03 px,
several times the centroid noise of a large spot (benchmarks/spot_centre_bias.py). Fitting the
centre together with a free radial profile (linear between knots PROFILE_KNOT_PX apart, lightly
smoothed) to every flank pixel, at its exact position, interpolates nothing and needs no shape
of the profile. A flare streak is left out: when it moves the spot's centroid off the LED, a
cone about its direction and its band next to the disc; else the sector that the fitted profile
leaves clearly too bright. So are pixels that no radial profile explains (a neighbouring spot).

It costs several times the rim circle (tenths of a millisecond per spot in NumPy), so a band
uses it only when its `fit_profile` is set.
"""

import math

from clingers_perception.spot_centre import median, SATURATION_LEVEL
import cv2
import numpy as np

# Knot spacing of the radial profile (px): fine enough to follow a clipped flank.
PROFILE_KNOT_PX = 0.25
# Weight of the profile's squared second differences against the pixels' squared residuals.
PROFILE_SMOOTHING = 1e-3
# Flank pixels are taken up to this far (px) beyond the clipped disc.
FLANK_REACH_PX = 8.0
# Flank pixels start this fraction of the way from the background to full scale.
FLANK_FLOOR = 0.04
# Fewer flank pixels than this do not constrain a profile and a centre; more, or a profile
# longer than this many knots, is glare, not an LED's flank: the start is kept, and the cost of
# the dense solve bounded.
MIN_FLANK_PX = 20
MAX_FLANK_PX = 8000
MAX_KNOTS = 160
# A spot centroid this far (px) from the LED says on which side the streak is.
STREAK_OFFSET_PX = 0.5
# Pixels within this angle (cosine) of the streak's direction are left out, and on its side
# those this close (px) to its band, which its blurred edges reach.
STREAK_CONE_COS = 0.5
STREAK_MARGIN_PX = 2.0
# A sector is a streak when its mean residual exceeds the rest's by this many standard errors.
STREAK_SIGNIFICANCE = 3.0
# Pixels further from the profile than this many robust standard deviations are left out.
OUTLIER_SIGMAS = 5.0
MAD_TO_SIGMA = 1.4826
# Gauss-Newton steps at most, and a step (px) small enough that the next would be
# negligible (the steps shrink about quadratically).
MAX_STEPS = 6
CONVERGED_PX = 1e-3


def spot_disc(crop, mask, moments, x, y):
    """
    Return (radius, streak) of the clipped disc of a saturated spot placed at (x, y) in `crop`.

    `moments` are the binary moments of `mask`. `streak` is (dx, dy, half_width) when a streak
    has moved the spot's centroid off the LED: its direction from the LED and the largest
    distance of the mask from its axis beyond the disc; else None. `radius` is the farthest
    clipped pixel from the LED outside the streak's side.
    """
    offset = (moments['m10'] / moments['m00'] - x, moments['m01'] / moments['m00'] - y)
    length = math.hypot(*offset)
    rows, cols = np.nonzero((crop >= SATURATION_LEVEL) & (mask > 0))
    dx, dy = cols - x, rows - y
    distance = np.hypot(dx, dy)
    if length <= STREAK_OFFSET_PX:
        return float(distance.max(initial=1.0)), None
    ux, uy = offset[0] / length, offset[1] / length
    away = dx * ux + dy * uy < STREAK_CONE_COS * distance
    radius = float(distance[away].max(initial=1.0))
    rows, cols = np.nonzero(mask)
    along = (cols - x) * ux + (rows - y) * uy
    across = np.abs((rows - y) * ux - (cols - x) * uy)
    half_width = float(across[along > radius + 1.0].max(initial=0.0))
    return radius, (ux, uy, half_width)


def profile_centre(image, x, y, radius, streak=None):
    """
    Return (x, y) of the centre of radial symmetry of a saturated spot's flanks in `image`.

    (x, y) is where to start (within a pixel or so), `radius` that of the clipped disc (px) and
    `streak` the (dx, dy, half_width) of a streak to leave out (spot_disc), or None to look for
    one in the residuals. The start is returned when too few flank pixels are found.
    """
    reach = radius + FLANK_REACH_PX
    x0, y0 = max(0, int(x - reach)), max(0, int(y - reach))
    x1 = min(image.shape[1], int(x + reach) + 2)
    y1 = min(image.shape[0], int(y + reach) + 2)
    patch = image[y0:y1, x0:x1]
    if patch.shape[0] < 2 or patch.shape[1] < 2:
        return x, y
    edges = np.concatenate([patch[0], patch[-1]])
    background = float(np.partition(edges, edges.size // 2)[edges.size // 2])
    floor = background + FLANK_FLOOR * (255.0 - background)
    rows, cols = np.nonzero((patch > floor) & (patch < SATURATION_LEVEL))
    px, py = cols + (x0 - x), rows + (y0 - y)
    distance = np.hypot(px, py)
    keep = distance < reach
    if streak is not None:
        ux, uy, half_width = streak
        along = px * ux + py * uy
        # The streak's side within the cone, and its band however wide it is next to the disc.
        keep &= (along < STREAK_CONE_COS * distance) & (
            (along <= 0.0) | (np.abs(py * ux - px * uy) > half_width + STREAK_MARGIN_PX))
    if not MIN_FLANK_PX <= np.count_nonzero(keep) <= MAX_FLANK_PX:
        return x, y
    values = patch[rows[keep], cols[keep]].astype(np.float64)
    points = np.stack([px[keep], py[keep]], axis=1)
    used = np.ones(values.size, dtype=bool)
    centre = np.zeros(2)
    for count in range(MAX_STEPS):
        offsets = points - centre
        rho = np.maximum(np.hypot(offsets[:, 0], offsets[:, 1]), 1e-9)
        unit = offsets / rho[:, None]
        step, residual = _centre_step(rho, unit, values, used)
        if step is None:
            return x, y
        if count == 1:
            # Only once the centre has moved onto the disc (the residuals of a profile about a
            # centre that is off show a bright side too): leave out a streak the caller did
            # not name, and pixels no radial profile explains (a neighbouring spot).
            screened = _screened(unit, residual, used, streak is None)
            if screened is not None:
                used = screened
                continue
        centre += step
        if count > 0 and math.hypot(*step) < CONVERGED_PX:
            break
    return x + float(centre[0]), y + float(centre[1])


def _centre_step(rho, unit, values, used):
    """
    Return the Gauss-Newton step of the centre and the residuals of the best profile.

    The profile is linear in its knot values, so for each centre it is solved for exactly, and
    the centre's step allows for how the profile follows it (variable projection): a few steps
    converge where alternating between profile and centre crawls. (None, None) when the pixels
    do not constrain the centre or spread over more than MAX_KNOTS knots.
    """
    start = float(rho.min())
    knots = int((float(rho.max()) - start) / PROFILE_KNOT_PX) + 2
    if knots > MAX_KNOTS:
        return None, None
    position = (rho - start) * (1.0 / PROFILE_KNOT_PX)
    index = np.minimum(position.astype(np.intp), knots - 2)
    fraction = position - index
    # Spots give a hundred or a few hundred flank pixels and a few dozen knots: dense
    # matrices cost less than assembling the banded ones.
    basis = np.zeros((rho.size, knots))
    pixels = np.arange(rho.size)
    basis[pixels, index] = 1.0 - fraction
    basis[pixels, index + 1] = fraction
    weighted = basis * used[:, None]
    normal = weighted.T @ basis + PROFILE_SMOOTHING * _second_difference_normal(knots)
    # Two solves cost less than one inverse (a quarter for 80 knots).
    ok, level = cv2.solve(normal, weighted.T @ values[:, None], flags=cv2.DECOMP_CHOLESKY)
    if not ok:
        return None, None
    level = level[:, 0]
    residual = values - basis @ level
    # The model's derivatives with respect to the centre, less what the profile can absorb.
    slope = (level[index + 1] - level[index]) * (-1.0 / PROFILE_KNOT_PX)
    jacobian = unit * (slope * used)[:, None]
    projected = basis.T @ jacobian
    absorbed = cv2.solve(normal, projected, flags=cv2.DECOMP_CHOLESKY)[1]
    reduced = jacobian.T @ jacobian - projected.T @ absorbed
    determinant = reduced[0, 0] * reduced[1, 1] - reduced[0, 1] * reduced[1, 0]
    if not determinant > 0.0:
        return None, None
    gx, gy = jacobian.T @ residual
    return np.array([reduced[1, 1] * gx - reduced[0, 1] * gy,
                     reduced[0, 0] * gy - reduced[1, 0] * gx]) / determinant, residual


_SECOND_DIFFERENCES = {}
# Profiles up to this many knots (all an LED's flank needs) keep their D^T D.
_CACHED_KNOTS = 64


def _second_difference_normal(knots):
    """Return D^T D for the second differences of `knots` values."""
    cached = _SECOND_DIFFERENCES.get(knots)
    if cached is None:
        second = np.diff(np.eye(knots), 2, axis=0)
        cached = second.T @ second
        if knots <= _CACHED_KNOTS:
            _SECOND_DIFFERENCES[knots] = cached
    return cached


def _screened(unit, residual, used, find_streak):
    """Return `used` without a streak's sector and outlying pixels; None if none are left out."""
    kept = used.copy()
    if find_streak:
        cone = _streak_sector(unit, residual)
        if cone is not None:
            kept &= ~cone
    deviation = np.abs(residual - median(residual[kept]))
    spread = MAD_TO_SIGMA * float(median(deviation[kept]))
    kept &= deviation <= OUTLIER_SIGMAS * spread
    if np.count_nonzero(kept) == np.count_nonzero(used) or \
            np.count_nonzero(kept) < MIN_FLANK_PX:
        return None
    return kept


def _streak_sector(unit, residual):
    """Return the pixels of a sector that the profile leaves clearly too bright, or None."""
    pull = np.maximum(residual, 0.0) ** 2 @ unit
    norm = math.hypot(*pull)
    if norm == 0.0:
        return None
    cone = unit @ pull >= STREAK_CONE_COS * norm
    inside, outside = residual[cone], residual[~cone]
    if inside.size < 5 or outside.size < MIN_FLANK_PX:
        return None
    excess = float(inside.mean() - outside.mean())
    return cone if excess > STREAK_SIGNIFICANCE * float(outside.std()) / math.sqrt(inside.size) \
        else None
