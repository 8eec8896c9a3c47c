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
Target poses along a scripted docking approach, for the simulation, demo and evaluation.

A pose is that of the target frame in the camera optical frame, p_cam = R @ p_target + t. The
two units face each other: the target's +z (out of its docking face) points back at the camera.
With no offsets the target is rotated 180 deg about the camera's x axis (FACING_ROTATION): target
x is camera x, target y is camera -y (target "up" is image up), target z is camera -z.
"""

from dataclasses import dataclass

import numpy as np

from .transforms import rotation_matrix

# The target facing the camera squarely, upright: 180 deg about the camera's x axis.
FACING_ROTATION = np.diag([1.0, -1.0, -1.0])
FACING_ROTATION.setflags(write=False)


@dataclass(frozen=True)
class ApproachSpec:
    """
    A straight-in approach from start_range_m to end_range_m with shrinking misalignment.

    Ranges are distances from the camera to the target origin, spaced geometrically so that the
    short ranges, where the image changes fastest, get as many frames per octave as the long
    ones. The lateral offset (metres, in a direction drawn from `seed`) shrinks linearly to zero
    at end_range_m; the attitude offset (degrees, about an axis drawn from `seed`) shrinks in
    proportion to the range. `off_axis_angle_deg` tilts the target about the camera's y axis for
    the whole approach (the camera sees the docking face obliquely) and `roll_deg` turns it about
    its own docking axis.
    """

    start_range_m: float = 3.0
    end_range_m: float = 0.12
    frames: int = 120
    lateral_offset_m: float = 0.2
    attitude_offset_deg: float = 5.0
    off_axis_angle_deg: float = 0.0
    roll_deg: float = 0.0
    seed: int = 0

    def __post_init__(self):
        """Refuse approaches that cannot be flown, naming the field."""
        if not 0.0 < self.end_range_m <= self.start_range_m:
            raise ValueError('need 0 < end_range_m <= start_range_m, got '
                             f'{self.end_range_m} and {self.start_range_m}')
        if self.frames < 2:
            raise ValueError(f'frames must be >= 2, got {self.frames}')
        if not 0.0 <= self.lateral_offset_m < self.start_range_m:
            raise ValueError('lateral_offset_m must be in [0, start_range_m), got '
                             f'{self.lateral_offset_m}')


def approach_ranges(spec):
    """Return the range (metres) of each frame: geometric from start_range_m to end_range_m."""
    steps = np.linspace(0.0, 1.0, spec.frames)
    return spec.start_range_m * (spec.end_range_m / spec.start_range_m) ** steps


def approach_poses(spec=None):
    """Return a list of (R, t), the target pose in the camera optical frame for each frame."""
    spec = ApproachSpec() if spec is None else spec
    rng = np.random.default_rng(spec.seed)
    lateral_angle = rng.uniform(0.0, 2.0 * np.pi)
    lateral_direction = np.array([np.cos(lateral_angle), np.sin(lateral_angle), 0.0])
    attitude_axis = rng.standard_normal(3)
    attitude_axis /= np.linalg.norm(attitude_axis)
    tilt = rotation_matrix([0.0, np.deg2rad(spec.off_axis_angle_deg), 0.0])
    roll = rotation_matrix([0.0, 0.0, np.deg2rad(spec.roll_deg)])
    aligned = tilt @ FACING_ROTATION @ roll
    span = spec.start_range_m - spec.end_range_m
    poses = []
    for range_m in approach_ranges(spec):
        closing = (range_m - spec.end_range_m) / span if span > 0.0 else 0.0
        lateral = spec.lateral_offset_m * closing
        t = lateral * lateral_direction
        t[2] = np.sqrt(range_m ** 2 - lateral ** 2)
        angle = np.deg2rad(spec.attitude_offset_deg) * range_m / spec.start_range_m
        rotation = rotation_matrix(attitude_axis * angle) @ aligned
        poses.append((rotation, t))
    return poses


def led_points_in_camera(target, rotation, translation):
    """Return the Nx3 LED centres in the camera frame for a LedTarget (or Nx3 array) at (R, t)."""
    positions = getattr(target, 'positions', target)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    return positions @ np.asarray(rotation, dtype=np.float64).T \
        + np.asarray(translation, dtype=np.float64).reshape(1, 3)
