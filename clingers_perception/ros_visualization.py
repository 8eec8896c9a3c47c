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
What perception_node shows in rviz2: a MarkerArray and an annotated debug image.

`annotate_frame` draws on a NumPy image and needs no ROS; the two message builders wrap it and
the pose. The node calls them only while someone subscribes, because they cost CPU per frame.
"""

import math

from builtin_interfaces.msg import Duration
from clingers_perception.image_decoding import decode_mono, ImageDecodeError, to_8bit
from clingers_perception.quality import LEVEL_NAMES
from clingers_perception.ros_conversions import raw_image
from clingers_perception.transforms import quaternion_from_matrix
import cv2
from geometry_msgs.msg import Point
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

# A marker outlives its frame by this much, so markers vanish soon after the pose stops.
MARKER_LIFETIME = Duration(sec=0, nanosec=500_000_000)
LED_DIAMETER_M = 0.012
AXIS_LENGTH_M = 0.08
AXIS_WIDTH_M = 0.003
TEXT_HEIGHT_M = 0.03
# BGR colours of the debug image.
MATCHED_BGR = (80, 220, 80)
UNMATCHED_BGR = (0, 200, 255)
MODEL_BGR = (255, 80, 255)
TEXT_BGR = (255, 255, 255)


def marker_array(header, result, led_positions, target_frame):
    """
    Return the MarkerArray of one frame: LED model, target axes and range at the pose.

    The markers are in the camera optical frame (header.frame_id), placed at the estimated
    pose; a frame without a pose gives one DELETEALL so that stale markers disappear.
    """
    if result.pose is None:
        return MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])
    leds = _marker(header, f'{target_frame}/leds', Marker.SPHERE_LIST, result.pose)
    leds.scale.x = leds.scale.y = leds.scale.z = LED_DIAMETER_M
    leds.color = ColorRGBA(r=1.0, g=0.25, b=0.2, a=0.9)
    leds.points = [_point(p) for p in np.asarray(led_positions).reshape(-1, 3)]
    axes = _marker(header, f'{target_frame}/axes', Marker.LINE_LIST, result.pose)
    axes.scale.x = AXIS_WIDTH_M
    axes.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    for axis in np.eye(3):
        axes.points += [_point((0.0, 0.0, 0.0)), _point(AXIS_LENGTH_M * axis)]
        colour = ColorRGBA(r=float(axis[0]), g=float(axis[1]), b=float(axis[2]), a=1.0)
        axes.colors += [colour, colour]
    text = _marker(header, f'{target_frame}/range', Marker.TEXT_VIEW_FACING, None)
    # Above the target in the image: the optical frame's y points down.
    text.pose.position = _point(result.pose.tvec - [0.0, 2.0 * AXIS_LENGTH_M, 0.0])
    text.scale.z = TEXT_HEIGHT_M
    text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    text.text = f'{target_frame}: {result.pose.range_m:.3f} m ({result.quality.state})'
    return MarkerArray(markers=[leds, axes, text])


def annotate_frame(gray, result, model_px=None):
    """
    Return a BGR copy of an 8-bit mono frame with what the pipeline saw drawn on it.

    Circles: detected spots (green when matched to an LED, with the LED's number 1..N, orange
    otherwise); magenta crosses joined in LED order: `model_px`, the LED model reprojected at
    the pose (LedPosePipeline.model_pixels); top left: track state, quality level, range and
    fit, and the quality message.
    """
    canvas = cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2BGR)
    scale = max(0.4, canvas.shape[1] / 1600.0)
    thickness = max(1, int(round(scale)))
    led_of_blob = {}
    if result.blob_of_led is not None:
        led_of_blob = {blob: led for led, blob in enumerate(result.blob_of_led) if blob >= 0}
    for index, blob in enumerate(result.blobs):
        centre = (int(round(blob.x)), int(round(blob.y)))
        radius = int(round(math.sqrt(max(blob.area, 1.0) / math.pi))) + 4
        colour = MATCHED_BGR if index in led_of_blob else UNMATCHED_BGR
        cv2.circle(canvas, centre, radius, colour, thickness, cv2.LINE_AA)
        if index in led_of_blob:
            _text(canvas, str(led_of_blob[index] + 1), (centre[0] + radius, centre[1] - radius),
                  scale, colour, thickness)
    if model_px is not None and np.all(np.isfinite(model_px)):
        model = np.round(model_px).astype(np.int32)
        cv2.polylines(canvas, [model.reshape(-1, 1, 2)], True, MODEL_BGR, 1, cv2.LINE_AA)
        for x, y in model:
            cv2.drawMarker(canvas, (int(x), int(y)), MODEL_BGR, cv2.MARKER_CROSS,
                           int(16 * scale), thickness)
    quality = result.quality
    lines = [
        f'{quality.state}  {LEVEL_NAMES[quality.level]}  range {_value(quality.range_m, 3)} m  '
        f'matched {_value(quality.leds_matched)}/{quality.leds_expected}  '
        f'rms {_value(quality.reprojection_rms_px, 2)} px  '
        f'confidence {_value(quality.confidence, 2)}',
        quality.message,
    ]
    line_height = int(30 * scale)
    for row, line in enumerate(lines):
        _text(canvas, line, (int(10 * scale), line_height * (row + 1)), scale, TEXT_BGR,
              thickness)
    return canvas


def debug_image(msg, result, model_px, mono16_bits, max_image_bytes):
    """Return the annotated bgr8 Image of an input Image message, or None when unreadable."""
    try:
        pixels = decode_mono(raw_image(msg), max_image_bytes).pixels
    except ImageDecodeError:
        return None
    canvas = annotate_frame(to_8bit(pixels, mono16_bits), result, model_px)
    out = Image()
    out.header = msg.header
    out.height, out.width = canvas.shape[:2]
    out.encoding = 'bgr8'
    out.is_bigendian = 0
    out.step = 3 * out.width
    out.data = canvas.tobytes()
    return out


def _marker(header, namespace, kind, pose):
    # `pose` (a PoseEstimate) places the marker's points; None leaves the identity.
    marker = Marker(header=header, ns=namespace, id=0, type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    if pose is not None:
        marker.pose.position = _point(pose.tvec)
        q = quaternion_from_matrix(pose.rotation)
        orientation = marker.pose.orientation
        orientation.x, orientation.y, orientation.z, orientation.w = (float(v) for v in q)
    marker.lifetime = MARKER_LIFETIME
    return marker


def _point(xyz):
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _text(canvas, text, origin, scale, colour, thickness):
    # A dark outline keeps the text readable over bright spots.
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, text, origin, font, 0.6 * scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, 0.6 * scale, colour, thickness, cv2.LINE_AA)


def _value(value, digits=None):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return 'nan'
    return f'{value:.{digits}f}' if digits is not None else f'{value:g}'
