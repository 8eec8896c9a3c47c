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

"""Camera model built from the fields of a sensor_msgs/CameraInfo, with no ROS import."""

from dataclasses import dataclass

import cv2
import numpy as np

# Distortion models of sensor_msgs/distortion_models.hpp that OpenCV evaluates exactly.
SUPPORTED_DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial')
# A 10 m lens on 10 um pixels: anything longer is a corrupt calibration.
MAX_FOCAL_LENGTH_PX = 1e6
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)


class CameraModelError(ValueError):
    """A calibration that cannot be used; the message says why."""


@dataclass(frozen=True)
class CameraModel:
    """
    Pinhole camera with OpenCV distortion, in pixels of the image the detector sees.

    `camera_matrix` and `distortion` describe the image exactly as it arrives: K and D for a raw
    image, P[:3, :3] with zero distortion for a rectified one.
    """

    width: int
    height: int
    camera_matrix: np.ndarray
    distortion: np.ndarray

    @classmethod
    def from_camera_info(cls, width, height, distortion_model, d, k, p, rectified=False):
        """Build from CameraInfo fields; raise CameraModelError naming the problem."""
        width, height = int(width), int(height)
        if width <= 0 or height <= 0:
            raise CameraModelError(f'camera_info size {width}x{height} is empty')
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        p = np.asarray(p, dtype=np.float64).reshape(-1)
        d = np.asarray(d, dtype=np.float64).reshape(-1)
        if k.size != 9 or p.size != 12:
            raise CameraModelError('camera_info K must have 9 and P 12 values')
        if rectified:
            matrix = p.reshape(3, 4)[:, :3].copy()
            distortion = np.zeros(5)
            source = 'P'
        else:
            matrix = k.reshape(3, 3).copy()
            distortion = _opencv_distortion(distortion_model, d)
            source = 'K'
        if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(distortion)):
            raise CameraModelError(f'camera_info {source} or D holds NaN or inf')
        if matrix[0, 0] == 0.0:
            raise CameraModelError(f'camera is uncalibrated ({source}[0] == 0)')
        fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
        if fx <= 0.0 or fy <= 0.0 or matrix[2, 2] != 1.0 or matrix[1, 0] != 0.0 \
                or matrix[2, 0] != 0.0 or matrix[2, 1] != 0.0:
            raise CameraModelError(f'camera_info {source} is not a pinhole camera matrix')
        if max(fx, fy) > MAX_FOCAL_LENGTH_PX:
            raise CameraModelError(
                f'focal length {max(fx, fy):.3g} px is beyond any camera (at most '
                f'{MAX_FOCAL_LENGTH_PX:.0e} px)')
        if not (-width < cx < 2 * width and -height < cy < 2 * height):
            raise CameraModelError(
                f'principal point ({cx:.1f}, {cy:.1f}) is far outside the {width}x{height} image')
        matrix.setflags(write=False)
        distortion.setflags(write=False)
        return cls(width, height, matrix, distortion)

    @property
    def focal_length_px(self):
        """Mean focal length in pixels."""
        return 0.5 * (self.camera_matrix[0, 0] + self.camera_matrix[1, 1])

    @property
    def horizontal_fov_rad(self):
        """Horizontal field of view of the undistorted pinhole, radians."""
        return 2.0 * np.arctan2(0.5 * self.width, self.camera_matrix[0, 0])

    def project(self, points_camera):
        """Project Nx3 points given in the camera frame to Nx2 distorted pixel coordinates."""
        points = np.asarray(points_camera, dtype=np.float64).reshape(-1, 1, 3)
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3),
                                      self.camera_matrix, self.distortion)
        return pixels.reshape(-1, 2)

    def project_pose(self, points_target, rvec, tvec):
        """Project Nx3 target-frame points under pose (rvec, tvec); return pixels and Jacobian."""
        points = np.asarray(points_target, dtype=np.float64).reshape(-1, 1, 3)
        pixels, jacobian = cv2.projectPoints(points, np.asarray(rvec, np.float64).reshape(3, 1),
                                             np.asarray(tvec, np.float64).reshape(3, 1),
                                             self.camera_matrix, self.distortion)
        return pixels.reshape(-1, 2), jacobian

    def project_batch(self, rotations, translations, points):
        """
        Project Nx3 target points under K poses at once; return KxNx2 pixels.

        The same distortion model as cv2.projectPoints, in NumPy, so that an acquisition can
        score many pose hypotheses without a call per hypothesis.
        """
        camera_points = np.einsum('kij,nj->kni', rotations, points) + translations[:, None, :]
        with np.errstate(divide='ignore', invalid='ignore'):
            x = camera_points[..., 0] / camera_points[..., 2]
            y = camera_points[..., 1] / camera_points[..., 2]
        d = np.zeros(8)
        d[:self.distortion.size] = self.distortion[:8]
        k1, k2, p1, p2, k3, k4, k5, k6 = d
        r2 = x * x + y * y
        radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        m = self.camera_matrix
        return np.stack([m[0, 0] * xd + m[0, 2], m[1, 1] * yd + m[1, 2]], axis=-1)

    def normalize(self, pixels):
        """Undistort Nx2 pixel coordinates to Nx2 normalized image coordinates (z = 1)."""
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        if pixels.shape[0] == 0:
            return np.zeros((0, 2))
        # The default five iterations leave tenths of a pixel at the edge of a wide lens.
        if hasattr(cv2, 'undistortPointsIter'):
            normalized = cv2.undistortPointsIter(pixels, self.camera_matrix, self.distortion,
                                                 None, None, _UNDISTORT_CRITERIA)
        else:
            normalized = cv2.undistortPoints(pixels, self.camera_matrix, self.distortion,
                                             criteria=_UNDISTORT_CRITERIA)
        return normalized.reshape(-1, 2)

    def matches_image(self, width, height):
        """Return True when this calibration is for an image of the given size."""
        return (int(width), int(height)) == (self.width, self.height)


def _opencv_distortion(distortion_model, d):
    if distortion_model not in SUPPORTED_DISTORTION_MODELS:
        if distortion_model == '' and d.size == 0:
            return np.zeros(5)
        raise CameraModelError(
            f"distortion model '{distortion_model}' is not supported "
            f"(use {' or '.join(SUPPORTED_DISTORTION_MODELS)}, or publish a rectified image)")
    expected = 5 if distortion_model == 'plumb_bob' else 8
    if d.size == 0:
        return np.zeros(expected)
    if d.size < expected:
        raise CameraModelError(
            f'{distortion_model} needs {expected} distortion values, D has {d.size}')
    return d[:expected].copy()
