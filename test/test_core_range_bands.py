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

"""Tests of the range bands: choice of band with hysteresis, and validation of a band set."""

from dataclasses import replace

from clingers_perception.camera_model import CameraModel
from clingers_perception.image_decoding import RawImage
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.range_bands import (BAND_FIELDS, BAND_NAMES, band_range_m, BandError,
                                             DEFAULT_BANDS, scaled_for_camera, select_band,
                                             validate_bands, with_field)
import numpy as np
import pytest

BANDS = {band.name: band for band in DEFAULT_BANDS}


def test_default_bands_are_valid_and_ordered_far_to_near():
    """The default set passes its own validation and names the three bands in order."""
    validate_bands(DEFAULT_BANDS)
    assert tuple(band.name for band in DEFAULT_BANDS) == BAND_NAMES == ('far', 'mid', 'near')
    assert [band.min_range_m for band in DEFAULT_BANDS] == [1.2, 0.6, 0.0]
    # Only the near band, where flare smears the spots, looks for the core of a smear.
    assert [band.locate_core for band in DEFAULT_BANDS] == [False, False, True]
    assert 'name' not in BAND_FIELDS and 'locate_core' in BAND_FIELDS


def test_band_range_is_where_the_band_is_chosen():
    """Each band covers from its own limit up to the next farther band's."""
    assert band_range_m(DEFAULT_BANDS, BANDS['far']) == (1.2, float('inf'))
    assert band_range_m(DEFAULT_BANDS, BANDS['mid']) == (0.6, 1.2)
    assert band_range_m(DEFAULT_BANDS, BANDS['near']) == (0.0, 0.6)
    for band in DEFAULT_BANDS:
        near, far = band_range_m(DEFAULT_BANDS, band)
        assert select_band(DEFAULT_BANDS, near).name == band.name
        assert select_band(DEFAULT_BANDS, min(far, 100.0) * 0.999).name == band.name


@pytest.mark.parametrize('range_m, name', [
    (25.0, 'far'), (3.0, 'far'), (1.2, 'far'), (1.1999, 'mid'), (0.9, 'mid'), (0.6, 'mid'),
    (0.5999, 'near'), (0.2, 'near'), (0.0, 'near')])
def test_nominal_band_by_range(range_m, name):
    """Without a current band, the band is the first whose lower limit the range reaches."""
    assert select_band(DEFAULT_BANDS, range_m).name == name


@pytest.mark.parametrize('current, range_m, name', [
    # Closing in from far: stay far until 10 % below its 1.2 m limit (1.08 m).
    ('far', 1.15, 'far'), ('far', 1.081, 'far'), ('far', 1.07, 'mid'),
    # Backing out of mid: stay mid until 10 % above the 1.2 m limit (1.32 m).
    ('mid', 1.25, 'mid'), ('mid', 1.319, 'mid'), ('mid', 1.33, 'far'),
    # Closing in from mid: stay mid down to 0.54 m.
    ('mid', 0.56, 'mid'), ('mid', 0.53, 'near'),
    # Backing out of near: stay near up to 0.66 m.
    ('near', 0.65, 'near'), ('near', 0.67, 'mid'),
    # A jump far beyond the margins goes straight to the nominal band.
    ('far', 0.3, 'near'), ('near', 2.0, 'far'),
    # Inside the current band nothing changes.
    ('mid', 0.9, 'mid'), ('near', 0.3, 'near'), ('far', 5.0, 'far'),
])
def test_hysteresis_keeps_the_current_band_near_a_limit(current, range_m, name):
    """The band changes only once the range leaves the current one by 10 % of the limit."""
    assert select_band(DEFAULT_BANDS, range_m, BANDS[current], 0.1).name == name


def test_no_flicker_when_the_range_hovers_at_a_limit():
    """A range dithering around 1.2 m by 3 % keeps one band; the nominal choice flickers."""
    ranges = [1.2 + 0.036 * (-1) ** i for i in range(20)]
    current = select_band(DEFAULT_BANDS, ranges[0])
    chosen = []
    for range_m in ranges:
        current = select_band(DEFAULT_BANDS, range_m, current, 0.1)
        chosen.append(current.name)
    assert set(chosen) == {'far'}
    assert {select_band(DEFAULT_BANDS, r).name for r in ranges} == {'far', 'mid'}


def test_zero_hysteresis_is_the_nominal_band():
    """With hysteresis 0 the band follows the range exactly."""
    for current in DEFAULT_BANDS:
        for range_m in (0.1, 0.59, 0.61, 1.19, 1.21, 4.0):
            assert select_band(DEFAULT_BANDS, range_m, current, 0.0) == \
                select_band(DEFAULT_BANDS, range_m)


def test_with_field_changes_one_field_of_one_band():
    """with_field returns a new set with only the named field of the named band changed."""
    changed = with_field(DEFAULT_BANDS, 'mid', 'threshold_min', 90)
    assert changed[1].threshold_min == 90
    assert changed[0] == DEFAULT_BANDS[0] and changed[2] == DEFAULT_BANDS[2]
    assert replace(changed[1], threshold_min=DEFAULT_BANDS[1].threshold_min) == DEFAULT_BANDS[1]
    assert DEFAULT_BANDS[1].threshold_min == 60


@pytest.mark.parametrize('band, field, value, words', [
    ('far', 'threshold_min', 240, 'threshold_min <= threshold_max'),
    ('mid', 'threshold_max', 256, 'threshold_max <= 255'),
    ('near', 'threshold_min', -1, '0 <= threshold_min'),
    ('far', 'threshold_step', 0, 'threshold_step must be at least 1'),
    ('mid', 'min_area_px', 0.0, '0 < min_area_px < max_area_px'),
    ('mid', 'max_area_px', 5.0, '0 < min_area_px < max_area_px'),
    ('far', 'min_circularity', 1.5, 'min_circularity must lie in [0, 1]'),
    ('near', 'min_inertia_ratio', -0.1, 'min_inertia_ratio must lie in [0, 1]'),
    ('mid', 'min_convexity', 2.0, 'min_convexity must lie in [0, 1]'),
    ('near', 'centroid_noise_px', 0.0, 'noise and reprojection limits must be positive'),
    ('far', 'max_reprojection_rms_px', -1.0, 'noise and reprojection limits must be positive'),
    ('mid', 'min_range_m', 1.5, 'must decrease from far to near'),
    ('mid', 'min_range_m', 1.2, 'must decrease from far to near'),
    ('near', 'min_range_m', 0.1, 'end at 0.0'),
])
def test_unusable_band_sets_are_refused_with_the_reason(band, field, value, words):
    """Every inconsistent band set is refused with a message naming the band and the field."""
    with pytest.raises(BandError) as refused:
        validate_bands(with_field(DEFAULT_BANDS, band, field, value))
    message = str(refused.value)
    assert words in message, message
    if field != 'min_range_m':
        assert f'band {band}' in message


def _refusal(bands):
    """Return the message of the BandError that validate_bands raises for `bands`, or None."""
    try:
        validate_bands(bands)
    except BandError as refused:
        return str(refused)
    return None


def test_a_band_may_binarise_at_full_scale():
    """threshold_max 255 (the top of an 8-bit frame) is a valid band limit."""
    bands = with_field(DEFAULT_BANDS, 'near', 'threshold_max', 255)
    assert _refusal(bands) is None
    assert _refusal(with_field(bands, 'near', 'threshold_min', 255)) is None


@pytest.mark.parametrize('focal_px, factor', [(350.0, 2.0), (700.0, 1.0), (1400.0, 1.0),
                                              (2000.0, 1.0)])
def test_centroid_noise_priors_grow_for_short_focal_lengths_only(focal_px, factor):
    """A shorter focal length raises the centroid-noise prior; a longer one keeps the default."""
    scaled = scaled_for_camera(DEFAULT_BANDS, focal_px)
    for band, default in zip(scaled, DEFAULT_BANDS):
        assert band.centroid_noise_px == pytest.approx(default.centroid_noise_px * factor)


@pytest.mark.parametrize('focal_px', [10.0, 30.0, 40.0, 350.0, 700.0, 2000.0])
def test_scaled_bands_stay_valid_for_any_focal_length(focal_px):
    """A tiny focal length floors the minimum area; the maximum stays above it."""
    scaled = scaled_for_camera(DEFAULT_BANDS, focal_px)
    validate_bands(scaled)
    for band, default in zip(scaled, DEFAULT_BANDS):
        assert band.min_area_px >= 2.0
        if focal_px >= 350.0:
            scale = (focal_px / 700.0) ** 2
            assert band.max_area_px == pytest.approx(default.max_area_px * scale)


@pytest.mark.parametrize('backend', ['threshold', 'simple_blob'])
def test_a_camera_with_a_tiny_focal_length_gives_no_exception(backend):
    """A 32x24 thermal-like array (f 30 px): frames are processed, whatever they hold."""
    camera = CameraModel.from_camera_info(32, 24, 'plumb_bob', [0.0] * 5,
                                          [30.0, 0, 16, 0, 30.0, 12, 0, 0, 1],
                                          [30.0, 0, 16, 0, 0, 30.0, 12, 0, 0, 0, 1, 0])
    pipeline = LedPosePipeline(LedTarget.from_flat(DEFAULT_LED_POSITIONS),
                               PipelineSettings(detector_backend=backend))
    pipeline.set_camera(camera)
    frame = np.zeros((24, 32), np.uint8)
    frame[10:12, 14:16] = 255
    for index, pixels in enumerate((frame, np.full((24, 32), 255, np.uint8))):
        raw = RawImage('mono8', 32, 24, 32, False, pixels.tobytes())
        assert pipeline.process(raw, float(index)).pose is None
