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
The prototype baseline the evaluation runs beside the pipeline: what a first version would do.

Exactly this, every frame on its own (no tracking, no search windows, no range bands):

1. Detection: ONE fixed cv2.SimpleBlobDetector configuration (SEED_BLOB_PARAMS) on the whole
   frame; a 16-bit frame is shifted to 8 bits first (its top 8 bits).
2. Centroid: the keypoint position SimpleBlobDetector returns (the mean over thresholds of the
   binary blob's centroid); no sub-pixel weighting, no flare handling.
3. Identification: the N largest keypoints (by keypoint size; N = number of LEDs) are taken as
   the LEDs; fewer than N keypoints give no pose. They are sorted by angle about their mean,
   and the layout is sorted the same way as it appears when the target faces the camera upright
   (target x to the right, target y up, z ignored). Of the N cyclic ways to pair the two sorted
   lists, the one with the smallest sum of squared angle differences is taken.
4. Pose: cv2.solvePnP with the camera's K and D. Coplanar layouts use OpenCV's default
   (SOLVEPNP_ITERATIVE: homography start, Levenberg-Marquardt). For a non-coplanar layout of
   fewer than 6 LEDs SOLVEPNP_ITERATIVE refuses to start (its DLT start needs 6 points), so the
   start comes from SOLVEPNP_EPNP and SOLVEPNP_ITERATIVE refines it (useExtrinsicGuess).
5. Every pose found is reported: no residual check, no covariance.
"""

from dataclasses import dataclass
import math
import time

from clingers_perception.pose_estimation import evaluate
import cv2
import numpy as np

# One configuration for the whole approach, as tuned on the bench at mid range: dim far spots
# need the low first threshold; round-spot shape filters keep hot pixels and glare out.
SEED_BLOB_PARAMS = {
    'minThreshold': 20.0,
    'maxThreshold': 250.0,
    'thresholdStep': 10.0,
    'minRepeatability': 2,
    'minDistBetweenBlobs': 3.0,
    'filterByColor': True,
    'blobColor': 255,
    'filterByArea': True,
    'minArea': 2.0,
    'maxArea': 3000.0,
    'filterByCircularity': True,
    'minCircularity': 0.5,
    'filterByInertia': True,
    'minInertiaRatio': 0.3,
    'filterByConvexity': True,
    'minConvexity': 0.8,
}


@dataclass
class SeedResult:
    """What the baseline made of one frame: a pose (PoseEstimate) or the reason for none."""

    pose: object
    reason: str
    keypoints: int
    led_pixels: np.ndarray
    processing_ms: float


class SeedPipeline:
    """The prototype: fixed blob detector, keypoint centroids, angular sort, solvePnP."""

    def __init__(self, target, camera):
        """Set up for an LedTarget seen by a CameraModel."""
        self.target = target
        self.camera = camera
        params = cv2.SimpleBlobDetector_Params()
        for name, value in SEED_BLOB_PARAMS.items():
            setattr(params, name, value)
        self._detector = cv2.SimpleBlobDetector_create(params)
        face_on = target.positions[:, :2] * [1.0, -1.0]
        self._layout_angles = _angles_about_mean(face_on)
        self._layout_order = np.argsort(self._layout_angles)

    def process(self, image):
        """Return the SeedResult of one mono image (uint8, or uint16 using its top 8 bits)."""
        start = time.perf_counter()
        pose, reason, keypoints, pixels = self._locate(image)
        return SeedResult(pose, reason, keypoints, pixels, 1000.0 * (time.perf_counter() - start))

    def _locate(self, image):
        if image.dtype != np.uint8:
            image = (image >> 8).astype(np.uint8)
        keypoints = self._detector.detect(image)
        count = self.target.count
        if len(keypoints) < count:
            return None, f'{len(keypoints)} blobs, {count} needed', len(keypoints), None
        largest = sorted(keypoints, key=lambda k: -k.size)[:count]
        centres = np.array([k.pt for k in largest], dtype=np.float64)
        pixels = centres[self._assign(centres)]
        pose = self._solve(pixels)
        if pose is None:
            return None, 'solvePnP failed', len(keypoints), pixels
        return pose, '', len(keypoints), pixels

    def _assign(self, centres):
        """Return, for each LED, the index of its blob in `centres`."""
        angles = _angles_about_mean(centres)
        blob_order = np.argsort(angles)
        sorted_layout = self._layout_angles[self._layout_order]
        best, best_cost = None, math.inf
        for shift in range(len(blob_order)):
            rolled = np.roll(blob_order, shift)
            difference = np.angle(np.exp(1j * (angles[rolled] - sorted_layout)))
            cost = float(np.sum(difference ** 2))
            if cost < best_cost:
                best, best_cost = rolled, cost
        blob_of_led = np.empty(len(blob_order), dtype=np.intp)
        blob_of_led[self._layout_order] = best
        return blob_of_led

    def _solve(self, pixels):
        camera = self.camera
        obj = np.ascontiguousarray(self.target.positions, dtype=np.float64).reshape(-1, 1, 3)
        img = np.ascontiguousarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        try:
            if self.target.coplanar or self.target.count >= 6:
                ok, rvec, tvec = cv2.solvePnP(obj, img, camera.camera_matrix, camera.distortion)
            else:
                ok, rvec, tvec = cv2.solvePnP(obj, img, camera.camera_matrix, camera.distortion,
                                              flags=cv2.SOLVEPNP_EPNP)
                if ok:
                    ok, rvec, tvec = cv2.solvePnP(
                        obj, img, camera.camera_matrix, camera.distortion, rvec, tvec,
                        useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        except cv2.error:
            return None
        if not ok or not np.all(np.isfinite(tvec)):
            return None
        return evaluate(camera, self.target.positions, pixels, rvec, tvec)


def _angles_about_mean(points):
    offsets = points - points.mean(axis=0)
    return np.arctan2(offsets[:, 1], offsets[:, 0])
