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
Malformed and hostile input through the real node over real DDS.

PerceptionNode runs in this process with a test camera node in one executor, on a namespace of
its own; messages go through rclpy and Fast DDS as they do between processes. Every case checks
the same three things: the frame gets exactly one detection_quality with a clear ERROR or WARN
(or the parameter is refused with a reason), the node keeps running, and the next good frame
gives a pose within 1 % / 1 deg of the truth the renderer used. The one exception is a node that
never had a calibration: its first calibrated frame starts a track, which, like every new track,
is confirmed by the next frame before a pose is published.

`NodeRig` here is also used by test_faults.py and test_fuzz_inputs.py.
"""

from dataclasses import dataclass
import itertools
import math
import os
import time
import tracemalloc

from builtin_interfaces.msg import Time
from clingers_perception.approach_trajectory import FACING_ROTATION, led_points_in_camera
from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.perception_node import PerceptionNode
from clingers_perception.ros_conversions import camera_info_message
from clingers_perception.transforms import (matrix_from_quaternion, rotation_angle_between,
                                            rotation_matrix)
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, Range
from std_msgs.msg import Header

FRAME_ID = 'camera_optical_frame'
FRAME_PERIOD_NS = 33_333_333
# What "a correct pose" means for every case of this file.
MAX_POSITION_ERROR = 0.01
MAX_ATTITUDE_ERROR_DEG = 1.0
# Outputs are reliable; keep every one of them on the test side.
OUTPUT_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LEVEL_NAMES = {DiagnosticStatus.OK: 'OK', DiagnosticStatus.WARN: 'WARN',
               DiagnosticStatus.ERROR: 'ERROR'}
_RIG_NUMBERS = itertools.count()


class Scene:
    """The default target in slow motion around 1 m, rendered by ir_scene with its truth."""

    def __init__(self, width=640, height=480, camera=None, target=None, bit_depth=8):
        """Build the renderer of `camera` (the simulated camera of this size by default)."""
        self.camera = default_sim_camera(width, height) if camera is None else camera
        self.target = LedTarget.from_flat(DEFAULT_LED_POSITIONS) if target is None else target
        self.renderer = IrSceneRenderer(self.camera, IrSceneConfig(bit_depth=bit_depth))

    @staticmethod
    def truth(index):
        """Return (R, t) of frame `index`: within 0.9 m to 1.1 m, a few degrees off square."""
        phase = 0.05 * index
        translation = np.array([0.04 + 0.03 * math.sin(phase), -0.02 + 0.02 * math.cos(phase),
                                1.0 + 0.1 * math.sin(0.6 * phase)])
        rotation = rotation_matrix([0.05 * math.sin(0.8 * phase), 0.04, 0.02]) @ FACING_ROTATION
        return rotation, translation

    def render(self, index, rotation=None, translation=None):
        """Return (pixels, R, t) of frame `index`, or of the pose (R, t) when given."""
        if rotation is None:
            rotation, translation = self.truth(index)
        points = led_points_in_camera(self.target, rotation, translation)
        frame = self.renderer.render(points, rng=np.random.default_rng(index))
        return frame.image, rotation, translation


@dataclass
class Output:
    """What the node published for one input frame."""

    status: DiagnosticStatus
    values: dict
    pose: PoseWithCovarianceStamped
    range_msg: Range

    @property
    def level(self):
        """Return the level name: OK, WARN or ERROR."""
        return LEVEL_NAMES.get(self.status.level, str(self.status.level))

    def describe(self):
        """Return a one-line summary for assertion messages."""
        return f'{self.level} [{self.values.get("state")}] {self.status.message!r}'


def image_message(pixels=None, encoding=None, width=None, height=None, step=None, data=None,
                  is_bigendian=False):
    """Return an Image of `pixels`; any field given explicitly overrides what pixels imply."""
    msg = Image()
    if pixels is not None:
        pixels = np.ascontiguousarray(pixels)
        msg.height, msg.width = pixels.shape[:2]
        msg.encoding = 'mono8' if pixels.dtype == np.uint8 else 'mono16'
        msg.step = pixels.shape[1] * pixels.itemsize
        if pixels.dtype != np.uint8 and is_bigendian:
            pixels = pixels.astype('>u2')
        msg.data = pixels.tobytes()
    msg.is_bigendian = int(bool(is_bigendian))
    for name, value in (('encoding', encoding), ('width', width), ('height', height),
                        ('step', step), ('data', data)):
        if value is not None:
            setattr(msg, name, value)
    return msg


def assert_pose_close(output, rotation, translation, max_position_error=MAX_POSITION_ERROR,
                      max_attitude_deg=MAX_ATTITUDE_ERROR_DEG):
    """Assert that `output` carries a pose within the tolerances of the truth (R, t)."""
    assert output.pose is not None, f'no pose: {output.describe()}'
    position = output.pose.pose.pose.position
    estimate = np.array([position.x, position.y, position.z])
    error = np.linalg.norm(estimate - translation) / np.linalg.norm(translation)
    q = output.pose.pose.pose.orientation
    angle = math.degrees(rotation_angle_between(matrix_from_quaternion([q.x, q.y, q.z, q.w]),
                                                rotation))
    assert error < max_position_error and angle < max_attitude_deg, \
        f'pose off by {100 * error:.2f} % and {angle:.2f} deg: {output.describe()}'
    assert output.range_msg is not None
    assert output.range_msg.range == pytest.approx(np.linalg.norm(translation),
                                                   rel=max_position_error)
    assert output.pose.header.frame_id == FRAME_ID


class NodeRig:
    """
    A PerceptionNode, a test camera node and an executor spun by the test, on one namespace.

    The camera side publishes `image` and `camera_info` with the sensor-data QoS, as a camera
    driver does, and records every target_pose, target_range and detection_quality.
    """

    def __init__(self, width=640, height=480, parameters=None, start=True):
        """Start a private ROS context, the camera side, and (unless start=False) the node."""
        self.namespace = f'/hardening_{os.getpid()}_{next(_RIG_NUMBERS)}'
        self.scene = Scene(width, height)
        self.camera = self.scene.camera
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.tester = rclpy.create_node('camera_under_test', namespace=self.namespace,
                                        context=self.context)
        self.image_pub = self.tester.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.info_pub = self.tester.create_publisher(CameraInfo, 'camera_info',
                                                     qos_profile_sensor_data)
        self.qualities, self.poses, self.ranges = [], [], []
        # Poses and ranges are created first: when several outputs are ready at once the
        # executor serves them in creation order, so a frame's pose is in before its quality.
        self.tester.create_subscription(PoseWithCovarianceStamped, 'target_pose',
                                        self.poses.append, OUTPUT_QOS)
        self.tester.create_subscription(Range, 'target_range', self.ranges.append, OUTPUT_QOS)
        self.tester.create_subscription(DiagnosticArray, 'detection_quality',
                                        self.qualities.append, OUTPUT_QOS)
        service = f'{self.namespace}/clingers_perception/set_parameters'
        self.parameter_client = self.tester.create_client(SetParameters, service)
        self.atomic_parameter_client = self.tester.create_client(
            SetParametersAtomically, f'{service}_atomically')
        self.executor.add_node(self.tester)
        self.node = None
        self.frame_index = 0
        self.frames_sent = 0
        self._stamp_ns = 1_000_000_000_000
        if start:
            self.start_node(parameters)

    # Node life cycle ---------------------------------------------------------------------

    def start_node(self, parameters=None):
        """Create the node (with parameter overrides {name: value}) and wait for discovery."""
        overrides = [Parameter(name, value=value) for name, value in (parameters or {}).items()]
        self.node = PerceptionNode(namespace=self.namespace, context=self.context,
                                   parameter_overrides=overrides)
        self.executor.add_node(self.node)
        self.frames_sent = 0
        self.spin_until(lambda: self.image_pub.get_subscription_count() == 1
                        and self.info_pub.get_subscription_count() == 1
                        and self.tester.count_publishers(
                            f'{self.namespace}/detection_quality') == 1,
                        timeout=10.0, what='discovery of the node')

    def stop_node(self):
        """Destroy the node, as a crash or a restart by a launch file would."""
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        self.node = None
        self.spin_until(lambda: self.image_pub.get_subscription_count() == 0,
                        timeout=10.0, what='the node leaving the graph')

    def close(self):
        """Destroy everything and shut the private context down."""
        if self.node is not None:
            self.executor.remove_node(self.node)
            self.node.destroy_node()
        self.executor.shutdown()
        self.tester.destroy_node()
        rclpy.shutdown(context=self.context)

    # Spinning ----------------------------------------------------------------------------

    def spin_until(self, condition, timeout=5.0, what='the condition'):
        """Spin the executor until `condition()` holds; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}')
            self.executor.spin_once(timeout_sec=0.01)

    def spin_for(self, seconds):
        """Spin the executor for a while, serving whatever arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.005)

    # Frames ------------------------------------------------------------------------------

    def next_header(self):
        """Return a header one frame period after the last one sent."""
        self._stamp_ns += FRAME_PERIOD_NS
        return self.header_at(self._stamp_ns)

    @staticmethod
    def header_at(stamp_ns):
        """Return a header with frame_id FRAME_ID stamped `stamp_ns` nanoseconds."""
        stamp = Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
        return Header(stamp=stamp, frame_id=FRAME_ID)

    def camera_info(self, camera=None):
        """Return the CameraInfo of `camera` (the rig's camera by default)."""
        return camera_info_message(self.camera if camera is None else camera)

    def send(self, image, camera_info=True, header=None, timeout=5.0):
        """
        Publish one frame (after its camera_info) and return the node's Output for it.

        camera_info True sends the rig's calibration, a CameraInfo sends that one, None none.
        Exactly one detection_quality must come back, with frames_received counting this frame.
        """
        header = self.next_header() if header is None else header
        if camera_info is True:
            camera_info = self.camera_info()
        if camera_info is not None:
            camera_info.header = header
            self.info_pub.publish(camera_info)
        image.header = header
        qualities_before, poses_before = len(self.qualities), len(self.poses)
        ranges_before = len(self.ranges)
        self.image_pub.publish(image)
        self.frames_sent += 1
        self.spin_until(lambda: len(self.qualities) > qualities_before, timeout,
                        'the detection_quality of the frame')
        # A pose is published before its quality; give a late one the chance to land.
        for _ in range(3):
            self.executor.spin_once(timeout_sec=0.002)
        assert len(self.qualities) == qualities_before + 1, 'more than one quality for a frame'
        quality = self.qualities[-1]
        assert quality.header.stamp == header.stamp and len(quality.status) == 1
        status = quality.status[0]
        values = {kv.key: kv.value for kv in status.values}
        assert int(values['frames_received']) == self.frames_sent, \
            'frames_received does not count the frames sent one by one'
        poses = [p for p in self.poses[poses_before:] if p.header.stamp == header.stamp]
        ranges = [r for r in self.ranges[ranges_before:] if r.header.stamp == header.stamp]
        assert len(poses) <= 1 and len(ranges) == len(poses)
        return Output(status, values, poses[0] if poses else None,
                      ranges[0] if ranges else None)

    def send_good(self, camera_info=True, header=None):
        """Send the next good mono8 frame; return (output, R, t)."""
        pixels, rotation, translation = self.scene.render(self.frame_index)
        self.frame_index += 1
        output = self.send(image_message(pixels), camera_info, header)
        return output, rotation, translation

    def warm_up(self, max_frames=8):
        """Send good frames until the node publishes a correct pose (TRACKING)."""
        for _ in range(max_frames):
            output, rotation, translation = self.send_good()
            if output.pose is not None:
                assert_pose_close(output, rotation, translation)
                assert output.values['state'] == 'TRACKING'
                return output
        raise AssertionError(f'no pose after {max_frames} good frames: {output.describe()}')

    def hold(self, rotation, translation, max_frames=12, settle_frames=2):
        """
        Send frames of the target held still at (R, t) until the node tracks it.

        A few more frames follow the first pose, so that the motion the tracker predicts from
        is that of a still target, not the jump to (R, t). Return the last output.
        """
        tracked = 0
        for _ in range(max_frames + settle_frames):
            pixels, _, _ = self.scene.render(self.frame_index, rotation, translation)
            self.frame_index += 1
            output = self.send(image_message(pixels))
            if output.pose is not None and output.values['state'] == 'TRACKING':
                assert_pose_close(output, rotation, translation)
                tracked += 1
                if tracked > settle_frames:
                    return output
        raise AssertionError(f'not tracking after {max_frames} frames: {output.describe()}')

    def expect_recovery(self, frames=1):
        """Assert that a pose within tolerance comes within `frames` good frames; return it."""
        for _ in range(frames):
            output, rotation, translation = self.send_good()
            if output.pose is not None:
                assert_pose_close(output, rotation, translation)
                return output
        raise AssertionError(
            f'no pose within {frames} good frame(s) after the bad input: {output.describe()}')

    # Parameters --------------------------------------------------------------------------

    def set_parameters(self, parameters, atomically=False, timeout=5.0):
        """
        Set [(name, value)] through the node's parameter services, as `ros2 param` does.

        Return the SetParametersResult of each parameter, or the single result of the atomic
        set when `atomically`.
        """
        client = self.atomic_parameter_client if atomically else self.parameter_client
        self.spin_until(client.service_is_ready, timeout, 'the parameter service')
        request = client.srv_type.Request()
        request.parameters = [_parameter(name, value).to_parameter_msg()
                              for name, value in parameters]
        future = client.call_async(request)
        self.spin_until(future.done, timeout, 'the parameter service response')
        return future.result().result if atomically else future.result().results


def _parameter(name, value):
    # Lists of numbers are double arrays for every parameter this node has.
    if isinstance(value, (list, tuple)):
        return Parameter(name, Parameter.Type.DOUBLE_ARRAY, [float(v) for v in value])
    return Parameter(name, value=value)


@pytest.fixture(scope='module')
def rig():
    """Return one node and camera rig for the module, tracking the target."""
    node_rig = NodeRig()
    try:
        yield node_rig
    finally:
        node_rig.close()


@pytest.fixture
def tracking(rig):
    """Bring the rig's node to TRACKING with a correct pose before the case runs."""
    rig.warm_up()
    return rig


@pytest.fixture
def fresh_rig():
    """Return a rig whose node has just started and has seen nothing yet."""
    node_rig = NodeRig()
    try:
        yield node_rig
    finally:
        node_rig.close()


def _expect_problem(output, level, *words):
    assert output.level == level, f'expected {level}: {output.describe()}'
    message = output.status.message.lower()
    assert any(word.lower() in message for word in words), \
        f'message should mention one of {words}: {output.describe()}'
    assert output.values['leds_expected'] == '4'


def _expect_no_pose(output):
    assert output.pose is None and output.range_msg is None, \
        f'a pose was published for a bad frame: {output.describe()}'


# Image fields ----------------------------------------------------------------------------

def _good_pixels(rig):
    pixels, _, _ = rig.scene.render(rig.frame_index)
    return pixels


def _bad_images(rig):
    """Return {case: (Image, words the ERROR message must hold)} for the malformed images."""
    pixels = _good_pixels(rig)
    height, width = pixels.shape
    data = pixels.tobytes()
    mono16 = pixels.astype(np.uint16) * 257
    return {
        'step_smaller_than_row': (image_message(pixels, step=width - 1), ('step',)),
        'step_larger_data_unpadded': (image_message(pixels, step=width + 16), ('bytes',)),
        'step_zero': (image_message(pixels, step=0), ('step',)),
        'short_data': (image_message(pixels, data=data[:-1]), ('bytes',)),
        'half_data': (image_message(pixels, data=data[:len(data) // 2]), ('bytes',)),
        'no_data': (image_message(pixels, data=b''), ('bytes',)),
        'zero_width': (image_message(pixels, width=0, step=0), ('no pixels',)),
        'zero_height': (image_message(pixels, height=0), ('no pixels',)),
        'zero_both': (image_message(encoding='mono8'), ('no pixels',)),
        'unknown_encoding_yuv422': (image_message(pixels, encoding='yuv422'), ('encoding',)),
        'unknown_encoding_bayer': (image_message(pixels, encoding='bayer_rggb8'),
                                   ('encoding',)),
        'unknown_encoding_float': (image_message(pixels, encoding='32FC1'), ('encoding',)),
        'empty_encoding': (image_message(pixels, encoding=''), ('encoding',)),
        'mono16_label_mono8_step': (image_message(pixels, encoding='mono16'), ('step',)),
        '16uc1_label_mono8_step': (image_message(pixels, encoding='16UC1'), ('step',)),
        'bgr8_label_mono8_step': (image_message(pixels, encoding='bgr8'), ('step',)),
        'rgba8_label_mono16_step': (image_message(mono16, encoding='rgba8'), ('step',)),
        'mono16_label_mono8_data': (image_message(pixels, encoding='mono16', step=2 * width),
                                    ('bytes',)),
    }


BAD_IMAGE_CASES = [
    'step_smaller_than_row', 'step_larger_data_unpadded', 'step_zero', 'short_data',
    'half_data', 'no_data', 'zero_width', 'zero_height', 'zero_both', 'unknown_encoding_yuv422',
    'unknown_encoding_bayer', 'unknown_encoding_float', 'empty_encoding',
    'mono16_label_mono8_step', '16uc1_label_mono8_step', 'bgr8_label_mono8_step',
    'rgba8_label_mono16_step', 'mono16_label_mono8_data']


@pytest.mark.parametrize('case', BAD_IMAGE_CASES)
def test_malformed_image_is_refused_and_the_next_frame_is_tracked(tracking, case):
    image, words = _bad_images(tracking)[case]
    output = tracking.send(image)
    _expect_problem(output, 'ERROR', *words)
    assert output.status.message.startswith('bad image:')
    _expect_no_pose(output)
    tracking.expect_recovery()


@pytest.mark.parametrize('dimensions', [
    (100_000, 100_000, 100_000), (2**32 - 1, 2**32 - 1, 2**32 - 1), (2**31, 1, 2**31),
    (8193, 8192, 8193)], ids=['100k_square', 'uint32_max', 'one_2gb_row', 'just_over_64mb'])
def test_huge_frame_is_refused_unread_by_max_image_bytes(tracking, dimensions):
    width, height, step = dimensions
    image = image_message(encoding='mono8', width=width, height=height, step=step,
                          data=bytes(64))
    tracemalloc.start()
    try:
        output = tracking.send(image)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _expect_problem(output, 'ERROR', 'max_image_bytes')
    _expect_no_pose(output)
    # Refused before any buffer of the declared size exists: the frame declared gigabytes.
    assert peak_bytes < 4 * 1024 * 1024, f'{peak_bytes} bytes allocated for a refused frame'
    tracking.expect_recovery()


def test_long_data_is_used_with_a_warning(tracking):
    pixels, rotation, translation = tracking.scene.render(tracking.frame_index)
    tracking.frame_index += 1
    output = tracking.send(image_message(pixels, data=pixels.tobytes() + bytes(1000)))
    _expect_problem(output, 'WARN', 'bytes more')
    # The declared frame is all there, so it is used.
    assert_pose_close(output, rotation, translation)
    tracking.expect_recovery()


@pytest.mark.parametrize('padding', [1, 3, 64])
def test_padded_rows_are_read_through_step(tracking, padding):
    pixels, rotation, translation = tracking.scene.render(tracking.frame_index)
    tracking.frame_index += 1
    height, width = pixels.shape
    padded = np.full((height, width + padding), 255, dtype=np.uint8)
    padded[:, :width] = pixels
    output = tracking.send(image_message(pixels, step=width + padding, data=padded.tobytes()))
    assert output.level == 'OK', output.describe()
    assert_pose_close(output, rotation, translation)


@pytest.mark.parametrize('encoding,big_endian,padding', [
    ('mono16', False, 0), ('mono16', True, 0), ('16UC1', False, 0), ('16UC1', True, 0),
    ('mono16', False, 1), ('mono16', True, 5)])
def test_16_bit_frames_give_the_same_pose(tracking, encoding, big_endian, padding):
    scene = Scene(tracking.camera.width, tracking.camera.height, bit_depth=16)
    pixels, rotation, translation = scene.render(tracking.frame_index)
    tracking.frame_index += 1
    assert pixels.dtype == np.uint16
    height, width = pixels.shape
    rows = pixels.astype('>u2' if big_endian else '<u2').view(np.uint8).reshape(height, -1)
    data = np.zeros((height, 2 * width + padding), dtype=np.uint8)
    data[:, :2 * width] = rows
    image = image_message(pixels, encoding=encoding, step=2 * width + padding,
                          data=data.tobytes(), is_bigendian=big_endian)
    output = tracking.send(image)
    assert output.level == 'OK', output.describe()
    assert_pose_close(output, rotation, translation)


@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'bgra8', 'rgba8', '8UC1'])
def test_colour_and_8uc1_frames_give_the_same_pose(tracking, encoding):
    pixels, rotation, translation = tracking.scene.render(tracking.frame_index)
    tracking.frame_index += 1
    channels = {'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4, '8UC1': 1}[encoding]
    colour = np.repeat(pixels[:, :, None], channels, axis=2)
    output = tracking.send(image_message(
        pixels, encoding=encoding, step=pixels.shape[1] * channels, data=colour.tobytes()))
    assert output.level == 'OK', output.describe()
    assert_pose_close(output, rotation, translation)


# Frames that decode but hold no target ---------------------------------------------------

def test_black_frame_says_so(tracking):
    height, width = tracking.camera.height, tracking.camera.width
    output = tracking.send(image_message(np.zeros((height, width), dtype=np.uint8)))
    _expect_problem(output, 'WARN', 'black')
    _expect_no_pose(output)
    assert output.values['leds_detected'] == '0'
    tracking.expect_recovery()


SATURATED_FRAMES = {
    'saturated_8bit': (np.uint8, 255, 'saturated'),
    'saturated_16bit': (np.uint16, 65535, 'saturated'),
    'uniform_grey': (np.uint8, 128, 'spot'),
}


@pytest.mark.parametrize('case', [
    'saturated_8bit', 'saturated_16bit', 'uniform_grey'])
def test_saturated_or_uniform_frame_gives_no_pose(fresh_rig, case):
    # Close in, the LEDs' search windows lie apart (far away they merge into one rectangle,
    # which a uniform frame fills whole: one blob, not four).
    rotation, _ = Scene.truth(0)
    translation = np.array([0.02, -0.01, 0.4])
    fresh_rig.hold(rotation, translation)
    dtype, value, word = SATURATED_FRAMES[case]
    height, width = fresh_rig.camera.height, fresh_rig.camera.width
    output = fresh_rig.send(image_message(np.full((height, width), value, dtype=dtype)))
    _expect_problem(output, 'WARN', word)
    _expect_no_pose(output)
    pixels, _, _ = fresh_rig.scene.render(fresh_rig.frame_index, rotation, translation)
    fresh_rig.frame_index += 1
    assert_pose_close(fresh_rig.send(image_message(pixels)), rotation, translation)


# Stamps ----------------------------------------------------------------------------------

@pytest.mark.parametrize('back_ns', [1, FRAME_PERIOD_NS, 10 * 1_000_000_000, 'epoch'])
def test_stamp_going_back_warns_and_restarts_the_track(tracking, back_ns):
    latest = tracking._stamp_ns
    stamp_ns = 0 if back_ns == 'epoch' else latest - back_ns
    output, _, _ = tracking.send_good(header=NodeRig.header_at(stamp_ns))
    _expect_problem(output, 'WARN', 'stamp went back')
    # The track restarts, so this frame only starts the confirmation of a new one...
    _expect_no_pose(output)
    assert output.values['state'] == 'ACQUIRING'
    # ...and the next good frame, later than it, confirms it.
    tracking.expect_recovery()


def test_repeated_stamp_warns(tracking):
    repeated = NodeRig.header_at(tracking._stamp_ns)
    output, rotation, translation = tracking.send_good(header=repeated)
    _expect_problem(output, 'WARN', 'stamp repeats')
    if output.pose is not None:
        assert_pose_close(output, rotation, translation)
    tracking.expect_recovery()


# camera_info -----------------------------------------------------------------------------

def test_frames_without_camera_info_are_errors_until_it_comes(fresh_rig):
    for _ in range(3):
        output, _, _ = fresh_rig.send_good(camera_info=None)
        _expect_problem(output, 'ERROR', 'no camera_info')
        _expect_no_pose(output)
        assert output.values['state'] == 'ACQUIRING'
    # The first calibrated frame starts the track; a fresh track is confirmed on the next.
    output = fresh_rig.expect_recovery(frames=2)
    assert output.values['state'] == 'TRACKING'


def _bad_camera_infos(camera):
    good = camera_info_message(camera)

    def changed(**fields):
        msg = camera_info_message(camera)
        for name, value in fields.items():
            setattr(msg, name, value)
        return msg

    def k_with(index, value):
        k = list(good.k)
        k[index] = value
        return k

    return {
        'all_zeros': (CameraInfo(), ('empty', 'uncalibrated')),
        'zero_k': (changed(k=[0.0] * 9), ('uncalibrated',)),
        'zero_size': (changed(width=0, height=0), ('empty',)),
        'nan_fx': (changed(k=k_with(0, math.nan)), ('nan',)),
        'nan_cx': (changed(k=k_with(2, math.nan)), ('nan',)),
        'inf_fy': (changed(k=k_with(4, math.inf)), ('inf',)),
        'negative_fx': (changed(k=k_with(0, -350.0)), ('pinhole',)),
        'nan_distortion': (changed(d=[math.nan] * 5), ('nan',)),
        'inf_distortion': (changed(d=[0.0, math.inf, 0.0, 0.0, 0.0]), ('inf',)),
        'short_rational_polynomial': (changed(distortion_model='rational_polynomial'),
                                      ('distortion values',)),
        'unsupported_model': (changed(distortion_model='equidistant', d=[0.1] * 4),
                              ('not supported',)),
        'principal_point_far_away': (changed(k=k_with(2, 1e6)), ('principal point',)),
    }


BAD_CAMERA_INFO_CASES = [
    'all_zeros', 'zero_k', 'zero_size', 'nan_fx', 'nan_cx', 'inf_fy', 'negative_fx',
    'nan_distortion', 'inf_distortion', 'short_rational_polynomial', 'unsupported_model',
    'principal_point_far_away']


@pytest.mark.parametrize('case', BAD_CAMERA_INFO_CASES)
def test_bad_camera_info_is_refused_and_a_good_one_restores_the_pose(tracking, case):
    camera_info, words = _bad_camera_infos(tracking.camera)[case]
    output, _, _ = tracking.send_good(camera_info=camera_info)
    _expect_problem(output, 'ERROR', *words)
    assert 'camera_info' in output.status.message
    _expect_no_pose(output)
    # Frames keep failing while the driver keeps sending the bad calibration...
    output, _, _ = tracking.send_good(camera_info=None)
    _expect_problem(output, 'ERROR', *words)
    # ...and the first frame with a good one again is tracked.
    tracking.expect_recovery()


def test_camera_info_of_another_size_is_an_error(tracking):
    other = default_sim_camera(1280, 1024)
    output, _, _ = tracking.send_good(camera_info=camera_info_message(other))
    _expect_problem(output, 'ERROR', '1280x1024')
    assert '640x480' in output.status.message
    _expect_no_pose(output)


def test_next_good_frame_after_a_camera_info_of_another_size_is_tracked(tracking):
    other = default_sim_camera(1280, 1024)
    output, _, _ = tracking.send_good(camera_info=camera_info_message(other))
    _expect_problem(output, 'ERROR', '1280x1024')
    tracking.expect_recovery()


def _zoomed_camera(camera):
    k = camera.camera_matrix.copy()
    k[0, 0] *= 1.1
    k[1, 1] *= 1.1
    k[0, 2] += 8.0
    k[1, 2] -= 6.0
    projection = np.zeros((3, 4))
    projection[:, :3] = k
    return type(camera).from_camera_info(camera.width, camera.height, 'plumb_bob',
                                         camera.distortion, k.reshape(-1),
                                         projection.reshape(-1))


def test_camera_info_changing_mid_run_is_used_from_the_next_frame(tracking):
    scene = Scene(camera=_zoomed_camera(tracking.camera))
    info = camera_info_message(scene.camera)
    for _ in range(3):
        pixels, rotation, translation = scene.render(tracking.frame_index)
        tracking.frame_index += 1
        output = tracking.send(image_message(pixels), camera_info=info)
        assert_pose_close(output, rotation, translation)


def test_camera_info_changing_mid_run_warns_once(tracking):
    scene = Scene(camera=_zoomed_camera(tracking.camera))
    info = camera_info_message(scene.camera)
    outputs = []
    for _ in range(2):
        pixels, rotation, translation = scene.render(tracking.frame_index)
        tracking.frame_index += 1
        outputs.append(tracking.send(image_message(pixels), camera_info=info))
        assert_pose_close(outputs[-1], rotation, translation)
    _expect_problem(outputs[0], 'WARN', 'camera_info changed')
    assert outputs[1].level == 'OK', outputs[1].describe()


# LED parameters --------------------------------------------------------------------------

_GOOD_LEDS = list(DEFAULT_LED_POSITIONS)

BAD_LED_POSITIONS = {
    'too_few': (_GOOD_LEDS[:9], 'at least 4 leds'),
    'none': ([], 'at least 4 leds'),
    'collinear': ([0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.1, 0.0, 0.0, 0.15, 0.0, 0.0], 'collinear'),
    'duplicated': (_GOOD_LEDS[:3] + _GOOD_LEDS[:3] + _GOOD_LEDS[6:], 'same place'),
    'nan': (_GOOD_LEDS[:4] + [math.nan] + _GOOD_LEDS[5:], 'nan'),
    'inf': (_GOOD_LEDS[:11] + [math.inf], 'inf'),
    'wrong_length': (_GOOD_LEDS + [0.1], '3 values per led'),
}


@pytest.mark.parametrize('case', sorted(BAD_LED_POSITIONS))
def test_bad_led_positions_are_refused_with_a_reason(tracking, case):
    values, words = BAD_LED_POSITIONS[case]
    [result] = tracking.set_parameters([('led_positions', values)])
    assert not result.successful
    assert words in result.reason.lower(), result.reason
    assert list(tracking.node.get_parameter('led_positions').value) == _GOOD_LEDS
    # Nothing changed: the track goes on with the very next frame.
    output = tracking.expect_recovery()
    assert output.values['state'] == 'TRACKING'


def test_led_positions_of_the_wrong_type_are_refused_with_a_reason(tracking):
    [result] = tracking.set_parameters([('led_positions', 'four leds')])
    assert not result.successful and result.reason
    tracking.expect_recovery()


def test_a_bad_value_refuses_the_whole_atomic_set(tracking):
    result = tracking.set_parameters([('max_coast_frames', 7),
                                      ('led_positions', _GOOD_LEDS[:9])], atomically=True)
    assert not result.successful and 'at least 4 leds' in result.reason.lower()
    assert tracking.node.get_parameter('max_coast_frames').value == 5
    tracking.expect_recovery()
