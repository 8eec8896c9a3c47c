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
ir_camera_sim: a simulated IR camera on the chaser, watching the target unit's LEDs.

Publishes like a camera driver: `image` (mono8, or mono16) and `camera_info` (K and D of the raw
image, plumb_bob) with the sensor-data QoS, and the true target pose on
`ground_truth/target_pose`, all three with one stamp per frame. The frames come from
IrSceneRenderer (ir_scene.py). The chaser either flies the scripted approach of
approach_trajectory.py (mode scripted, looping) or integrates the TwistStamped commands on
`cmd_vel` (mode closed_loop), in the camera optical frame as docking_guidance.apply_twist states.
"""

from dataclasses import dataclass, replace

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.camera_model import CameraModel, CameraModelError
from clingers_perception.docking_guidance import apply_twist
from clingers_perception.ir_scene import (default_sim_camera, IrSceneConfig, IrSceneRenderer,
                                          random_distractors)
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget, LedTargetError
from clingers_perception.parameters import check_values, ParameterSpec
from clingers_perception.ros_conversions import camera_info_message
from clingers_perception.ros_node_support import run_node, ValidatedParameters
from clingers_perception.transforms import quaternion_from_matrix
from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

MODES = ('scripted', 'closed_loop')
ENCODINGS = ('mono8', 'mono16')
_DEFAULT_CAMERA = default_sim_camera()
_SCENE = IrSceneConfig()

SIM_PARAMETER_SPECS = (
    ParameterSpec('width', 1280, 'image width (pixels)', 64, 8192, read_only=True),
    ParameterSpec('height', 1024, 'image height (pixels)', 48, 8192, read_only=True),
    ParameterSpec('rate_hz', 30.0, 'frame rate (Hz)', 0.5, 240.0, read_only=True),
    ParameterSpec('encoding', 'mono8', 'image encoding: mono8, or mono16 (16-bit full scale)',
                  read_only=True, choices=ENCODINGS),
    ParameterSpec('frame_id', 'ir_camera_optical_frame',
                  'camera optical frame (REP 103): header.frame_id of every output',
                  read_only=True),
    ParameterSpec('camera_matrix', [0.0] * 9,
                  'K of the raw image, row-major 3x3; all zeros: the built-in 85 deg lens '
                  'scaled to width', read_only=True),
    ParameterSpec('distortion_coefficients', [float(v) for v in _DEFAULT_CAMERA.distortion],
                  'plumb_bob D: k1, k2, p1, p2, k3', read_only=True),
    ParameterSpec('led_positions', [float(v) for v in DEFAULT_LED_POSITIONS],
                  'LED centres in the target frame (m): x1, y1, z1, x2, ...; must match the '
                  'perception node', read_only=True),
    ParameterSpec('mode', 'closed_loop',
                  'scripted: fly the approach of approach_trajectory, looping; closed_loop: '
                  'integrate cmd_vel', read_only=True, choices=MODES),
    ParameterSpec('start_range_m', 3.0, 'range (m) from the camera to the target at start',
                  0.05, 50.0, read_only=True),
    ParameterSpec('end_range_m', 0.12, 'scripted mode: range (m) at the end of the approach',
                  0.02, 50.0, read_only=True),
    ParameterSpec('scripted_frames', 300, 'scripted mode: frames from start to end range',
                  2, 1000000, read_only=True),
    ParameterSpec('lateral_offset_m', 0.2, 'offset (m) of the target across the line of sight '
                  'at the start range', 0.0, 50.0, read_only=True),
    ParameterSpec('attitude_offset_deg', 5.0, 'attitude error (deg) at the start range',
                  0.0, 90.0, read_only=True),
    ParameterSpec('off_axis_angle_deg', 0.0, 'tilt (deg) of the target about the camera y axis',
                  -80.0, 80.0, read_only=True),
    ParameterSpec('roll_deg', 0.0, 'roll (deg) of the target about its docking axis',
                  -180.0, 180.0, read_only=True),
    ParameterSpec('cmd_timeout_s', 0.5, 'closed_loop: a cmd_vel older than this (s) counts as '
                  'zero', 0.01, 10.0),
    ParameterSpec('distractor_count', 0, 'bright spots that are not LEDs (glints, reflections, '
                  'hot spots), fixed in the image', 0, 100),
    ParameterSpec('occluded_led', 0, 'LED hidden from the camera, 1..N; 0: none', 0, 1000),
    ParameterSpec('flare_strength', _SCENE.flare_strength,
                  'brightness of the flare streaks at close range; 0 turns flare off',
                  0.0, 100.0),
    ParameterSpec('noise_sigma_dn', _SCENE.noise_sigma_dn, 'read noise sigma (8-bit DN)',
                  0.0, 50.0),
    ParameterSpec('hot_pixel_count', _SCENE.hot_pixel_count, 'fixed hot pixels of the sensor',
                  0, 100000),
    ParameterSpec('seed', 0, 'seed of the noise, hot pixels, distractors and offsets',
                  0, 2 ** 31 - 1, read_only=True),
)
_SPECS = {spec.name: spec for spec in SIM_PARAMETER_SPECS}


@dataclass(frozen=True)
class SimSetup:
    """Everything the simulated camera runs with, built and checked from the parameters."""

    camera: CameraModel
    scene: IrSceneConfig
    target: LedTarget
    approach: ApproachSpec
    values: dict


def build_sim_setup(values):
    """Return the SimSetup of {parameter name: value}; ValueError says what is wrong."""
    check_values(values, _SPECS)
    width, height = values['width'], values['height']
    if not values['frame_id']:
        raise ValueError('frame_id must not be empty')
    matrix = list(values['camera_matrix'])
    if len(matrix) != 9:
        raise ValueError(f'camera_matrix needs 9 values, got {len(matrix)}')
    if len(values['distortion_coefficients']) != 5:
        raise ValueError('distortion_coefficients needs the 5 plumb_bob values')
    if not any(matrix):
        matrix = [float(v) for v in default_sim_camera(width, height).camera_matrix.reshape(9)]
    projection = matrix[0:3] + [0.0] + matrix[3:6] + [0.0] + matrix[6:9] + [0.0]
    try:
        camera = CameraModel.from_camera_info(width, height, 'plumb_bob',
                                              values['distortion_coefficients'], matrix,
                                              projection)
        target = LedTarget.from_flat(values['led_positions'])
    except (CameraModelError, LedTargetError) as error:
        raise ValueError(str(error)) from None
    if values['occluded_led'] > target.count:
        raise ValueError(f"occluded_led = {values['occluded_led']} but there are only "
                         f'{target.count} LEDs')
    if values['distractor_count']:
        # Placed on the next frame, when a failure could only stop the node: try it now.
        try:
            random_distractors(np.random.default_rng(values['seed']), camera,
                               values['distractor_count'])
        except ValueError as error:
            raise ValueError(f'distractor_count: {error}') from None
    scene = replace(_SCENE, flare_strength=values['flare_strength'],
                    noise_sigma_dn=values['noise_sigma_dn'],
                    hot_pixel_count=values['hot_pixel_count'],
                    bit_depth=16 if values['encoding'] == 'mono16' else 8, seed=values['seed'])
    approach = ApproachSpec(values['start_range_m'], min(values['end_range_m'],
                                                         values['start_range_m']),
                            values['scripted_frames'], values['lateral_offset_m'],
                            values['attitude_offset_deg'], values['off_axis_angle_deg'],
                            values['roll_deg'], values['seed'])
    return SimSetup(camera, scene, target, approach, dict(values))


class IrCameraSimNode(Node):
    """Render, publish, and move the chaser, once per frame."""

    def __init__(self, **kwargs):
        """Declare parameters, build the scene, and start the frame timer."""
        super().__init__('ir_camera_sim', **kwargs)
        self._validated_parameters = ValidatedParameters(
            self, SIM_PARAMETER_SPECS, build_sim_setup)
        self._setup = self._validated_parameters.build()
        values = self._setup.values
        self._frame_id = values['frame_id']
        self._period_s = 1.0 / values['rate_hz']
        self._closed_loop = values['mode'] == 'closed_loop'
        self._rng = np.random.default_rng([values['seed'], 2])
        self._script = approach_poses(self._setup.approach)
        self._frame_index = 0
        self._rotation, self._translation = self._script[0]
        self._renderer = IrSceneRenderer(self._setup.camera, self._setup.scene)
        self._distractors = self._place_distractors()
        self._last_stamp_s = None
        self._command = None
        self.frames_out = 0
        self._image_pub = self.create_publisher(Image, 'image', qos_profile_sensor_data)
        self._info_pub = self.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self._truth_pub = self.create_publisher(
            PoseStamped, 'ground_truth/target_pose',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        if self._closed_loop:
            self.create_subscription(TwistStamped, 'cmd_vel', self._on_cmd_vel, 10)
        self._info = camera_info_message(self._setup.camera)
        self.create_timer(self._period_s, self._on_frame)
        camera = self._setup.camera
        self.get_logger().info(
            f"{camera.width}x{camera.height} {values['encoding']} at {values['rate_hz']:g} Hz, "
            f"{values['mode']}, target at {values['start_range_m']:g} m")

    def _reconfigure_scene(self):
        setup = self._validated_parameters.build()
        if setup.scene != self._setup.scene:
            self._renderer = IrSceneRenderer(setup.camera, setup.scene)
        count_changed = setup.values['distractor_count'] != \
            self._setup.values['distractor_count']
        self._setup = setup
        if count_changed:
            self._distractors = self._place_distractors()

    def _place_distractors(self):
        count = self._setup.values['distractor_count']
        if count == 0:
            return []
        leds = self._setup.camera.project(
            led_points_in_camera(self._setup.target, self._rotation, self._translation))
        rng = np.random.default_rng([self._setup.values['seed'], 3])
        return random_distractors(rng, self._setup.camera, count, avoid_px=leds)

    def _on_cmd_vel(self, msg):
        if msg.header.frame_id and msg.header.frame_id != self._frame_id:
            self.get_logger().warning(
                f"cmd_vel in frame '{msg.header.frame_id}' ignored: commands are in "
                f"'{self._frame_id}'", throttle_duration_sec=5.0)
            return
        twist = msg.twist
        linear = np.array([twist.linear.x, twist.linear.y, twist.linear.z])
        angular = np.array([twist.angular.x, twist.angular.y, twist.angular.z])
        if not (np.all(np.isfinite(linear)) and np.all(np.isfinite(angular))):
            # Integrated once, a NaN would be the chaser's pose from then on: stop instead.
            self.get_logger().warning('cmd_vel with NaN or inf: the chaser stops',
                                      throttle_duration_sec=5.0)
            linear, angular = np.zeros(3), np.zeros(3)
        self._command = (linear, angular, self.get_clock().now().nanoseconds * 1e-9)

    def _on_frame(self):
        if self._validated_parameters.pending:
            self._reconfigure_scene()
        now = self.get_clock().now()
        stamp_s = now.nanoseconds * 1e-9
        self._move(stamp_s)
        self._last_stamp_s = stamp_s
        setup = self._setup
        visible = np.ones(setup.target.count, dtype=bool)
        if setup.values['occluded_led']:
            visible[setup.values['occluded_led'] - 1] = False
        frame = self._renderer.render(
            led_points_in_camera(setup.target, self._rotation, self._translation), visible,
            self._distractors, self._rng)
        if not self.context.ok():
            # SIGINT shut the context down while this frame rendered: nothing can be published.
            return
        self._info.header.stamp = now.to_msg()
        self._info.header.frame_id = self._frame_id
        self._info_pub.publish(self._info)
        self._image_pub.publish(_image_message(self._info.header, frame.image))
        self._truth_pub.publish(_pose_message(self._info.header, self._rotation,
                                              self._translation))
        self.frames_out += 1

    def _move(self, stamp_s):
        if not self._closed_loop:
            self._rotation, self._translation = self._script[self._frame_index]
            self._frame_index = (self._frame_index + 1) % len(self._script)
            return
        if self._last_stamp_s is None or self._command is None:
            return
        linear, angular, received_s = self._command
        # The chaser moves with the command from the last frame until this one, or until the
        # command times out: frames late or slow, the truth still follows the stamps.
        dt = min(stamp_s, received_s + self._setup.values['cmd_timeout_s']) - self._last_stamp_s
        if dt > 0.0:
            self._rotation, self._translation = apply_twist(self._rotation, self._translation,
                                                            linear, angular, dt)

    @property
    def true_pose(self):
        """Return the current (R, t) of the target in the camera optical frame."""
        return self._rotation, self._translation


def _image_message(header, pixels):
    msg = Image()
    msg.header = header
    msg.height, msg.width = pixels.shape
    if pixels.dtype == np.uint16:
        msg.encoding = 'mono16'
        msg.is_bigendian = 0
        msg.data = pixels.astype('<u2', copy=False).tobytes()
    else:
        msg.encoding = 'mono8'
        msg.data = pixels.tobytes()
    msg.step = msg.width * pixels.itemsize
    return msg


def _pose_message(header, rotation, translation):
    msg = PoseStamped()
    msg.header = header
    position = msg.pose.position
    position.x, position.y, position.z = (float(v) for v in translation)
    orientation = msg.pose.orientation
    orientation.x, orientation.y, orientation.z, orientation.w = \
        (float(v) for v in quaternion_from_matrix(rotation))
    return msg


def main(args=None):
    """Run the node until shutdown."""
    run_node(IrCameraSimNode, args)


if __name__ == '__main__':
    main()
