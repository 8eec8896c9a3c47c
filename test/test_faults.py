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
Faults of the system around the node, through the real node over real DDS.

camera_info late or never, the camera stream stopping and restarting, the node destroyed and
re-created mid-approach, parameters changed while frames flow, and the accounting of outputs
at full rate: every frame the node receives yields exactly one detection_quality.
"""

from contextlib import contextmanager
import threading
import time

from clingers_perception.approach_trajectory import approach_poses, ApproachSpec
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.range_bands import DEFAULT_BANDS
import numpy as np
import pytest
from test_bad_input import (assert_pose_close, FRAME_PERIOD_NS, image_message, NodeRig,
                            Scene)

# The node's defaults that these tests lean on.
CONFIRM_FRAMES = 2
MAX_COAST_FRAMES = 5
MAX_PREDICTION_GAP_NS = 500_000_000


@pytest.fixture
def rig():
    """Return a fresh 640x480 node and camera rig."""
    node_rig = NodeRig()
    try:
        yield node_rig
    finally:
        node_rig.close()


# camera_info late or never -----------------------------------------------------------------

def test_camera_info_arriving_late(rig):
    for _ in range(5):
        output, _, _ = rig.send_good(camera_info=None)
        assert output.level == 'ERROR' and 'no camera_info' in output.status.message, \
            output.describe()
        assert output.pose is None and output.values['state'] == 'ACQUIRING'
    # Poses from the first calibrated frames on, once the new track is confirmed.
    output = rig.expect_recovery(frames=CONFIRM_FRAMES)
    assert output.values['state'] == 'TRACKING'
    for _ in range(5):
        output, rotation, translation = rig.send_good(camera_info=None)
        assert output.level == 'OK', output.describe()
        assert_pose_close(output, rotation, translation)


def test_camera_info_never_arriving(rig):
    for _ in range(30):
        output, _, _ = rig.send_good(camera_info=None)
        assert output.level == 'ERROR', output.describe()
        assert 'no camera_info received yet' in output.status.message
        assert output.pose is None and output.values['state'] == 'ACQUIRING'
    assert rig.node.frames_in == 30 and len(rig.qualities) == 30 and not rig.poses


# The camera stream stops and restarts ------------------------------------------------------

def test_short_stream_gap_is_bridged_by_the_prediction(rig):
    rig.warm_up()
    rig._stamp_ns += MAX_PREDICTION_GAP_NS // 2
    rig.frame_index += 8
    output = rig.expect_recovery()
    assert output.values['state'] == 'TRACKING'


def test_stream_gap_loses_the_track_then_tracks_again(rig):
    rig.warm_up()
    outputs_before = len(rig.qualities)
    # The camera stops: nothing comes in, so nothing goes out.
    rig.spin_for(1.0)
    assert len(rig.qualities) == outputs_before
    # It restarts 2 s later (stamps say so; the wall-clock pause is shorter).
    rig._stamp_ns += 2_000_000_000
    rig.frame_index += 60
    output, _, _ = rig.send_good()
    assert output.values['state'] == 'LOST', output.describe()
    assert output.level == 'WARN' and output.pose is None
    output = rig.expect_recovery(frames=CONFIRM_FRAMES)
    assert output.values['state'] == 'TRACKING'


def test_target_out_of_view_goes_lost_then_tracks_again(rig):
    rig.warm_up()
    height, width = rig.camera.height, rig.camera.width
    dark = np.full((height, width), 6, dtype=np.uint8)
    states = []
    for _ in range(MAX_COAST_FRAMES + 2):
        output = rig.send(image_message(dark))
        assert output.level == 'WARN' and output.pose is None, output.describe()
        states.append(output.values['state'])
    assert states[0] == 'TRACKING' and states[-1] == 'LOST', states
    output = rig.expect_recovery(frames=CONFIRM_FRAMES)
    assert output.values['state'] == 'TRACKING'


# The node destroyed and re-created mid-approach -------------------------------------------

def test_node_recreated_mid_approach_recovers_within_a_few_frames():
    node_rig = NodeRig(1280, 1024)
    try:
        scene = node_rig.scene
        poses = approach_poses(ApproachSpec(start_range_m=2.0, end_range_m=0.5, frames=90))

        def fly(frames):
            outputs = []
            for index in frames:
                rotation, translation = poses[index]
                pixels, _, _ = scene.render(index, rotation, translation)
                output = node_rig.send(image_message(pixels))
                if output.pose is not None:
                    assert_pose_close(output, rotation, translation)
                outputs.append(output)
            return outputs

        first = fly(range(0, 40))
        assert all(o.pose is not None for o in first[CONFIRM_FRAMES:])
        node_rig.stop_node()
        node_rig.start_node()
        second = fly(range(40, 90))
        assert second[0].values['state'] == 'ACQUIRING'
        assert int(second[0].values['frames_received']) == 1
        with_pose = [i for i, o in enumerate(second) if o.pose is not None]
        assert with_pose and with_pose[0] <= CONFIRM_FRAMES, \
            f'first pose after the restart at frame {with_pose[:1]}'
        assert with_pose == list(range(with_pose[0], len(second)))
    finally:
        node_rig.close()


# Parameters changed at run time -----------------------------------------------------------

FIVE_LEDS = list(DEFAULT_LED_POSITIONS) + [0.0, -0.09, 0.02]
DEFAULT_AREAS = [(f'bands.{band.name}.min_area_px', band.min_area_px) for band in DEFAULT_BANDS]


def test_led_layout_change_takes_effect_on_the_next_frame(rig):
    rig.warm_up()
    [result] = rig.set_parameters([('led_positions', FIVE_LEDS)])
    assert result.successful, result.reason
    rig.scene = Scene(camera=rig.camera, target=LedTarget.from_flat(FIVE_LEDS))
    output, _, _ = rig.send_good()
    assert output.values['leds_expected'] == '5', output.describe()
    # A new layout is a new track: confirmed, then published.
    assert output.values['state'] == 'ACQUIRING'
    output = rig.expect_recovery(frames=CONFIRM_FRAMES)
    assert output.values['leds_matched'] == '5'


def test_detector_band_change_takes_effect_on_the_next_frame(rig):
    rig.warm_up()
    # Spots around 1 m are far smaller than these areas: no band finds them any more.
    too_large = [('bands.far.min_area_px', 500.0), ('bands.mid.min_area_px', 5000.0),
                 ('bands.near.min_area_px', 5000.0)]
    result = rig.set_parameters(too_large, atomically=True)
    assert result.successful, result.reason
    output, _, _ = rig.send_good()
    assert output.level == 'WARN' and output.pose is None, output.describe()
    assert output.values['leds_detected'] == '0'
    result = rig.set_parameters(DEFAULT_AREAS, atomically=True)
    assert result.successful, result.reason
    rig.expect_recovery(frames=CONFIRM_FRAMES)


def test_detector_backend_change_takes_effect_on_the_next_frame(rig):
    rig.warm_up()
    [result] = rig.set_parameters([('detector_backend', 'simple_blob')])
    assert result.successful, result.reason
    output, _, _ = rig.send_good()
    assert output.values['detector_profile'].endswith('/simple_blob'), output.describe()
    output = rig.expect_recovery(frames=CONFIRM_FRAMES)
    assert output.values['detector_profile'].endswith('/simple_blob')


def test_simple_blob_with_one_threshold_per_band_gives_poses(rig):
    rig.warm_up()
    # threshold_max == threshold_min: SimpleBlobDetector binarises at threshold_min alone.
    single = [(f'bands.{band.name}.threshold_max', band.threshold_min) for band in DEFAULT_BANDS]
    result = rig.set_parameters([('detector_backend', 'simple_blob')] + single, atomically=True)
    assert result.successful, result.reason
    for _ in range(3):
        output, rotation, translation = rig.send_good()
        assert output.level == 'OK', output.describe()
        assert output.values['state'] == 'TRACKING'
        assert_pose_close(output, rotation, translation)


def test_image_is_rectified_change_applies_to_the_camera_info_already_received(rig):
    rig.warm_up()
    assert np.any(rig.node._pipeline.camera.distortion)
    [result] = rig.set_parameters([('image_is_rectified', True)])
    assert result.successful, result.reason
    # No camera_info comes with this frame: the one received is read again, as rectified.
    rig.send_good(camera_info=None)
    assert not np.any(rig.node._pipeline.camera.distortion)
    [result] = rig.set_parameters([('image_is_rectified', False)])
    assert result.successful, result.reason
    rig.send_good(camera_info=None)
    np.testing.assert_array_equal(rig.node._pipeline.camera.distortion, rig.camera.distortion)
    rig.expect_recovery(frames=CONFIRM_FRAMES)


def test_max_image_bytes_change_takes_effect_on_the_next_frame(rig):
    rig.warm_up()
    frame_bytes = rig.camera.width * rig.camera.height
    [result] = rig.set_parameters([('max_image_bytes', frame_bytes - 1)])
    assert result.successful, result.reason
    output, _, _ = rig.send_good()
    assert output.level == 'ERROR' and 'max_image_bytes' in output.status.message
    [result] = rig.set_parameters([('max_image_bytes', frame_bytes)])
    assert result.successful, result.reason
    rig.expect_recovery(frames=CONFIRM_FRAMES)


@pytest.mark.parametrize('name,value,words', [
    ('bands.mid.threshold_min', 251, 'threshold_min'),
    ('bands.far.min_area_px', 700.0, 'min_area_px'),
    ('bands.near.min_range_m', 0.5, 'min_range_m'),
    ('bands.mid.min_circularity', 1.5, ''),
    ('min_leds', 5, 'exceeds'),
    ('min_range_m', 25.0, ''),
    ('detector_backend', 'magic', 'one of'),
    ('max_image_bytes', 10, ''),
])
def test_invalid_run_time_change_is_refused_with_a_reason(rig, name, value, words):
    rig.warm_up()
    before = rig.node.get_parameter(name).value
    [result] = rig.set_parameters([(name, value)])
    assert not result.successful
    assert result.reason and words in result.reason, result.reason
    assert rig.node.get_parameter(name).value == before
    output = rig.expect_recovery()
    assert output.values['state'] == 'TRACKING'


# Accounting ----------------------------------------------------------------------------------

@contextmanager
def spinning(node_rig):
    """Spin the rig's executor in a background thread while the test publishes."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            node_rig.executor.spin_once(timeout_sec=0.005)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _publish_stream(node_rig, frames, period_s, images):
    """Publish `frames` frames (with camera_info) every `period_s`; return their stamps."""
    info = node_rig.camera_info()
    stamps = []
    start = time.monotonic()
    with spinning(node_rig):
        for index in range(frames):
            header = node_rig.next_header()
            info.header = header
            node_rig.info_pub.publish(info)
            image = images[index % len(images)]
            image.header = header
            node_rig.image_pub.publish(image)
            stamps.append((header.stamp.sec, header.stamp.nanosec))
            delay = start + (index + 1) * period_s - time.monotonic()
            if delay > 0.0:
                time.sleep(delay)
        # Let the node work through its queue: done when no output came for a second.
        count, settled = -1, time.monotonic()
        while time.monotonic() - settled < 1.0:
            if len(node_rig.qualities) != count:
                count, settled = len(node_rig.qualities), time.monotonic()
            time.sleep(0.05)
    return stamps


def _check_accounting(node_rig, stamps):
    def key(msg):
        return msg.header.stamp.sec, msg.header.stamp.nanosec

    received = node_rig.node.frames_in
    qualities = node_rig.qualities
    counts = [int({kv.key: kv.value for kv in q.status[0].values}['frames_received'])
              for q in qualities]
    quality_stamps = [key(q) for q in qualities]
    # One quality per frame received, none for a frame not received, none twice.
    assert len(qualities) == received, (len(qualities), received)
    assert counts == list(range(1, received + 1))
    assert len(set(quality_stamps)) == len(quality_stamps)
    assert set(quality_stamps) <= set(stamps)
    assert sorted(quality_stamps) == quality_stamps, 'outputs out of order'
    # Poses only for frames that have a quality, at most one each.
    pose_stamps = [key(p) for p in node_rig.poses]
    assert len(set(pose_stamps)) == len(pose_stamps)
    assert set(pose_stamps) <= set(quality_stamps)
    assert [key(r) for r in node_rig.ranges] == pose_stamps
    return received


def _stream_images(node_rig, count=16):
    images = []
    for index in range(count):
        pixels, _, _ = node_rig.scene.render(index)
        images.append(image_message(pixels))
    return images


def test_accounting_at_full_rate(rig):
    rig.warm_up()
    rig.qualities.clear(), rig.poses.clear(), rig.ranges.clear()
    rig.node.frames_in = 0
    # About 1 kHz, several times what the node can take: it must skip frames, not stall.
    frames = 1000
    stamps = _publish_stream(rig, frames, 0.001, _stream_images(rig))
    received = _check_accounting(rig, stamps)
    # The sensor-data QoS keeps only the newest few frames: an overloaded node skips frames
    # rather than falling behind, and answers each frame it takes.
    assert 0 < received <= frames and rig.poses
    print(f'\n{frames} frames published at up to 1 kHz: {received} received, '
          f'{len(rig.qualities)} detection_quality, {len(rig.poses)} poses')


def test_accounting_at_camera_rate_drops_nothing(rig):
    rig.warm_up()
    rig.qualities.clear(), rig.poses.clear(), rig.ranges.clear()
    rig.node.frames_in = 0
    frames = 120
    stamps = _publish_stream(rig, frames, FRAME_PERIOD_NS * 1e-9, _stream_images(rig))
    received = _check_accounting(rig, stamps)
    assert received == frames
    assert len(rig.poses) == frames
