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

"""Tests of spot_centre's saturation test on small synthetic spots."""

from clingers_perception.spot_centre import clipped_pixels, MIN_SATURATED_PX, SATURATION_LEVEL
import numpy as np
import pytest


def _disc_with_clipped_pixels(count, level=SATURATION_LEVEL):
    """Return (crop, mask) of a 5x5 spot on a dark 15x15 crop, `count` of its pixels at `level`."""
    crop = np.full((15, 15), 8, np.uint8)
    mask = np.zeros((15, 15), np.uint8)
    crop[5:10, 5:10] = 200
    mask[5:10, 5:10] = 1
    rows, cols = np.nonzero(mask)
    crop[rows[:count], cols[:count]] = level
    return crop, mask


@pytest.mark.parametrize('level', [SATURATION_LEVEL, 255])
def test_a_spot_with_exactly_the_minimum_clipped_pixels_is_saturated(level):
    """Nine pixels at or above the saturation level (250) make a spot saturated; eight do not."""
    assert MIN_SATURATED_PX == 9
    assert clipped_pixels(*_disc_with_clipped_pixels(9, level)) >= MIN_SATURATED_PX
    assert clipped_pixels(*_disc_with_clipped_pixels(8, level)) < MIN_SATURATED_PX


def test_clipped_pixels_outside_the_mask_do_not_count():
    """Only the spot's own pixels count: clipped pixels beside its mask are another spot's."""
    crop, mask = _disc_with_clipped_pixels(8)
    crop[0:3, 0:3] = 255
    assert clipped_pixels(crop, mask) < MIN_SATURATED_PX
    assert clipped_pixels(*_disc_with_clipped_pixels(25, SATURATION_LEVEL - 1)) < MIN_SATURATED_PX
