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
The Cramér-Rao bound of the pose, and the centroid noise it is computed for.

With LED centroids measured with independent errors of standard deviation sigma (pixels, per
image axis) no unbiased pose estimator does better than the covariance sigma^2 (J^T J)^-1, J the
Jacobian of the LED pixels with respect to (x, y, z, rotX, rotY, rotZ) at the true pose (the
parametrisation of the published covariance, see pose_estimation.pose_jacobian). The bound is
the physical limit the evaluation compares the pipeline with.

sigma is measured, not assumed: `measure_centroid_noise` renders the same LED spots many times
with fresh sensor noise, runs the pipeline's detector on each, and takes the spread of the
detected positions about their mean for each spot. What stays the same from one render to the
next (the bias of a flare smear's core, for instance) is not noise and is reported apart.
"""

from dataclasses import dataclass
import math

from clingers_perception.pose_estimation import pose_jacobian, PoseEstimate
from clingers_perception.range_bands import select_band
from clingers_perception.transforms import rotation_vector
import numpy as np

# A detected blob further than this from an LED's true pixel is not that LED's spot, nor is
# one further than this fraction of the distance to the nearest other LED (merged spots).
MATCH_GATE_PX = 12.0
MATCH_GATE_FRACTION = 0.4


@dataclass(frozen=True)
class PoseBound:
    """Cramér-Rao standard deviations of the pose for one true pose and centroid noise."""

    covariance: np.ndarray
    range_m: float

    @property
    def position_std_m(self):
        """Return the bound on the standard deviation of x, y and z (metres)."""
        return np.sqrt(np.diag(self.covariance)[:3])

    @property
    def attitude_std_rad(self):
        """Return the bound on the standard deviation of rotX, rotY and rotZ (radians)."""
        return np.sqrt(np.diag(self.covariance)[3:])

    @property
    def position_rms_m(self):
        """Return the bound on the RMS position error, sqrt(trace), metres."""
        return float(np.sqrt(np.sum(np.diag(self.covariance)[:3])))

    @property
    def position_percent(self):
        """Return the RMS position bound as a percentage of the range."""
        return 100.0 * self.position_rms_m / self.range_m

    @property
    def attitude_rms_deg(self):
        """Return the bound on the RMS attitude error, sqrt(trace), degrees."""
        return float(np.degrees(np.sqrt(np.sum(np.diag(self.covariance)[3:]))))


def pose_bound(camera, object_points, rotation, translation, centroid_noise_px):
    """
    Return the PoseBound of LEDs at `object_points` (Nx3, N >= 4) seen at the true pose.

    `rotation` and `translation` are the true pose (p_cam = R @ p_target + t). The bound is
    sqrt of the diagonal of sigma^2 (J^T J)^-1 with pose_estimation.pose_jacobian.
    """
    points = np.asarray(object_points, dtype=np.float64).reshape(-1, 3)
    if points.shape[0] < 4:
        raise ValueError(f'a pose bound needs at least 4 LEDs, got {points.shape[0]}')
    translation = np.asarray(translation, dtype=np.float64).reshape(3)
    truth = PoseEstimate(rotation_vector(rotation), translation, math.nan, None)
    jacobian = pose_jacobian(camera, points, truth)
    information = jacobian.T @ jacobian
    covariance = centroid_noise_px ** 2 * np.linalg.inv(information)
    return PoseBound(covariance, float(np.linalg.norm(translation)))


@dataclass(frozen=True)
class CentroidNoise:
    """Detector error statistics of rendered spots with known truth (pixels, per image axis)."""

    # Spread of repeated detections of the same spot about their mean: the noise of the bound.
    sigma_px: float
    # RMS per axis of the mean error of each spot: what repeated frames do not average away.
    bias_px: float
    # Spots measured (each rendered `repeats` times) and detections that were missing.
    spots: int
    misses: int


def measure_centroid_noise(renderer, detector, bands, scenes, repeats, rng):
    """
    Measure the centroid noise of `detector` on spots drawn by `renderer`.

    `scenes` is a list of (points, range_m): the Nx3 LED centres in the camera frame and the
    range of the target origin. Each scene is rendered `repeats` times with fresh noise from
    `rng` and searched with the detector band the pipeline uses at that range
    (range_bands.select_band). Each LED inside the image is matched to the nearest detected blob
    within MATCH_GATE_PX of its true pixel, and within MATCH_GATE_FRACTION of the distance to
    the next LED: a blob holding two merged spots is a miss, not a large error.
    """
    deviations, biases = [], []
    misses = spots = 0
    for points, range_m in scenes:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        band = select_band(bands, float(range_m))
        detected = []
        for _ in range(repeats):
            frame = renderer.render(points, rng=rng)
            blobs = detector.detect(frame.image, band)
            centres = np.array([[b.x, b.y] for b in blobs]).reshape(-1, 2)
            truth = frame.led_pixels[frame.visible]
            gate = _match_gate(truth)
            errors = np.full(truth.shape, np.nan)
            for index, pixel in enumerate(truth):
                if centres.shape[0] == 0:
                    continue
                offsets = centres - pixel
                nearest = int(np.argmin(np.linalg.norm(offsets, axis=1)))
                if np.linalg.norm(offsets[nearest]) <= gate:
                    errors[index] = offsets[nearest]
            detected.append(errors)
        per_spot = np.stack(detected)  # repeats x visible LEDs x 2
        for spot in range(per_spot.shape[1]):
            samples = per_spot[:, spot]
            found = samples[np.all(np.isfinite(samples), axis=1)]
            misses += repeats - found.shape[0]
            if found.shape[0] < 2:
                continue
            spots += 1
            mean = found.mean(axis=0)
            biases.append(mean)
            deviations.append(found - mean)
    if not deviations:
        return CentroidNoise(math.nan, math.nan, 0, misses)
    # Pooled over x and y with one degree of freedom per spot and axis spent on its mean.
    squared = sum(float(np.sum(d ** 2)) for d in deviations)
    dof = sum(2 * (d.shape[0] - 1) for d in deviations)
    bias = float(np.sqrt(np.mean(np.square(biases))))
    return CentroidNoise(float(np.sqrt(squared / dof)), bias, spots, misses)


def _match_gate(pixels):
    if pixels.shape[0] < 2:
        return MATCH_GATE_PX
    distances = np.linalg.norm(pixels[:, None, :] - pixels[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    return min(MATCH_GATE_PX, MATCH_GATE_FRACTION * float(distances.min()))
