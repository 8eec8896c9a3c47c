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

"""Tests of radial_profile on synthetic clipped spots whose centre is known exactly."""

import math
import time

from clingers_perception.radial_profile import MAX_KNOTS, profile_centre, PROFILE_KNOT_PX, \
    spot_disc
import cv2
import numpy as np
import pytest

SIZE = 96


def _spot(centre, radius=12.0, edge_px=1.2, streak=None, noise_dn=0.0, seed=0):
    """
    Return a uint8 image of a clipped disc with a soft edge at `centre`, optionally streaked.

    The edge is a logistic of the distance (no shape the fit knows); `streak` = (angle_deg,
    peak_dn) adds a band 8 px wide from the centre outwards along that angle, fading with
    length, as lens flare does.
    """
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dx, dy = cols - centre[0], rows - centre[1]
    rho = np.hypot(dx, dy)
    image = 8.0 + 600.0 / (1.0 + np.exp((rho - radius) / edge_px))
    if streak is not None:
        angle, peak = math.radians(streak[0]), streak[1]
        along = dx * math.cos(angle) + dy * math.sin(angle)
        across = -dx * math.sin(angle) + dy * math.cos(angle)
        band = np.exp(-0.5 * (across / 3.0) ** 2) * np.clip(1.0 - along / 40.0, 0.0, 1.0)
        image += np.where(along > 0.0, peak * band, 0.0)
    if noise_dn:
        image += np.random.default_rng(seed).normal(0.0, noise_dn, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _moments_and_mask(image, threshold=200):
    mask = (image >= threshold).astype(np.uint8)
    return mask, cv2.moments(mask, binaryImage=True)


@pytest.mark.parametrize('centre', [(48.0, 48.0), (47.3, 48.61), (48.77, 47.15)])
def test_a_round_spot_is_found_from_half_a_pixel_off(centre):
    """Any sub-pixel phase: the centre within 0.002 px, starting 0.5 px away."""
    image = _spot(centre)
    x, y = profile_centre(image, centre[0] + 0.4, centre[1] - 0.3, radius=12.0)
    assert math.hypot(x - centre[0], y - centre[1]) < 0.002


def test_a_streak_named_by_the_caller_is_left_out():
    """A bright streak to one side: its side is left out, the disc's centre found."""
    centre = (47.4, 48.3)
    image = _spot(centre, streak=(30.0, 500.0))
    mask, moments = _moments_and_mask(image)
    start = (centre[0] + 0.2, centre[1] + 0.1)
    radius, streak = spot_disc(image, mask, moments, *start)
    # The centroid of the smear lies out along the streak: that says which side it is.
    assert streak is not None
    assert math.degrees(math.atan2(streak[1], streak[0])) == pytest.approx(30.0, abs=10.0)
    # Half the width of the clipped part of the streak beyond the disc.
    assert 1.0 < streak[2] < 6.0
    assert radius == pytest.approx(12.0, abs=1.5)
    x, y = profile_centre(image, *start, radius, streak)
    assert math.hypot(x - centre[0], y - centre[1]) < 0.01


def test_a_faint_streak_is_found_in_the_residuals():
    """A streak too faint to move the spot's centroid still pulls an unguarded fit."""
    centre = (48.6, 47.7)
    image = _spot(centre, streak=(-120.0, 60.0))
    x, y = profile_centre(image, centre[0] + 0.1, centre[1] - 0.1, 12.0)
    assert math.hypot(x - centre[0], y - centre[1]) < 0.01


def test_a_neighbouring_spot_on_the_flank_is_left_out():
    """
    A small spot 16 px from the centre (beyond the disc, inside its flank reach) is screened.

    The caller names the streak, so only the outlier screen stands between the neighbour and
    the fit: without it the centre moves 0.03 px towards the neighbour.
    """
    centre = (47.4, 48.3)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    angle = math.radians(200.0)
    nx, ny = centre[0] + 16.0 * math.cos(angle), centre[1] + 16.0 * math.sin(angle)
    neighbour = 100.0 * np.exp(-((cols - nx) ** 2 + (rows - ny) ** 2) / 2.0)
    image = np.clip(_spot(centre, streak=(30.0, 500.0)) + np.rint(neighbour), 0,
                    255).astype(np.uint8)
    mask, moments = _moments_and_mask(image)
    start = (centre[0] + 0.2, centre[1] + 0.1)
    radius, streak = spot_disc(image, mask, moments, *start)
    assert streak is not None and radius + 8.0 > 16.0
    x, y = profile_centre(image, *start, radius, streak)
    assert math.hypot(x - centre[0], y - centre[1]) < 0.01


def test_sensor_noise_averages_over_the_flank():
    """With 2 DN of noise the centre scatters by well under a hundredth of a pixel."""
    centre = (48.2, 47.9)
    found = np.array([profile_centre(_spot(centre, noise_dn=2.0, seed=seed),
                                     centre[0] + 0.3, centre[1], 12.0)
                      for seed in range(8)])
    errors = np.linalg.norm(found - centre, axis=1)
    assert np.sqrt(np.mean(errors ** 2)) < 0.01


def test_too_few_flank_pixels_leave_the_start():
    """A flat saturated patch or a blank image has no flank: the start comes back."""
    start = (48.3, 47.6)
    assert profile_centre(np.full((SIZE, SIZE), 255, np.uint8), *start, 12.0) == start
    assert profile_centre(np.zeros((SIZE, SIZE), np.uint8), *start, 12.0) == start


def test_glare_keeps_the_start_and_costs_little():
    """
    A large glare is no LED flank: the start comes back, without a huge dense solve.

    A clipped ring 300 px across with a bright interior has tens of thousands of unclipped
    pixels; with a dark interior and faint rings inside, a profile longer than MAX_KNOTS knots.
    """
    rows, cols = np.mgrid[0:400, 0:400].astype(np.float64)
    rho = np.hypot(cols - 200.3, rows - 199.6)
    for interior in (150.0, 10.0):
        image = np.where((rho > 150.0) & (rho < 160.0), 255.0,
                         np.where(rho <= 150.0, interior, 8.0))
        image[(np.abs(rho - 40.0) < 0.5) | (np.abs(rho - 100.0) < 0.5)] = 120.0
        started = time.perf_counter()
        assert profile_centre(image.astype(np.uint8), 200.0, 200.0, 160.0) == (200.0, 200.0)
        assert time.perf_counter() - started < 0.5
    assert (100.0 - 40.0) / PROFILE_KNOT_PX > MAX_KNOTS
