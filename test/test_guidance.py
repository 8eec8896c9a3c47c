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
The reference docking guidance: its phases as pure logic, then the node over real DDS.

The pure tests feed DockingGuidance poses and quality reports with explicit stamps and check
the phase and the command; one flies the chaser with apply_twist from 3 m to DOCKED on true
poses. The node tests publish the perception contract's messages to a DockingGuidanceNode under
a namespace of their own and read its cmd_vel and docking_status.
"""

import itertools
import math
import os
from pathlib import Path
import time

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     FACING_ROTATION)
from clingers_perception.dds_profile import profile_environment
from clingers_perception.docking_guidance import (ALIGN, apply_twist, APPROACH, BACK_OFF,
                                                  DOCKED, docking_errors, DockingGuidance,


                                                  GUIDANCE_PARAMETER_SPECS, GuidanceSettings,
                                                  HOLD, SEARCH, settings_from_values)
from clingers_perception.docking_guidance_node import DockingGuidanceNode
from clingers_perception.transforms import quaternion_from_matrix, rotation_matrix
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseWithCovarianceStamped, TwistStamped
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_test_support import isolated_context, spin_until
from sensor_msgs.msg import Range
from std_msgs.msg import Header, String
import yaml

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PARAMETER_FILE = PACKAGE_DIR / 'config' / 'guidance.yaml'
# Fast DDS reads the profile when the process creates its first participant.
for _name, _value in profile_environment(PACKAGE_DIR / 'config' / 'fastdds.xml').items():
    os.environ.setdefault(_name, _value)
SETTINGS = GuidanceSettings()
SPECS = {spec.name: spec for spec in GUIDANCE_PARAMETER_SPECS}
FRAME_ID = 'ir_camera_optical_frame'
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
TIMEOUT_S = 5.0
_NAMESPACES = itertools.count()


def _observe(guidance, stamp_s, rotation=FACING_ROTATION, translation=(0.0, 0.0, 1.0),
             level=0, state='TRACKING', confidence=0.9, pose=True):
    """Give guidance one frame's messages, as perception_node publishes them."""
    if pose:
        guidance.update_pose(stamp_s, rotation, translation)
        guidance.update_range(stamp_s, float(np.linalg.norm(translation)))
    guidance.update_quality(stamp_s, level, state, confidence)


def _tracked(translation=(0.0, 0.0, 1.0), rotation=FACING_ROTATION, stamp_s=100.0):
    guidance = DockingGuidance()
    _observe(guidance, stamp_s, rotation, translation)
    return guidance


def test_searches_until_the_first_trusted_pose():
    guidance = DockingGuidance()
    assert guidance.command(0.0).phase == SEARCH
    _observe(guidance, 1.0, level=1, state='ACQUIRING', confidence=0.0, pose=False)
    command = guidance.command(1.01)
    assert command.phase == SEARCH
    assert not np.any(command.linear) and not np.any(command.angular)


def test_approaches_along_the_axis_when_aligned():
    command = _tracked((0.0, 0.0, 2.0)).command(100.03)
    assert command.phase == APPROACH
    # The camera moves forward (+z) at the speed limit, without turning.
    np.testing.assert_allclose(command.linear, [0.0, 0.0, SETTINGS.max_closing_speed],
                               atol=1e-9)
    np.testing.assert_allclose(command.angular, 0.0, atol=1e-9)
    assert command.errors.to_capture_m == pytest.approx(2.0 - SETTINGS.capture_distance_m)


def test_closing_speed_shrinks_with_range_and_reverses_past_the_capture_point():
    speeds = [_tracked((0.0, 0.0, r)).command(100.03).linear[2]
              for r in (1.5, 0.6, 0.3, 0.2, 0.16)]
    assert all(a > b > 0.0 for a, b in zip(speeds, speeds[1:]))
    assert speeds[1] == pytest.approx(SETTINGS.closing_gain * (0.6 - 0.15))
    assert speeds[-1] == pytest.approx(SETTINGS.min_closing_speed)
    overshoot = _tracked((0.0, 0.0, 0.12)).command(100.03)
    assert overshoot.phase == APPROACH and overshoot.linear[2] < 0.0


def test_aligns_without_closing_when_off_the_axis():
    # The target is 0.5 m to the right at 2 m: outside the approach cone.
    command = _tracked((0.5, 0.0, 2.0)).command(100.03)
    assert command.phase == ALIGN
    assert command.linear[0] == pytest.approx(SETTINGS.max_lateral_speed)
    assert command.linear[2] == pytest.approx(0.0, abs=1e-9)


def test_approach_tolerates_more_error_than_it_needs_to_start():
    # 1.5 times the cone at 1 m along the axis: too far off to start closing...
    off_axis = (1.5 * SETTINGS.approach_cone * 0.85, 0.0, 1.0)
    assert _tracked(off_axis).command(100.03).phase == ALIGN
    # ...but not far enough off to stop once closing, even after a pause.
    guidance = _tracked((0.0, 0.0, 1.0))
    assert guidance.command(100.03).phase == APPROACH
    _observe(guidance, 100.1, level=1)
    assert guidance.command(100.13).phase == HOLD
    _observe(guidance, 100.2, translation=off_axis)
    assert guidance.command(100.23).phase == APPROACH
    _observe(guidance, 100.3, translation=(2.5 * SETTINGS.approach_cone * 0.85, 0.0, 1.0))
    assert guidance.command(100.33).phase == ALIGN


def test_alignment_turns_the_camera_to_face_the_target():
    tilted = rotation_matrix([0.0, math.radians(6.0), 0.0]) @ FACING_ROTATION
    translation = np.array([0.0, 0.0, 1.5])
    guidance = _tracked(translation, tilted)
    command = guidance.command(100.03)
    assert command.phase == ALIGN
    assert command.angular[1] > 0.0
    rotation, moved = apply_twist(tilted, translation, command.linear, command.angular, 0.5)
    before = docking_errors(tilted, translation, SETTINGS.capture_distance_m).attitude_deg
    after = docking_errors(rotation, moved, SETTINGS.capture_distance_m).attitude_deg
    assert after < before - 1.0


def test_holds_when_quality_is_not_ok():
    guidance = DockingGuidance()
    _observe(guidance, 100.0, level=1)
    command = guidance.command(100.03)
    assert command.phase == HOLD and 'not OK' in command.reason
    assert not np.any(command.linear) and not np.any(command.angular)
    _observe(guidance, 100.1, confidence=0.001)
    assert guidance.command(100.13).phase == HOLD
    _observe(guidance, 100.2, confidence=float('nan'))
    assert guidance.command(100.23).phase == HOLD
    _observe(guidance, 100.3)
    assert guidance.command(100.33).phase == APPROACH


def test_a_pose_is_judged_by_its_own_frames_report():
    """
    A pose newer than the latest report steers; its own frame's report, when not OK, holds.

    perception_node publishes target_pose before detection_quality. The report before the first
    pose is the WARN of the frame held to confirm the acquisition: it said nothing of the pose,
    and holding on it stood the chaser still for a tick at the start of a demo run.
    """
    guidance = DockingGuidance()
    _observe(guidance, 100.0, level=1, state='ACQUIRING', confidence=0.0, pose=False)
    guidance.update_pose(100.033, FACING_ROTATION, (0.0, 0.0, 2.0))
    assert guidance.command(100.04).phase == APPROACH
    guidance.update_quality(100.033, 1, 'TRACKING', 0.9)
    assert guidance.command(100.05).phase == HOLD
    _observe(guidance, 100.066, confidence=0.001)
    assert guidance.command(100.07).phase == HOLD
    # A later frame's WARN (no pose in it) holds the older pose too.
    _observe(guidance, 100.1)
    _observe(guidance, 100.133, level=1, pose=False)
    assert guidance.command(100.14).phase == HOLD


def test_non_finite_pose_or_range_is_ignored_and_then_held_as_stale():
    guidance = _tracked((0.0, 0.0, 2.0), stamp_s=100.0)
    good = guidance.command(100.03)
    nan_rotation = np.full((3, 3), math.nan)
    assert not guidance.update_pose(100.1, nan_rotation, (0.0, 0.0, 2.0))
    assert not guidance.update_pose(100.1, FACING_ROTATION, (math.nan, 0.0, 2.0))
    assert not guidance.update_range(100.1, math.inf)
    assert not guidance.update_range(100.1, math.nan)
    guidance.update_quality(100.1, 0, 'TRACKING', 0.9)
    command = guidance.command(100.13)
    assert command.phase == APPROACH
    np.testing.assert_array_equal(command.linear, good.linear)
    np.testing.assert_array_equal(command.angular, good.angular)
    # Only NaN poses from then on: the last good one ages out, and guidance holds still.
    stale = guidance.command(100.0 + SETTINGS.pose_timeout_s + 0.1)
    assert stale.phase == HOLD
    assert np.all(np.isfinite(stale.linear)) and not np.any(stale.linear)


def test_holds_on_a_stale_pose():
    guidance = _tracked(stamp_s=100.0)
    # Quality keeps coming (frames without a pose are WARN, but say OK here to isolate age).
    _observe(guidance, 100.7, pose=False)
    command = guidance.command(100.71)
    assert command.phase == HOLD and 'old' in command.reason
    assert not np.any(command.linear)
    # Perception silent altogether: the quality report itself goes stale.
    assert guidance.command(101.5).phase == HOLD


def test_backs_off_when_lost_then_waits():
    guidance = _tracked(stamp_s=100.0)
    assert guidance.command(100.03).phase == APPROACH
    _observe(guidance, 100.1, level=1, state='LOST', confidence=0.0, pose=False)
    command = guidance.command(100.11)
    assert command.phase == BACK_OFF
    np.testing.assert_allclose(command.linear, [0.0, 0.0, -SETTINGS.back_off_speed])
    for step in range(1, 16):
        since_loss = 0.35 * step
        stamp = 100.1 + since_loss
        _observe(guidance, stamp, level=1, state='LOST', confidence=0.0, pose=False)
        phase = guidance.command(stamp + 0.01).phase
        expected = BACK_OFF if since_loss < SETTINGS.back_off_duration_s else SEARCH
        assert phase == expected, f'{since_loss:.2f} s after the loss'
    # Found again: the loss is over, and the next loss backs off again.
    _observe(guidance, 106.0)
    assert guidance.command(106.01).phase == APPROACH
    _observe(guidance, 106.1, level=1, state='LOST', confidence=0.0, pose=False)
    assert guidance.command(106.11).phase == BACK_OFF


def test_docks_inside_the_envelope_and_stays_docked():
    at_capture = (0.001, -0.001, SETTINGS.capture_distance_m + 0.004)
    guidance = DockingGuidance()
    for frame in range(SETTINGS.dock_confirm_frames):
        _observe(guidance, 100.0 + frame / 30.0, translation=at_capture)
        command = guidance.command(100.01 + frame / 30.0)
        last = frame == SETTINGS.dock_confirm_frames - 1
        assert command.phase == (DOCKED if last else APPROACH)
    assert not np.any(command.linear) and not np.any(command.angular)
    # Latched: neither a later pose outside the envelope nor a loss moves it again.
    _observe(guidance, 101.0, translation=(0.0, 0.0, 1.0))
    assert guidance.command(101.01).phase == DOCKED
    _observe(guidance, 101.1, level=1, state='LOST', confidence=0.0, pose=False)
    assert guidance.command(101.11).phase == DOCKED


def test_one_pose_outside_the_envelope_restarts_the_count():
    inside = (0.0, 0.0, SETTINGS.capture_distance_m + 0.005)
    outside = (0.0, 0.0, SETTINGS.capture_distance_m + 0.05)
    guidance = DockingGuidance()
    sequence = [inside] * (SETTINGS.dock_confirm_frames - 1) + [outside] \
        + [inside] * (SETTINGS.dock_confirm_frames - 1)
    for frame, translation in enumerate(sequence):
        _observe(guidance, 100.0 + frame / 30.0, translation=translation)
        assert guidance.command(100.01 + frame / 30.0).phase == APPROACH
    # The same pose seen at several control ticks counts once.
    for tick in range(3):
        assert guidance.command(100.02 + len(sequence) / 30.0 + tick / 100.0).phase == APPROACH


def test_attitude_error_keeps_it_from_docking():
    turned = rotation_matrix([0.0, 0.0, math.radians(5.0)]) @ FACING_ROTATION
    guidance = DockingGuidance()
    for frame in range(2 * SETTINGS.dock_confirm_frames):
        _observe(guidance, 100.0 + frame / 30.0, turned, (0.0, 0.0, 0.15))
        assert guidance.command(100.01 + frame / 30.0).phase != DOCKED


def test_lateral_error_keeps_it_from_docking():
    """8 mm off the axis at the capture depth is inside the capture distance but never docks."""
    # The camera centre sits at (8 mm, 0, capture distance) in the target frame.
    off_axis = -FACING_ROTATION @ np.array([0.008, 0.0, SETTINGS.capture_distance_m])
    guidance = DockingGuidance()
    for frame in range(2 * SETTINGS.dock_confirm_frames):
        _observe(guidance, 100.0 + frame / 30.0, translation=off_axis)
        command = guidance.command(100.01 + frame / 30.0)
        assert command.phase != DOCKED
    assert command.errors.to_capture_m < SETTINGS.capture_tolerance_m
    assert command.errors.lateral_m == pytest.approx(0.008)
    assert command.errors.attitude_deg < SETTINGS.attitude_tolerance_deg


def test_closing_speed_ignores_a_range_older_than_the_pose():
    """A target_range of an earlier frame is not used: the pose's own range sets the speed."""
    guidance = DockingGuidance()
    guidance.update_range(100.0, 1.5)
    guidance.update_pose(100.1, FACING_ROTATION, (0.0, 0.0, 0.6))
    guidance.update_quality(100.1, 0, 'TRACKING', 0.9)
    command = guidance.command(100.11)
    assert command.phase == APPROACH
    assert command.linear[2] == pytest.approx(
        SETTINGS.closing_gain * (0.6 - SETTINGS.capture_distance_m))


@pytest.mark.parametrize('name', [spec.name for spec in GUIDANCE_PARAMETER_SPECS
                                  if type(spec.default) is float])
def test_nan_settings_are_refused(name):
    """A NaN gain, limit or tolerance is refused by the range check, not commanded with."""
    values = {spec.name: spec.default for spec in GUIDANCE_PARAMETER_SPECS}
    with pytest.raises(ValueError, match=f'{name} = nan is outside'):
        settings_from_values(dict(values, **{name: math.nan}))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_flies_from_three_metres_to_docked_on_true_poses(seed):
    rotation, translation = approach_poses(ApproachSpec(
        start_range_m=3.0, lateral_offset_m=0.3, attitude_offset_deg=8.0, seed=seed))[0]
    guidance = DockingGuidance()
    dt = 1.0 / 30.0
    phases = []
    for frame in range(30 * 60):
        stamp = frame * dt
        _observe(guidance, stamp, rotation, translation)
        command = guidance.command(stamp + 0.01)
        if not phases or phases[-1] != command.phase:
            phases.append(command.phase)
        if command.phase == DOCKED:
            break
        rotation, translation = apply_twist(rotation, translation, command.linear,
                                            command.angular, dt)
    assert phases == [ALIGN, APPROACH, DOCKED]
    errors = docking_errors(rotation, translation, SETTINGS.capture_distance_m)
    assert errors.to_capture_m < SETTINGS.capture_tolerance_m
    assert errors.lateral_m < SETTINGS.lateral_tolerance_m
    assert errors.attitude_deg < SETTINGS.attitude_tolerance_deg
    assert frame * dt < 40.0


def test_apply_twist_moves_the_camera_not_the_target():
    translation = np.array([0.0, 0.0, 1.0])
    # Forward 0.1 m: the target comes 0.1 m closer.
    _, moved = apply_twist(FACING_ROTATION, translation, [0.0, 0.0, 0.1], [0.0, 0.0, 0.0], 1.0)
    np.testing.assert_allclose(moved, [0.0, 0.0, 0.9])
    # Turning right (about camera +y, towards +x) moves the target left in the image.
    _, turned = apply_twist(FACING_ROTATION, translation, [0.0] * 3, [0.0, 0.1, 0.0], 1.0)
    assert turned[0] < 0.0


def test_settings_are_validated():
    values = {spec.name: spec.default for spec in GUIDANCE_PARAMETER_SPECS}
    assert settings_from_values(values) == SETTINGS
    with pytest.raises(ValueError, match='min_closing_speed'):
        settings_from_values(dict(values, min_closing_speed=0.5, max_closing_speed=0.2))
    with pytest.raises(ValueError, match='capture_tolerance_m'):
        settings_from_values(dict(values, capture_tolerance_m=0.0))


def test_parameter_file_documents_every_parameter_at_its_default():
    document = yaml.safe_load(PARAMETER_FILE.read_text())
    assert list(document) == ['/**'] and list(document['/**']) == ['ros__parameters']
    values = document['/**']['ros__parameters']
    assert set(values) == set(SPECS)
    for name, value in values.items():
        assert value == SPECS[name].default, name
        assert type(value) is type(SPECS[name].default), f'{name}: write 1.0 for a double'


# --- The node over DDS ------------------------------------------------------------------------

@pytest.fixture(scope='module')
def context():
    """Give the module its own rclpy context, shut down when the module ends."""
    yield from isolated_context()


class GuidanceRig:
    """A DockingGuidanceNode and a node playing perception_node, in one executor."""

    def __init__(self, context, cli_args=None):
        """Create both under a fresh namespace and wait until their topics match."""
        self.namespace = f'/guidance_test_{os.getpid()}_{next(_NAMESPACES)}'
        self.node = DockingGuidanceNode(context=context, namespace=self.namespace,
                                        cli_args=cli_args)
        self.tester = Node('perception_stand_in', namespace=self.namespace, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.tester)
        self.pose_pub = self.tester.create_publisher(PoseWithCovarianceStamped, 'target_pose',
                                                     RELIABLE)
        self.range_pub = self.tester.create_publisher(Range, 'target_range', RELIABLE)
        self.quality_pub = self.tester.create_publisher(DiagnosticArray, 'detection_quality',
                                                        RELIABLE)
        self.commands, self.phases = [], []
        self.tester.create_subscription(TwistStamped, 'cmd_vel', self.commands.append, RELIABLE)
        self.tester.create_subscription(String, 'docking_status',
                                        lambda msg: self.phases.append(msg.data), RELIABLE)
        assert self.spin_until(lambda: all(
            p.get_subscription_count() >= 1
            for p in (self.pose_pub, self.range_pub, self.quality_pub)) and self.phases), \
            'the guidance node and the test node did not discover each other'

    def close(self):
        """Stop spinning and destroy both nodes."""
        self.executor.shutdown(timeout_sec=1.0)
        self.tester.destroy_node()
        self.node.destroy_node()

    def spin_until(self, condition, timeout_s=TIMEOUT_S):
        """Spin until condition() holds; return False on timeout."""
        return spin_until(self.executor, condition, timeout_s)

    def publish_frame(self, translation=(0.0, 0.0, 1.0), state='TRACKING',
                      level=DiagnosticStatus.OK, pose=True, quaternion=None):
        """Publish one frame's outputs, stamped now, as perception_node would."""
        header = Header()
        header.stamp = self.tester.get_clock().now().to_msg()
        header.frame_id = FRAME_ID
        if pose:
            msg = PoseWithCovarianceStamped(header=header)
            msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = \
                (float(v) for v in translation)
            q = quaternion_from_matrix(FACING_ROTATION) if quaternion is None else quaternion
            orientation = msg.pose.pose.orientation
            orientation.x, orientation.y, orientation.z, orientation.w = (float(v) for v in q)
            self.pose_pub.publish(msg)
            self.range_pub.publish(Range(header=header,
                                         range=float(np.linalg.norm(translation))))
        status = DiagnosticStatus(level=level, name='clingers_perception: LED detection',
                                  message='test', hardware_id=FRAME_ID)
        status.values = [KeyValue(key='state', value=state),
                         KeyValue(key='confidence', value='0.9' if pose else '0.0')]
        self.quality_pub.publish(DiagnosticArray(header=header, status=[status]))

    def stream_until(self, phase, timeout_s=TIMEOUT_S, **frame):
        """Publish frames at about 30 Hz until docking_status reports `phase`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.publish_frame(**frame)
            self.spin_until(lambda: False, timeout_s=1.0 / 30.0)
            if self.phases and self.phases[-1] == phase:
                return True
        return False


@pytest.fixture
def rig(context):
    """Start a guidance rig; close it afterwards."""
    started = GuidanceRig(context)
    yield started
    started.close()


def test_node_approaches_holds_and_backs_off(rig):
    assert rig.phases[0] == SEARCH
    assert rig.stream_until(APPROACH, translation=(0.0, 0.0, 0.6))
    assert rig.spin_until(lambda: rig.commands[-1].header.frame_id == FRAME_ID)
    command = rig.commands[-1]
    assert command.twist.linear.z == pytest.approx(SETTINGS.closing_gain * 0.45, rel=1e-6)
    assert rig.stream_until(BACK_OFF, state='LOST', level=DiagnosticStatus.WARN, pose=False)
    assert rig.commands[-1].twist.linear.z == pytest.approx(-SETTINGS.back_off_speed)
    assert rig.stream_until(APPROACH, translation=(0.0, 0.0, 1.0))
    # Perception goes silent: within the timeout the command is zero.
    count = len(rig.commands)
    assert rig.spin_until(lambda: rig.phases[-1] == HOLD,
                          timeout_s=SETTINGS.pose_timeout_s + 1.0)
    assert rig.spin_until(lambda: len(rig.commands) > count + 1)
    last = rig.commands[-1].twist
    assert (last.linear.x, last.linear.y, last.linear.z) == (0.0, 0.0, 0.0)


def test_node_ignores_non_finite_poses_and_never_commands_nan(rig):
    assert rig.stream_until(APPROACH, translation=(0.0, 0.0, 1.0))
    count = len(rig.commands)
    # A zero quaternion (a NaN rotation) and a NaN position, from then on.
    assert rig.stream_until(HOLD, timeout_s=SETTINGS.pose_timeout_s + 2.0,
                            translation=(0.0, 0.0, 1.0), quaternion=(0.0, 0.0, 0.0, 0.0))
    assert rig.stream_until(HOLD, translation=(math.nan, 0.0, 1.0))
    assert len(rig.commands) > count
    for command in rig.commands:
        twist = command.twist
        assert all(math.isfinite(v) for v in (twist.linear.x, twist.linear.y, twist.linear.z,
                                              twist.angular.x, twist.angular.y,
                                              twist.angular.z))
    last = rig.commands[-1].twist
    assert (last.linear.x, last.linear.y, last.linear.z) == (0.0, 0.0, 0.0)


def test_node_docks_and_commands_zero(rig):
    assert rig.stream_until(DOCKED, translation=(0.0, 0.0, SETTINGS.capture_distance_m))
    assert rig.spin_until(lambda: len(rig.commands) >= 2)
    last = rig.commands[-1].twist
    assert (last.linear.z, last.angular.x) == (0.0, 0.0)


def test_node_refuses_invalid_parameters(rig):
    result = rig.node.set_parameters([Parameter('min_closing_speed', value=0.9)])[0]
    assert not result.successful and 'min_closing_speed' in result.reason
    result = rig.node.set_parameters([Parameter('capture_distance_m', value=-1.0)])[0]
    assert not result.successful and 'capture_distance_m' in result.reason
    result = rig.node.set_parameters([Parameter('max_closing_speed', value=0.1)])[0]
    assert result.successful
    assert rig.stream_until(APPROACH, translation=(0.0, 0.0, 2.0))
    assert rig.spin_until(lambda: rig.node.guidance.settings.max_closing_speed == 0.1)
    assert rig.stream_until(APPROACH, translation=(0.0, 0.0, 2.0))
    assert rig.commands[-1].twist.linear.z == pytest.approx(0.1)


def test_rcl_loads_the_parameter_file_into_a_renamed_node(context, tmp_path):
    # rcl parses the shipped file as the node does at start-up (a type mismatch raises); a
    # second file changes one value to show that the wildcard reaches a renamed node.
    changed = tmp_path / 'changed.yaml'
    changed.write_text('/**:\n  ros__parameters:\n    capture_distance_m: 0.2\n')
    rig = GuidanceRig(context, cli_args=[
        '--ros-args', '--params-file', str(PARAMETER_FILE), '--params-file', str(changed),
        '-r', '__node:=renamed_guidance'])
    try:
        assert rig.node.get_name() == 'renamed_guidance'
        for name, spec in SPECS.items():
            expected = 0.2 if name == 'capture_distance_m' else spec.default
            assert rig.node.get_parameter(name).value == expected, name
        assert rig.node.guidance.settings.capture_distance_m == 0.2
        assert rig.node.describe_parameter('capture_distance_m').floating_point_range
        assert rig.node.describe_parameter('control_rate_hz').read_only
    finally:
        rig.close()
