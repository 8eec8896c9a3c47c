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

"""Tests of the rotation helpers: quaternions against axis-angle, every conversion branch."""

from clingers_perception.transforms import (matrix_from_quaternion, quaternion_from_matrix,
                                            rotation_matrix)
import numpy as np

AXES = np.eye(3)
# Either side of 90 degrees (the trace is positive up to 120 degrees) and on to a half turn
# (the trace is negative and the conversion starts from the largest diagonal element).
ANGLES_DEG = (0.0, 1.0, 89.0, 90.0, 91.0, 119.0, 121.0, 150.0, 179.0, 179.999, 180.0)


def _axis_angle_rotations(rng, count):
    """Return (axis, angle) of rotations about the camera axes and about random axes."""
    rotations = [(sign * axis, np.radians(angle)) for axis in AXES for sign in (1.0, -1.0)
                 for angle in ANGLES_DEG]
    # Tilted axes near each camera axis: a half turn about them has a mixed diagonal.
    for axis in AXES:
        for angle in (120.5, 160.0, 178.0, 180.0):
            tilted = axis + rng.normal(0.0, 0.2, 3)
            rotations.append((tilted / np.linalg.norm(tilted), np.radians(angle)))
    for _ in range(count):
        axis = rng.normal(size=3)
        rotations.append((axis / np.linalg.norm(axis), rng.uniform(0.0, np.pi)))
    return rotations


def _expected_quaternion(axis, angle):
    """Return the quaternion (x, y, z, w) of a turn by `angle` in [0, pi] about a unit axis."""
    return np.append(axis * np.sin(0.5 * angle), np.cos(0.5 * angle))


def test_quaternion_from_matrix_is_the_axis_angle_quaternion_with_w_non_negative():
    """Every branch of the conversion gives sin(a/2) * axis, cos(a/2): unit norm, w >= 0."""
    rng = np.random.default_rng(20)
    largest = set()
    for axis, angle in _axis_angle_rotations(rng, 500):
        matrix = rotation_matrix(axis * angle)
        if np.trace(matrix) <= 0.0:
            largest.add(int(np.argmax(np.diag(matrix))))
        q = quaternion_from_matrix(matrix)
        expected = _expected_quaternion(axis, angle)
        assert abs(np.linalg.norm(q) - 1.0) < 1e-12
        assert q[3] >= 0.0, (axis, np.degrees(angle), q)
        if expected[3] > 1e-9:
            assert np.max(np.abs(q - expected)) < 1e-9, (axis, np.degrees(angle), q, expected)
        else:
            # A half turn: q and -q are the same rotation and both have w = 0.
            assert abs(abs(q @ expected) - 1.0) < 1e-12, (axis, q, expected)
    # Past 120 degrees each diagonal element was the largest at least once: every branch ran.
    assert largest == {0, 1, 2}


def test_quaternion_round_trip_returns_the_matrix():
    """matrix_from_quaternion(quaternion_from_matrix(R)) is R, for every kind of rotation."""
    rng = np.random.default_rng(21)
    worst = 0.0
    for axis, angle in _axis_angle_rotations(rng, 500):
        matrix = rotation_matrix(axis * angle)
        back = matrix_from_quaternion(quaternion_from_matrix(matrix))
        worst = max(worst, float(np.max(np.abs(back - matrix))))
    assert worst < 1e-12, worst
