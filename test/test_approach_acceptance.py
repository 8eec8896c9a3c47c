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
Acceptance figures of the issue, measured on a rendered docking approach (3 m to 0.12 m).

The whole pure pipeline runs on frames of the simulated 1280x1024 wide-angle camera, with its
real distortion and with flare below 0.45 m (the renderer's defaults). Every figure is computed
from the ground truth of the renderer, asserted, and printed: run pytest with -s to see the table.
"""

from dataclasses import dataclass, replace
import time

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.evaluation import node_pipeline, select_scenarios
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import IrSceneRenderer, random_distractors
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.range_bands import DEFAULT_BANDS
from clingers_perception.replay import raw_image_of_array
from clingers_perception.transforms import rotation_angle_between, rotation_vector
import numpy as np
import pytest

FRAMES = 240
FRAME_PERIOD_S = 1.0 / 30.0
APPROACH = ApproachSpec(start_range_m=3.0, end_range_m=0.12, frames=FRAMES)
# One LED is hidden for this stretch of frames (about 0.82 m to 0.55 m, across the mid band).
HIDDEN_FRAMES = (96, 126)
HIDDEN_LED = 2
DISTRACTORS_PER_FRAME = 3
# The limits of the issue.
MIN_POSE_RATE = 0.99
MAX_P95_POSITION_PERCENT = 0.5
MAX_P95_ATTITUDE_DEG = 1.0
MAX_POSITION_PERCENT = 5.0
MAX_ATTITUDE_DEG = 5.0


@dataclass
class Flight:
    """Per-frame ground truth and outcome of one rendered approach."""

    name: str
    range_m: np.ndarray
    all_visible: np.ndarray
    has_pose: np.ndarray
    position_error_percent: np.ndarray
    attitude_error_deg: np.ndarray
    position_nees: np.ndarray
    processing_ms: np.ndarray
    band: np.ndarray
    wall_s: float

    @property
    def pose_rate(self):
        """Share of the frames with every LED in view that gave a pose."""
        return float(np.mean(self.has_pose[self.all_visible]))

    def percentile(self, values, q):
        """Return the q-th percentile of a per-frame error over the frames with a pose."""
        return float(np.percentile(values[self.has_pose], q))

    def worst(self, values):
        """Return the largest per-frame error over the frames with a pose."""
        return float(np.max(values[self.has_pose]))


def fly(camera, target, renderer, name, spec=APPROACH, settings=PipelineSettings(),
        distractors=0, hidden=None, seed=11):
    """Render the approach, run the pipeline on every frame and compare with the truth."""
    pipeline = LedPosePipeline(target, settings)
    pipeline.set_camera(camera)
    rng = np.random.default_rng(seed)
    rows, bands = [], []
    start = time.perf_counter()
    for index, (rotation, translation) in enumerate(approach_poses(spec)):
        visible = np.ones(target.count, dtype=bool)
        if hidden is not None and hidden[0] <= index < hidden[1]:
            visible[HIDDEN_LED] = False
        spots = random_distractors(rng, camera, distractors) if distractors else ()
        frame = renderer.render(led_points_in_camera(target, rotation, translation),
                                visible=visible, distractors=spots, rng=rng)
        raw = RawImage('mono8', camera.width, camera.height, camera.width, False, frame.image)
        result = pipeline.process(raw, index * FRAME_PERIOD_S)
        range_m = float(np.linalg.norm(translation))
        row = [range_m, bool(frame.visible.all()), result.pose is not None, np.nan, np.nan,
               np.nan, result.quality.processing_ms]
        if result.pose is not None:
            error = translation - result.pose.tvec
            row[3] = 100.0 * float(np.linalg.norm(error)) / range_m
            row[4] = float(np.degrees(rotation_angle_between(result.pose.rotation, rotation)))
            row[5] = float(error @ np.linalg.solve(result.covariance[:3, :3], error))
        rows.append(row)
        bands.append(result.quality.detector_profile.split('/')[0])
    wall_s = time.perf_counter() - start
    table = np.array(rows, dtype=np.float64)
    return Flight(name, table[:, 0], table[:, 1] > 0, table[:, 2] > 0, table[:, 3],
                  table[:, 4], table[:, 5], table[:, 6], np.array(bands), wall_s)


def report(flight):
    """Print one row of the acceptance table (visible with pytest -s)."""
    print(f'\n{"run":<38} {"frames":>6} {"pose%":>6} {"p95 pos%":>8} {"max pos%":>8} '
          f'{"p95 att":>7} {"max att":>7} {"NEES3":>6} {"ms/frame":>8} {"wall s":>6}')
    print(f'{flight.name:<38} {flight.range_m.size:>6} {100 * flight.pose_rate:>6.2f} '
          f'{flight.percentile(flight.position_error_percent, 95):>8.3f} '
          f'{flight.worst(flight.position_error_percent):>8.3f} '
          f'{flight.percentile(flight.attitude_error_deg, 95):>7.3f} '
          f'{flight.worst(flight.attitude_error_deg):>7.3f} '
          f'{np.mean(flight.position_nees[flight.has_pose]):>6.2f} '
          f'{np.median(flight.processing_ms):>8.2f} {flight.wall_s:>6.2f}')


def assert_never_wrong(flight):
    """No published pose is off by more than 5 % of the range or 5 degrees."""
    assert flight.has_pose.any()
    worst_position = flight.worst(flight.position_error_percent)
    worst_attitude = flight.worst(flight.attitude_error_deg)
    assert worst_position <= MAX_POSITION_PERCENT, \
        f'{flight.name}: a pose is {worst_position:.2f} % of the range off'
    assert worst_attitude <= MAX_ATTITUDE_DEG, \
        f'{flight.name}: a pose is {worst_attitude:.2f} deg off'


def assert_accurate(flight):
    """Pose rate and p95 errors of the issue over the frames with every LED in view."""
    assert flight.pose_rate >= MIN_POSE_RATE, \
        f'{flight.name}: pose in {100 * flight.pose_rate:.1f} % of the frames with all LEDs'
    position_p95 = flight.percentile(flight.position_error_percent, 95)
    attitude_p95 = flight.percentile(flight.attitude_error_deg, 95)
    assert position_p95 <= MAX_P95_POSITION_PERCENT, \
        f'{flight.name}: position error p95 {position_p95:.3f} % of range'
    assert attitude_p95 <= MAX_P95_ATTITUDE_DEG, \
        f'{flight.name}: attitude error p95 {attitude_p95:.3f} deg'
    assert_never_wrong(flight)


@pytest.fixture(scope='module')
def clean_flight(sim_camera, led_target, ir_renderer):
    """Return the approach with nothing but the LEDs in view, threshold back-end."""
    return fly(sim_camera, led_target, ir_renderer, 'clean, threshold')


def test_approach_accuracy(clean_flight):
    """(a) Pose for >= 99 % of frames; p95 errors <= 0.5 % of range and 1 deg; none wild."""
    report(clean_flight)
    assert clean_flight.all_visible.all(), 'the approach keeps every LED in the image'
    assert_accurate(clean_flight)
    # The approach really ends in the flare: poses were published below 0.2 m.
    assert np.any(clean_flight.has_pose & (clean_flight.range_m < 0.2))


def test_approach_with_distractors_and_a_hidden_led(sim_camera, led_target, ir_renderer):
    """(b) Three distractors per frame and one LED hidden for 30 frames: never a wrong pose."""
    flight = fly(sim_camera, led_target, ir_renderer, 'distractors + hidden LED, threshold',
                 distractors=DISTRACTORS_PER_FRAME, hidden=HIDDEN_FRAMES)
    report(flight)
    assert_never_wrong(flight)
    hidden = np.zeros(FRAMES, dtype=bool)
    hidden[HIDDEN_FRAMES[0]:HIDDEN_FRAMES[1]] = True
    assert not flight.all_visible[hidden].any()
    # Four LEDs are needed: while one is hidden there is no pose to give.
    assert not flight.has_pose[hidden].any()
    # The distractors do not stop the pipeline from tracking the visible target.
    assert flight.pose_rate >= 0.95, f'pose rate {flight.pose_rate:.3f} with distractors'
    # And it comes back soon after the LED reappears.
    after = np.flatnonzero(flight.has_pose[HIDDEN_FRAMES[1]:])
    assert after.size and after[0] <= 5


# The SimpleBlobDetector of the near band is refused by some OpenCV versions (see
# test_simple_blob_backend_full_approach), and a failed acquisition tries every band: these runs
# stop before the near band and give the pipeline only the far and mid bands.
FAR_AND_MID_BANDS = (DEFAULT_BANDS[0], replace(DEFAULT_BANDS[1], min_range_m=0.0))
FAR_AND_MID_APPROACH = replace(APPROACH, end_range_m=0.65)


def test_simple_blob_backend_far_and_mid(sim_camera, led_target, ir_renderer):
    """(c) The SimpleBlobDetector back-end meets the figures over the far and mid bands."""
    settings = PipelineSettings(detector_backend='simple_blob', bands=FAR_AND_MID_BANDS)
    flight = fly(sim_camera, led_target, ir_renderer, 'clean 3 -> 0.65 m, simple_blob',
                 spec=FAR_AND_MID_APPROACH, settings=settings)
    report(flight)
    assert_accurate(flight)


def test_simple_blob_backend_full_approach(sim_camera, led_target, ir_renderer):
    """(c) The SimpleBlobDetector back-end over the whole approach, into the flare."""
    settings = PipelineSettings(detector_backend='simple_blob')
    flight = fly(sim_camera, led_target, ir_renderer, 'clean, simple_blob', settings=settings)
    report(flight)
    assert_accurate(flight)


def test_simple_blob_backend_with_distractors(sim_camera, led_target, ir_renderer):
    """(c) SimpleBlobDetector with distractors over the far and mid bands: never a wrong pose."""
    settings = PipelineSettings(detector_backend='simple_blob', bands=FAR_AND_MID_BANDS)
    flight = fly(sim_camera, led_target, ir_renderer, 'distractors 3 -> 0.65 m, simple_blob',
                 spec=FAR_AND_MID_APPROACH, settings=settings,
                 distractors=DISTRACTORS_PER_FRAME)
    report(flight)
    assert_never_wrong(flight)
    assert flight.pose_rate >= 0.95


def test_covariance_is_honest_over_the_approach(clean_flight):
    """(d) Mean position NEES (3 dof) of the published covariance lies in a sane band."""
    nees = clean_flight.position_nees[clean_flight.has_pose]
    assert np.all(np.isfinite(nees)) and np.all(nees >= 0.0)
    mean = float(np.mean(nees))
    print(f'\nposition NEES over {nees.size} poses: mean {mean:.2f}, median '
          f'{np.median(nees):.2f}, p95 {np.percentile(nees, 95):.2f} (3 for a perfect model)')
    for band in ('far', 'mid', 'near'):
        in_band = clean_flight.has_pose & (clean_flight.band == band)
        if in_band.any():
            print(f'  {band:<5} {int(in_band.sum()):>4} poses, mean position NEES '
                  f'{np.mean(clean_flight.position_nees[in_band]):.2f}')
    assert 0.3 <= mean <= 10.0


def test_covariance_is_a_valid_covariance(sim_camera, led_target, ir_renderer):
    """Every published covariance is symmetric positive definite, in metres and radians."""
    pipeline = LedPosePipeline(led_target)
    pipeline.set_camera(sim_camera)
    rng = np.random.default_rng(5)
    # Slow enough (4 % of range per frame) for acquisitions to confirm each other.
    poses = approach_poses(replace(APPROACH, start_range_m=2.0, end_range_m=0.2, frames=60))
    published = 0
    for index, (rotation, translation) in enumerate(poses):
        frame = ir_renderer.render(led_points_in_camera(led_target, rotation, translation),
                                   rng=rng)
        raw = RawImage('mono8', sim_camera.width, sim_camera.height, sim_camera.width, False,
                       frame.image)
        result = pipeline.process(raw, index * FRAME_PERIOD_S)
        if result.pose is None:
            continue
        published += 1
        covariance = result.covariance
        assert covariance.shape == (6, 6)
        assert np.allclose(covariance, covariance.T, rtol=1e-9, atol=1e-18)
        assert np.all(np.linalg.eigvalsh(covariance) > 0.0)
        # The standard deviations are those of a good fix: under 5 % of range and 5 deg.
        sigma = np.sqrt(np.diag(covariance))
        range_m = float(np.linalg.norm(translation))
        assert np.all(sigma[:3] < 0.05 * range_m)
        assert np.all(sigma[3:] < np.radians(5.0))
        assert np.linalg.norm(rotation_vector(rotation.T @ result.pose.rotation)) < 0.1
    assert published >= 55


def test_a_track_does_not_choose_between_the_mirror_poses_of_a_flat_layout():
    """
    Where both mirror poses of a coplanar layout fit, no frame gives a pose, tracked or not.

    The evaluation's coplanar approach with another noise draw (seed 21), 5 m to 3 m. Choosing
    the mirror nearer the track's prediction published 18 poses 6-8 deg off there: beyond
    about 3 m the prediction is nearer the wrong mirror in a third to a half of such frames.
    """
    scenario = replace(select_scenarios(['coplanar'])[0], seed=21)
    camera, target = scenario.camera(), scenario.target()
    renderer = IrSceneRenderer(camera, scenario.scene_config())
    pipeline = node_pipeline(target)
    pipeline.set_camera(camera)
    rng = np.random.default_rng([scenario.seed, 0])
    refused_while_tracking, worst = 0, 0.0
    for index, (rotation, translation) in enumerate(approach_poses(scenario.approach())[:150]):
        image = renderer.render(led_points_in_camera(target, rotation, translation),
                                rng=rng).image
        tracking = pipeline.tracker.state == 'TRACKING'
        result = pipeline.process(raw_image_of_array(image), index / scenario.frame_rate_hz)
        if result.pose is None:
            refused_while_tracking += tracking and 'mirror' in result.quality.message
        else:
            worst = max(worst, np.degrees(rotation_angle_between(rotation,
                                                                 result.pose.rotation)))
    assert worst < 6.0
    assert refused_while_tracking > 0
