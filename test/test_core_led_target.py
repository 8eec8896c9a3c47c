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

"""Tests of the LED layout: validation, coplanarity and the default layout."""

from clingers_perception.led_target import (COPLANAR_TOLERANCE_M, DEFAULT_LED_POSITIONS,
                                            LedTarget, LedTargetError)
import numpy as np
import pytest

SQUARE = [[-0.05, -0.05, 0.0], [0.05, -0.05, 0.0], [0.05, 0.05, 0.0], [-0.05, 0.05, 0.0]]


def test_default_layout_is_usable_and_not_coplanar():
    """The default layout has four LEDs off one plane, so no two-fold pose ambiguity."""
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    assert target.count == 4
    assert not target.coplanar
    assert np.array_equal(target.positions.reshape(-1), np.asarray(DEFAULT_LED_POSITIONS))
    # The fourth LED stands well off the plane of the other three (tens of mm, not microns).
    normal = np.cross(target.positions[1] - target.positions[0],
                      target.positions[2] - target.positions[0])
    height = abs((target.positions[3] - target.positions[0]) @ normal) / np.linalg.norm(normal)
    assert height > 0.02
    assert target.radius_m == pytest.approx(np.max(np.linalg.norm(target.positions, axis=1)))


def test_default_layout_has_no_symmetry():
    """
    No permutation of the default LEDs is a rigid motion of the layout (LEDs can be told apart).

    Pairwise distances are preserved by a rigid motion, so a layout whose sorted distance rows
    all differ cannot be mapped onto itself with two LEDs swapped.
    """
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    distances = np.linalg.norm(target.positions[:, None] - target.positions[None], axis=2)
    signatures = np.sort(distances, axis=1)
    for i in range(target.count):
        for j in range(i + 1, target.count):
            assert np.max(np.abs(signatures[i] - signatures[j])) > 0.005


@pytest.mark.parametrize('tilt', [0.0, 0.3, 1.2])
def test_coplanar_layouts_are_detected_in_any_orientation(tilt):
    """A flat layout is coplanar however its plane is turned; a 1 mm standoff is not flat."""
    c, s = np.cos(tilt), np.sin(tilt)
    rotation = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    flat = np.array(SQUARE + [[0.02, 0.01, 0.0]]) @ rotation.T + [0.1, -0.2, 0.3]
    assert LedTarget.from_points(flat).coplanar
    raised = np.array(SQUARE + [[0.02, 0.01, 0.001]]) @ rotation.T
    assert not LedTarget.from_points(raised).coplanar


def test_flat_within_tolerance():
    """Positions off a plane by far less than the 0.1 mm tolerance still count as coplanar."""
    points = np.array(SQUARE)
    points[:, 2] = [1e-5, -1e-5, 1e-5, -1e-5]
    assert LedTarget.from_points(points).coplanar


def test_positions_are_read_only_copies():
    """The target copies its input and cannot be changed afterwards."""
    source = np.array(SQUARE)
    target = LedTarget.from_points(source)
    source[0, 0] = 9.0
    assert target.positions[0, 0] == -0.05
    with pytest.raises(ValueError):
        target.positions[0, 0] = 1.0


def test_more_than_four_leds():
    """Any N >= 4 is accepted, from a flat list or an Nx3 array."""
    values = list(DEFAULT_LED_POSITIONS) + [0.0, -0.08, 0.01, 0.09, 0.02, 0.0]
    target = LedTarget.from_flat(values)
    assert target.count == 6
    assert LedTarget.from_points(np.reshape(values, (-1, 3))).count == 6


@pytest.mark.parametrize('values, words', [
    (DEFAULT_LED_POSITIONS[:9], 'at least 4 LEDs are needed, got 3'),
    ([], 'at least 4 LEDs are needed, got 0'),
    (DEFAULT_LED_POSITIONS[:11], '3 values per LED'),
    (list(DEFAULT_LED_POSITIONS) + [0.1], '3 values per LED'),
    (list(DEFAULT_LED_POSITIONS[:3]) * 2 + list(DEFAULT_LED_POSITIONS[6:]), 'LEDs 1 and 2 are at '
     'the same place'),
    (list(DEFAULT_LED_POSITIONS[:9]) + [0.0705, -0.0502, 0.0],
     'LEDs 2 and 4 are at the same place'),
    ([0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0], 'collinear'),
    ([0.0, 0.0, 0.0, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2000001], 'collinear'),
    ([float('nan')] + list(DEFAULT_LED_POSITIONS[1:]), 'NaN or inf'),
    (list(DEFAULT_LED_POSITIONS[:5]) + [float('inf')] + list(DEFAULT_LED_POSITIONS[6:]),
     'NaN or inf'),
    ([1000.0 * v for v in DEFAULT_LED_POSITIONS], 'LED 1 is 86.0233 m from the target origin'),
    ([1e300, 0.0, 0.0, 0.0, 1e300, 0.0, 0.0, 0.0, 1e300, 1e300, 1e300, 1e300],
     'led_positions are in metres'),
])
def test_unusable_layouts_are_refused_with_the_reason(values, words):
    """Too few, duplicated, collinear, NaN, far-flung and wrongly sized layouts are refused."""
    with pytest.raises(LedTargetError) as refused:
        LedTarget.from_flat(values)
    assert words in str(refused.value), str(refused.value)


def _hexagon(radius=0.06):
    """Return six points on a circle in the z = 0 plane, 60 degrees apart."""
    angles = np.radians(np.arange(6) * 60.0)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(6)], axis=1)


@pytest.mark.parametrize('flat', [np.array(SQUARE), _hexagon()], ids=['4 LEDs', '6 LEDs'])
@pytest.mark.parametrize('fraction, coplanar', [(0.9, True), (1.1, False)])
def test_coplanar_means_an_rms_distance_from_the_plane_within_tolerance(flat, fraction,
                                                                        coplanar):
    """An RMS distance from the plane of 0.9x COPLANAR_TOLERANCE_M is flat, 1.1x is not."""
    # Alternate LEDs up and down: the offsets are uncorrelated with x and y, so the best plane
    # stays z = 0 and every LED is exactly `height` from it (RMS distance `height`).
    height = fraction * COPLANAR_TOLERANCE_M
    offsets = height * (-1.0) ** np.arange(flat.shape[0])
    assert abs(offsets @ flat[:, 0]) < 1e-15 and abs(offsets @ flat[:, 1]) < 1e-15
    points = flat + np.outer(offsets, [0.0, 0.0, 1.0])
    c, s = np.cos(0.7), np.sin(0.7)
    turned = points @ np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]).T + [0.1, 0.0, 0.2]
    assert LedTarget.from_points(turned).coplanar == coplanar
