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

"""Tests of the tracker: ACQUIRING / TRACKING / LOST, confirmation, coasting and prediction."""

from clingers_perception.approach_trajectory import FACING_ROTATION, led_points_in_camera
from clingers_perception.blob_detection import Window
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.pose_estimation import PoseEstimate
from clingers_perception.quality import ERROR
from clingers_perception.tracking import (ACQUIRING, LOST, Tracker, TRACKING,
                                          TrackingSettings)
from clingers_perception.transforms import (rotation_angle_between, rotation_matrix,
                                            rotation_vector)
import numpy as np
import pytest

PERIOD = 0.1
VELOCITY = np.array([0.01, -0.02, -0.1])
TURN_RATE = np.array([0.0, 0.05, 0.1])


def _pose(stamp, start=np.array([0.05, 0.0, 1.5])):
    """Pose on a constant-velocity, constant-turn-rate trajectory at time `stamp`."""
    rotation = rotation_matrix(TURN_RATE * stamp) @ FACING_ROTATION
    return PoseEstimate(rotation_vector(rotation), start + VELOCITY * stamp, 0.1, None)


def _confirmed(settings=TrackingSettings()):
    """Return a tracker brought to TRACKING by consistent acquisitions at stamps 0, 0.1."""
    tracker = Tracker(settings)
    for index in range(settings.confirm_frames):
        tracker.update(index * PERIOD, _pose(index * PERIOD), None, acquired=True)
    assert tracker.state == TRACKING
    return tracker


def test_starts_acquiring_with_no_prediction():
    """A new tracker is ACQUIRING, has no pose and predicts nothing."""
    tracker = Tracker()
    assert tracker.state == ACQUIRING
    assert tracker.last_pose is None
    assert tracker.predict(0.0) is None


@pytest.mark.parametrize('confirm_frames', [1, 2, 3, 5])
def test_acquired_poses_are_published_after_confirm_frames(confirm_frames):
    """Acquisitions become TRACKING (and publishable) only on the confirm_frames-th one."""
    tracker = Tracker(TrackingSettings(confirm_frames=confirm_frames))
    for index in range(confirm_frames):
        published = tracker.update(index * PERIOD, _pose(index * PERIOD), None, acquired=True)
        last = index == confirm_frames - 1
        assert published == last
        assert tracker.state == (TRACKING if last else ACQUIRING)
    assert tracker.predict(confirm_frames * PERIOD) is not None


def test_inconsistent_acquisitions_are_not_confirmed():
    """A second acquisition 40 % of the range away (a chance alignment) does not confirm."""
    tracker = Tracker(TrackingSettings(confirm_frames=2))
    assert not tracker.update(0.0, _pose(0.0), None, acquired=True)
    jumped = PoseEstimate(_pose(0.1).rvec, _pose(0.1).tvec + [0.6, 0.0, 0.0], 0.1, None)
    assert not tracker.update(0.1, jumped, None, acquired=True)
    assert tracker.state == ACQUIRING
    turned = PoseEstimate(rotation_vector(rotation_matrix([0.4, 0.0, 0.0])
                                          @ rotation_matrix(jumped.rvec)), jumped.tvec, 0.1,
                          None)
    assert not tracker.update(0.2, turned, None, acquired=True)
    assert tracker.state == ACQUIRING
    # The next consistent one confirms the one before it.
    assert tracker.update(0.3, turned, None, acquired=True)
    assert tracker.state == TRACKING


def test_a_miss_restarts_confirmation():
    """A frame without a pose between two acquisitions means confirmation starts over."""
    tracker = Tracker(TrackingSettings(confirm_frames=3))
    assert not tracker.update(0.0, _pose(0.0), None, acquired=True)
    assert not tracker.update(0.1, _pose(0.1), None, acquired=True)
    assert not tracker.update(0.2, None, None, acquired=False)
    assert not tracker.update(0.3, _pose(0.3), None, acquired=True)
    assert not tracker.update(0.4, _pose(0.4), None, acquired=True)
    assert tracker.state == ACQUIRING
    assert tracker.update(0.5, _pose(0.5), None, acquired=True)


@pytest.mark.parametrize('max_coast_frames', [0, 1, 5])
def test_tracking_coasts_then_is_lost_then_recovers(max_coast_frames):
    """TRACKING survives max_coast_frames misses, is LOST on the next, then re-acquires."""
    settings = TrackingSettings(confirm_frames=2, max_coast_frames=max_coast_frames)
    tracker = _confirmed(settings)
    stamp = settings.confirm_frames * PERIOD
    # While tracking, matched poses are published at once.
    assert tracker.update(stamp, _pose(stamp), None, acquired=False)
    for _ in range(max_coast_frames):
        stamp += PERIOD
        assert not tracker.update(stamp, None, None, acquired=False)
        assert tracker.state == TRACKING
    stamp += PERIOD
    assert not tracker.update(stamp, None, None, acquired=False)
    assert tracker.state == LOST
    assert tracker.last_pose is None and tracker.predict(stamp + PERIOD) is None
    # Still LOST while nothing is seen.
    stamp += PERIOD
    assert not tracker.update(stamp, None, None, acquired=False)
    assert tracker.state == LOST
    # Acquired again: TRACKING after confirm_frames consistent acquisitions.
    for index in range(settings.confirm_frames):
        stamp += PERIOD
        published = tracker.update(stamp, _pose(stamp), None, acquired=True)
        assert published == (index == settings.confirm_frames - 1)
    assert tracker.state == TRACKING


def test_a_pose_while_coasting_resets_the_miss_count():
    """Misses need not be consecutive to be forgiven: one good frame restarts the count."""
    tracker = _confirmed(TrackingSettings(max_coast_frames=2))
    stamp = 0.2
    for _ in range(3):
        for _ in range(2):
            stamp += PERIOD
            tracker.update(stamp, None, None, acquired=False)
        stamp += PERIOD
        assert tracker.update(stamp, _pose(stamp), None, acquired=False)
        assert tracker.state == TRACKING


def test_prediction_extrapolates_constant_velocity():
    """From two poses the prediction continues the translation and the turn at the same rate."""
    tracker = _confirmed()
    last_stamp = PERIOD
    for ahead in (0.05, 0.1, 0.3):
        stamp = last_stamp + ahead
        rvec, tvec = tracker.predict(stamp)
        truth = _pose(stamp)
        assert np.allclose(tvec, truth.tvec, atol=1e-12)
        assert rotation_angle_between(rotation_matrix(rvec), truth.rotation) < 1e-9
    # Not moving: the prediction is the last pose.
    still = Tracker(TrackingSettings(confirm_frames=2))
    still.update(0.0, _pose(0.0), None, acquired=True)
    still.update(0.1, _pose(0.0), None, acquired=True)
    rvec, tvec = still.predict(0.25)
    assert np.allclose(tvec, _pose(0.0).tvec) and np.allclose(rvec, _pose(0.0).rvec)


def test_prediction_refuses_stale_or_backward_stamps():
    """No prediction across a gap longer than max_prediction_gap_s, or into the past."""
    tracker = _confirmed(TrackingSettings(max_prediction_gap_s=0.5))
    assert tracker.predict(PERIOD + 0.49) is not None
    assert tracker.predict(PERIOD + 0.51) is None
    assert tracker.predict(PERIOD - 0.01) is None


def test_prediction_with_one_pose_or_a_repeated_stamp_is_the_last_pose():
    """With confirm_frames 1 there is a single pose; a zero time span gives no velocity."""
    tracker = Tracker(TrackingSettings(confirm_frames=1))
    assert tracker.update(0.0, _pose(0.0), None, acquired=True)
    rvec, tvec = tracker.predict(0.1)
    assert np.allclose(tvec, _pose(0.0).tvec)
    tracker.update(0.0, _pose(0.1), None, acquired=False)
    rvec, tvec = tracker.predict(0.1)
    assert np.allclose(tvec, _pose(0.1).tvec)


def test_search_windows_follow_the_prediction_and_the_blob_size():
    """One window per LED, margin around the prediction, widened by the LED's last blob."""
    settings = TrackingSettings(window_margin_px=10.0)
    tracker = _confirmed(settings)
    predicted = np.array([[100.4, 200.6], [5.0, 5.0], [1275.0, 1020.0], [640.0, 512.0]])
    windows = tracker.search_windows(predicted, 1280, 1024)
    assert windows[0] == Window(90, 190, 111, 211)
    # Cut at the image border.
    assert windows[1] == Window(0, 0, 16, 16)
    assert windows[2] == Window(1265, 1010, 1280, 1024)
    assert all(w.x0 <= x < w.x1 and w.y0 <= y < w.y1 for w, (x, y) in zip(windows, predicted))
    # With the LEDs' last boxes, a long smear gets a long window.
    boxes = [(95, 195, 4, 4), None, (1200, 1000, 60, 8), (600, 500, 80, 30)]
    tracker.update(0.3, _pose(0.3), boxes, acquired=False)
    windows = tracker.search_windows(predicted, 1280, 1024)
    assert windows[0] == Window(86, 186, 115, 215)
    assert windows[1] == Window(0, 0, 16, 16)
    assert windows[3] == Window(550, 472, 731, 553)


def test_reset_forgets_everything():
    """reset() returns to ACQUIRING with no history, windows or prediction."""
    tracker = _confirmed()
    tracker.update(0.2, _pose(0.2), [(1, 2, 3, 4)] * 4, acquired=False)
    tracker.reset()
    assert tracker.state == ACQUIRING
    assert tracker.last_pose is None and tracker.led_boxes is None
    assert tracker.predict(0.3) is None


def test_a_frame_that_failed_outside_the_pipeline_counts_as_a_miss(sim_camera, led_target,
                                                                   ir_renderer):
    """frame_error (the node's report of an unforeseen failure) coasts the track to LOST."""
    pipeline = LedPosePipeline(led_target)
    pipeline.set_camera(sim_camera)
    rotation = rotation_matrix([0.05, -0.08, 0.1]) @ FACING_ROTATION
    points = led_points_in_camera(led_target, rotation, np.array([0.05, -0.03, 1.2]))
    frame = ir_renderer.render(points, rng=np.random.default_rng(1)).image
    raw = RawImage('mono8', frame.shape[1], frame.shape[0], frame.shape[1], False,
                   frame.tobytes())
    stamp = 0.0
    while pipeline.tracker.state != TRACKING:
        assert stamp < 1.0, 'the pipeline never tracked a still target'
        pipeline.process(raw, stamp)
        stamp += PERIOD
    states = []
    for _ in range(pipeline.settings.tracking.max_coast_frames + 1):
        result = pipeline.frame_error(stamp, 'internal error: test')
        assert result.quality.level == ERROR and result.pose is None
        assert result.quality.message == 'internal error: test'
        states.append(result.quality.state)
        stamp += PERIOD
    assert states[0] == TRACKING and states[-1] == LOST, states
    # The next good frames acquire the target again.
    results = [pipeline.process(raw, stamp + k * PERIOD) for k in range(3)]
    assert results[-1].quality.state == TRACKING and results[-1].pose is not None


def test_a_search_that_finds_the_target_far_from_the_track_is_confirmed_again():
    """While tracking, an acquisition far from the track is held like a first one."""
    tracker = _confirmed()
    near = _pose(2 * PERIOD)
    assert tracker.update(2 * PERIOD, near, None, acquired=True), 'consistent: published'
    jump = PoseEstimate(near.rvec, near.tvec + np.array([0.4, 0.1, -0.3]), 0.1, None)
    assert not tracker.update(3 * PERIOD, jump, None, acquired=True)
    assert tracker.state == ACQUIRING and tracker.predict(4 * PERIOD) is None
    again = PoseEstimate(jump.rvec, jump.tvec + 0.001, 0.1, None)
    assert tracker.update(4 * PERIOD, again, None, acquired=True)
    assert tracker.state == TRACKING


def test_a_ghost_target_while_tracking_is_not_published_at_once(sim_camera, led_target,
                                                                ir_renderer):
    """The LEDs jump 40 cm for one frame (a reflection of them, say): no pose for it."""
    pipeline = LedPosePipeline(led_target)
    pipeline.set_camera(sim_camera)

    def frame(rotation, translation):
        image = ir_renderer.render(led_points_in_camera(led_target, rotation, translation),
                                   rng=np.random.default_rng(2)).image
        return RawImage('mono8', image.shape[1], image.shape[0], image.shape[1], False,
                        image.tobytes())

    still = frame(FACING_ROTATION, np.array([0.0, 0.0, 1.0]))
    for index in range(4):
        result = pipeline.process(still, index * PERIOD)
    assert result.pose is not None and result.quality.state == TRACKING
    ghost = frame(rotation_matrix([0.0, 0.35, 0.0]) @ FACING_ROTATION,
                  np.array([0.4, 0.1, 1.2]))
    result = pipeline.process(ghost, 4 * PERIOD)
    assert result.pose is None and result.quality.state == ACQUIRING
    assert 'confirming' in result.quality.message


@pytest.mark.parametrize('range_m', [0.4, 2.4])
@pytest.mark.parametrize('fraction, confirmed', [(0.9, True), (1.1, False)])
def test_acquisitions_are_consistent_within_a_quarter_of_the_range(range_m, fraction,
                                                                   confirmed):
    """A second acquisition 0.9x a quarter of the range away confirms, 1.1x does not, any range."""
    tracker = Tracker(TrackingSettings(confirm_frames=2))
    rvec = rotation_vector(FACING_ROTATION)
    first = PoseEstimate(rvec, np.array([0.0, 0.0, range_m]), 0.1, None)
    # Sideways, so that the range hardly changes (a quarter of it: 0.1 m at 0.4 m, 0.6 m at 2.4 m).
    second = PoseEstimate(rvec, first.tvec + [0.0, fraction * 0.25 * range_m, 0.0], 0.1, None)
    assert not tracker.update(0.0, first, None, acquired=True)
    assert tracker.update(PERIOD, second, None, acquired=True) == confirmed
    assert tracker.state == (TRACKING if confirmed else ACQUIRING)


def test_a_fast_approach_from_afar_is_confirmed():
    """Acquisitions at 3.0 m then 2.6 m (13 % of the range in one frame) confirm each other."""
    tracker = Tracker(TrackingSettings(confirm_frames=2))
    rvec = rotation_vector(FACING_ROTATION)
    assert not tracker.update(0.0, PoseEstimate(rvec, np.array([0.0, 0.0, 3.0]), 0.1, None),
                              None, acquired=True)
    assert tracker.update(PERIOD, PoseEstimate(rvec, np.array([0.0, 0.0, 2.6]), 0.1, None),
                          None, acquired=True)


def test_a_change_of_resolution_restarts_the_track(sim_camera, led_target, ir_renderer):
    """Frames binned 2x2 with their camera_info: the next frame acquires anew, without a pose."""
    binned = default_sim_camera(sim_camera.width // 2, sim_camera.height // 2)
    binned_renderer = IrSceneRenderer(binned)
    points = led_points_in_camera(led_target, FACING_ROTATION, np.array([0.03, -0.02, 1.0]))
    rng = np.random.default_rng(3)

    def frame(renderer):
        image = renderer.render(points, rng=rng).image
        return RawImage('mono8', image.shape[1], image.shape[0], image.shape[1], False,
                        image.tobytes())

    pipeline = LedPosePipeline(led_target)
    pipeline.set_camera(sim_camera)
    for index in range(3):
        result = pipeline.process(frame(ir_renderer), index * PERIOD)
    assert result.pose is not None and result.quality.state == TRACKING
    pipeline.set_camera(binned)
    results = [pipeline.process(frame(binned_renderer), (3 + k) * PERIOD) for k in range(2)]
    assert results[0].pose is None and results[0].quality.state == ACQUIRING
    assert 'confirming' in results[0].quality.message, results[0].quality.message
    # The same target is confirmed in the binned frames on the next frame.
    assert results[1].pose is not None and results[1].quality.state == TRACKING
