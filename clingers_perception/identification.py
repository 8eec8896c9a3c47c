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
Which blob is which LED, when reflections, glints and hot pixels add spots of their own.

While tracking, each LED takes the blob nearest its predicted position. To acquire, every
ordered triple of candidate blobs is tried as three chosen LEDs (the base triangle): a
scaled-orthographic model of the triangle, cheap enough to evaluate for all triples at once,
predicts where the other LEDs should be and ranks the triples; the best ranked are solved
exactly (P3P) and verified by reprojecting every LED. A layout with more LEDs than `min_leds`
has further bases, each without one LED of the first, searched when the first finds nothing:
whichever one LED is hidden, some base is in view. An assignment is accepted only if it
explains the spots within the band's reprojection limit and no different assignment does as
well: a wrong assignment gives a wrong pose, so ambiguity is reported, never resolved by luck.
"""

from dataclasses import dataclass
import itertools
import math

from clingers_perception.pose_estimation import facing_cosine, p3p_poses, refine
from clingers_perception.quality import residual_chance
from clingers_perception.transforms import rotation_angle_between, rotation_matrix
import numpy as np


# An acquired fit whose residuals a right fit would leave less often than this is refused.
MIN_FIT_CHANCE = 1e-3
# A spot whose read noise is known (Blob.noise_px) is judged by it and, added to it, this
# fraction of the band's noise prior: the weighted centroid's own error, 0.008-0.021 px on
# noise-free renders at the reference focal length, whose prior is 0.05 px.
CENTROID_ERROR_FRACTION = 0.4
# The other LEDs of a P3P root are searched within this fraction of its triangle's size.
ROOT_GATE_FRACTION = 0.15
# Before P3P, the other LEDs are searched within this fraction of the triangle's size.
SOP_GATE_FRACTION = 0.5
# The scaled-orthographic depth of a triple may differ from the true range by this factor.
RANGE_MARGIN = 2.0


@dataclass(frozen=True)
class Match:
    """An accepted assignment: blob index per LED (-1: not seen) and the pose it gives."""

    blob_of_led: tuple
    pose: object

    @property
    def matched(self):
        """Return how many LEDs have a blob."""
        return sum(1 for i in self.blob_of_led if i >= 0)


@dataclass(frozen=True)
class _Pose:
    """A starting pose for refinement."""

    rvec: np.ndarray
    tvec: np.ndarray


@dataclass(frozen=True)
class Identification:
    """The outcome of identification: a match, or the reason there is none."""

    match: object
    reason: str
    hypotheses: int


@dataclass(frozen=True)
class _Base:
    """Three LEDs an acquisition matches to triples of spots, and the layout seen from them."""

    leds: tuple
    # Every LED in the frame of the triangle's plane (2D) and its height above that plane.
    plane_coords: np.ndarray
    heights: np.ndarray
    plane_inverse: np.ndarray
    others: list
    # Smallest cosine between the triangle's normal and the line of sight worth a search.
    min_facing: float

    @classmethod
    def of(cls, points, leds, max_view_angle_deg):
        """Return the base of LEDs `leds` (three indices) of the layout `points`."""
        origin = points[leds[0]]
        e1 = points[leds[1]] - origin
        e1 /= np.linalg.norm(e1)
        normal = np.cross(points[leds[1]] - origin, points[leds[2]] - origin)
        normal /= np.linalg.norm(normal)
        if normal[2] < 0.0:
            normal = -normal
        e2 = np.cross(normal, e1)
        relative = points - origin
        plane_coords = relative @ np.stack([e1, e2], axis=1)
        # The triangle faces the camera whenever the target does, give or take its tilt
        # against the LEDs' emission axis (target +z).
        limit = np.radians(max_view_angle_deg) + np.arccos(np.clip(normal[2], -1, 1))
        return cls(tuple(leds), plane_coords, relative @ normal,
                   np.linalg.inv(plane_coords[list(leds[1:])].T),
                   [i for i in range(points.shape[0]) if i not in leds],
                   np.cos(limit) if limit < np.pi / 2 else -np.inf)


@dataclass(frozen=True)
class IdentificationLimits:
    """Limits that make an assignment believable."""

    max_candidates: int = 16
    max_hypotheses: int = 32
    max_view_angle_deg: float = 75.0
    min_leds: int = 4
    min_range_m: float = 0.03
    max_range_m: float = 20.0


class LedIdentifier:
    """Assign blobs to the LEDs of one target."""

    def __init__(self, target, limits=IdentificationLimits()):
        """Precompute the base triangle of `target` for the acquisition search."""
        self.target = target
        self.limits = limits
        self.min_leds = min(limits.min_leds, target.count)
        points = target.positions
        view = limits.max_view_angle_deg
        self._bases = [_Base.of(points, _base_triangle(points), view)]
        if self.min_leds < target.count:
            # An acquisition matches spots to the base's three LEDs, so one of them hidden
            # leaves it nothing to find: then bases without each of them are searched too.
            for hidden in self._bases[0].leds:
                rest = [i for i in range(target.count) if i != hidden]
                leds = tuple(rest[i] for i in _base_triangle(points[rest]))
                if all(set(leds) != set(b.leds) for b in self._bases):
                    self._bases.append(_Base.of(points, leds, view))
        self._permutations = {}
        self._min_view_cosine = np.cos(np.radians(limits.max_view_angle_deg))

    def match_predicted(self, camera, blobs, predicted_px, gate_px, band, prior):
        """Match blobs to LEDs predicted at `predicted_px` (Nx2); verify the pose."""
        centres = _centres(blobs)
        if centres.shape[0] == 0:
            return Identification(None, 'no spots near the predicted LED positions', 0)
        blob_of_led = _nearest_unique(_distances(predicted_px, centres), gate_px)
        match, reason = self._verify(camera, centres, blob_of_led, band, prior)
        return Identification(match, reason, 1)

    def acquire(self, camera, blobs, band, noise_px, range_m=(0.0, np.inf)):
        """
        Search all assignments of `blobs` to LEDs; accept only an unambiguous one.

        Besides the band's RMS limit, an acquired fit must be likely for the centroid noise:
        four LEDs leave only two redundant measurements, and a glint standing in for a hidden
        LED can fit a wrong pose within a fixed pixel limit, but not within the noise of a
        right fit. A spot whose blob gives its read noise (Blob.noise_px) is judged by that and
        CENTROID_ERROR_FRACTION of the band's prior, the others by `noise_px`: a clean view
        refuses a loose fit that the prior would let through, and a noisy sensor's right fit
        is not refused. `range_m` is the (near, far) range interval the band's detector
        constraints describe: spots that would put the target far outside it are not the LEDs
        as this band sees them, and are not tried.
        """
        order = sorted(range(len(blobs)), key=lambda i: (-blobs[i].peak, -blobs[i].area))
        order = order[:self.limits.max_candidates]
        if len(order) < self.min_leds:
            return Identification(
                None, f'{len(blobs)} spot(s) found, at least {self.min_leds} LEDs are needed', 0)
        centres = _centres(blobs)[order]
        read_noise = np.array([blobs[i].noise_px for i in order])
        noise = np.where(np.isfinite(read_noise),
                         np.hypot(read_noise, CENTROID_ERROR_FRACTION * band.centroid_noise_px),
                         noise_px)
        tried, unlikely = 0, (math.inf, math.nan)
        for base in self._bases:
            accepted, hypotheses, closest = self._search(camera, centres, band, noise,
                                                         range_m, base)
            tried += hypotheses
            unlikely = min(unlikely, closest)
            if accepted:
                break
        if not accepted:
            reason = f'no assignment of {len(order)} spots to the {self.target.count} LEDs ' \
                f'fits within {band.max_reprojection_rms_px:g} px'
            if math.isfinite(unlikely[0]):
                # Said apart: a camera noisier than the band's prior is a setting to change.
                reason = f'no assignment of {len(order)} spots to the {self.target.count} ' \
                    f'LEDs fits as a centroid noise of {unlikely[1]:.3f} px allows (the best: ' \
                    f'rms {unlikely[0]:.2f} px); if the spots are noisier, raise ' \
                    f'bands.{band.name}.centroid_noise_px'
            return Identification(None, reason, tried)
        ranked = sorted(accepted.values(), key=lambda m: (-m.matched, m.pose.rms_px))
        best = ranked[0]
        # A rival counts only if it fits about as well as the best: a residual several noise
        # levels larger is a misfit even when it is inside the band's gate.
        rival_limit = 3.0 * best.pose.rms_px + 3.0 * band.centroid_noise_px
        for other in ranked[1:]:
            if other.matched == best.matched and other.pose.rms_px <= rival_limit \
                    and _poses_differ(best.pose, other.pose):
                return Identification(
                    None, f'ambiguous: {len(ranked)} different LED assignments fit '
                    f'(rms {best.pose.rms_px:.2f} and {other.pose.rms_px:.2f} px)', tried)
        blob_of_led = tuple(order[i] if i >= 0 else -1 for i in best.blob_of_led)
        return Identification(Match(blob_of_led, best.pose), '', tried)

    def _search(self, camera, centres, band, noise, range_m, base):
        """
        Return the fits found from `base`: ({assignment: Match}, triples tried, unlikely).

        `noise` is each centre's centroid noise (px). `unlikely` is (rms, noise) of the closest
        fit within the band's limit refused as unlikely for the noise of its spots (their
        median), or (inf, nan) when there was none.
        """
        triples = self._ranked_triples(camera, centres, range_m, base)
        base_points = self.target.positions[list(base.leds)]
        roots = [(triple, rvec, tvec) for triple in triples
                 for rvec, tvec in p3p_poses(camera, base_points, centres[list(triple)])]
        accepted, unlikely = {}, (math.inf, math.nan)
        if roots:
            rotations = np.array([rotation_matrix(rvec) for _, rvec, _ in roots])
            translations = np.array([tvec.reshape(3) for _, _, tvec in roots])
            projected = camera.project_batch(rotations, translations, self.target.positions)
            distance = _distances(projected, centres)
            # A P3P root can be tens of degrees off when the triangle nearly faces the camera:
            # the other LEDs are searched within a fraction of the triangle's size, and the
            # assignment is refined on all of them before the tight check.
            corners = centres[np.array([t for t, _, _ in roots])]
            spread = (corners.max(axis=1) - corners.min(axis=1)).max(axis=1)
            gates = np.maximum(3.0 * band.max_reprojection_rms_px, ROOT_GATE_FRACTION * spread)
            # Most roots predict the other LEDs where no spot is: those are dropped here.
            nearest = np.nan_to_num(distance.min(axis=2), nan=np.inf)
            near = np.count_nonzero(nearest <= gates[:, None], axis=1)
            candidates = np.flatnonzero(near >= self.min_leds)
            # Several roots often propose one assignment: it is refined once, from the root
            # that puts the LEDs closest to their spots.
            miss = np.minimum(nearest, gates[:, None]).sum(axis=1)
            seen = set()
            for index in candidates[np.argsort(miss[candidates], kind='stable')]:
                triple, rvec, tvec = roots[index]
                blob_of_led = _nearest_unique(distance[index], gates[index])
                for led, blob in zip(base.leds, triple):
                    blob_of_led[led] = blob
                if tuple(blob_of_led) in seen:
                    continue
                seen.add(tuple(blob_of_led))
                match, _ = self._verify(camera, centres, blob_of_led, band,
                                        _Pose(rvec.reshape(3), tvec.reshape(3)))
                if match is None:
                    continue
                matched = np.asarray(match.blob_of_led)
                spots = noise[matched[matched >= 0]]
                if residual_chance(match.pose.residuals_px, spots) < MIN_FIT_CHANCE:
                    unlikely = min(unlikely, (match.pose.rms_px, float(np.median(spots))))
                    continue
                best = accepted.get(match.blob_of_led)
                if best is None or match.pose.rms_px < best.pose.rms_px:
                    accepted[match.blob_of_led] = match
        return accepted, len(triples), unlikely

    def _verify(self, camera, centres, blob_of_led, band, prior):
        """Refine on the matched LEDs and accept only a consistent, plausible pose."""
        blob_of_led = np.asarray(blob_of_led)
        pose, reason = self._refine(camera, centres, blob_of_led, prior)
        if pose is None:
            return None, reason
        gate = 3.0 * band.max_reprojection_rms_px
        # Re-associate from the refined pose: a spot taken through a wide gate may belong
        # to no LED, and a spot missed may now be close to its LED. Nothing can change when
        # every LED has a spot already within the tight gate.
        if np.any(blob_of_led < 0) or np.any(pose.residuals_px > gate):
            projected, _ = camera.project_pose(self.target.positions, pose.rvec, pose.tvec)
            reassigned = _nearest_unique(_distances(projected, centres), gate)
            if not np.array_equal(reassigned, blob_of_led):
                blob_of_led = reassigned
                pose, reason = self._refine(camera, centres, blob_of_led, pose)
                if pose is None:
                    return None, reason
        if not self._plausible(pose):
            return None, 'the matched spots give a pose facing away or out of range'
        if pose.rms_px > band.max_reprojection_rms_px:
            return None, f'matched spots fit with rms {pose.rms_px:.2f} px, more than ' \
                f'{band.max_reprojection_rms_px:g} px'
        return Match(tuple(int(i) for i in blob_of_led), pose), ''

    def _refine(self, camera, centres, blob_of_led, start):
        """Refine `start` on the LEDs that have a blob; None and why when too few have."""
        seen = np.flatnonzero(blob_of_led >= 0)
        if seen.size < self.min_leds:
            return None, f'{seen.size} of {self.target.count} LEDs matched, ' \
                f'{self.min_leds} needed'
        return refine(camera, self.target.positions[seen], centres[blob_of_led[seen]],
                      start.rvec, start.tvec), ''

    def _plausible(self, pose):
        limits = self.limits
        return (np.all(np.isfinite(pose.tvec))
                and limits.min_range_m <= pose.range_m <= limits.max_range_m
                and facing_cosine(pose) >= self._min_view_cosine)

    def _ranked_triples(self, camera, centres, range_m, base):
        """Rank ordered candidate triples for the base triangle; return the best few."""
        count = centres.shape[0]
        triples = self._permutations.get(count)
        if triples is None:
            triples = np.array(list(itertools.permutations(range(count), 3)), dtype=np.intp)
            self._permutations[count] = triples
        normalized = camera.normalize(centres)
        origin = normalized[triples[:, 0]]
        edges = np.stack([normalized[triples[:, 1]] - origin,
                          normalized[triples[:, 2]] - origin], axis=2)
        affine = edges @ base.plane_inverse
        a11, a12, a21, a22 = affine[:, 0, 0], affine[:, 0, 1], affine[:, 1, 0], affine[:, 1, 1]
        # Complete the two scaled rotation rows (a11, a12, x), (a21, a22, y): equal norms and
        # orthogonal. x and y are fixed up to a common sign (the two tilt branches).
        cross = -(a11 * a21 + a12 * a22)
        difference = (a21 ** 2 + a22 ** 2) - (a11 ** 2 + a12 ** 2)
        x = np.sqrt(np.maximum(0.5 * (difference + np.sqrt(difference ** 2 + 4 * cross ** 2)),
                               0.0))
        y = np.where(x > 1e-12, cross / np.maximum(x, 1e-12), np.sqrt(np.maximum(-difference, 0)))
        scale_sq = a11 ** 2 + a12 ** 2 + x ** 2
        facing = -(a11 * a22 - a12 * a21) / np.maximum(scale_sq, 1e-18)
        depth = 1.0 / np.sqrt(np.maximum(scale_sq, 1e-18))
        near = max(self.limits.min_range_m, range_m[0])
        far = min(self.limits.max_range_m, range_m[1])
        valid = (facing >= base.min_facing) \
            & (depth >= near / RANGE_MARGIN) & (depth <= far * RANGE_MARGIN)
        # The distance search below is the costly part: only for triples that can be right.
        keep = np.flatnonzero(valid)
        triples, origin, affine, x, y = (a[keep] for a in (triples, origin, affine, x, y))
        if not base.others:
            return [tuple(t) for t in triples[:self.limits.max_hypotheses].tolist()]
        in_plane = origin[:, None, :] + np.einsum('tij,oj->toi', affine,
                                                  base.plane_coords[base.others])
        lift = np.stack([x, y], axis=1)[:, None, :] * base.heights[base.others][None, :, None]
        focal = camera.focal_length_px
        gate = 30.0 / focal
        # A triple is worth a P3P solve only if the model puts enough of the other LEDs near
        # a spot. The scaled-orthographic model errs by a fraction of the triangle's size
        # (perspective across the target at close range), so that is the gate.
        corners = normalized[triples]
        reach = np.maximum(gate, SOP_GATE_FRACTION * np.ptp(corners, axis=1).max(axis=1))
        needed = max(0, self.min_leds - 3)
        costs, enough = [], np.zeros(len(triples), dtype=bool)
        rows = np.arange(len(triples))[:, None]
        for branch in (in_plane + lift, in_plane - lift):
            # Squared distances from x and y apart: a norm over a last axis of two is slow.
            squared = (branch[:, :, 0, None] - normalized[None, None, :, 0]) ** 2 \
                + (branch[:, :, 1, None] - normalized[None, None, :, 1]) ** 2
            for column in range(3):
                squared[rows, :, triples[:, column:column + 1]] = np.inf
            nearest = np.sqrt(squared.min(axis=2))
            costs.append(np.minimum(nearest, gate).sum(axis=1))
            enough |= np.count_nonzero(nearest <= reach[:, None], axis=1) >= needed
        cost = np.where(enough, np.minimum(costs[0], costs[1]), np.inf)
        best = np.argsort(cost, kind='stable')[:self.limits.max_hypotheses]
        return [tuple(t) for t in triples[best[np.isfinite(cost[best])]].tolist()]


def _base_triangle(points):
    """Pick three LEDs spanning a large triangle that faces along the emission axis."""
    best, best_score = None, -1.0
    for triple in itertools.combinations(range(points.shape[0]), 3):
        normal = np.cross(points[triple[1]] - points[triple[0]],
                          points[triple[2]] - points[triple[0]])
        area = 0.5 * np.linalg.norm(normal)
        score = area * (0.5 + 0.5 * abs(normal[2]) / max(2 * area, 1e-12))
        if score > best_score:
            best, best_score = triple, score
    return best


def _centres(blobs):
    return np.array([[b.x, b.y] for b in blobs], dtype=np.float64).reshape(-1, 2)


def _distances(points, centres):
    """Return the distances from each of `points` (..., N, 2) to each of `centres` (M, 2)."""
    offsets = points[..., :, None, :] - centres
    return np.sqrt(np.einsum('...ijk,...ijk->...ij', offsets, offsets))


def _nearest_unique(distance, gate_px):
    """Give each LED (row) the nearest blob (column) within the gate; a blob serves one LED."""
    nearest = distance.argmin(axis=1)
    if np.unique(nearest).size == nearest.size:
        # The usual case: no two LEDs want the same blob.
        within = distance[np.arange(nearest.size), nearest] <= gate_px
        return np.where(within, nearest, -1).astype(np.intp)
    blob_of_led = np.full(distance.shape[0], -1, dtype=np.intp)
    for flat in np.argsort(distance, axis=None):
        led, blob = np.unravel_index(flat, distance.shape)
        if distance[led, blob] > gate_px:
            break
        if blob_of_led[led] < 0 and blob not in blob_of_led:
            blob_of_led[led] = blob
    return blob_of_led


def _poses_differ(a, b, relative_distance=0.01, angle_deg=1.0):
    return (np.linalg.norm(a.tvec - b.tvec) > relative_distance * a.range_m
            or rotation_angle_between(a.rotation, b.rotation) > np.radians(angle_deg))
