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

"""The LED layout of the target unit, in the target frame."""

from dataclasses import dataclass

import numpy as np

# Default layout of a CLING-ERS docking face (metres, target frame: origin at the face centre,
# z out of the face towards the other unit). Three LEDs on the face and one on a 40 mm standoff:
# the standoff makes the layout non-coplanar, which removes the two-fold pose ambiguity of flat
# layouts and gives attitude from parallax even at 3 m. The layout has no symmetry, so every
# LED can be told from the others.
DEFAULT_LED_POSITIONS = (
    -0.070, -0.050, 0.000,
    0.070, -0.050, 0.000,
    0.050, 0.060, 0.000,
    -0.030, 0.040, 0.040,
)

# A layout is flat when its points lie within this distance (metres, RMS) of a plane.
COPLANAR_TOLERANCE_M = 1e-4
MIN_LED_SEPARATION_M = 1e-3
# No LED of a docking target is further than this from its origin: a larger value is in the
# wrong unit (millimetres) or a typing error.
MAX_LED_DISTANCE_M = 10.0


class LedTargetError(ValueError):
    """An LED layout that cannot give a pose; the message says why."""


@dataclass(frozen=True)
class LedTarget:
    """N >= 4 LED centres in the target frame."""

    positions: np.ndarray
    coplanar: bool

    @classmethod
    def from_flat(cls, values):
        """Build from x1, y1, z1, x2, ... (the led_positions parameter); raise LedTargetError."""
        values = np.asarray(list(values), dtype=np.float64)
        if values.size % 3 != 0:
            raise LedTargetError(
                f'led_positions needs 3 values per LED (x, y, z), got {values.size} values')
        return cls.from_points(values.reshape(-1, 3))

    @classmethod
    def from_points(cls, points):
        """Build from an Nx3 array; raise LedTargetError naming the problem."""
        points = np.array(points, dtype=np.float64).reshape(-1, 3)
        if points.shape[0] < 4:
            raise LedTargetError(f'at least 4 LEDs are needed, got {points.shape[0]}')
        if not np.all(np.isfinite(points)):
            raise LedTargetError('led_positions holds NaN or inf')
        reach = np.linalg.norm(points, axis=1)
        if reach.max() > MAX_LED_DISTANCE_M:
            raise LedTargetError(
                f'LED {int(np.argmax(reach)) + 1} is {reach.max():g} m from the target origin, '
                f'more than {MAX_LED_DISTANCE_M:g} m (led_positions are in metres)')
        distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
        np.fill_diagonal(distances, np.inf)
        i, j = np.unravel_index(np.argmin(distances), distances.shape)
        if distances[i, j] < MIN_LED_SEPARATION_M:
            raise LedTargetError(f'LEDs {min(i, j) + 1} and {max(i, j) + 1} are at the same place')
        spread = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
        if spread[1] < 1e-3 * spread[0]:
            raise LedTargetError('the LEDs are collinear: a pose cannot be told from them')
        coplanar = spread[2] / np.sqrt(points.shape[0]) < COPLANAR_TOLERANCE_M
        points.setflags(write=False)
        return cls(points, bool(coplanar))

    @property
    def count(self):
        """Return the number of LEDs."""
        return self.positions.shape[0]

    @property
    def radius_m(self):
        """Return the largest distance of an LED from the target origin."""
        return float(np.max(np.linalg.norm(self.positions, axis=1)))
