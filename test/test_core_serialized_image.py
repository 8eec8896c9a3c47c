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

"""serialized_image against rclpy's own serialization of sensor_msgs/Image."""

import struct

from clingers_perception.image_decoding import decode_mono, ImageDecodeError
from clingers_perception.serialized_image import parse_image
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image


def _image(width, height, encoding, channels, itemsize, frame_id, padding=0, big=False):
    rng = np.random.default_rng(width * height)
    step = width * channels * itemsize + padding
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(big),
                step=step)
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_123, 987_654_321
    msg.header.frame_id = frame_id
    msg.data = rng.integers(0, 256, step * height, dtype=np.uint8).tobytes()
    return msg


def _big_endian_cdr(msg):
    """Serialize `msg` by hand in big-endian CDR, as a big-endian host would."""
    out = bytearray(b'\x00\x00\x00\x00')

    def put(code, value):
        size = struct.calcsize(code)
        out.extend(b'\0' * (-(len(out) - 4) % size))
        out.extend(struct.pack('>' + code, value))

    def put_string(text):
        raw = text.encode() + b'\0'
        put('I', len(raw))
        out.extend(raw)

    put('i', msg.header.stamp.sec)
    put('I', msg.header.stamp.nanosec)
    put_string(msg.header.frame_id)
    put('I', msg.height)
    put('I', msg.width)
    put_string(msg.encoding)
    put('B', msg.is_bigendian)
    put('I', msg.step)
    put('I', len(msg.data))
    out.extend(bytes(msg.data))
    return bytes(out)


@pytest.mark.parametrize('width, height, encoding, channels, itemsize, frame_id, padding', [
    (1280, 1024, 'mono8', 1, 1, 'ir_camera_optical_frame', 0),
    (641, 3, 'mono8', 1, 1, 'odd', 3),
    (7, 5, 'mono16', 1, 2, '', 0),
    (9, 4, 'bgr8', 3, 1, 'a/b', 5),
    (3, 2, 'rgba8', 4, 1, 'cam', 0),
])
def test_fields_and_pixels_match_rclpy_serialization(width, height, encoding, channels,
                                                     itemsize, frame_id, padding):
    msg = _image(width, height, encoding, channels, itemsize, frame_id, padding)
    for buffer in (serialize_message(msg), _big_endian_cdr(msg)):
        image = parse_image(buffer)
        assert (image.stamp_sec, image.stamp_nanosec) == (1_700_000_123, 987_654_321)
        assert image.frame_id == frame_id
        raw = image.raw
        assert (raw.encoding, raw.width, raw.height, raw.step) == \
            (encoding, width, height, msg.step)
        assert raw.is_bigendian is False
        assert bytes(raw.data) == bytes(msg.data)
    pixels = decode_mono(parse_image(serialize_message(msg)).raw, 1 << 26).pixels
    assert pixels.shape == (height, width)


def test_pixels_are_a_view_of_the_buffer():
    buffer = serialize_message(_image(64, 48, 'mono8', 1, 1, 'cam'))
    data = parse_image(buffer).raw.data
    assert data.obj is buffer


@pytest.mark.parametrize('cut', [0, 3, 4, 9, 20, 40, 60, 100])
def test_truncated_buffers_are_refused_by_name(cut):
    buffer = serialize_message(_image(8, 8, 'mono8', 1, 1, 'cam'))
    with pytest.raises(ImageDecodeError, match='serialized image'):
        parse_image(buffer[:len(buffer) - cut] if cut else buffer[:2])


def test_unknown_encapsulation_and_absurd_strings_are_refused():
    buffer = bytearray(serialize_message(_image(8, 8, 'mono8', 1, 1, 'cam')))
    with pytest.raises(ImageDecodeError, match='CDR header'):
        parse_image(bytes([0, 0x0a]) + bytes(buffer[2:]))
    buffer[12:16] = struct.pack('<I', 1 << 30)
    with pytest.raises(ImageDecodeError, match='string of'):
        parse_image(bytes(buffer))
