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

"""Turn the bytes of a sensor_msgs/Image into a mono NumPy image, refusing malformed frames."""

from dataclasses import dataclass
import sys

import cv2
import numpy as np

# encoding -> (dtype, channels); the encodings of the interface contract.
ENCODINGS = {
    'mono8': (np.uint8, 1),
    '8UC1': (np.uint8, 1),
    'mono16': (np.uint16, 1),
    '16UC1': (np.uint16, 1),
    'bgr8': (np.uint8, 3),
    'rgb8': (np.uint8, 3),
    'bgra8': (np.uint8, 4),
    'rgba8': (np.uint8, 4),
}
_TO_GRAY = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}


class ImageDecodeError(ValueError):
    """A frame that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image that decoding needs, without the message type."""

    encoding: str
    width: int
    height: int
    step: int
    is_bigendian: bool
    data: object


@dataclass(frozen=True)
class DecodedImage:
    """A mono image and what decoding had to say about the frame."""

    pixels: np.ndarray
    warnings: tuple


def decode_mono(raw, max_bytes):
    """
    Return the frame as a 2-D uint8 or uint16 array; raise ImageDecodeError naming the fault.

    Rows are read through `step`, so padded rows need no copy. Nothing past the bytes received
    is read, and a frame declaring more than `max_bytes` is refused before any allocation.
    """
    if raw.encoding not in ENCODINGS:
        raise ImageDecodeError(
            f"unsupported encoding '{raw.encoding}' (supported: {', '.join(ENCODINGS)})")
    dtype, channels = ENCODINGS[raw.encoding]
    width, height, step = int(raw.width), int(raw.height), int(raw.step)
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f'image has no pixels ({width}x{height})')
    row_bytes = width * channels * np.dtype(dtype).itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f'step {step} is smaller than one {raw.encoding} row of {width} pixels '
            f'({row_bytes} bytes)')
    if step * height > max_bytes:
        raise ImageDecodeError(
            f'frame of {step * height} bytes exceeds the max_image_bytes limit of {max_bytes}')
    data = _as_bytes(raw.data)
    needed = step * (height - 1) + row_bytes
    if data.size < needed:
        raise ImageDecodeError(
            f'data holds {data.size} bytes, a {width}x{height} {raw.encoding} image with step '
            f'{step} needs {step * height}')
    warnings = []
    if data.size > step * height:
        warnings.append(f'data holds {data.size - step * height} bytes more than step x height')
    # A view with the message's row stride: no copy, and nothing read past the data.
    pixels = np.ndarray((height, row_bytes), np.uint8, data, strides=(step, 1))
    pixels.flags.writeable = False
    if dtype != np.uint8:
        # 16-bit rows may start at odd offsets: copy once into aligned storage.
        pixels = np.ascontiguousarray(pixels).view(dtype)
    pixels = pixels.reshape(height, width, channels) if channels > 1 else \
        pixels.reshape(height, width)
    if dtype == np.uint16 and bool(raw.is_bigendian) != (sys.byteorder == 'big'):
        pixels = pixels.byteswap()
    if channels > 1:
        color = np.ascontiguousarray(pixels)
        if raw.encoding.startswith('rgb'):
            color = color[:, :, [2, 1, 0, 3][:channels]]
        pixels = cv2.cvtColor(np.ascontiguousarray(color), _TO_GRAY[channels])
    return DecodedImage(pixels, tuple(warnings))


def _as_bytes(data):
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def to_8bit(pixels, mono16_bits):
    """Scale a uint16 image holding `mono16_bits` significant bits to uint8; pass uint8 through."""
    if pixels.dtype == np.uint8:
        return pixels
    return cv2.convertScaleAbs(pixels, alpha=1.0 / float(1 << (mono16_bits - 8)))
