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

"""Tests of the node's parameter declarations and their validation, without ROS."""

import math
import re

from clingers_perception.led_target import DEFAULT_LED_POSITIONS
from clingers_perception.parameters import (build_config, default_values, PARAMETER_SPECS,
                                            SPEC_BY_NAME)
from clingers_perception.pipeline import PipelineSettings
from clingers_perception.range_bands import BAND_FIELDS, BAND_NAMES, DEFAULT_BANDS
import pytest


def _with(**changes):
    values = default_values()
    values.update({name.replace('__', '.'): value for name, value in changes.items()})
    return values


def test_defaults_build_the_default_pipeline():
    """The defaults give the default target, bands and settings, and the contract's names."""
    config = build_config(default_values())
    assert config.target.positions.reshape(-1).tolist() == list(DEFAULT_LED_POSITIONS)
    assert config.settings == PipelineSettings()
    assert config.settings.bands == DEFAULT_BANDS
    assert config.target_frame == 'clingers_target'
    assert config.image_is_rectified is False
    # The contract's parameters exist.
    assert {'led_positions', 'target_frame'} <= set(SPEC_BY_NAME)


def test_every_parameter_is_described_and_unique():
    """Each spec has a real description, a unique name and a default inside its range."""
    names = [spec.name for spec in PARAMETER_SPECS]
    assert len(names) == len(set(names))
    for spec in PARAMETER_SPECS:
        assert len(spec.description) >= 20, spec.name
        if spec.low is not None:
            assert spec.high is not None and spec.low < spec.high, spec.name
            assert spec.low <= spec.default <= spec.high, spec.name
            # An integer parameter needs an integer range (ROS's integer_range has no fractions).
            assert type(spec.default) in (int, float), spec.name
            if isinstance(spec.default, int):
                assert isinstance(spec.low, int) and isinstance(spec.high, int), spec.name
        if spec.choices is not None:
            assert spec.default in spec.choices, spec.name


def test_every_band_field_is_a_parameter():
    """bands.<band>.<field> exists for every band and field, with the band's default."""
    for band in DEFAULT_BANDS:
        assert band.name in BAND_NAMES
        for field in BAND_FIELDS:
            spec = SPEC_BY_NAME[f'bands.{band.name}.{field}']
            assert spec.default == getattr(band, field)
            assert band.name in spec.description


def test_led_positions_default_is_a_list_of_doubles():
    """led_positions is a double array (not ints), as a parameter file must write it."""
    default = SPEC_BY_NAME['led_positions'].default
    assert isinstance(default, list) and all(isinstance(v, float) for v in default)
    assert len(default) % 3 == 0 and len(default) >= 12


def test_valid_changes_reach_the_settings():
    """Changed values land in the target, the limits, the tracking and the bands."""
    positions = [float(v) for v in DEFAULT_LED_POSITIONS] + [0.0, -0.08, 0.01]
    config = build_config(_with(
        led_positions=positions, detector_backend='simple_blob', mono16_bits=12,
        confirm_frames=3, max_coast_frames=9, min_leds=5, max_view_angle_deg=60.0,
        window_margin_px=20.0, bands__near__max_reprojection_rms_px=1.0,
        bands__far__threshold_min=40, bands__near__fit_profile=True, target_frame='dock',
        image_is_rectified=True, publish_tf=False))
    assert config.target.count == 5
    settings = config.settings
    assert settings.detector_backend == 'simple_blob' and settings.mono16_bits == 12
    assert settings.tracking.confirm_frames == 3 and settings.tracking.max_coast_frames == 9
    assert settings.tracking.window_margin_px == 20.0
    assert settings.identification.min_leds == 5
    assert settings.identification.max_view_angle_deg == 60.0
    assert settings.bands[2].max_reprojection_rms_px == 1.0
    assert settings.bands[0].threshold_min == 40
    assert [band.fit_profile for band in settings.bands] == [False, False, True]
    assert config.target_frame == 'dock' and config.image_is_rectified
    assert not config.publish_tf


@pytest.mark.parametrize('changes, words', [
    ({'detector_backend': 'hough'}, 'detector_backend must be one of threshold, simple_blob'),
    ({'mono16_bits': 20}, 'mono16_bits = 20 is outside [8, 16]'),
    ({'mono16_bits': 4}, 'mono16_bits = 4 is outside'),
    ({'max_image_bytes': 10}, 'max_image_bytes = 10 is outside'),
    ({'band_hysteresis': 0.7}, 'band_hysteresis = 0.7 is outside'),
    ({'max_candidates': 3}, 'max_candidates = 3 is outside'),
    ({'max_view_angle_deg': 95.0}, 'max_view_angle_deg = 95.0 is outside'),
    ({'confirm_frames': 0}, 'confirm_frames = 0 is outside'),
    ({'window_margin_px': 1.0}, 'window_margin_px = 1.0 is outside'),
    ({'coplanar_ambiguity_deg': 0.0}, 'coplanar_ambiguity_deg = 0.0 is outside'),
    ({'led_positions': list(DEFAULT_LED_POSITIONS[:9])}, 'led_positions: at least 4 LEDs'),
    ({'led_positions': list(DEFAULT_LED_POSITIONS[:10])}, 'led_positions: led_positions needs 3'),
    ({'led_positions': [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0, 0.3, 0.0, 0.0]},
     'led_positions: the LEDs are collinear'),
    ({'led_positions': [float('nan')] * 12}, 'led_positions: led_positions holds NaN'),
    ({'min_leds': 5}, 'min_leds = 5 exceeds the 4 LEDs'),
    ({'min_range_m': 2.0, 'max_range_m': 1.0}, 'min_range_m must be smaller than max_range_m'),
    ({'min_range_m': 1.0, 'max_range_m': 1.0}, 'min_range_m must be smaller than max_range_m'),
    ({'target_frame': ''}, "target_frame '' must be a non-empty name"),
    ({'target_frame': '/dock'}, "without a leading '/'"),
    ({'target_frame': 'dock 2'}, "target_frame 'dock 2' must be"),
    ({'max_prediction_gap_s': 0.0}, 'max_prediction_gap_s = 0.0 is outside [0.1, 10.0]'),
    ({'bands__mid__threshold_min': 251}, 'band mid: need 0 <= threshold_min <= threshold_max'),
    ({'bands__far__threshold_min': 300}, 'bands.far.threshold_min = 300 is outside'),
    ({'bands__near__min_area_px': 500000.0}, 'band near: need 0 < min_area_px < max_area_px'),
    ({'bands__far__min_circularity': 1.5}, 'bands.far.min_circularity = 1.5 is outside'),
    ({'bands__mid__min_range_m': 2.0}, 'min_range_m must decrease from far to near'),
    ({'bands__near__min_range_m': 0.1}, 'end at 0.0'),
    ({'bands__near__centroid_noise_px': 0.0}, 'bands.near.centroid_noise_px = 0.0 is outside'),
])
def test_invalid_values_are_refused_with_a_reason(changes, words):
    """Out-of-range, inconsistent and unusable values are refused with a reason naming them."""
    with pytest.raises(ValueError) as refused:
        build_config(_with(**changes))
    assert words in str(refused.value), str(refused.value)


@pytest.mark.parametrize('changes', [
    {'max_coast_frames': 0}, {'max_coast_frames': 1000}, {'confirm_frames': 1},
    {'confirm_frames': 10}, {'band_hysteresis': 0.0}, {'band_hysteresis': 0.5},
    {'min_range_m': 0.0}, {'min_range_m': 0.1, 'max_range_m': 0.1 + 1e-9},
], ids=lambda changes: '-'.join(f'{k}={v}' for k, v in changes.items()))
def test_values_at_the_ends_of_their_ranges_are_accepted(changes):
    """The documented range ends are valid, e.g. max_coast_frames 0 (LOST at the first miss)."""
    config = build_config(_with(**changes))
    settings = config.settings
    reached = {'max_coast_frames': settings.tracking.max_coast_frames,
               'confirm_frames': settings.tracking.confirm_frames,
               'band_hysteresis': settings.band_hysteresis,
               'min_range_m': settings.identification.min_range_m,
               'max_range_m': settings.identification.max_range_m}
    for name, value in changes.items():
        assert reached[name] == value, name


# Where each parameter other than the bands' ends up in the NodeConfig.
_SETTING_OF = {
    'led_positions': lambda c: c.target.positions.reshape(-1).tolist(),
    'target_frame': lambda c: c.target_frame,
    'publish_tf': lambda c: c.publish_tf,
    'image_is_rectified': lambda c: c.image_is_rectified,
    'detector_backend': lambda c: c.settings.detector_backend,
    'mono16_bits': lambda c: c.settings.mono16_bits,
    'max_image_bytes': lambda c: c.settings.max_image_bytes,
    'band_hysteresis': lambda c: c.settings.band_hysteresis,
    'max_candidates': lambda c: c.settings.identification.max_candidates,
    'max_hypotheses': lambda c: c.settings.identification.max_hypotheses,
    'max_view_angle_deg': lambda c: c.settings.identification.max_view_angle_deg,
    'min_leds': lambda c: c.settings.identification.min_leds,
    'min_range_m': lambda c: c.settings.identification.min_range_m,
    'max_range_m': lambda c: c.settings.identification.max_range_m,
    'confirm_frames': lambda c: c.settings.tracking.confirm_frames,
    'max_coast_frames': lambda c: c.settings.tracking.max_coast_frames,
    'max_prediction_gap_s': lambda c: c.settings.tracking.max_prediction_gap_s,
    'window_margin_px': lambda c: c.settings.tracking.window_margin_px,
    'coplanar_ambiguity_deg': lambda c: c.settings.coplanar_ambiguity_deg,
    'learn_hot_pixels': lambda c: c.settings.learn_hot_pixels,
}


def _changed_band_value(default):
    """Return a valid value other than a band field's default: the bands stay in order."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    return default * 1.1 + 0.01


def test_every_parameter_reaches_its_setting():
    """Each parameter set to a valid non-default value lands in its own settings field."""
    changes = {
        'led_positions': [float(v) for v in DEFAULT_LED_POSITIONS] + [0.0, -0.08, 0.01],
        'target_frame': 'dock', 'publish_tf': False, 'image_is_rectified': True,
        'detector_backend': 'simple_blob', 'mono16_bits': 12, 'max_image_bytes': 1 << 20,
        'band_hysteresis': 0.2, 'max_candidates': 20, 'max_hypotheses': 64,
        'max_view_angle_deg': 60.0, 'min_leds': 5, 'min_range_m': 0.1, 'max_range_m': 5.0,
        'confirm_frames': 3, 'max_coast_frames': 9, 'max_prediction_gap_s': 2.5,
        'window_margin_px': 20.0, 'coplanar_ambiguity_deg': 5.0, 'learn_hot_pixels': False,
    }
    band_specs = [spec for spec in PARAMETER_SPECS if spec.name.startswith('bands.')
                  and spec.name != 'bands.near.min_range_m']  # the nearest band starts at 0
    changes.update((spec.name, _changed_band_value(spec.default)) for spec in band_specs)
    assert set(_SETTING_OF) | {spec.name for spec in band_specs} == \
        set(SPEC_BY_NAME) - {'bands.near.min_range_m'}, 'a parameter is missing here'
    defaults = default_values()
    assert all(value != defaults[name] for name, value in changes.items())
    config = build_config(_with(**changes))
    for name, setting in _SETTING_OF.items():
        assert setting(config) == changes[name], name
    bands = {band.name: band for band in config.settings.bands}
    for spec in band_specs:
        _, band, field = spec.name.split('.')
        assert getattr(bands[band], field) == changes[spec.name], spec.name


@pytest.mark.parametrize('name', [spec.name for spec in PARAMETER_SPECS
                                  if type(spec.default) is float and spec.low is not None])
def test_nan_is_refused_for_every_floating_point_parameter(name):
    """A NaN, false against both range ends, must not slip through the range check."""
    with pytest.raises(ValueError, match=f'{re.escape(name)} = nan is outside'):
        build_config(_with(**{name: math.nan}))


def test_unknown_names_are_ignored_by_validation():
    """Parameters the core does not own (e.g. ROS's use_sim_time) do not block the config."""
    values = _with(use_sim_time=True)
    assert build_config(values).settings == PipelineSettings()
