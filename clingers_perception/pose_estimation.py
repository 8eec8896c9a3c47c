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

"""Pose of the LED target from matched LED pixels: PnP, refinement, ambiguity and covariance."""

from dataclasses import dataclass
import functools
import itertools
import math

from clingers_perception.transforms import (rotation_angle_between, rotation_matrix,
                                            rotation_vector)
import cv2
import numpy as np


# A half turn about x: maps a target whose LEDs face the camera to one facing away.
_TURN_OVER = np.diag([1.0, -1.0, -1.0])
_TURN_OVER_DIAGONAL = np.diag(_TURN_OVER)


@dataclass(frozen=True)
class PoseEstimate:
    """Pose of the target in the camera frame, p_cam = rotation @ p_target + translation."""

    rvec: np.ndarray
    tvec: np.ndarray
    rms_px: float
    residuals_px: np.ndarray

    @functools.cached_property
    def rotation(self):
        """Return the 3x3 rotation matrix (computed once: the checks and the covariance ask)."""
        return rotation_matrix(self.rvec)

    @property
    def range_m(self):
        """Return the distance from the optical centre to the target origin."""
        return math.sqrt(float(self.tvec @ self.tvec))


def refine(camera, object_points, image_points, rvec, tvec):
    """Levenberg-Marquardt refinement of a pose on all matched points; returns a PoseEstimate."""
    obj = np.ascontiguousarray(object_points, dtype=np.float64).reshape(-1, 3)
    img = np.ascontiguousarray(image_points, dtype=np.float64).reshape(-1, 2)
    rvec = np.array(rvec, dtype=np.float64).reshape(3, 1)
    tvec = np.array(tvec, dtype=np.float64).reshape(3, 1)
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, camera.camera_matrix, camera.distortion,
                                      rvec, tvec)
    return evaluate(camera, obj, img, rvec, tvec)


def evaluate(camera, object_points, image_points, rvec, tvec):
    """Return the PoseEstimate of a given pose with its reprojection residuals."""
    projected, _ = camera.project_pose(object_points, rvec, tvec)
    offsets = projected - np.asarray(image_points).reshape(-1, 2)
    squared = np.einsum('ij,ij->i', offsets, offsets)
    return PoseEstimate(np.asarray(rvec, np.float64).reshape(3),
                        np.asarray(tvec, np.float64).reshape(3),
                        math.sqrt(float(squared.sum()) / squared.size), np.sqrt(squared))


def solve_pose(camera, object_points, image_points, coplanar, prior=None):
    """
    Solve PnP for matched points; return the candidate poses, best first.

    A non-coplanar layout is solved from SQPnP and from every P3P root of its widest triangle,
    each refined on all points, because with four points SQPnP alone can settle in a wrong
    minimum at close range. A coplanar layout has two solutions, mirror images of each other
    about the line of sight (IPPE); both are returned, refined, so that the caller can decide
    between them. With a prior (the tracker's prediction) the prior is refined as well, which
    keeps the branch the tracker is on. Fewer than four points, or collinear ones, give none.
    """
    obj = np.ascontiguousarray(object_points, dtype=np.float64).reshape(-1, 3)
    img = np.ascontiguousarray(image_points, dtype=np.float64).reshape(-1, 1, 2)
    if obj.shape[0] < 4 or obj.shape[0] != img.shape[0] or _collinear(obj):
        return []
    starts = []
    if coplanar:
        # The LEDs shine along the target's +z, towards the camera; OpenCV's IPPE expects the
        # plane's normal to point away from it, so solve for the target turned over about x.
        _, rvecs, tvecs, _ = cv2.solvePnPGeneric(obj * _TURN_OVER_DIAGONAL, img,
                                                 camera.camera_matrix, camera.distortion,
                                                 flags=cv2.SOLVEPNP_IPPE)
        starts.extend((rotation_vector(rotation_matrix(r) @ _TURN_OVER), t)
                      for r, t in zip(rvecs, tvecs))
    else:
        ok, rvec, tvec = cv2.solvePnP(obj, img, camera.camera_matrix, camera.distortion,
                                      flags=cv2.SOLVEPNP_SQPNP)
        if ok:
            starts.append((rvec, tvec))
        triangle = list(widest_triangle(obj))
        starts.extend(p3p_poses(camera, obj[triangle], img[triangle]))
    if prior is not None:
        starts.append(prior)
    estimates = [refine(camera, obj, img, r, t) for r, t in starts]
    estimates = [e for e in estimates if np.all(np.isfinite(e.tvec)) and e.tvec[2] > 0.0]
    estimates.sort(key=lambda e: e.rms_px)
    return _distinct(estimates)


def fitting_rivals(candidates, limit_px, min_angle_rad):
    """
    Return (best, rivals) of solve_pose candidates that fit within `limit_px` RMS.

    `best` is the best fitting one (None when none fits); `rivals` are the other fitting ones
    turned more than `min_angle_rad` from it: a coplanar layout's mirror pose that fits too.
    """
    fitting = [c for c in candidates if c.rms_px <= limit_px]
    if not fitting:
        return None, []
    best = fitting[0]
    return best, [c for c in fitting[1:]
                  if rotation_angle_between(c.rotation, best.rotation) > min_angle_rad]


def p3p_poses(camera, object_points, image_points):
    """Return the (rvec, tvec) roots of P3P for three points that put them in front."""
    # AP3P: OpenCV 4.5's SOLVEPNP_P3P misses the true root for about one view in five.
    count, rvecs, tvecs = cv2.solveP3P(
        np.ascontiguousarray(object_points, np.float64).reshape(3, 1, 3),
        np.ascontiguousarray(image_points, np.float64).reshape(3, 1, 2),
        camera.camera_matrix, camera.distortion, flags=cv2.SOLVEPNP_AP3P)
    return [(rvecs[i], tvecs[i]) for i in range(count) if tvecs[i][2] > 0]


def widest_triangle(points):
    """Return the indices of the three points spanning the largest triangle."""
    best, best_area = None, -1.0
    for triple in itertools.combinations(range(points.shape[0]), 3):
        area = np.linalg.norm(np.cross(points[triple[1]] - points[triple[0]],
                                       points[triple[2]] - points[triple[0]]))
        if area > best_area:
            best, best_area = triple, area
    return best


def _collinear(points):
    spread = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return spread[1] <= 1e-6 * max(spread[0], 1e-12)


def _distinct(estimates, angle_rad=np.radians(0.5), relative_distance=1e-3):
    kept = []
    for estimate in estimates:
        if not any(rotation_angle_between(estimate.rotation, k.rotation) < angle_rad
                   and np.linalg.norm(estimate.tvec - k.tvec) < relative_distance * k.range_m
                   for k in kept):
            kept.append(estimate)
    return kept


def pose_jacobian(camera, object_points, estimate):
    """
    Return d(pixels)/d(x, y, z, rotX, rotY, rotZ), 2N x 6, for rotations about camera axes.

    The rotation part is a small rotation applied on the left, R' = exp([w]x) R, which is the
    parametrisation of the covariance published with the pose.
    """
    points_camera = (estimate.rotation @ np.asarray(object_points, np.float64).T).T
    # The Jacobian of a projection w.r.t. its translation is d(pixel)/d(camera point).
    _, jacobian = camera.project_pose(points_camera + estimate.tvec, np.zeros(3), np.zeros(3))
    d_pixel_d_point = jacobian[:, 3:6].reshape(-1, 2, 3)
    skew = np.zeros((points_camera.shape[0], 3, 3))
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = \
        -points_camera[:, 2], points_camera[:, 1], -points_camera[:, 0]
    skew -= skew.transpose(0, 2, 1)
    d_pixel_d_rotation = -d_pixel_d_point @ skew
    return np.concatenate([d_pixel_d_point, d_pixel_d_rotation], axis=2).reshape(-1, 6)


def pose_covariance(camera, object_points, estimate, centroid_noise_px):
    """Return the 6x6 covariance of (x, y, z, rotX, rotY, rotZ) for isotropic pixel noise."""
    jacobian = pose_jacobian(camera, object_points, estimate)
    information = jacobian.T @ jacobian / centroid_noise_px ** 2
    try:
        return np.linalg.inv(information)
    except np.linalg.LinAlgError:
        # Degenerate geometry (LEDs in a line): the pseudo-inverse still says which
        # directions are unobserved, by leaving them out rather than failing.
        return np.linalg.pinv(information)


def facing_cosine(estimate):
    """Return the cosine between the target's +z axis and the direction to the camera."""
    return -float(estimate.rotation[:, 2] @ estimate.tvec) / estimate.range_m
