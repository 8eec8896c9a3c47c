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

"""perception_node: IR frames in; target pose, range and detection quality out."""

from clingers_perception.heap_tuning import keep_frame_buffers_in_heap
from clingers_perception.parameters import build_config, PARAMETER_SPECS
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.ros_conversions import (diagnostic_message, pose_message,
                                                 range_message, raw_image, stamp_seconds,
                                                 transform_message)
from clingers_perception.ros_node_support import run_node, ValidatedParameters
from clingers_perception.ros_visualization import debug_image, marker_array
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image, Range
from visualization_msgs.msg import MarkerArray
try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # every ROS 2 install has it, the pip-installed one of the tests not
    TFMessage = None


# Results are small and each one matters to guidance: reliable, a short queue.
RESULT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# What tf2_ros's TransformBroadcaster uses for /tf.
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class PerceptionNode(Node):
    """Thin ROS glue around LedPosePipeline."""

    def __init__(self, **kwargs):
        """Declare parameters, build the pipeline, and connect topics."""
        super().__init__('clingers_perception', **kwargs)
        self._validated_parameters = ValidatedParameters(self, PARAMETER_SPECS, build_config)
        self._config = self._validated_parameters.build()
        self._pipeline = LedPosePipeline(self._config.target, self._config.settings)
        self._camera_info_error = None
        # The last camera_info, and what was parsed of it: parsed again only when it changes.
        self._camera_info = None
        self._calibration = None
        self.frames_in = 0
        self._pose_pub = self.create_publisher(PoseWithCovarianceStamped, 'target_pose',
                                               RESULT_QOS)
        self._range_pub = self.create_publisher(Range, 'target_range', RESULT_QOS)
        self._quality_pub = self.create_publisher(DiagnosticArray, 'detection_quality',
                                                  RESULT_QOS)
        # For people watching in rviz2: built only while someone subscribes.
        self._marker_pub = self.create_publisher(MarkerArray, 'markers', RESULT_QOS)
        self._debug_pub = self.create_publisher(Image, 'debug_image', qos_profile_sensor_data)
        self._tf_pub = self._tf_publisher() if self._config.publish_tf else None
        overrides = QoSOverridingOptions.with_default_policies()
        self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info,
                                 qos_profile_sensor_data, qos_overriding_options=overrides)
        self.create_subscription(Image, 'image', self._on_image, qos_profile_sensor_data,
                                 qos_overriding_options=overrides)
        self.get_logger().info(
            f'watching {self._config.target.count} LEDs '
            f"({'coplanar' if self._config.target.coplanar else 'non-coplanar'} layout) with "
            f'the {self._config.settings.detector_backend} detector')

    def _on_camera_info(self, msg):
        self._camera_info = msg
        # Drivers repeat the same calibration with every frame: only a change is parsed.
        calibration = (msg.width, msg.height, msg.distortion_model, tuple(msg.d), tuple(msg.k),
                       tuple(msg.p), self._config.image_is_rectified)
        if calibration == self._calibration:
            return
        self._calibration = calibration
        error = self._pipeline.set_camera_info(
            msg.width, msg.height, msg.distortion_model, msg.d, msg.k, msg.p,
            self._config.image_is_rectified)
        if error and error != self._camera_info_error:
            self.get_logger().error(f'camera_info refused: {error}')
        self._camera_info_error = error

    def _on_image(self, msg):
        self.frames_in += 1
        stamp = stamp_seconds(msg.header.stamp)
        try:
            if self._validated_parameters.pending:
                self._apply_parameters()
            result = self._pipeline.process(raw_image(msg), stamp)
        except Exception as error:  # noqa: B902 - one bad frame must not stop the node
            result = self._pipeline.frame_error(stamp, f'internal error: {error!r}')
        quality = result.quality
        if result.pose is not None:
            self._pose_pub.publish(pose_message(msg.header, result.pose, result.covariance))
            limits = self._config.settings.identification
            self._range_pub.publish(range_message(
                msg.header, result.pose.range_m, self._pipeline.camera.horizontal_fov_rad,
                limits.min_range_m, limits.max_range_m))
            if self._tf_pub is not None:
                self._broadcast(msg.header, result.pose)
        quality.extra['frames_received'] = self.frames_in
        quality.extra['frames_dropped'] = self._pipeline.frame_gaps.dropped
        quality.extra['hot_pixels'] = self._pipeline.defects.count
        self._quality_pub.publish(diagnostic_message(
            msg.header, f'{self.get_name()}: LED detection', msg.header.frame_id, quality))
        if self._marker_pub.get_subscription_count() > 0:
            self._marker_pub.publish(marker_array(
                msg.header, result, self._config.target.positions, self._config.target_frame))
        if self._debug_pub.get_subscription_count() > 0:
            model_px = self._pipeline.model_pixels(result.pose) \
                if result.pose is not None else None
            annotated = debug_image(msg, result, model_px, self._config.settings.mono16_bits,
                                    self._config.settings.max_image_bytes)
            if annotated is not None:
                self._debug_pub.publish(annotated)

    def _tf_publisher(self):
        if TFMessage is None:
            self.get_logger().warning('publish_tf: tf2_msgs is not installed, so the target '
                                      'frame is not broadcast on /tf')
            return None
        # Absolute, as tf2_ros has it: one tree for the whole system.
        return self.create_publisher(TFMessage, '/tf', TF_QOS)

    def _broadcast(self, header, pose):
        if not header.frame_id:
            self.get_logger().warning('the image has no frame_id: the target is not broadcast '
                                      'on /tf', throttle_duration_sec=5.0)
            return
        self._tf_pub.publish(TFMessage(
            transforms=[transform_message(header, self._config.target_frame, pose)]))

    def _apply_parameters(self):
        rectified = self._config.image_is_rectified
        self._config = self._validated_parameters.build()
        self._pipeline.configure(self._config.target, self._config.settings)
        if self._config.image_is_rectified != rectified and self._camera_info is not None:
            # The same camera_info now means another camera model (P instead of K and D).
            self._on_camera_info(self._camera_info)


def main(args=None):
    """Run the node until shutdown."""
    keep_frame_buffers_in_heap()
    run_node(PerceptionNode, args)


if __name__ == '__main__':
    main()
