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

"""Conversions between ROS messages and the pure pipeline's types; no node logic here."""

from clingers_perception.image_decoding import RawImage
from clingers_perception.transforms import matrix_from_quaternion, quaternion_from_matrix
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped
import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from sensor_msgs.msg import CameraInfo, Range


_LEVELS = {0: DiagnosticStatus.OK, 1: DiagnosticStatus.WARN, 2: DiagnosticStatus.ERROR}


def raw_image(msg):
    """Return the RawImage view of a sensor_msgs/Image, without copying its data."""
    return RawImage(msg.encoding, msg.width, msg.height, msg.step, bool(msg.is_bigendian),
                    msg.data)


def camera_info_message(camera, header=None):
    """
    Return the CameraInfo of a CameraModel, as a driver of the raw image would send it.

    K and D (plumb_bob for 5 coefficients, rational_polynomial for 8), R = I, and P = [K | 0]:
    the rectified image would keep K.
    """
    msg = CameraInfo()
    if header is not None:
        msg.header = header
    msg.width, msg.height = camera.width, camera.height
    msg.distortion_model = 'plumb_bob' if camera.distortion.size <= 5 else 'rational_polynomial'
    msg.d = [float(v) for v in camera.distortion]
    msg.k = [float(v) for v in camera.camera_matrix.reshape(9)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [float(v) for v in np.hstack([camera.camera_matrix, np.zeros((3, 1))]).reshape(12)]
    return msg


def stamp_seconds(stamp):
    """Return a builtin_interfaces/Time as float seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def stamp_nanoseconds(stamp):
    """Return a builtin_interfaces/Time as integer nanoseconds: exact, to key by stamp."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def pose_from_message(pose):
    """Return (R, t) of a geometry_msgs/Pose: the 3x3 rotation and the translation array."""
    q = pose.orientation
    return (matrix_from_quaternion([q.x, q.y, q.z, q.w]),
            np.array([pose.position.x, pose.position.y, pose.position.z]))


def pose_message(header, pose, covariance):
    """Return a PoseWithCovarianceStamped of the target in the camera frame."""
    msg = PoseWithCovarianceStamped()
    msg.header = header
    msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = \
        (float(v) for v in pose.tvec)
    _set_quaternion(msg.pose.pose.orientation, pose.rotation)
    msg.pose.covariance = [float(v) for v in covariance.reshape(36)]
    return msg


def transform_message(header, child_frame_id, pose):
    """Return the TransformStamped of the target frame `child_frame_id` in the camera frame."""
    msg = TransformStamped()
    msg.header = header
    msg.child_frame_id = child_frame_id
    translation = msg.transform.translation
    translation.x, translation.y, translation.z = (float(v) for v in pose.tvec)
    _set_quaternion(msg.transform.rotation, pose.rotation)
    return msg


def _set_quaternion(orientation, rotation):
    orientation.x, orientation.y, orientation.z, orientation.w = \
        (float(v) for v in quaternion_from_matrix(rotation))


def range_message(header, range_m, field_of_view_rad, min_range_m, max_range_m):
    """Return a sensor_msgs/Range for the distance to the target origin."""
    msg = Range()
    msg.header = header
    msg.radiation_type = Range.INFRARED
    msg.field_of_view = float(field_of_view_rad)
    msg.min_range = float(min_range_m)
    msg.max_range = float(max_range_m)
    msg.range = float(range_m)
    return msg


def diagnostic_message(header, name, hardware_id, quality):
    """Return a DiagnosticArray holding the one status of a QualityReport."""
    status = DiagnosticStatus()
    status.level = _LEVELS[quality.level]
    status.name = name
    status.message = quality.message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=key, value=value) for key, value in quality.key_values()]
    msg = DiagnosticArray()
    msg.header = header
    msg.status = [status]
    return msg


def parameter_descriptor(spec):
    """Return the rcl_interfaces ParameterDescriptor of a parameters.ParameterSpec."""
    descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
    if spec.choices is not None:
        descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if spec.low is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif spec.low is not None and isinstance(spec.default, int) \
            and not isinstance(spec.default, bool):
        descriptor.integer_range = [
            IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return descriptor
