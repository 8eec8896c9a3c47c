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
launch_testing test of launch/perception.launch.py on a ROS 2 system.

The launch file starts perception_node in a namespace of its own with its inputs remapped; this
process plays the camera driver: it publishes rendered 1280x1024 frames and their camera_info
with the sensor-data QoS and the package's Fast DDS profile, as the README tells a driver to,
and waits for detection_quality and target_pose. Skipped where launch_testing is not installed
(the PyPI-based environment of `make test`).
"""

import os
from pathlib import Path
import tempfile
import time
import unittest

import pytest

try:
    import launch_testing
    import launch_testing.actions
    import launch_testing.asserts
    from launch import LaunchDescription
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
except ImportError:
    pytest.skip('launch_testing is not installed', allow_module_level=True)

# Imported after the skip above, so that a system without launch_testing skips cleanly.
from clingers_perception.approach_trajectory import (  # noqa: I100
    approach_poses, ApproachSpec, led_points_in_camera)
from clingers_perception.dds_profile import profile_environment
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.ros_conversions import camera_info_message
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
from rcl_interfaces.srv import GetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LAUNCH_FILE = PACKAGE_DIR / 'launch' / 'perception.launch.py'
DDS_PROFILE = PACKAGE_DIR / 'config' / 'fastdds.xml'
# A namespace and camera topics of this run only, so that other ROS 2 processes in the same
# domain neither feed this node nor listen to it.
NAMESPACE = f'perception_launch_test_{os.getpid()}'
IMAGE_TOPIC = f'/{NAMESPACE}_camera/image_raw'
CAMERA_INFO_TOPIC = f'/{NAMESPACE}_camera/camera_info'
FRAME_ID = 'ir_camera_optical_frame'
CONTRACT_KEYS = {'state', 'leds_expected', 'leds_detected', 'leds_matched',
                 'reprojection_rms_px', 'confidence', 'range_m', 'detector_profile',
                 'processing_ms'}
CAMERA = default_sim_camera(1280, 1024)
TARGET = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
FRAME_PERIOD_S = 0.1
TIMEOUT_S = 30.0
# A parameter file of this run with one value off its default: the test can tell that the
# launch file's params_file argument reached the node.
PARAMS_FILE = Path(tempfile.gettempdir()) / f'{NAMESPACE}_params.yaml'
COAST_FRAMES = 7


@pytest.mark.launch_test
def generate_test_description():
    # This process plays the camera driver, so it uses the large-frame profile as the node
    # does. Fast DDS reads the variable when the process creates its first participant: set it
    # here, before the launch starts anything.
    os.environ.update(profile_environment(DDS_PROFILE))
    PARAMS_FILE.write_text(f'/**:\n  ros__parameters:\n    max_coast_frames: {COAST_FRAMES}\n')
    perception = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={
            'namespace': NAMESPACE,
            'image': IMAGE_TOPIC,
            'camera_info': CAMERA_INFO_TOPIC,
            'params_file': str(PARAMS_FILE),
            'log_level': 'info',
        }.items())
    return LaunchDescription([perception, launch_testing.actions.ReadyToTest()])


def _frames():
    """Yield mono8 Images of the target approaching slowly from 1.2 m, as a driver would."""
    renderer = IrSceneRenderer(CAMERA)
    rng = np.random.default_rng(0)
    poses = approach_poses(ApproachSpec(start_range_m=1.2, end_range_m=0.9, frames=300,
                                        lateral_offset_m=0.05, seed=1))
    for pose in poses:
        pixels = renderer.render(led_points_in_camera(TARGET, *pose), rng=rng).image
        msg = Image(height=CAMERA.height, width=CAMERA.width, encoding='mono8',
                    step=CAMERA.width)
        msg.data = pixels.tobytes()
        yield msg


class TestPerceptionLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.context = rclpy.Context()
        rclpy.init(context=cls.context)
        cls.node = Node('perception_launch_tester', context=cls.context)
        cls.executor = SingleThreadedExecutor(context=cls.context)
        cls.executor.add_node(cls.node)

    @classmethod
    def tearDownClass(cls):
        cls.executor.shutdown(timeout_sec=1.0)
        cls.node.destroy_node()
        rclpy.try_shutdown(context=cls.context)

    def _stream_until(self, topic, message_type, accept):
        """Publish frames until a message on `topic` passes `accept`; return it or None."""
        image_pub = self.node.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        info_pub = self.node.create_publisher(CameraInfo, CAMERA_INFO_TOPIC,
                                              qos_profile_sensor_data)
        received = []
        subscription = self.node.create_subscription(
            message_type, f'/{NAMESPACE}/{topic}', received.append,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        sent_stamps = set()
        deadline = time.monotonic() + TIMEOUT_S
        try:
            for image in _frames():
                if time.monotonic() > deadline:
                    break
                now = self.node.get_clock().now().to_msg()
                image.header.stamp, image.header.frame_id = now, FRAME_ID
                info = camera_info_message(CAMERA)
                info.header = image.header
                info_pub.publish(info)
                image_pub.publish(image)
                sent_stamps.add((now.sec, now.nanosec))
                next_frame = time.monotonic() + FRAME_PERIOD_S
                while time.monotonic() < next_frame:
                    self.executor.spin_once(timeout_sec=0.01)
                for msg in received:
                    stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
                    if stamp in sent_stamps and accept(msg):
                        return msg
            return None
        finally:
            self.node.destroy_subscription(subscription)
            self.node.destroy_publisher(image_pub)
            self.node.destroy_publisher(info_pub)

    def test_node_starts_with_the_parameter_file(self, proc_output):
        proc_output.assertWaitFor('watching 4 LEDs (non-coplanar layout)', timeout=TIMEOUT_S)
        client = self.node.create_client(
            GetParameters, f'/{NAMESPACE}/clingers_perception/get_parameters')
        try:
            self.assertTrue(client.wait_for_service(timeout_sec=TIMEOUT_S))
            future = client.call_async(GetParameters.Request(names=['max_coast_frames']))
            deadline = time.monotonic() + TIMEOUT_S
            while not future.done() and time.monotonic() < deadline:
                self.executor.spin_once(timeout_sec=0.1)
            self.assertTrue(future.done(), 'no reply from get_parameters')
            self.assertEqual(future.result().values[0].integer_value, COAST_FRAMES)
        finally:
            self.node.destroy_client(client)

    def test_detection_quality_arrives_for_a_rendered_frame(self):
        quality = self._stream_until(
            'detection_quality', DiagnosticArray,
            lambda msg: msg.status and msg.status[0].level != DiagnosticStatus.ERROR)
        self.assertIsNotNone(quality, 'no detection_quality for a frame with its camera_info')
        self.assertEqual(quality.header.frame_id, FRAME_ID)
        keys = {value.key for value in quality.status[0].values}
        self.assertLessEqual(CONTRACT_KEYS, keys)

    def test_target_pose_arrives_in_the_camera_frame(self):
        pose = self._stream_until('target_pose', PoseWithCovarianceStamped, lambda msg: True)
        self.assertIsNotNone(pose, 'no target_pose while the target was in view')
        self.assertEqual(pose.header.frame_id, FRAME_ID)
        self.assertTrue(0.8 < pose.pose.pose.position.z < 1.3, pose.pose.pose.position)


@launch_testing.post_shutdown_test()
class TestPerceptionShutdown(unittest.TestCase):

    def test_node_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
