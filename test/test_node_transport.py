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
perception_node through real rclpy and DDS: rendered frames in, messages out, no mocks.

A test node publishes 1280x1024 frames rendered by ir_scene and the matching camera_info with
the sensor-data QoS, and checks what the node publishes against the interface contract and the
rendered truth. Each test gets its own node pair under a namespace of its own, and the
module's participant does not discover other processes, so tests are independent of each other
and of other ROS 2 processes in the same domain; nothing here depends on which ROS_DOMAIN_ID is
set.
"""

from dataclasses import dataclass
import itertools
import os

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     FACING_ROTATION, led_points_in_camera)
from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.perception_node import PerceptionNode
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.pose_estimation import PoseEstimate
from clingers_perception.ros_conversions import (camera_info_message, pose_message, raw_image,
                                                 stamp_seconds, transform_message)
from clingers_perception.transforms import (matrix_from_quaternion, rotation_angle_between,
                                            rotation_matrix, rotation_vector)
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from ros_test_support import isolated_context, spin_until
from sensor_msgs.msg import CameraInfo, Image, Range
from std_msgs.msg import Header


CAMERA = default_sim_camera(1280, 1024)
TARGET = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
FRAME_ID = 'ir_camera_optical_frame'
FRAME_PERIOD_NS = 33_333_333
FIRST_STAMP_NS = 1_700_000_000 * 10 ** 9
CONTRACT_KEYS = {'state', 'leds_expected', 'leds_detected', 'leds_matched',
                 'reprojection_rms_px', 'confidence', 'range_m', 'detector_profile',
                 'processing_ms'}
RESULT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
MESSAGE_TIMEOUT_S = 5.0
_NAMESPACES = itertools.count()


@pytest.fixture(scope='module')
def context():
    """Give the module its own rclpy context, shut down when the module ends."""
    yield from isolated_context()


@pytest.fixture(scope='module')
def renderers():
    """Build the 8-bit and 16-bit renderers once: generating their noise banks takes time."""
    return {8: IrSceneRenderer(CAMERA, IrSceneConfig(seed=1)),
            16: IrSceneRenderer(CAMERA, IrSceneConfig(seed=1, bit_depth=16))}


@pytest.fixture
def rig(context):
    """Start a PerceptionNode and a test node under a fresh namespace; stop both afterwards."""
    rigs = []

    def start(**parameters):
        started = Rig(context, [Parameter(k, value=v) for k, v in parameters.items()])
        rigs.append(started)
        return started

    yield start
    for started in rigs:
        started.close()


@dataclass
class Outcome:
    """What the node published for one frame."""

    status: DiagnosticStatus
    pose: PoseWithCovarianceStamped
    range_msg: Range

    @property
    def values(self):
        """Return the status values as a dict."""
        return {kv.key: kv.value for kv in self.status.values}


class Rig:
    """A PerceptionNode under test and a node that feeds it and listens to it."""

    def __init__(self, context, parameter_overrides=()):
        """Create both nodes in one executor and wait until their topics are matched."""
        self.namespace = f'/transport_test_{os.getpid()}_{next(_NAMESPACES)}'
        self.node = PerceptionNode(context=context, namespace=self.namespace,
                                   parameter_overrides=list(parameter_overrides))
        self.tester = Node('transport_tester', namespace=self.namespace, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.tester)
        self.image_pub = self.tester.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.info_pub = self.tester.create_publisher(CameraInfo, 'camera_info',
                                                     qos_profile_sensor_data)
        self.qualities, self.poses, self.ranges = [], {}, {}
        self.tester.create_subscription(
            DiagnosticArray, 'detection_quality', self.qualities.append, RESULT_QOS)
        self.tester.create_subscription(
            PoseWithCovarianceStamped, 'target_pose',
            lambda msg: self.poses.setdefault(_stamp_ns(msg.header.stamp), []).append(msg),
            RESULT_QOS)
        self.tester.create_subscription(
            Range, 'target_range',
            lambda msg: self.ranges.setdefault(_stamp_ns(msg.header.stamp), []).append(msg),
            RESULT_QOS)
        self.parameter_client = self.tester.create_client(
            SetParameters, f'{self.namespace}/clingers_perception/set_parameters')
        self.frame_index = 0
        matched = self.spin_until(lambda: (
            self.image_pub.get_subscription_count() >= 1
            and self.info_pub.get_subscription_count() >= 1
            and all(self.tester.count_publishers(f'{self.namespace}/{topic}') >= 1
                    for topic in ('detection_quality', 'target_pose', 'target_range'))
            and self.parameter_client.service_is_ready()))
        assert matched, 'the test node and the perception node did not discover each other'

    def close(self):
        """Stop spinning and destroy both nodes."""
        self.executor.shutdown(timeout_sec=1.0)
        self.tester.destroy_node()
        self.node.destroy_node()

    def spin_until(self, condition, timeout_s=MESSAGE_TIMEOUT_S):
        """Spin until condition() holds; return False on timeout."""
        return spin_until(self.executor, condition, timeout_s)

    def drain(self, rounds=3):
        """Run whatever is ready, e.g. a pose published just before its quality."""
        for _ in range(rounds):
            self.executor.spin_once(timeout_sec=0.005)

    def next_header(self, image):
        """Stamp `image` one frame period after the previous frame."""
        stamp_ns = FIRST_STAMP_NS + self.frame_index * FRAME_PERIOD_NS
        self.frame_index += 1
        image.header.stamp.sec, image.header.stamp.nanosec = divmod(stamp_ns, 10 ** 9)
        image.header.frame_id = FRAME_ID
        return stamp_ns

    def send(self, image, camera_info=None):
        """
        Publish camera_info (as a driver does, with the image's header), then the image.

        Return the Outcome of that frame: its detection_quality status and, when published,
        its pose and range. Fail when no detection_quality with the frame's stamp arrives.
        """
        stamp_ns = self.next_header(image)
        if camera_info is not None:
            camera_info.header = image.header
            self.info_pub.publish(camera_info)
            self.drain()
        count = len(self.qualities)
        self.image_pub.publish(image)
        arrived = self.spin_until(lambda: len(self.qualities) > count)
        assert arrived, f'no detection_quality for the frame stamped {stamp_ns} ns'
        self.drain()
        quality = self.qualities[-1]
        assert _stamp_ns(quality.header.stamp) == stamp_ns, 'quality of another frame'
        assert len(quality.status) == 1
        poses, ranges = self.poses.get(stamp_ns, []), self.ranges.get(stamp_ns, [])
        assert len(poses) <= 1 and len(ranges) == len(poses), 'one pose and range per frame'
        return Outcome(quality.status[0], poses[0] if poses else None,
                       ranges[0] if ranges else None)

    def set_parameter(self, name, value):
        """Set one parameter through the node's set_parameters service; return the result."""
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])
        future = self.parameter_client.call_async(request)
        assert self.spin_until(future.done), f'set_parameters({name}) got no response'
        return future.result().results[0]


def image_message(pixels, encoding, big_endian=False):
    """Return an Image holding `pixels` (HxW or HxWxC uint8 / uint16) with no row padding."""
    height, width = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype('>u2' if big_endian else '<u2')
    data = np.ascontiguousarray(pixels).tobytes()
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian),
                step=len(data) // height)
    msg.data = data
    return msg


def render(renderer, pose, rng):
    """Render the target at pose (R, t); return the image array."""
    return renderer.render(led_points_in_camera(TARGET, *pose), rng=rng).image


def slow_approach(frames, start_range_m=1.0, end_range_m=0.9, seed=7):
    """Return target poses of a slow approach: a few millimetres per frame, like docking."""
    return approach_poses(ApproachSpec(start_range_m=start_range_m, end_range_m=end_range_m,
                                       frames=frames, lateral_offset_m=0.05,
                                       attitude_offset_deg=4.0, seed=seed))


def track(rig, renderers, poses, rng):
    """Send mono8 frames of `poses` until the node tracks; return the outcomes."""
    outcomes = [rig.send(image_message(render(renderers[8], pose, rng), 'mono8'),
                         camera_info_message(CAMERA))
                for pose in poses]
    assert outcomes[-1].pose is not None, outcomes[-1].status.message
    assert outcomes[-1].values['state'] == 'TRACKING'
    return outcomes


def assert_pose_matches(outcome, truth):
    """Check a published pose and range against the rendered truth and the contract."""
    rotation, translation = truth
    pose = outcome.pose.pose.pose
    position = np.array([pose.position.x, pose.position.y, pose.position.z])
    quaternion = [pose.orientation.x, pose.orientation.y, pose.orientation.z,
                  pose.orientation.w]
    range_m = float(np.linalg.norm(translation))
    assert np.linalg.norm(position - translation) < 0.01 * range_m, (position, translation)
    angle = rotation_angle_between(matrix_from_quaternion(quaternion), rotation)
    assert np.degrees(angle) < 1.0
    assert np.linalg.norm(quaternion) == pytest.approx(1.0, abs=1e-6)
    covariance = np.array(outcome.pose.pose.covariance, dtype=np.float64)
    assert covariance.size == 36
    covariance = covariance.reshape(6, 6)
    assert np.all(np.isfinite(covariance))
    assert np.allclose(covariance, covariance.T, rtol=0.0, atol=1e-9 * np.abs(covariance).max())
    assert np.all(np.linalg.eigvalsh(0.5 * (covariance + covariance.T)) > 0.0)
    assert outcome.range_msg.range == pytest.approx(float(np.linalg.norm(position)), rel=1e-6)
    assert outcome.range_msg.radiation_type == Range.INFRARED
    assert outcome.range_msg.min_range <= outcome.range_msg.range <= outcome.range_msg.max_range
    assert outcome.range_msg.field_of_view > 0.0
    for header in (outcome.pose.header, outcome.range_msg.header):
        assert header.frame_id == FRAME_ID


def assert_contract_values(outcome):
    """Check the detection_quality status of one frame against the contract."""
    values = outcome.values
    assert CONTRACT_KEYS <= set(values), f'missing keys: {CONTRACT_KEYS - set(values)}'
    assert values['state'] in ('ACQUIRING', 'TRACKING', 'LOST')
    assert values['leds_expected'] == str(TARGET.count)
    assert 'frames_received' in values and 'frames_dropped' in values
    assert int(values['hot_pixels']) >= 0
    # The diagnostic names the camera whose frame it judged.
    assert outcome.status.hardware_id == FRAME_ID
    confidence = float(values['confidence'])
    assert np.isnan(confidence) or 0.0 <= confidence <= 1.0
    assert outcome.status.message, 'a status needs a message a person can act on'
    if outcome.pose is not None:
        assert float(values['range_m']) == pytest.approx(outcome.range_msg.range, abs=1e-4)
        assert int(values['leds_matched']) >= 4
        assert 'centroid_noise_px' in values
        assert float(values['centroid_noise_px']) > 0.0
        assert values['detector_profile'].split('/')[0] in ('far', 'mid', 'near')


def test_topic_qos_matches_the_contract(rig):
    rig = rig()
    for topic in ('image', 'camera_info'):
        infos = rig.tester.get_subscriptions_info_by_topic(f'{rig.namespace}/{topic}')
        assert [i.qos_profile.reliability for i in infos] == [ReliabilityPolicy.BEST_EFFORT]
    for topic in ('target_pose', 'target_range', 'detection_quality'):
        infos = rig.tester.get_publishers_info_by_topic(f'{rig.namespace}/{topic}')
        assert [i.qos_profile.reliability for i in infos] == [ReliabilityPolicy.RELIABLE]


def test_approach_gives_one_quality_per_frame_and_accurate_stamped_poses(rig, renderers):
    rig = rig()
    rng = np.random.default_rng(11)
    truths = approach_poses(ApproachSpec(start_range_m=2.0, end_range_m=0.3, frames=40,
                                         lateral_offset_m=0.15, attitude_offset_deg=5.0,
                                         seed=3))
    stamps, outcomes = [], []
    # The same frames through a pipeline of the node's defaults, without ROS.
    offline, expected = LedPosePipeline(TARGET), []
    for truth in truths:
        image = image_message(render(renderers[8], truth, rng), 'mono8')
        info = camera_info_message(CAMERA)
        outcomes.append(rig.send(image, info))
        stamps.append(_stamp_ns(image.header.stamp))
        offline.set_camera_info(info.width, info.height, info.distortion_model, info.d, info.k,
                                info.p)
        expected.append(offline.process(raw_image(image), stamp_seconds(image.header.stamp)))

    assert [_stamp_ns(q.header.stamp) for q in rig.qualities] == stamps
    assert [int(o.values['frames_received']) for o in outcomes] == \
        list(range(1, len(truths) + 1))
    assert set(rig.poses) <= set(stamps) and set(rig.ranges) == set(rig.poses)
    for quality in rig.qualities:
        assert quality.header.frame_id == FRAME_ID
    # One frame to acquire, one to confirm: every frame from the second on gives a pose.
    published = [o.pose is not None for o in outcomes]
    assert published == [False] + [True] * (len(truths) - 1), \
        [o.status.message for o in outcomes if o.pose is None]
    for outcome, truth in zip(outcomes, truths):
        assert_contract_values(outcome)
        assert outcome.status.level in (DiagnosticStatus.OK, DiagnosticStatus.WARN)
        if outcome.pose is not None:
            assert outcome.status.level == DiagnosticStatus.OK, outcome.status.message
            assert_pose_matches(outcome, truth)
    # The covariance is published as the pipeline computed it, row-major, block by block.
    for outcome, offline_result in zip(outcomes, expected):
        assert (outcome.pose is None) == (offline_result.pose is None)
        if outcome.pose is not None:
            np.testing.assert_allclose(np.reshape(outcome.pose.pose.covariance, (6, 6)),
                                       offline_result.covariance, rtol=1e-6, atol=0.0)
    profiles = {o.values['detector_profile'].split('/')[0] for o in outcomes}
    assert profiles == {'far', 'mid', 'near'}, 'the approach crosses all three range bands'


def test_transform_message_is_the_published_pose():
    rotation = rotation_matrix([0.3, -0.2, 0.1]) @ FACING_ROTATION
    pose = PoseEstimate(rotation_vector(rotation), np.array([0.1, -0.05, 1.4]), 0.1, None)
    header = Header(frame_id=FRAME_ID)
    header.stamp.sec, header.stamp.nanosec = 12, 345
    transform = transform_message(header, 'dock', pose)
    published = pose_message(header, pose, np.eye(6))
    assert transform.header == header and transform.child_frame_id == 'dock'
    t, q = transform.transform.translation, transform.transform.rotation
    assert (t.x, t.y, t.z) == (0.1, -0.05, 1.4)
    o = published.pose.pose.orientation
    assert (q.x, q.y, q.z, q.w) == (o.x, o.y, o.z, o.w)
    np.testing.assert_allclose(matrix_from_quaternion([q.x, q.y, q.z, q.w]), rotation,
                               atol=1e-12)


def test_pose_message_keeps_the_covariance_row_major():
    """Each of 36 different covariance entries lands at row * 6 + column, nothing reordered."""
    pose = PoseEstimate(rotation_vector(FACING_ROTATION), np.array([0.1, -0.05, 1.4]), 0.1,
                        None)
    covariance = np.arange(36.0).reshape(6, 6)
    covariance = covariance + 100.0 * covariance.T
    published = pose_message(Header(frame_id=FRAME_ID), pose, covariance).pose.covariance
    assert list(published) == [float(covariance[row, column])
                               for row in range(6) for column in range(6)]
    # The position block first (x, y, z), then the rotation block (about x, y, z).
    assert published[0] == covariance[0, 0] and published[35] == covariance[5, 5]
    assert published[3] == covariance[0, 3] and published[18] == covariance[3, 0]


def test_target_frame_is_broadcast_on_tf_with_each_pose(rig, renderers):
    tf2_msgs = pytest.importorskip(
        'tf2_msgs.msg', reason='tf2_msgs is not installed (no pip wheel of it here); it is in '
        'every ROS 2 install')
    rig = rig(target_frame='dock_under_test')
    transforms = {}
    rig.tester.create_subscription(
        tf2_msgs.TFMessage, '/tf',
        lambda msg: transforms.update((_stamp_ns(t.header.stamp), t) for t in msg.transforms
                                      if t.child_frame_id == 'dock_under_test'),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    assert rig.spin_until(lambda: rig.tester.count_publishers('/tf') >= 1)
    rng = np.random.default_rng(5)
    truths = approach_poses(ApproachSpec(start_range_m=1.5, end_range_m=1.2, frames=6, seed=2))
    for truth in truths:
        rig.send(image_message(render(renderers[8], truth, rng), 'mono8'),
                 camera_info_message(CAMERA))
    assert rig.spin_until(lambda: set(transforms) >= set(rig.poses))
    assert len(rig.poses) == len(truths) - 1
    for stamp, [pose] in rig.poses.items():
        transform = transforms[stamp]
        assert transform.header.frame_id == FRAME_ID
        t, p = transform.transform.translation, pose.pose.pose.position
        assert (t.x, t.y, t.z) == (p.x, p.y, p.z)


def _wrong_step(image, info):
    image.step = image.width - 1
    return image, info, 'step'


def _short_data(image, info):
    image.data = bytes(image.data)[:image.step * image.height // 2]
    return image, info, 'data holds'


def _unknown_encoding(image, info):
    image.encoding = 'yuv422'
    return image, info, 'yuv422'


def _uncalibrated_camera_info(image, info):
    # What a driver without a calibration publishes: all zeros, no distortion model.
    return image, CameraInfo(width=info.width, height=info.height), 'uncalibrated'


def _nan_camera_info(image, info):
    k = list(info.k)
    k[0] = float('nan')
    info.k = k
    return image, info, 'NaN'


@pytest.mark.parametrize('spoil', [_wrong_step, _short_data, _unknown_encoding,
                                   _uncalibrated_camera_info, _nan_camera_info],
                         ids=lambda f: f.__name__.lstrip('_'))
def test_bad_input_is_an_error_and_the_next_good_frame_gives_a_pose(rig, renderers, spoil):
    rig = rig()
    rng = np.random.default_rng(21)
    poses = slow_approach(6)
    track(rig, renderers, poses[:4], rng)
    image = image_message(render(renderers[8], poses[4], rng), 'mono8')
    image, info, named = spoil(image, camera_info_message(CAMERA))
    bad = rig.send(image, info)
    assert bad.status.level == DiagnosticStatus.ERROR
    assert named in bad.status.message, bad.status.message
    assert bad.pose is None
    assert_contract_values(bad)
    assert bad.values['range_m'] == 'nan'

    good = rig.send(image_message(render(renderers[8], poses[5], rng), 'mono8'),
                    camera_info_message(CAMERA))
    assert good.pose is not None, good.status.message
    assert_pose_matches(good, poses[5])


def test_image_before_any_camera_info_is_an_error(rig, renderers):
    # confirm_frames = 1 publishes an acquired pose at once, so that "the next good frame gives
    # a pose" holds from a fresh start as it does while tracking.
    rig = rig(confirm_frames=1)
    rng = np.random.default_rng(31)
    poses = slow_approach(2)
    bad = rig.send(image_message(render(renderers[8], poses[0], rng), 'mono8'))
    assert bad.status.level == DiagnosticStatus.ERROR
    assert 'camera_info' in bad.status.message, bad.status.message
    assert bad.pose is None
    assert_contract_values(bad)
    good = rig.send(image_message(render(renderers[8], poses[1], rng), 'mono8'),
                    camera_info_message(CAMERA))
    assert good.pose is not None, good.status.message
    assert_pose_matches(good, poses[1])


@pytest.mark.parametrize('name, value, named', [
    ('led_positions', [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.1, 0.0], 'at least 4 LEDs'),
    ('led_positions', [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0, 0.3, 0.0, 0.0],
     'collinear'),
    ('led_positions', [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.1], '3 values per LED'),
    ('bands.far.min_circularity', 1.5, 'bands.far.min_circularity'),
    ('bands.near.threshold_min', 300, 'bands.near.threshold_min'),
    ('bands.mid.min_range_m', 5.0, 'min_range_m must decrease'),
    ('detector_backend', 'orb', 'detector_backend'),
], ids=['too_few_leds', 'collinear_leds', 'ragged_leds', 'band_value_out_of_range',
        'band_threshold_out_of_range', 'bands_out_of_order', 'unknown_backend'])
def test_invalid_parameters_are_refused_with_a_reason(rig, renderers, name, value, named):
    rig = rig()
    rng = np.random.default_rng(41)
    poses = slow_approach(4)
    track(rig, renderers, poses[:3], rng)
    before = rig.node.get_parameter(name).value
    result = rig.set_parameter(name, value)
    assert not result.successful
    assert named in result.reason, result.reason
    after = rig.node.get_parameter(name).value
    assert np.array_equal(np.asarray(after), np.asarray(before)), 'a refused value was kept'
    # A refused change leaves the track alone: the next frame still gives a pose.
    outcome = rig.send(image_message(render(renderers[8], poses[3], rng), 'mono8'),
                       camera_info_message(CAMERA))
    assert outcome.pose is not None, outcome.status.message
    assert outcome.values['state'] == 'TRACKING'


def test_detector_backend_change_takes_effect_on_the_next_frame(rig, renderers):
    rig = rig()
    rng = np.random.default_rng(51)
    poses = slow_approach(8)
    outcomes = track(rig, renderers, poses[:3], rng)
    assert outcomes[-1].values['detector_profile'].endswith('/threshold')
    result = rig.set_parameter('detector_backend', 'simple_blob')
    assert result.successful, result.reason
    assert rig.node.get_parameter('detector_backend').value == 'simple_blob'
    after = [rig.send(image_message(render(renderers[8], pose, rng), 'mono8'),
                      camera_info_message(CAMERA)) for pose in poses[3:]]
    assert all(o.values['detector_profile'].endswith('/simple_blob') for o in after)
    # The new detector restarts the track; it is confirmed again within confirm_frames.
    assert after[1].pose is not None and after[-1].pose is not None
    for outcome, truth in zip(after, poses[3:]):
        if outcome.pose is not None:
            assert_pose_matches(outcome, truth)


def _mono16_12_bit(renderers, pose, rng):
    # A 12-bit sensor delivering 16-bit words: only the low 12 bits are used.
    return image_message(render(renderers[16], pose, rng) >> 4, 'mono16')


def _mono16_big_endian(renderers, pose, rng):
    return image_message(render(renderers[16], pose, rng) >> 4, 'mono16', big_endian=True)


def _bgr8(renderers, pose, rng):
    gray = render(renderers[8], pose, rng)
    return image_message(np.repeat(gray[:, :, None], 3, axis=2), 'bgr8')


@pytest.mark.parametrize('make_image', [_mono16_12_bit, _mono16_big_endian, _bgr8],
                         ids=lambda f: f.__name__.lstrip('_'))
def test_other_encodings_give_poses(rig, renderers, make_image):
    rig = rig(mono16_bits=12)
    rng = np.random.default_rng(61)
    poses = slow_approach(4, start_range_m=1.5, end_range_m=1.4)
    outcomes = [rig.send(make_image(renderers, pose, rng), camera_info_message(CAMERA))
                for pose in poses]
    assert all(o.status.level != DiagnosticStatus.ERROR for o in outcomes), \
        [o.status.message for o in outcomes]
    assert all(o.pose is not None for o in outcomes[1:]), \
        [o.status.message for o in outcomes]
    for outcome, truth in zip(outcomes[1:], poses[1:]):
        assert_pose_matches(outcome, truth)
        assert_contract_values(outcome)


def test_undecodable_payload_does_not_stop_the_node(rig, renderers):
    # What a buggy bridge or a corrupted recording could send: the rmw cannot deserialize it
    # and drops it before the node (Fast DDS logs "sequence size exceeds remaining buffer").
    # The node must not notice, and the next frame must give its pose.
    rig = rig()
    rng = np.random.default_rng(61)
    poses = slow_approach(6)
    tracked = track(rig, renderers, poses[:4], rng)
    assert [o.values['frames_dropped'] for o in tracked] == ['0'] * 4
    image = image_message(render(renderers[8], poses[4], rng), 'mono8')
    rig.next_header(image)
    rig.image_pub.publish(serialize_message(image)[:-1000])
    rig.drain(rounds=10)
    good = rig.send(image_message(render(renderers[8], poses[5], rng), 'mono8'),
                    camera_info_message(CAMERA))
    assert good.pose is not None, good.status.message
    assert_pose_matches(good, poses[5])
    # The stamp of the frame that never arrived is counted as one dropped.
    assert good.values['frames_dropped'] == '1'


def _stamp_ns(stamp):
    return stamp.sec * 10 ** 9 + stamp.nanosec
