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

"""Tests of image decoding: every encoding of the contract and every malformed frame."""

import array

from clingers_perception.image_decoding import (decode_mono, ENCODINGS, ImageDecodeError,
                                                RawImage, to_8bit)
import cv2
import numpy as np
import pytest

LIMIT = 1 << 26
WIDTH, HEIGHT = 7, 5


def _mono(dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max, (HEIGHT, WIDTH), endpoint=True).astype(dtype)


def _colour(seed=1):
    # Channels that differ strongly, so a swapped R and B changes the grey value.
    rng = np.random.default_rng(seed)
    bgr = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    bgr[..., 0] = rng.integers(0, 60, (HEIGHT, WIDTH))
    bgr[..., 1] = rng.integers(60, 120, (HEIGHT, WIDTH))
    bgr[..., 2] = rng.integers(180, 256, (HEIGHT, WIDTH))
    return bgr


def _rows(pixels, padding=0, big_endian=False):
    """Serialise an image as ROS does: rows of `step` bytes, multi-byte values in order."""
    pixels = np.asarray(pixels)
    if pixels.dtype.itemsize > 1:
        pixels = pixels.astype(pixels.dtype.newbyteorder('>' if big_endian else '<'))
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.full((rows.shape[0], rows.shape[1] + padding), 0xAB, np.uint8)
    padded[:, :rows.shape[1]] = rows
    return padded.tobytes(), padded.shape[1]


def _raw(encoding, pixels, padding=0, big_endian=False, data=None):
    payload, step = _rows(pixels, padding, big_endian)
    return RawImage(encoding, pixels.shape[1], pixels.shape[0], step, big_endian,
                    payload if data is None else data(payload))


def test_the_contract_encodings_are_all_supported():
    """The decoder knows exactly the encodings of the interface contract."""
    assert set(ENCODINGS) == {'mono8', 'mono16', '8UC1', '16UC1', 'bgr8', 'rgb8', 'bgra8',
                              'rgba8'}


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
@pytest.mark.parametrize('padding', [0, 3])
def test_8_bit_mono(encoding, padding):
    """mono8 and 8UC1 decode to the same uint8 pixels, through padded rows too."""
    pixels = _mono()
    decoded = decode_mono(_raw(encoding, pixels, padding), LIMIT)
    assert decoded.pixels.dtype == np.uint8
    assert np.array_equal(decoded.pixels, pixels)
    assert decoded.warnings == ()


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('padding', [0, 1, 4])
def test_16_bit_mono_either_endianness(encoding, big_endian, padding):
    """16-bit frames decode to the right values in either byte order, odd row padding too."""
    pixels = _mono(np.uint16, seed=3)
    decoded = decode_mono(_raw(encoding, pixels, padding, big_endian), LIMIT)
    assert decoded.pixels.dtype == np.uint16
    assert np.array_equal(decoded.pixels, pixels)


def test_byte_order_is_honoured_not_guessed():
    """The same bytes read as big or little endian give byte-swapped values."""
    pixels = np.full((HEIGHT, WIDTH), 0x0102, np.uint16)
    payload, step = _rows(pixels, big_endian=True)
    as_big = decode_mono(RawImage('mono16', WIDTH, HEIGHT, step, True, payload), LIMIT)
    as_little = decode_mono(RawImage('mono16', WIDTH, HEIGHT, step, False, payload), LIMIT)
    assert np.all(as_big.pixels == 0x0102)
    assert np.all(as_little.pixels == 0x0201)


@pytest.mark.parametrize('padding', [0, 5])
def test_colour_orders(padding):
    """bgr8 and rgb8 (and the alpha variants) of the same picture give the same grey image."""
    bgr = _colour()
    expected = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.full((HEIGHT, WIDTH, 1), 77, np.uint8)
    frames = {
        'bgr8': bgr,
        'rgb8': bgr[..., ::-1],
        'bgra8': np.concatenate([bgr, alpha], axis=2),
        'rgba8': np.concatenate([bgr[..., ::-1], alpha], axis=2),
    }
    for encoding, pixels in frames.items():
        decoded = decode_mono(_raw(encoding, pixels, padding), LIMIT)
        assert decoded.pixels.dtype == np.uint8, encoding
        assert decoded.pixels.shape == (HEIGHT, WIDTH), encoding
        assert np.array_equal(decoded.pixels, expected), encoding
    # Reading RGB bytes as BGR would be wrong: the decoder does tell them apart.
    swapped = decode_mono(_raw('bgr8', bgr[..., ::-1]), LIMIT).pixels
    assert np.max(np.abs(swapped.astype(int) - expected.astype(int))) > 20


@pytest.mark.parametrize('container', [bytes, bytearray, memoryview,
                                       lambda b: array.array('B', b),
                                       lambda b: np.frombuffer(b, np.uint8),
                                       lambda b: list(b)])
def test_data_containers(container):
    """The data field may be bytes, bytearray, memoryview, array('B'), ndarray or a list."""
    pixels = _mono(np.uint16, seed=5)
    decoded = decode_mono(_raw('mono16', pixels, padding=2, data=container), LIMIT)
    assert np.array_equal(decoded.pixels, pixels)


def test_decoding_does_not_let_the_frame_be_changed():
    """A decoded 8-bit frame is a read-only view: the detector cannot scribble on the input."""
    decoded = decode_mono(_raw('mono8', _mono()), LIMIT)
    with pytest.raises(ValueError):
        decoded.pixels[0, 0] = 1


def test_last_row_need_not_be_padded():
    """Nothing past the last pixel is read: a frame without the last row's padding is whole."""
    pixels = _mono()
    payload, step = _rows(pixels, padding=3)
    trimmed = payload[:-3]
    decoded = decode_mono(RawImage('mono8', WIDTH, HEIGHT, step, False, trimmed), LIMIT)
    assert np.array_equal(decoded.pixels, pixels)


def test_extra_data_gives_a_warning_not_an_error():
    """More bytes than step x height decode, with a warning saying how many are extra."""
    pixels = _mono()
    payload, step = _rows(pixels)
    decoded = decode_mono(RawImage('mono8', WIDTH, HEIGHT, step, False, payload + b'\0' * 11),
                          LIMIT)
    assert np.array_equal(decoded.pixels, pixels)
    assert len(decoded.warnings) == 1 and '11 bytes more' in decoded.warnings[0]


@pytest.mark.parametrize('raw, words', [
    (RawImage('yuv422', 4, 4, 8, False, bytes(32)), "unsupported encoding 'yuv422'"),
    (RawImage('MONO8', 4, 4, 4, False, bytes(16)), "unsupported encoding 'MONO8'"),
    (RawImage('mono8', 0, 4, 4, False, bytes(16)), 'no pixels'),
    (RawImage('mono8', 4, 0, 4, False, b''), 'no pixels'),
    (RawImage('mono8', -4, 4, 4, False, bytes(16)), 'no pixels'),
    (RawImage('mono8', 4, 4, 3, False, bytes(16)), 'step 3 is smaller than one mono8 row'),
    (RawImage('mono16', 4, 4, 7, False, bytes(32)), 'step 7 is smaller than one mono16 row'),
    (RawImage('bgr8', 4, 4, 8, False, bytes(48)), 'step 8 is smaller than one bgr8 row'),
    (RawImage('mono8', 4, 4, 4, False, bytes(15)), 'data holds 15 bytes'),
    (RawImage('mono16', 4, 4, 8, True, bytes(30)), 'data holds 30 bytes'),
    (RawImage('rgba8', 4, 4, 20, False, bytes(16 * 4)), 'data holds 64 bytes'),
    (RawImage('mono8', 4, 4, 4, False, b''), 'data holds 0 bytes'),
])
def test_malformed_frames_are_refused_with_the_reason(raw, words):
    """Unknown encodings, empty sizes, short steps and short data are refused, saying why."""
    with pytest.raises(ImageDecodeError) as refused:
        decode_mono(raw, LIMIT)
    assert words in str(refused.value), str(refused.value)


def test_max_bytes_limit_is_checked_before_reading():
    """A frame that declares more than max_bytes is refused before its data is touched."""
    huge = RawImage('mono16', 40000, 40000, 80000, False, b'')
    with pytest.raises(ImageDecodeError) as refused:
        decode_mono(huge, LIMIT)
    assert 'exceeds the max_image_bytes limit' in str(refused.value)
    pixels = _mono()
    raw = _raw('mono8', pixels)
    assert np.array_equal(decode_mono(raw, WIDTH * HEIGHT).pixels, pixels)
    with pytest.raises(ImageDecodeError):
        decode_mono(raw, WIDTH * HEIGHT - 1)


def test_to_8bit_scales_by_the_significant_bits():
    """A 12-bit frame in uint16 maps 4095 to 255; 16-bit maps 65535 to 255; uint8 is untouched."""
    twelve = np.array([[0, 16, 2048, 4095]], np.uint16)
    assert to_8bit(twelve, 12).tolist() == [[0, 1, 128, 255]]
    sixteen = np.array([[0, 257, 32896, 65535]], np.uint16)
    assert to_8bit(sixteen, 16).tolist() == [[0, 1, 128, 255]]
    eight = _mono()
    assert to_8bit(eight, 12) is eight
    # Values above the declared bit depth clip instead of wrapping around.
    assert to_8bit(np.array([[8191]], np.uint16), 12).tolist() == [[255]]
