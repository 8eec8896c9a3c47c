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

"""Tests of the evaluation suite: bound, centroid noise, seed baseline, metrics and the CLI."""

import csv
import dataclasses
import io
import math
import os

from clingers_perception.approach_trajectory import (approach_poses, FACING_ROTATION,
                                                     led_points_in_camera)
from clingers_perception.blob_detection import BlobDetector
from clingers_perception.cramer_rao import measure_centroid_noise, pose_bound
from clingers_perception.eval_cli import main
from clingers_perception.evaluation import (ALL_BANDS, band_of_range, check_targets,
                                            COPLANAR_LED_POSITIONS, FrameRecord, nees,
                                            node_pipeline, OURS, pose_errors, RANGE_BANDS,
                                            ScenarioRun, SCENARIOS, SEED, select_scenarios,
                                            summarize)
from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.parameters import build_config, default_values
from clingers_perception.pose_estimation import refine
from clingers_perception.range_bands import DEFAULT_BANDS
from clingers_perception.replay import ProgressBar
from clingers_perception.seed_pipeline import SeedPipeline
from clingers_perception.transforms import rotation_matrix, rotation_vector
import numpy as np
import pytest

CAMERA = default_sim_camera()
TARGET = LedTarget.from_flat(DEFAULT_LED_POSITIONS)


def _facing(range_m, roll_deg=0.0, lateral=(0.03, -0.02)):
    rotation = FACING_ROTATION @ rotation_matrix([0.0, 0.0, np.radians(roll_deg)])
    translation = np.array([lateral[0], lateral[1], 0.0])
    translation[2] = math.sqrt(range_m ** 2 - translation[0] ** 2 - translation[1] ** 2)
    return rotation, translation


def test_bound_matches_monte_carlo_of_the_estimator():
    rotation, translation = _facing(1.5)
    sigma = 0.3
    bound = pose_bound(CAMERA, TARGET.positions, rotation, translation, sigma)
    exact, _ = CAMERA.project_pose(TARGET.positions, rotation_vector(rotation), translation)
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(600):
        noisy = exact + rng.normal(0.0, sigma, exact.shape)
        estimate = refine(CAMERA, TARGET.positions, noisy, rotation_vector(rotation),
                          translation)
        position, turn = pose_errors(rotation, translation, estimate.rotation, estimate.tvec)
        errors.append(np.concatenate([position, turn]))
    spread = np.std(np.array(errors), axis=0)
    # Least squares on 4 LEDs is efficient at small noise: the spread reaches the bound.
    np.testing.assert_allclose(spread[:3], bound.position_std_m, rtol=0.15)
    np.testing.assert_allclose(spread[3:], bound.attitude_std_rad, rtol=0.15)
    assert bound.position_percent == pytest.approx(
        100.0 * math.sqrt(np.sum(bound.position_std_m ** 2)) / 1.5)


def test_bound_scales_with_noise_and_range():
    near = pose_bound(CAMERA, TARGET.positions, *_facing(0.5), 0.1)
    far = pose_bound(CAMERA, TARGET.positions, *_facing(3.0), 0.1)
    noisier = pose_bound(CAMERA, TARGET.positions, *_facing(0.5), 0.2)
    np.testing.assert_allclose(noisier.covariance, 4.0 * near.covariance)
    assert far.position_percent > 4.0 * near.position_percent
    assert far.attitude_rms_deg > near.attitude_rms_deg
    # Depth is the weak axis of a small target.
    assert near.position_std_m[2] > 5.0 * near.position_std_m[0]
    with pytest.raises(ValueError):
        pose_bound(CAMERA, TARGET.positions[:3], *_facing(1.0), 0.1)


def test_centroid_noise_is_zero_without_sensor_noise_and_grows_with_it():
    scenes = [(led_points_in_camera(TARGET, *_facing(r)), r) for r in (2.0, 0.9)]
    detector = BlobDetector()
    sigmas = []
    for read_noise, electrons in ((0.0, 0.0), (1.5, 0.03), (6.0, 0.03)):
        config = IrSceneConfig(noise_sigma_dn=read_noise, dn_per_electron=electrons)
        renderer = IrSceneRenderer(CAMERA, config)
        noise = measure_centroid_noise(renderer, detector, DEFAULT_BANDS, scenes, 6,
                                       np.random.default_rng(1))
        assert noise.spots == 8 and noise.misses == 0
        assert noise.bias_px < 0.1
        sigmas.append(noise.sigma_px)
    assert sigmas[0] == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < sigmas[1] < sigmas[2] < 0.2


def test_centroid_noise_counts_a_missing_spot_as_a_miss():
    points = led_points_in_camera(TARGET, *_facing(1.0))
    renderer = IrSceneRenderer(CAMERA, IrSceneConfig())

    class FirstLedDark:
        """Draws no spot for LED 1 but reports it in view, as a dead LED would look."""

        def render(self, points, rng=None):
            frame = renderer.render(points, visible=[False, True, True, True], rng=rng)
            frame.visible = np.ones(4, dtype=bool)
            return frame

    noise = measure_centroid_noise(FirstLedDark(), BlobDetector(), DEFAULT_BANDS,
                                   [(points, 1.0)], 3, np.random.default_rng(2))
    assert noise.misses == 3 and noise.spots == 3


def test_pose_errors_and_nees():
    rotation, translation = _facing(1.0)
    turn = np.array([0.01, -0.02, 0.005])
    estimate = rotation_matrix(-turn) @ rotation
    position, measured_turn = pose_errors(rotation, translation, estimate,
                                          translation + [0.001, 0.0, -0.002])
    np.testing.assert_allclose(position, [-0.001, 0.0, 0.002])
    np.testing.assert_allclose(measured_turn, turn, atol=1e-9)
    assert nees([1.0, 2.0, 2.0], np.diag([1.0, 4.0, 4.0])) == pytest.approx(3.0)
    assert math.isnan(nees([1.0, 1.0], np.zeros((2, 2))))


def test_band_of_range():
    assert [band_of_range(r) for r in (5.0, 3.0, 2.99, 1.2, 0.6, 0.45, 0.3, 0.2, 0.12)] == [
        '5-3', '5-3', '3-1.2', '3-1.2', '1.2-0.6', '0.6-0.3', '0.6-0.3', '0.3-0.12',
        '0.3-0.12']
    assert RANGE_BANDS[0].far_m == 5.0 and RANGE_BANDS[-1].near_m == 0.12


def test_scenarios_cover_the_suite_and_run_the_node_configuration():
    names = {s.name for s in SCENARIOS}
    assert {'baseline', 'distractors_3', 'distractors_10', 'occlusion', 'vga',
            'coplanar'} <= names
    assert {s.distractors for s in SCENARIOS} >= {0, 3, 10}
    assert {(s.width, s.height) for s in SCENARIOS} == {(1280, 1024), (640, 480)}
    assert any(s.target().coplanar for s in SCENARIOS)
    assert any(not s.target().coplanar for s in SCENARIOS)
    assert len({s.flare_strength for s in SCENARIOS}) >= 3
    assert len({s.noise_sigma_dn for s in SCENARIOS}) >= 3
    for scenario in SCENARIOS:
        ranges = [np.linalg.norm(t) for _, t in
                  approach_poses(dataclasses.replace(scenario.approach(), frames=2))]
        assert ranges == pytest.approx([5.0, 0.12])
    pipeline = node_pipeline(TARGET)
    assert pipeline.settings == build_config(default_values()).settings
    quick = select_scenarios(quick=True)
    assert quick and all(s.frames < SCENARIOS[0].frames for s in quick)
    with pytest.raises(ValueError, match='moon'):
        select_scenarios(['moon'])
    occlusion = next(s for s in SCENARIOS if s.name == 'occlusion')
    assert occlusion.occluded(1.3) and not occlusion.occluded(2.0)


def test_a_scenario_runs_the_node_with_its_parameters():
    """profile_fit sets fit_profile in the mid and near bands; a misspelt name is refused."""
    scenario = next(s for s in SCENARIOS if s.name == 'profile_fit')
    bands = node_pipeline(TARGET, scenario.parameters).settings.bands
    assert [band.fit_profile for band in bands] == [False, True, True]
    assert not any(band.fit_profile for band in node_pipeline(TARGET).settings.bands)
    with pytest.raises(ValueError, match='bands.near.fit_profiles'):
        node_pipeline(TARGET, (('bands.near.fit_profiles', True),))


def test_seed_finds_a_clean_pose_and_fails_where_the_prototype_did():
    renderer = IrSceneRenderer(CAMERA, IrSceneConfig())
    seed = SeedPipeline(TARGET, CAMERA)
    rng = np.random.default_rng(3)

    def run(range_m, roll_deg=0.0, target=TARGET):
        rotation, translation = _facing(range_m, roll_deg)
        frame = renderer.render(led_points_in_camera(target, rotation, translation), rng=rng)
        result = SeedPipeline(target, CAMERA).process(frame.image) if target is not TARGET \
            else seed.process(frame.image)
        return result, rotation, translation

    result, rotation, translation = run(1.0)
    assert result.pose is not None and result.keypoints == 4
    assert np.linalg.norm(result.pose.tvec - translation) < 0.002
    np.testing.assert_allclose(result.led_pixels, CAMERA.project_pose(
        TARGET.positions, rotation_vector(rotation), translation)[0], atol=0.3)
    assert result.processing_ms > 0.0
    # Coplanar layouts go through OpenCV's default solvePnP.
    coplanar = LedTarget.from_flat(COPLANAR_LED_POSITIONS)
    result, _, translation = run(1.0, target=coplanar)
    assert np.linalg.norm(result.pose.tvec - translation) < 0.005
    # The angular sort assumes an upright target: rolled 90 deg, the LEDs are swapped.
    result, _, translation = run(1.0, roll_deg=90.0)
    assert result.pose is not None
    assert np.linalg.norm(result.pose.tvec - translation) > 0.05
    # One fixed detector: close in, the flare smears fail its shape and area limits.
    result, _, _ = run(0.15)
    assert result.pose is None and 'needed' in result.reason
    # 16-bit frames use their top 8 bits.
    frame = IrSceneRenderer(CAMERA, IrSceneConfig(bit_depth=16)).render(
        led_points_in_camera(TARGET, *_facing(1.0)), rng=rng)
    assert seed.process(frame.image).pose is not None


def _record(method, band, range_m, has_pose, error_percent=math.nan, wrong=False,
            nees_position=math.nan, visible=True):
    return FrameRecord(scenario='s', method=method, frame=0, stamp_s=0.0, range_m=range_m,
                       band=band, leds_visible=4 if visible else 3, all_visible=visible,
                       has_pose=has_pose, position_error_percent=error_percent,
                       attitude_error_deg=0.1 if has_pose else math.nan,
                       range_error_m=0.001 if has_pose else math.nan, wrong=wrong,
                       nees_position=nees_position, processing_ms=2.0,
                       bound_position_percent=0.01)


def test_summary_and_targets_from_records():
    records = [_record(OURS, '3-1.2', 2.0, True, 0.02, nees_position=3.0) for _ in range(99)]
    records.append(_record(OURS, '3-1.2', 2.0, False))
    records.append(_record(OURS, '3-1.2', 2.0, False, visible=False))
    records += [_record(OURS, '1.2-0.6', 1.0, True, 0.01, nees_position=1.0)] * 50
    records.append(_record(OURS, '1.2-0.6', 1.0, True, 8.0, wrong=True, nees_position=1000.0))
    records += [_record(SEED, '3-1.2', 2.0, True, 0.05)] * 10
    scenario = dataclasses.replace(SCENARIOS[0], name='s')
    rows = summarize(ScenarioRun(scenario, records, {}))
    by = {(r.method, r.band): r for r in rows}
    mid = by[(OURS, '3-1.2')]
    assert (mid.frames, mid.all_visible_frames, mid.detected) == (101, 100, 99)
    assert mid.detection_rate == pytest.approx(0.99)
    assert mid.position_median_percent == pytest.approx(0.02)
    assert mid.bound_ratio == pytest.approx(2.0)
    assert mid.range_error_median_percent == pytest.approx(0.05)
    assert mid.nees_position_mean == pytest.approx(3.0)
    assert by[(OURS, '1.2-0.6')].wrong == 1
    assert by[(OURS, ALL_BANDS)].frames == 152
    assert by[(SEED, '3-1.2')].poses == 10
    assert math.isnan(by[(SEED, '3-1.2')].nees_position_mean)
    checks = {c.target.split()[0]: c for c in check_targets(rows)}
    assert checks['detection'].met
    assert not checks['zero'].met and '1.2-0.6 m: 1' in checks['zero'].measured
    assert not checks['position'].met
    assert not checks['mean'].met


def test_targets_say_when_no_pose_is_there_to_rate():
    records = [_record(OURS, '5-3', 4.0, False) for _ in range(3)]
    scenario = dataclasses.replace(SCENARIOS[0], name='s')
    rows = summarize(ScenarioRun(scenario, records, {}))
    checks = {c.target.split()[0]: c for c in check_targets(rows)}
    assert not checks['position'].met
    assert checks['position'].measured == 'no pose from 3 m down to rate'


def test_progress_bar_writes_lines_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(50, stream)
    for done in range(51):
        bar.update(done, 'label')
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[-1].startswith('[' + '#' * 30 + '] 100.0% 50/50')


def test_quick_run_writes_tables_and_plots(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    assert main(['--quick', '--output', str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert '| scenario | band m |' in out and '## Targets (ours)' in out
    for band in [b.name for b in RANGE_BANDS] + ['**all**']:
        assert f'| {band} |' in out
    assert '100.0%' in err
    for name in ('frames.csv', 'summary.csv', 'centroid_noise.csv', 'targets.csv',
                 'summary.md', 'error_vs_range.png', 'error_vs_range_baseline.png',
                 'error_vs_range_distractors_3.png'):
        assert os.path.getsize(tmp_path / name) > 0, name
    with open(tmp_path / 'error_vs_range.png', 'rb') as stream:
        assert stream.read(8) == b'\x89PNG\r\n\x1a\n'
    with open(tmp_path / 'summary.csv') as stream:
        rows = list(csv.DictReader(stream))
    assert {(r['scenario'], r['method']) for r in rows} == {
        (s, m) for s in ('baseline', 'distractors_3') for m in (OURS, SEED)}
    with open(tmp_path / 'frames.csv') as stream:
        frames = list(csv.DictReader(stream))
    assert len(frames) == 2 * 2 * 150
    # The measured centroid noise is that of sub-pixel spots, and gives a finite bound.
    mid = next(r for r in rows if r['scenario'] == 'baseline' and r['method'] == OURS
               and r['band'] == '3-1.2')
    assert 0.0 < float(mid['centroid_sigma_px']) < 0.2
    assert 0.0 < float(mid['bound_rms_percent']) < 0.5
    # The seed's largest-blob identification takes glints for LEDs.
    seed_wrong = sum(int(r['wrong']) for r in rows if r['scenario'] == 'distractors_3'
                     and r['method'] == SEED and r['band'] == ALL_BANDS)
    assert seed_wrong > 10


def test_cli_refuses_an_unknown_scenario(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(['--scenarios', 'moon', '--output', str(tmp_path)])
    assert stop.value.code == 2
    assert 'moon' in capsys.readouterr().err


def test_cli_refuses_an_output_that_is_a_file(tmp_path, capsys):
    taken = tmp_path / 'taken'
    taken.write_text('')
    with pytest.raises(SystemExit) as stop:
        main(['--scenarios', 'baseline', '--frames', '2', '--output', str(taken)])
    assert stop.value.code == 2
    assert f'--output {taken}: File exists' in capsys.readouterr().err
