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

"""Tests of spot_centre's saturation and hot-pixel tests on small synthetic spots."""

from clingers_perception import spot_centre
from clingers_perception.spot_centre import (clipped_pixels, gaussian_fit, MIN_SATURATED_PX,
                                             SATURATION_LEVEL, spot_weights,
                                             without_hot_pixels, without_lone_peak,
                                             without_stray_clips)
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


def _sharp_spot(peak_dn, sigma_px, centre):
    """Return (crop, mask) of a round Gaussian spot on a 6 DN background, masked above 30 DN."""
    ys, xs = np.mgrid[0:21, 0:21]
    light = peak_dn * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2)
                             / (2.0 * sigma_px ** 2))
    crop = np.clip(6 + np.round(light), 0, 255).astype(np.uint8)
    return crop, (crop > 30).astype(np.uint8)


@pytest.mark.parametrize('sigma_px', [0.6, 0.8, 1.0])
@pytest.mark.parametrize('peak_dn', [300, 400])
def test_a_sharp_spots_own_clipped_top_is_not_taken_for_a_hot_pixel(sigma_px, peak_dn):
    """However sharp the spot, its fitted Gaussian explains its clipped pixels: none replaced."""
    checked = 0
    for dx in np.linspace(0.0, 1.0, 5):
        for dy in np.linspace(0.0, 1.0, 5):
            crop, mask = _sharp_spot(peak_dn, sigma_px, (10.0 + dx, 10.0 + dy))
            weights = spot_weights(crop, mask)
            fit = gaussian_fit(crop, weights)
            if not clipped_pixels(crop, mask) or fit is None:
                continue
            assert without_stray_clips(crop, weights, fit) is weights
            checked += 1
    assert checked >= 5


def test_a_hot_pixel_beside_a_dim_spot_takes_the_fitted_value():
    """A 255 DN pixel next to a 60 DN spot gets what the spot's Gaussian puts there."""
    crop, mask = _sharp_spot(60, 1.0, (10.3, 10.4))
    crop[9, 12] = 255
    mask[9, 12] = 1
    weights = spot_weights(crop, mask)
    cleaned = without_stray_clips(crop, weights, gaussian_fit(crop, weights))
    assert cleaned is not weights and weights[9, 12] > 240
    expected = 60 * np.exp(-((12 - 10.3) ** 2 + (9 - 10.4) ** 2) / 2.0)
    assert abs(cleaned[9, 12] - expected) < 3.0
    cleaned[9, 12] = weights[9, 12]
    assert np.array_equal(cleaned, weights)


@pytest.mark.parametrize('sigma_px', [0.5, 0.6, 0.7, 0.8, 1.0])
@pytest.mark.parametrize('peak_dn', [60, 150, 240])
def test_a_sharp_spots_own_top_is_not_taken_for_a_hot_pixel(sigma_px, peak_dn, monkeypatch):
    """
    An unclipped top is kept, however sharp.

    Below 0.63 px it curves sharply enough to be tried, and the Gaussian of the rest of the
    spot explains it.
    """
    fits = []
    monkeypatch.setattr(spot_centre, 'gaussian_fit',
                        lambda *args: fits.append(1) or gaussian_fit(*args))
    spots = 0
    for dx in np.linspace(0.0, 1.0, 5):
        for dy in np.linspace(0.0, 1.0, 5):
            crop, mask = _sharp_spot(peak_dn, sigma_px, (10.0 + dx, 10.0 + dy))
            if clipped_pixels(crop, mask):
                continue
            weights = spot_weights(crop, mask)
            kept, fit = without_lone_peak(crop, weights)
            assert kept is weights and fit is None
            spots += 1
    assert spots >= 20
    if sigma_px <= 0.6:
        assert len(fits) >= 20


@pytest.mark.parametrize('sigma_px', [0.5, 0.6, 0.7, 0.8, 1.0])
@pytest.mark.parametrize('peak_dn', [60, 150, 240, 400])
def test_no_pixel_of_a_sharp_spot_is_taken_for_a_hot_pixel(sigma_px, peak_dn):
    """However sharp the spot, clipped or not, all its pixels keep their light."""
    for dx in np.linspace(0.0, 1.0, 5):
        for dy in np.linspace(0.0, 1.0, 5):
            crop, mask = _sharp_spot(peak_dn, sigma_px, (10.0 + dx, 10.0 + dy))
            weights = spot_weights(crop, mask)
            kept, _ = without_hot_pixels(crop, weights, clipped_pixels(crop, mask) > 0)
            assert np.array_equal(kept, weights), (dx, dy)


def test_a_hot_pixel_on_a_spots_flank_takes_the_value_of_the_rest():
    """
    A 150 DN pixel 2.2 px from a 200 DN spot's centre gets what the rest's Gaussian puts there.

    It stands less than 20 DN above its brightest neighbour, but curves far more sharply than
    the spot's flank.
    """
    crop, mask = _sharp_spot(200, 1.0, (10.3, 10.4))
    crop[9, 12] = 156
    mask[9, 12] = 1
    weights = spot_weights(crop, mask)
    neighbours = np.delete(weights[8:11, 11:14].ravel(), 4)
    assert 0.0 < weights[9, 12] - neighbours.max() < 20.0
    cleaned, fit = without_hot_pixels(crop, weights, False)
    assert fit is not None and cleaned is not weights
    expected = 200 * np.exp(-((12 - 10.3) ** 2 + (9 - 10.4) ** 2) / 2.0)
    assert abs(cleaned[9, 12] - expected) < 3.0
    cleaned[9, 12] = weights[9, 12]
    assert np.array_equal(cleaned, weights)


def test_a_hot_pixel_topping_a_dim_spot_takes_the_value_of_the_rest():
    """A 150 DN pixel 2 px from a 60 DN spot's centre gets what the rest's Gaussian puts there."""
    crop, mask = _sharp_spot(60, 1.0, (10.3, 10.4))
    crop[9, 12] = 156
    mask[9, 12] = 1
    weights = spot_weights(crop, mask)
    cleaned, fit = without_lone_peak(crop, weights)
    assert fit is not None and cleaned is not weights
    expected = 60 * np.exp(-((12 - 10.3) ** 2 + (9 - 10.4) ** 2) / 2.0)
    assert abs(cleaned[9, 12] - expected) < 3.0
    cleaned[9, 12] = weights[9, 12]
    assert np.array_equal(cleaned, weights)
