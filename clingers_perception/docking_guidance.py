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
Reference docking guidance: the perception outputs in, a velocity command out. No ROS here.

docking_guidance_node.py feeds this module the contract's messages (target_pose, target_range,
detection_quality) and publishes what it returns. It is meant to be read and copied, so each
phase follows one simple rule:

    SEARCH    no trusted pose yet (or LOST and backed off enough): stand still.
    HOLD      the pose is stale, or the detection quality of its frame (or a later one) is not
              OK: stand still.
    BACK_OFF  perception reports LOST: move straight back along the camera's -z for a bounded
              time, so that the target fits in the view again.
    ALIGN     off the docking axis or turned away from it: correct position across the axis and
              attitude, without closing.
    APPROACH  on the axis: keep correcting, and close at a speed that shrinks with the range.
    DOCKED    inside the capture envelope for several frames in a row: latched, command zero.

Geometry. The pose is that of the target in the camera optical frame (REP 103: x right, y down,
z forward), p_cam = R @ p_target + t. The docking axis is the target's +z axis, out of its
docking face; the capture point lies on it `capture_distance_m` from the target origin. The
chaser is docked when its camera centre is at the capture point and R == FACING_ROTATION: it
looks straight down the axis with the target upright in the image.

Commands (cmd_vel, in the camera optical frame): `linear` is the chaser's velocity and
`angular` its angular rate, both expressed in the camera frame. `apply_twist` states what that
means for the pose of a static target; the simulated camera moves the chaser with it.
"""

from dataclasses import dataclass, fields
import math

from clingers_perception.approach_trajectory import FACING_ROTATION
from clingers_perception.parameters import check_values, ParameterSpec
from clingers_perception.transforms import rotation_matrix, rotation_vector
import numpy as np

SEARCH = 'SEARCH'
ALIGN = 'ALIGN'
APPROACH = 'APPROACH'
HOLD = 'HOLD'
BACK_OFF = 'BACK_OFF'
DOCKED = 'DOCKED'
PHASES = (SEARCH, ALIGN, APPROACH, HOLD, BACK_OFF, DOCKED)

# detection_quality levels and track states (diagnostic_msgs and the contract's `state` key).
LEVEL_OK = 0
LOST = 'LOST'

# Leaving APPROACH for ALIGN takes errors this many times the entry limits, so noise on the
# pose does not make the phase flicker at the boundary.
ALIGN_HYSTERESIS = 2.0
# Near the capture point the approach cone would shrink to nothing: its length along the axis
# counts as at least this much (m).
MIN_CONE_LENGTH_M = 0.1


@dataclass(frozen=True)
class GuidanceSettings:
    """Capture envelope, gains, speed limits and the trust rules; SI units."""

    capture_distance_m: float = 0.15
    capture_tolerance_m: float = 0.01
    lateral_tolerance_m: float = 0.005
    attitude_tolerance_deg: float = 2.0
    dock_confirm_frames: int = 5
    approach_cone: float = 0.1
    align_attitude_deg: float = 3.0
    closing_gain: float = 0.4
    max_closing_speed: float = 0.25
    min_closing_speed: float = 0.005
    lateral_gain: float = 0.8
    max_lateral_speed: float = 0.1
    attitude_gain: float = 1.0
    max_angular_speed: float = 0.3
    min_confidence: float = 0.02
    pose_timeout_s: float = 0.5
    back_off_speed: float = 0.05
    back_off_duration_s: float = 3.0


_DESCRIPTIONS = {
    'capture_distance_m': 'distance (m) of the capture point from the target origin, on the '
                          'docking axis (the target +z axis)',
    'capture_tolerance_m': 'DOCKED when the camera centre is this close (m) to the capture point',
    'lateral_tolerance_m': 'DOCKED needs the camera this close (m) to the docking axis',
    'attitude_tolerance_deg': 'DOCKED needs the attitude this close (deg) to facing the target',
    'dock_confirm_frames': 'consecutive poses inside the capture envelope before DOCKED',
    'approach_cone': 'APPROACH while the distance from the axis is below this fraction of the '
                     'distance along it',
    'align_attitude_deg': 'APPROACH while the attitude error is below this (deg); ALIGN beyond',
    'closing_gain': 'closing speed per metre of range left to the capture point (1/s)',
    'max_closing_speed': 'fastest closing speed (m/s)',
    'min_closing_speed': 'slowest closing speed (m/s), so that the last centimetres end',
    'lateral_gain': 'speed towards the docking axis per metre off it (1/s)',
    'max_lateral_speed': 'fastest motion towards the docking axis (m/s)',
    'attitude_gain': 'angular rate per radian of attitude error (1/s)',
    'max_angular_speed': 'fastest angular rate (rad/s)',
    'min_confidence': 'HOLD when detection_quality confidence is below this',
    'pose_timeout_s': 'HOLD when the newest pose or quality report is older than this (s)',
    'back_off_speed': 'speed (m/s) of BACK_OFF, along the camera -z axis',
    'back_off_duration_s': 'longest BACK_OFF (s) per loss of track; then SEARCH',
}
_RANGES = {
    'capture_distance_m': (0.0, 10.0), 'capture_tolerance_m': (0.001, 1.0),
    'lateral_tolerance_m': (0.0005, 1.0), 'attitude_tolerance_deg': (0.1, 45.0),
    'dock_confirm_frames': (1, 1000), 'approach_cone': (0.01, 1.0),
    'align_attitude_deg': (0.1, 90.0), 'closing_gain': (0.01, 10.0),
    'max_closing_speed': (0.001, 5.0), 'min_closing_speed': (0.0, 1.0),
    'lateral_gain': (0.01, 10.0), 'max_lateral_speed': (0.001, 5.0),
    'attitude_gain': (0.01, 10.0), 'max_angular_speed': (0.001, 5.0),
    'min_confidence': (0.0, 1.0), 'pose_timeout_s': (0.01, 10.0),
    'back_off_speed': (0.0, 1.0), 'back_off_duration_s': (0.0, 60.0),
}

GUIDANCE_PARAMETER_SPECS = tuple(
    [ParameterSpec(f.name, f.default, _DESCRIPTIONS[f.name], *_RANGES[f.name])
     for f in fields(GuidanceSettings)]
    + [ParameterSpec('control_rate_hz', 30.0, 'rate (Hz) of cmd_vel and status', 1.0, 1000.0,
                     read_only=True)])
_SPECS = {spec.name: spec for spec in GUIDANCE_PARAMETER_SPECS}


def settings_from_values(values):
    """Return GuidanceSettings from {parameter name: value}; ValueError says what is wrong."""
    check_values(values, _SPECS)
    settings = GuidanceSettings(**{f.name: values[f.name] for f in fields(GuidanceSettings)})
    if settings.min_closing_speed > settings.max_closing_speed:
        raise ValueError('min_closing_speed must not exceed max_closing_speed')
    return settings


@dataclass(frozen=True)
class DockingErrors:
    """Where the camera is relative to the docked pose."""

    # Distance from the camera centre to the capture point (m).
    to_capture_m: float
    # Distance from the docking axis (m), and distance along it beyond the capture point (m).
    lateral_m: float
    axial_m: float
    # Angle of the rotation from the docked attitude (deg).
    attitude_deg: float


@dataclass(frozen=True)
class GuidanceCommand:
    """One command: the phase, why, and the twist in the camera optical frame."""

    phase: str
    reason: str
    linear: np.ndarray
    angular: np.ndarray
    errors: DockingErrors = None


def docking_errors(rotation, translation, capture_distance_m):
    """Return DockingErrors for the target pose (R, t) in the camera optical frame."""
    rotation = np.asarray(rotation, dtype=np.float64)
    camera_in_target = -rotation.T @ np.asarray(translation, dtype=np.float64)
    to_capture = camera_in_target - [0.0, 0.0, capture_distance_m]
    attitude = np.linalg.norm(rotation_vector(rotation @ FACING_ROTATION.T))
    return DockingErrors(float(np.linalg.norm(to_capture)),
                         float(np.linalg.norm(camera_in_target[:2])), float(to_capture[2]),
                         math.degrees(attitude))


def apply_twist(rotation, translation, linear, angular, dt_s):
    """
    Return the target pose (R, t) after the chaser moves with (linear, angular) for dt_s.

    The target is static; the chaser's camera translates by linear * dt_s and turns by
    angular * dt_s, both expressed in the camera frame at the start of the step.
    """
    turn = rotation_matrix(np.asarray(angular, dtype=np.float64) * dt_s)
    moved = np.asarray(translation, dtype=np.float64) - np.asarray(linear) * dt_s
    return turn.T @ np.asarray(rotation, dtype=np.float64), turn.T @ moved


@dataclass(frozen=True)
class _Stamped:
    stamp_s: float
    value: object


class DockingGuidance:
    """Turn the newest pose, range and quality report into a command, once per control tick."""

    def __init__(self, settings=GuidanceSettings()):
        """Start in SEARCH with nothing observed."""
        self.settings = settings
        self.reset()

    def reset(self):
        """Forget all observations and leave DOCKED."""
        self.phase = SEARCH
        self._approaching = False
        self._pose = None
        self._range = None
        self._quality = None
        self._lost_since_s = None
        self._envelope_stamp_s = None
        self._envelope_frames = 0

    def update_pose(self, stamp_s, rotation, translation):
        """
        Take a target_pose: the target's (R, t) in the camera optical frame.

        Return False, keeping the last pose, when it holds NaN or inf (a zero quaternion
        gives a NaN rotation): steering on it would command NaN velocities.
        """
        rotation = np.asarray(rotation, dtype=np.float64)
        translation = np.asarray(translation, dtype=np.float64)
        if not (np.all(np.isfinite(rotation)) and np.all(np.isfinite(translation))):
            return False
        self._pose = _Stamped(stamp_s, (rotation, translation))
        return True

    def update_range(self, stamp_s, range_m):
        """
        Take a target_range: distance from the camera centre to the target origin.

        Return False, keeping the last range, when it is not finite (REP 117's +inf for
        nothing detected, or NaN).
        """
        if not math.isfinite(range_m):
            return False
        self._range = _Stamped(stamp_s, float(range_m))
        return True

    def update_quality(self, stamp_s, level, state, confidence):
        """Take a detection_quality status: its level (0 = OK), `state` and `confidence`."""
        self._quality = _Stamped(stamp_s, (int(level), str(state), float(confidence)))

    def command(self, now_s):
        """Return the GuidanceCommand for time now_s (seconds, the clock of the stamps)."""
        if self.phase == DOCKED:
            return self._still(DOCKED, 'inside the capture envelope: docked')
        settings = self.settings
        quality, pose = self._quality, self._pose
        if quality is None or now_s - quality.stamp_s > settings.pose_timeout_s:
            if pose is None:
                return self._still(SEARCH, 'waiting for detection_quality')
            return self._still(HOLD, 'detection_quality is stale')
        level, state, confidence = quality.value
        if state == LOST:
            return self._back_off(now_s)
        self._lost_since_s = None
        if pose is None:
            return self._still(SEARCH, f'no trusted pose yet ({state.lower()})')
        age = now_s - pose.stamp_s
        if age > settings.pose_timeout_s:
            return self._still(HOLD, f'newest pose is {age:.2f} s old')
        # perception_node publishes a frame's target_pose before its detection_quality: a
        # report older than the pose is about an earlier frame (the WARN of the frame held to
        # confirm an acquisition, say), and the pose's own is on its way.
        if quality.stamp_s >= pose.stamp_s:
            if level != LEVEL_OK:
                return self._still(HOLD, 'detection quality is not OK')
            if not confidence >= settings.min_confidence:
                return self._still(HOLD, f'pose confidence {confidence:.3f} is too low')
        return self._steer(pose)

    def _steer(self, pose):
        settings = self.settings
        rotation, translation = pose.value
        errors = docking_errors(rotation, translation, settings.capture_distance_m)
        inside = errors.to_capture_m < settings.capture_tolerance_m \
            and errors.lateral_m < settings.lateral_tolerance_m \
            and errors.attitude_deg < settings.attitude_tolerance_deg
        if pose.stamp_s != self._envelope_stamp_s:
            self._envelope_stamp_s = pose.stamp_s
            self._envelope_frames = self._envelope_frames + 1 if inside else 0
        if self._envelope_frames >= settings.dock_confirm_frames:
            self.phase = DOCKED
            return self._still(DOCKED, 'inside the capture envelope: docked', errors)

        # Velocity of the camera centre in the target frame: towards the axis, then along it.
        camera_in_target = -rotation.T @ translation
        velocity = np.zeros(3)
        velocity[:2] = _limit(-settings.lateral_gain * camera_in_target[:2],
                              settings.max_lateral_speed)
        slack = ALIGN_HYSTERESIS if self._approaching else 1.0
        cone_length = max(errors.axial_m, MIN_CONE_LENGTH_M)
        self._approaching = \
            errors.lateral_m <= slack * settings.approach_cone * cone_length \
            and errors.attitude_deg <= slack * settings.align_attitude_deg
        if self._approaching:
            phase, reason = APPROACH, 'on the docking axis: closing'
            velocity[2] = -self._closing_speed(pose, errors)
        else:
            phase, reason = ALIGN, 'off the docking axis: aligning'
        attitude_error = rotation_vector(rotation @ FACING_ROTATION.T)
        angular = _limit(settings.attitude_gain * attitude_error, settings.max_angular_speed)
        self.phase = phase
        return GuidanceCommand(phase, reason, rotation @ velocity, angular, errors)

    def _closing_speed(self, pose, errors):
        # The speed shrinks with the range left (target_range, or the pose's when the range of
        # this frame has not arrived); past the capture point it reverses.
        settings = self.settings
        range_m = self._range.value if self._range is not None \
            and self._range.stamp_s >= pose.stamp_s else float(np.linalg.norm(pose.value[1]))
        left = abs(range_m - settings.capture_distance_m)
        speed = min(max(settings.closing_gain * left, settings.min_closing_speed),
                    settings.max_closing_speed)
        return math.copysign(speed, errors.axial_m)

    def _back_off(self, now_s):
        settings = self.settings
        if self._lost_since_s is None:
            self._lost_since_s = now_s
        if now_s - self._lost_since_s >= settings.back_off_duration_s:
            return self._still(SEARCH, 'track lost: backed off, waiting for the target')
        self.phase = BACK_OFF
        self._approaching = False
        return GuidanceCommand(BACK_OFF, 'track lost: backing off',
                               np.array([0.0, 0.0, -settings.back_off_speed]), np.zeros(3))

    def _still(self, phase, reason, errors=None):
        self.phase = phase
        return GuidanceCommand(phase, reason, np.zeros(3), np.zeros(3), errors)


def _limit(vector, largest):
    """Scale `vector` down, keeping its direction, so that its norm is at most `largest`."""
    norm = float(np.linalg.norm(vector))
    return vector * (largest / norm) if norm > largest else vector
