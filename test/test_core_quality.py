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

"""Tests of the detection-quality report: contract keys, 'nan' values, confidence, levels."""

from dataclasses import replace
import math

from clingers_perception.approach_trajectory import FACING_ROTATION, led_points_in_camera
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.pose_estimation import pose_covariance
from clingers_perception.quality import (CONSISTENT_CHANCE, ERROR, fit_confidence,
                                         LEVEL_NAMES, OK, QualityReport, residual_chance,
                                         WARN)
import numpy as np
import pytest

CONTRACT_KEYS = ('state', 'leds_expected', 'leds_detected', 'leds_matched', 'reprojection_rms_px',
                 'confidence', 'range_m', 'detector_profile', 'processing_ms')


def _values(report):
    return dict(report.key_values())


def test_every_contract_key_is_present_and_missing_values_read_nan():
    """A report with only the required fields has every key; what it lacks reads 'nan'."""
    report = QualityReport(level=ERROR, message='bad image', state='ACQUIRING', leds_expected=4)
    values = _values(report)
    assert tuple(values)[:len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert values['state'] == 'ACQUIRING'
    assert values['leds_expected'] == '4'
    for key in ('leds_detected', 'leds_matched', 'reprojection_rms_px', 'range_m',
                'detector_profile', 'processing_ms'):
        assert values[key] == 'nan', key
    assert values['confidence'] == '0.000'
    assert all(isinstance(text, str) for text in values.values())
    assert LEVEL_NAMES == {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR'}


def test_values_are_formatted_as_text():
    """Counts print as integers, measurements with fixed digits, non-finite values as 'nan'."""
    report = QualityReport(level=OK, message='tracking', state='TRACKING', leds_expected=4,
                           leds_detected=7, leds_matched=4.0, reprojection_rms_px=0.12345,
                           confidence=0.98765, range_m=1.23456789,
                           detector_profile='mid/threshold', processing_ms=2.5,
                           extra={'centroid_noise_px': '0.050'})
    values = _values(report)
    assert values == {'state': 'TRACKING', 'leds_expected': '4', 'leds_detected': '7',
                      'leds_matched': '4', 'reprojection_rms_px': '0.123', 'confidence': '0.988',
                      'range_m': '1.2346', 'detector_profile': 'mid/threshold',
                      'processing_ms': '2.500', 'centroid_noise_px': '0.050'}
    report.range_m = math.inf
    report.reprojection_rms_px = None
    assert _values(report)['range_m'] == 'nan'
    assert _values(report)['reprojection_rms_px'] == 'nan'


def test_fit_confidence_is_the_chi_square_tail_times_coverage():
    """Four LEDs leave 2 dof, chance exp(-chi2/2); five leave 4, (1 + chi2/2) e^-chi2/2."""
    residuals = [0.1, 0.2, 0.05, 0.15]
    chi2 = sum(r * r for r in residuals) / 0.1 ** 2
    assert fit_confidence(residuals, 0.1, 4, 4) == pytest.approx(
        min(1.0, math.exp(-chi2 / 2) / CONSISTENT_CHANCE))
    # A typical right fit is fully consistent; one deep in the tail is not.
    assert fit_confidence([0.1] * 4, 0.1, 4, 4) == 1.0
    assert fit_confidence([0.5] * 4, 0.1, 4, 4) < 1e-6
    five = residuals + [0.4]
    chi2 = sum(r * r for r in five) / 0.1 ** 2
    expected = (1 + chi2 / 2) * math.exp(-chi2 / 2) / CONSISTENT_CHANCE
    assert fit_confidence(five, 0.1, 5, 5) == pytest.approx(expected)
    # Four of five LEDs matched: the chance is scaled by the coverage 4/5.
    assert fit_confidence(residuals, 0.1, 4, 5) == pytest.approx(
        0.8 * fit_confidence(residuals, 0.1, 4, 4))


def test_residual_chance_matches_a_monte_carlo_survival():
    """With 6 LEDs (6 dof) the chance is the tail probability of the chi-square."""
    rng = np.random.default_rng(0)
    samples = np.sum(rng.standard_normal((200000, 6)) ** 2, axis=1)
    for chi2 in (2.0, 6.0, 12.0):
        residuals = [math.sqrt(chi2 / 6.0) * 0.2] * 6
        assert residual_chance(residuals, 0.2) == pytest.approx(
            float(np.mean(samples > chi2)), abs=0.005)


def test_fit_confidence_is_bounded_and_decreases_with_residual():
    """Confidence stays in [0, 1] and falls as residuals grow, for any number of LEDs."""
    for matched in (4, 5, 6, 8):
        previous = None
        for scale in np.linspace(0.0, 10.0, 101):
            confidence = fit_confidence([scale * 0.05] * matched, 0.05, matched, matched)
            assert 0.0 <= confidence <= 1.0
            if previous is not None:
                assert confidence <= previous
            previous = confidence
        assert fit_confidence([0.0] * matched, 0.05, matched, matched) == pytest.approx(1.0)
        assert fit_confidence([1.0] * matched, 0.05, matched, matched) < 1e-6


def test_fit_confidence_without_redundancy():
    """Three LEDs fit any pose exactly: no evidence either way, half the coverage."""
    assert fit_confidence([0.0, 0.0, 0.0], 0.1, 3, 4) == pytest.approx(0.375)


def _pipeline(camera, target):
    pipeline = LedPosePipeline(target)
    pipeline.set_camera(camera)
    return pipeline


def _raw(image):
    height, width = image.shape
    return RawImage('mono8', width, height, width, False, image)


def _assert_complete(report):
    values = _values(report)
    assert set(CONTRACT_KEYS) <= set(values)
    assert values['state'] in ('ACQUIRING', 'TRACKING', 'LOST')
    assert report.level in (OK, WARN, ERROR)
    assert report.message
    assert values['processing_ms'] != 'nan'
    return values


def test_pipeline_reports_every_frame_even_without_a_pose(sim_camera, led_target):
    """Bad input, no camera, a size mismatch and a black frame each give a full report."""
    pipeline = LedPosePipeline(led_target)
    black = np.zeros((sim_camera.height, sim_camera.width), np.uint8)
    report = pipeline.process(_raw(black), 0.0).quality
    assert report.level == ERROR and 'camera_info' in report.message
    assert _assert_complete(report)['leds_detected'] == 'nan'
    pipeline.set_camera(sim_camera)
    report = pipeline.process(RawImage('yuv422', 4, 4, 8, False, bytes(32)), 0.1).quality
    assert report.level == ERROR and 'bad image' in report.message
    _assert_complete(report)
    report = pipeline.process(_raw(np.zeros((480, 640), np.uint8)), 0.2).quality
    assert report.level == ERROR and '640x480' in report.message
    _assert_complete(report)
    report = pipeline.process(_raw(black), 0.3).quality
    values = _assert_complete(report)
    assert report.level == WARN and 'black' in report.message
    assert values['leds_detected'] == '0' and values['range_m'] == 'nan'
    glare = np.full_like(black, 230)
    report = pipeline.process(_raw(glare), 0.4).quality
    assert report.level == WARN and 'saturated' in report.message
    # A lamp over 30 % of the view is glare enough to name.
    partly = black.copy()
    partly[:int(0.3 * black.shape[0]) + 1] = 230
    report = pipeline.process(_raw(partly), 0.5).quality
    assert report.level == WARN and 'saturated' in report.message, report.message


@pytest.mark.parametrize('bits', [16, 12])
def test_16_bit_frames_are_judged_black_or_glaring_on_the_8_bit_scale(sim_camera, led_target,
                                                                      bits):
    """A dark 16-bit frame is not 'saturated'; black and glare are told as for 8-bit frames."""
    pipeline = LedPosePipeline(led_target, PipelineSettings(mono16_bits=bits))
    pipeline.set_camera(sim_camera)
    scale = 1 << (bits - 8)
    shape = (sim_camera.height, sim_camera.width)
    rng = np.random.default_rng(3)
    dark = np.clip(6.0 + rng.normal(0.0, 1.5, shape), 0, 255) * scale
    messages = {}
    for name, pixels in (('dark', dark), ('black', np.full(shape, 0.4 * scale)),
                         ('glare', np.full(shape, 230.0 * scale))):
        pixels = pixels.astype(np.uint16)
        raw = RawImage('mono16', shape[1], shape[0], 2 * shape[1], False, pixels.tobytes())
        report = pipeline.process(raw, len(messages) / 30.0).quality
        assert report.level == WARN
        messages[name] = report.message
    assert 'black' not in messages['dark'] and 'saturated' not in messages['dark']
    assert 'black' in messages['black']
    assert 'saturated' in messages['glare']


def test_pipeline_report_with_a_pose(sim_camera, led_target, ir_renderer):
    """Once tracking, the report carries range, rms, confidence and the band in use."""
    pipeline = _pipeline(sim_camera, led_target)
    translation = np.array([0.02, -0.01, 1.5])
    rng = np.random.default_rng(0)
    reports = []
    for index in range(3):
        frame = ir_renderer.render(led_points_in_camera(led_target, FACING_ROTATION,
                                                        translation), rng=rng)
        result = pipeline.process(_raw(frame.image), index / 30.0)
        reports.append(result.quality)
    first = _values(reports[0])
    assert first['state'] == 'ACQUIRING' and first['range_m'] == 'nan'
    assert 'confirming' in reports[0].message
    # Not published yet, but fitted: its reprojection rms is known.
    assert 0.0 <= float(first['reprojection_rms_px']) < 0.5
    values = _values(reports[-1])
    assert values['state'] == 'TRACKING' and reports[-1].level == OK
    assert float(values['range_m']) == pytest.approx(np.linalg.norm(translation), rel=0.005)
    assert values['leds_expected'] == '4' and values['leds_matched'] == '4'
    assert int(values['leds_detected']) >= 4
    assert 0.0 < float(values['confidence']) <= 1.0
    assert 0.0 <= float(values['reprojection_rms_px']) < 0.5
    assert values['detector_profile'] == 'far/threshold'
    # A repeated stamp is served but flagged.
    result = pipeline.process(_raw(frame.image), 2 / 30.0)
    assert result.quality.level == WARN and 'stamp repeats' in result.quality.message


def _still_frames(renderer, target, count, seed):
    """Return `count` frames of the target standing still at 1 m, each with its own noise."""
    rng = np.random.default_rng(seed)
    points = led_points_in_camera(target, FACING_ROTATION, np.array([0.02, -0.01, 1.0]))
    return [_raw(renderer.render(points, rng=rng).image) for _ in range(count)]


def _with_noise_priors(pipeline, target, priors):
    """Configure `pipeline` with priors(band) as each band's centroid_noise_px."""
    settings = pipeline.settings
    bands = tuple(replace(b, centroid_noise_px=priors(b)) for b in settings.bands)
    pipeline.configure(target, replace(settings, bands=bands))


def _reported_noise(result):
    return float(result.quality.extra['centroid_noise_px'])


def test_new_noise_priors_restart_the_measured_noise(sim_camera, led_target, ir_renderer):
    """Five times the bands' noise priors: the reported noise and the covariance follow them."""
    pipeline = _pipeline(sim_camera, led_target)
    frames = _still_frames(ir_renderer, led_target, 9, seed=4)
    for index, raw in enumerate(frames[:8]):
        before = pipeline.process(raw, index / 30.0)
    assert before.pose is not None
    _with_noise_priors(pipeline, led_target, lambda band: 5.0 * band.centroid_noise_px)
    after = pipeline.process(frames[8], 8 / 30.0)
    assert after.pose is not None and after.quality.state == 'TRACKING'
    band = after.quality.detector_profile.split('/')[0]
    prior = next(b for b in pipeline.bands if b.name == band).centroid_noise_px
    # Measured afresh from the new prior, not from what was measured under the old one.
    assert _reported_noise(after) > 0.5 * prior > 2.0 * _reported_noise(before)
    assert np.all(np.diag(after.covariance) > 10.0 * np.diag(before.covariance))


def test_measured_noise_above_the_prior_is_reported(sim_camera, led_target, ir_renderer):
    """Residuals three times the noise prior raise the measured noise above it: no ceiling."""
    pipeline = _pipeline(sim_camera, led_target)
    frames = _still_frames(ir_renderer, led_target, 16, seed=5)
    samples = []
    for index, raw in enumerate(frames[:8]):
        pose = pipeline.process(raw, index / 30.0).pose
        if pose is not None:
            # The per-frame noise estimate: squared residuals over 2 * LEDs - 6 dof.
            samples.append(np.sum(pose.residuals_px ** 2) / (2 * len(pose.residuals_px) - 6))
    prior = math.sqrt(np.mean(samples)) / 3.0
    _with_noise_priors(pipeline, led_target, lambda band: prior)
    for index, raw in enumerate(frames[8:], 8):
        result = pipeline.process(raw, index / 30.0)
    assert result.pose is not None and result.quality.state == 'TRACKING'
    at_prior = pose_covariance(sim_camera, led_target.positions, result.pose, prior)
    assert np.all(np.diag(result.covariance) > np.diag(at_prior))
    assert _reported_noise(result) > prior


def test_measured_noise_well_below_the_prior_is_trusted_for_round_spots(led_target):
    """At 1 m the covariance follows the measured noise, far below a 640x480 camera's prior."""
    camera = default_sim_camera(640, 480)
    pipeline = _pipeline(camera, led_target)
    frames = _still_frames(IrSceneRenderer(camera), led_target, 120, seed=6)
    samples = []
    for index, raw in enumerate(frames):
        result = pipeline.process(raw, index / 30.0)
        if result.pose is not None:
            samples.append(np.sum(result.pose.residuals_px ** 2)
                           / (2 * len(result.pose.residuals_px) - 6))
    assert result.pose is not None and result.quality.state == 'TRACKING'
    band = next(b for b in pipeline.bands
                if b.name == result.quality.detector_profile.split('/')[0])
    assert not band.locate_core
    measured = math.sqrt(np.mean(samples[-60:]))
    # Round spots are placed to a few thousandths of a pixel, under a tenth of the prior; a
    # floor at a fifth of it had made the covariance several times too wide (NEES 0.2).
    assert measured < 0.1 * band.centroid_noise_px
    assert 0.75 * measured < _reported_noise(result) < 1.33 * measured
    at_measured = pose_covariance(camera, led_target.positions, result.pose,
                                  _reported_noise(result))
    assert np.allclose(result.covariance, at_measured, rtol=0.05)
