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
docking_guidance: the reference consumer of perception_node's outputs.

Subscribes to target_pose, target_range and detection_quality; at `control_rate_hz` publishes
`cmd_vel` (geometry_msgs/TwistStamped in the camera optical frame: linear = chaser velocity,
angular = chaser angular rate) and `docking_status` (std_msgs/String: the phase). The rules are
in docking_guidance.py.
"""

from clingers_perception.docking_guidance import (DockingGuidance, GUIDANCE_PARAMETER_SPECS,
                                                  settings_from_values)
from clingers_perception.ros_conversions import pose_from_message, stamp_seconds
from clingers_perception.ros_node_support import run_node, ValidatedParameters
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Range
from std_msgs.msg import String

# Commands and results: reliable, a short queue (matches perception_node's outputs).
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class DockingGuidanceNode(Node):
    """Thin ROS glue around DockingGuidance."""

    def __init__(self, **kwargs):
        """Declare parameters, connect topics and start the control timer."""
        super().__init__('docking_guidance', **kwargs)
        self._validated_parameters = ValidatedParameters(
            self, GUIDANCE_PARAMETER_SPECS, settings_from_values)
        self.guidance = DockingGuidance(self._validated_parameters.build())
        self._frame_id = ''
        self._cmd_pub = self.create_publisher(TwistStamped, 'cmd_vel', RELIABLE_QOS)
        self._status_pub = self.create_publisher(String, 'docking_status', RELIABLE_QOS)
        self.create_subscription(PoseWithCovarianceStamped, 'target_pose', self._on_pose,
                                 RELIABLE_QOS)
        self.create_subscription(Range, 'target_range', self._on_range, RELIABLE_QOS)
        self.create_subscription(DiagnosticArray, 'detection_quality', self._on_quality,
                                 RELIABLE_QOS)
        self.create_timer(1.0 / self.get_parameter('control_rate_hz').value, self._on_timer)
        self._phase = None

    def _on_pose(self, msg):
        if not self.guidance.update_pose(stamp_seconds(msg.header.stamp),
                                         *pose_from_message(msg.pose.pose)):
            self.get_logger().warning(
                'target_pose with NaN or inf (or a zero quaternion) ignored',
                throttle_duration_sec=5.0)
            return
        self._frame_id = msg.header.frame_id

    def _on_range(self, msg):
        self.guidance.update_range(stamp_seconds(msg.header.stamp), msg.range)

    def _on_quality(self, msg):
        if not msg.status:
            return
        status = msg.status[0]
        values = {item.key: item.value for item in status.values}
        level = status.level[0] if isinstance(status.level, (bytes, bytearray)) \
            else int(status.level)
        self.guidance.update_quality(stamp_seconds(msg.header.stamp), level,
                                     values.get('state', ''),
                                     _number(values.get('confidence', 'nan')))

    def _on_timer(self):
        if self._validated_parameters.pending:
            self.guidance.settings = self._validated_parameters.build()
        if not self.context.ok():
            return
        now = self.get_clock().now()
        command = self.guidance.command(now.nanoseconds * 1e-9)
        if command.phase != self._phase:
            self._phase = command.phase
            self.get_logger().info(f'{command.phase}: {command.reason}')
        msg = TwistStamped()
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = self._frame_id
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = \
            (float(v) for v in command.linear)
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = \
            (float(v) for v in command.angular)
        self._cmd_pub.publish(msg)
        self._status_pub.publish(String(data=command.phase))


def _number(text):
    try:
        return float(text)
    except ValueError:
        return float('nan')


def main(args=None):
    """Run the node until shutdown."""
    run_node(DockingGuidanceNode, args)


if __name__ == '__main__':
    main()
