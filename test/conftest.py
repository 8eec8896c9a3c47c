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

"""Fixtures shared by the tests of the pure perception core (no ROS graph, no rclpy)."""

from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.transforms import rotation_matrix
import numpy as np
import pytest


@pytest.fixture(scope='session')
def sim_camera():
    """Return the simulated 1280x1024 wide-angle IR camera, with its real distortion."""
    return default_sim_camera()


@pytest.fixture(scope='session')
def led_target():
    """Return the default four-LED docking target (non-coplanar)."""
    return LedTarget.from_flat(DEFAULT_LED_POSITIONS)


@pytest.fixture(scope='session')
def ir_renderer(sim_camera):
    """Return a renderer of the simulated camera with the default config (flare on)."""
    return IrSceneRenderer(sim_camera, IrSceneConfig())


@pytest.fixture(scope='session')
def turned_from_the_camera():
    """Return f(translation, view_deg, roll_deg=40): a target +z view_deg off the camera ray."""
    def rotation(translation, view_deg, roll_deg=40.0):
        towards = -np.asarray(translation, np.float64) / np.linalg.norm(translation)
        side = np.cross([0.0, 1.0, 0.0], towards)
        side /= np.linalg.norm(side)
        facing = np.stack([side, np.cross(towards, side), towards], axis=1) \
            @ rotation_matrix([0.0, 0.0, np.radians(roll_deg)])
        return rotation_matrix(side * np.radians(view_deg)) @ facing
    return rotation
