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
The node's parameters: names, defaults, descriptions, ranges, and their validation.

Pure Python so that the parameter file and launch files can be checked against it in tests,
and so that the validation the node runs when a parameter is set is tested without ROS.
"""

from dataclasses import dataclass, replace

from clingers_perception.blob_detection import BACKENDS
from clingers_perception.identification import IdentificationLimits
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget, LedTargetError
from clingers_perception.pipeline import PipelineSettings
from clingers_perception.range_bands import (BAND_FIELDS, BandError, DEFAULT_BANDS,
                                             validate_bands)
from clingers_perception.tracking import TrackingSettings


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. `low`/`high` give its range when it is a number."""

    name: str
    default: object
    description: str
    low: float = None
    high: float = None
    read_only: bool = False
    choices: tuple = None


@dataclass(frozen=True)
class NodeConfig:
    """What the node runs with: the target, the pipeline settings and the output options."""

    target: LedTarget
    settings: PipelineSettings
    target_frame: str
    image_is_rectified: bool
    publish_tf: bool


_BAND_DESCRIPTIONS = {
    'min_range_m': 'range (m) from which this band applies, up to the next farther band',
    'threshold_min': 'lowest binarisation threshold (8-bit DN); the threshold back-end uses it',
    'threshold_max': 'highest SimpleBlobDetector threshold (8-bit DN)',
    'threshold_step': 'SimpleBlobDetector threshold step (8-bit DN)',
    'min_area_px': 'smallest blob area accepted (px at a 700 px focal length; scaled by f^2)',
    'max_area_px': 'largest blob area accepted (px at a 700 px focal length; scaled by f^2)',
    'min_circularity': 'smallest 4*pi*area/perimeter^2 accepted; 0 turns the filter off',
    'min_inertia_ratio': 'smallest minor/major inertia ratio accepted; 0 turns the filter off',
    'min_convexity': 'smallest area/convex-hull-area accepted; 0 turns the filter off',
    'locate_core': 'place the LED at the core of a saturated smear instead of its centroid',
    'centroid_noise_px': 'prior centroid noise (px at f 700 px, more below); refined by residuals',
    'max_reprojection_rms_px': 'largest reprojection RMS (px) of an accepted pose',
    'fit_profile': 'place saturated spots by a radial-profile fit: a fraction of the bias, '
                   '~0.3 ms more per saturated spot',
}
_BAND_RANGES = {
    'min_range_m': (0.0, 100.0), 'threshold_min': (0, 255), 'threshold_max': (0, 255),
    'threshold_step': (1, 255), 'min_area_px': (0.0, 1e7), 'max_area_px': (0.0, 1e7),
    'min_circularity': (0.0, 1.0), 'min_inertia_ratio': (0.0, 1.0), 'min_convexity': (0.0, 1.0),
    'centroid_noise_px': (0.001, 100.0), 'max_reprojection_rms_px': (0.01, 1000.0),
}


def _band_specs():
    specs = []
    for band in DEFAULT_BANDS:
        for field_name, field_type in BAND_FIELDS.items():
            low, high = _BAND_RANGES.get(field_name, (None, None))
            value = getattr(band, field_name)
            default = bool(value) if field_type in ('bool', bool) else \
                float(value) if field_type in ('float', float) else int(value)
            specs.append(ParameterSpec(f'bands.{band.name}.{field_name}', default,
                                       f'{band.name} band: {_BAND_DESCRIPTIONS[field_name]}',
                                       low, high))
    return specs


_TRACKING = TrackingSettings()
_LIMITS = IdentificationLimits()
_SETTINGS = PipelineSettings()

PARAMETER_SPECS = tuple([
    ParameterSpec('led_positions', [float(v) for v in DEFAULT_LED_POSITIONS],
                  'LED centres in the target frame (m): x1, y1, z1, x2, ...; at least 4 LEDs, '
                  'not collinear; the LEDs shine along +z'),
    ParameterSpec('target_frame', 'clingers_target',
                  'frame the LED positions are given in: child frame of the /tf broadcast, '
                  'namespace of the markers'),
    ParameterSpec('publish_tf', True,
                  'broadcast each published pose on /tf: target_frame in the image frame '
                  '(needs tf2_msgs)', read_only=True),
    ParameterSpec('image_is_rectified', False,
                  'the image is rectified: use camera_info P with zero distortion, not K and D'),
    ParameterSpec('detector_backend', _SETTINGS.detector_backend,
                  'blob detector: threshold (fast connected components) or simple_blob '
                  '(OpenCV SimpleBlobDetector, as in the prototype)', choices=BACKENDS),
    ParameterSpec('mono16_bits', _SETTINGS.mono16_bits,
                  'significant bits of 16-bit images (e.g. 12 for a 12-bit sensor)', 8, 16),
    ParameterSpec('max_image_bytes', _SETTINGS.max_image_bytes,
                  'largest frame accepted (bytes); bigger frames are refused unread',
                  1024, 1 << 30),
    ParameterSpec('band_hysteresis', _SETTINGS.band_hysteresis,
                  'fraction of a band limit the range must cross before the band changes',
                  0.0, 0.5),
    ParameterSpec('max_candidates', _LIMITS.max_candidates,
                  'brightest spots considered when acquiring', 4, 40),
    ParameterSpec('max_hypotheses', _LIMITS.max_hypotheses,
                  'best-ranked LED triples solved exactly when acquiring', 1, 1000),
    ParameterSpec('max_view_angle_deg', _LIMITS.max_view_angle_deg,
                  'largest angle (deg) between the LED axis and the line of sight', 10.0, 89.0),
    ParameterSpec('min_leds', _LIMITS.min_leds,
                  'fewest matched LEDs that give a pose', 4, 64),
    ParameterSpec('min_range_m', _LIMITS.min_range_m, 'closest plausible target range (m)',
                  0.0, 10.0),
    ParameterSpec('max_range_m', _LIMITS.max_range_m, 'farthest plausible target range (m)',
                  0.1, 1000.0),
    ParameterSpec('confirm_frames', _TRACKING.confirm_frames,
                  'consecutive consistent frames needed before an acquired pose is published',
                  1, 10),
    ParameterSpec('max_coast_frames', _TRACKING.max_coast_frames,
                  'frames without a pose before TRACKING becomes LOST', 0, 1000),
    ParameterSpec('max_prediction_gap_s', _TRACKING.max_prediction_gap_s,
                  'longest gap (s) over which the motion prediction is trusted; a longer one '
                  'makes the track LOST (keep it above two frame periods)', 0.1, 10.0),
    ParameterSpec('window_margin_px', _TRACKING.window_margin_px,
                  'margin (px) around each predicted LED spot searched while tracking',
                  2.0, 500.0),
    ParameterSpec('coplanar_ambiguity_deg', _SETTINGS.coplanar_ambiguity_deg,
                  'two fitting mirror poses of a flat layout further apart than this (deg) '
                  'are ambiguous', 0.1, 90.0),
    ParameterSpec('learn_hot_pixels', _SETTINGS.learn_hot_pixels,
                  "learn the sensor's hot pixels while tracking and paint them out of the "
                  'search windows; false for a camera that corrects its own defect pixels '
                  '(false also forgets those learned)'),
] + _band_specs())

SPEC_BY_NAME = {spec.name: spec for spec in PARAMETER_SPECS}


def default_values():
    """Return {name: default} for every parameter."""
    return {spec.name: spec.default for spec in PARAMETER_SPECS}


def check_values(values, specs):
    """
    Refuse with ValueError a value of `values` outside its spec's choices or range.

    `specs` maps names to ParameterSpecs; a name without one (rclpy's use_sim_time) is not
    checked here.
    """
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.choices is not None and value not in spec.choices:
            raise ValueError(f"{name} must be one of {', '.join(spec.choices)}, not '{value}'")
        if spec.low is not None and not spec.low <= value <= spec.high:
            raise ValueError(f'{name} = {value} is outside [{spec.low}, {spec.high}]')


def build_config(values):
    """Turn {name: value} into a NodeConfig; raise ValueError with a reason a person can use."""
    check_values(values, SPEC_BY_NAME)
    try:
        target = LedTarget.from_flat(values['led_positions'])
    except LedTargetError as error:
        raise ValueError(f'led_positions: {error}') from None
    bands = tuple(
        replace(band, **{f: values[f'bands.{band.name}.{f}'] for f in BAND_FIELDS})
        for band in DEFAULT_BANDS)
    try:
        validate_bands(bands)
    except BandError as error:
        raise ValueError(str(error)) from None
    if values['min_leds'] > target.count:
        raise ValueError(f"min_leds = {values['min_leds']} exceeds the {target.count} LEDs")
    if values['min_range_m'] >= values['max_range_m']:
        raise ValueError('min_range_m must be smaller than max_range_m')
    limits = IdentificationLimits(
        max_candidates=values['max_candidates'], max_hypotheses=values['max_hypotheses'],
        max_view_angle_deg=values['max_view_angle_deg'], min_leds=values['min_leds'],
        min_range_m=values['min_range_m'], max_range_m=values['max_range_m'])
    tracking = TrackingSettings(
        confirm_frames=values['confirm_frames'], max_coast_frames=values['max_coast_frames'],
        max_prediction_gap_s=values['max_prediction_gap_s'],
        window_margin_px=values['window_margin_px'])
    settings = PipelineSettings(
        detector_backend=values['detector_backend'], mono16_bits=values['mono16_bits'],
        max_image_bytes=values['max_image_bytes'], bands=bands,
        band_hysteresis=values['band_hysteresis'], identification=limits, tracking=tracking,
        coplanar_ambiguity_deg=values['coplanar_ambiguity_deg'],
        learn_hot_pixels=values['learn_hot_pixels'])
    frame = values['target_frame']
    if not frame or frame.startswith('/') or any(c.isspace() for c in frame):
        # tf2 refuses such frame ids.
        raise ValueError(f"target_frame '{frame}' must be a non-empty name without a leading "
                         "'/' or spaces")
    return NodeConfig(target, settings, frame, values['image_is_rectified'],
                      values['publish_tf'])
