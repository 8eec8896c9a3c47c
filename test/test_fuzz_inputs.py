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
Property tests of the image and camera_info paths with random fields and random bytes.

The property is the same everywhere: whatever arrives, no exception escapes and exactly one
quality report comes out per frame; a refused input is an ERROR and a published pose is finite.
Most examples run the pure pipeline (LedPosePipeline.process and set_camera_info, over 2000
examples); a smaller run sends random messages through the real node over DDS. Hypothesis is
derandomized, so CI sees the same examples on every run.
"""

import copy
import math

from clingers_perception.approach_trajectory import FACING_ROTATION, led_points_in_camera
from clingers_perception.camera_model import CameraModel
from clingers_perception.image_decoding import ENCODINGS, RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.quality import ERROR, LEVEL_NAMES
from clingers_perception.ros_conversions import camera_info_message
from clingers_perception.transforms import rotation_matrix
from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from test_bad_input import image_message, NodeRig

TARGET = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
CAMERA = default_sim_camera(640, 480)
UINT32_MAX = 2 ** 32 - 1
CONTRACT_KEYS = {'state', 'leds_expected', 'leds_detected', 'leds_matched',
                 'reprojection_rms_px', 'confidence', 'range_m', 'detector_profile',
                 'processing_ms'}
BYTES_PER_PIXEL = {'mono8': 1, '8UC1': 1, 'mono16': 2, '16UC1': 2, 'bgr8': 3, 'rgb8': 3,
                   'bgra8': 4, 'rgba8': 4}


def _fuzz_settings(examples):
    # deadline=None: a frame of random bytes can take tens of milliseconds to search.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


def _camera_info_fields(camera):
    """Return (width, height, model, D, K, P) of a CameraModel, as set_camera_info takes them."""
    projection = np.zeros((3, 4))
    projection[:, :3] = camera.camera_matrix
    return (camera.width, camera.height, 'plumb_bob', [float(v) for v in camera.distortion],
            [float(v) for v in camera.camera_matrix.reshape(-1)],
            [float(v) for v in projection.reshape(-1)])


def _rendered_frames(count=6):
    renderer = IrSceneRenderer(CAMERA)
    frames = []
    for index in range(count):
        rotation = rotation_matrix([0.05, 0.03 * index, 0.02]) @ FACING_ROTATION
        translation = np.array([0.05, -0.03, 0.8 + 0.1 * index])
        points = led_points_in_camera(TARGET, rotation, translation)
        frames.append(renderer.render(points, rng=np.random.default_rng(index)).image)
    return frames


FRAMES = _rendered_frames()


def _new_pipeline(camera=CAMERA):
    pipeline = LedPosePipeline(TARGET)
    assert pipeline.set_camera_info(*_camera_info_fields(camera)) == ''
    return pipeline


def _tracking_pipeline():
    pipeline = _new_pipeline()
    for index in range(3):
        result = pipeline.process(RawImage('mono8', 640, 480, 640, False, FRAMES[0].tobytes()),
                                  index / 30.0)
    assert result.pose is not None and result.quality.state == 'TRACKING'
    return pipeline


TRACKING_PIPELINE = _tracking_pipeline()


def _check_result(result, expect_error=False):
    """Assert the one-report-per-frame property on a FrameResult."""
    quality = result.quality
    assert quality.level in LEVEL_NAMES
    assert quality.message, 'a report without a message'
    keys = dict(quality.key_values())
    assert CONTRACT_KEYS <= set(keys), CONTRACT_KEYS - set(keys)
    assert all(isinstance(value, str) for value in keys.values())
    if expect_error:
        assert quality.level == ERROR, quality.message
    if result.pose is not None:
        assert quality.level != ERROR
        assert np.all(np.isfinite(result.pose.tvec)) and np.all(np.isfinite(result.pose.rvec))
        assert result.covariance.shape == (6, 6) and np.all(np.isfinite(result.covariance))


# Strategies ------------------------------------------------------------------------------

# Strings a ROS string field can carry (no lone surrogates: they have no UTF-8 form).
texts = st.text(st.characters(blacklist_categories=('Cs',)), max_size=12)
encodings = st.sampled_from(sorted(ENCODINGS)) | st.sampled_from(
    ['yuv422', '32FC1', 'bayer_rggb8', '8UC3', 'MONO8', 'mono 8', '']) | texts
any_floats = st.floats(allow_nan=True, allow_infinity=True)
stamps = st.floats(0.0, 4e9) | any_floats


@st.composite
def raw_images(draw):
    """Draw a RawImage with random fields, often nearly consistent, and random bytes."""
    encoding = draw(encodings)
    width = draw(st.integers(0, 80) | st.integers(0, UINT32_MAX))
    height = draw(st.integers(0, 60) | st.integers(0, UINT32_MAX))
    row = width * BYTES_PER_PIXEL.get(encoding, 1)
    step = draw(st.sampled_from([row, row + 1, row + 7, max(row - 1, 0), 2 * row])
                | st.integers(0, 512) | st.integers(0, UINT32_MAX))
    declared = step * height
    size = draw(st.sampled_from([declared, declared - 1, declared + 3, 0])
                | st.integers(0, 20000))
    size = max(0, min(size, 200_000))
    fill = draw(st.sampled_from(['noise', 'zeros', 'ones', 'drawn']))
    if fill == 'drawn':
        data = draw(st.binary(max_size=4096))
    elif fill == 'noise':
        rng = np.random.default_rng(draw(st.integers(0, UINT32_MAX)))
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    else:
        data = (b'\x00' if fill == 'zeros' else b'\xff') * size
    container = draw(st.sampled_from([bytes, bytearray, memoryview, np.frombuffer]))
    data = container(data) if container is not np.frombuffer else \
        np.frombuffer(data, dtype=np.uint8)
    return RawImage(encoding, width, height, step, draw(st.booleans()), data)


@st.composite
def corrupted_frames(draw):
    """Draw a rendered 640x480 frame damaged in one of several ways."""
    pixels = FRAMES[draw(st.integers(0, len(FRAMES) - 1))].copy()
    kind = draw(st.sampled_from(['patch', 'noise', 'spots', 'rows', 'constant', 'flip',
                                 'bytes']))
    rng = np.random.default_rng(draw(st.integers(0, UINT32_MAX)))
    if kind == 'patch':
        x, y = draw(st.integers(0, 639)), draw(st.integers(0, 479))
        w, h = draw(st.integers(1, 640)), draw(st.integers(1, 480))
        region = pixels[y:y + h, x:x + w]
        region[...] = rng.integers(0, 256, region.shape) if draw(st.booleans()) else \
            draw(st.integers(0, 255))
    elif kind == 'noise':
        sigma = draw(st.floats(0.0, 120.0))
        pixels = np.clip(pixels + rng.normal(0.0, sigma, pixels.shape), 0, 255).astype(np.uint8)
    elif kind == 'spots':
        count = draw(st.integers(1, 300))
        rows, cols = rng.integers(0, 478, count), rng.integers(0, 638, count)
        for dy in range(3):
            for dx in range(3):
                pixels[rows + dy, cols + dx] = 255
    elif kind == 'rows':
        pixels[rng.integers(0, 480, draw(st.integers(1, 200)))] = 255
    elif kind == 'constant':
        pixels[...] = draw(st.integers(0, 255))
    elif kind == 'flip':
        pixels = np.ascontiguousarray(pixels[::-1] if draw(st.booleans()) else pixels[:, ::-1])
    else:
        flat = pixels.reshape(-1)
        offsets = rng.integers(0, flat.size, draw(st.integers(1, 5000)))
        flat[offsets] = rng.integers(0, 256, offsets.size)
    return pixels


@st.composite
def camera_infos(draw):
    """Draw CameraInfo fields: the simulated camera's with some values replaced or scaled."""
    width, height, model, d, k, p = _camera_info_fields(CAMERA)
    if draw(st.booleans()):
        width = draw(st.sampled_from([640, 0, 1280]) | st.integers(0, UINT32_MAX))
        height = draw(st.sampled_from([480, 0, 1024]) | st.integers(0, UINT32_MAX))
    model = draw(st.sampled_from([model, 'rational_polynomial', '', 'equidistant'])
                 | texts)
    d = draw(st.just(d) | st.lists(any_floats | st.floats(-2.0, 2.0), max_size=14))
    factors = st.sampled_from([0.0, -1.0, 1e-300, 1e-3, 0.5, 0.999, 1.001, 2.0, 1e3, 1e300])
    for index, factor in draw(st.lists(st.tuples(st.integers(0, 8), factors), max_size=3)):
        k[index] *= factor
    for index, value in draw(st.lists(st.tuples(st.integers(0, 8), any_floats), max_size=2)):
        k[index] = value
    for index, factor in draw(st.lists(st.tuples(st.integers(0, 11), factors), max_size=3)):
        p[index] *= factor
    for index, value in draw(st.lists(st.tuples(st.integers(0, 11), any_floats), max_size=2)):
        p[index] = value
    return width, height, model, d, k, p, draw(st.booleans())


# The pure path: 2200 examples ------------------------------------------------------------

@_fuzz_settings(900)
@given(frames=st.lists(st.tuples(raw_images(), stamps), min_size=1, max_size=3))
def test_random_image_fields_give_one_report_each(frames):
    pipeline = LedPosePipeline(TARGET)
    for raw, stamp in frames:
        width, height = int(raw.width), int(raw.height)
        if 8 <= width <= 4096 and 8 <= height <= 4096:
            # A calibration that fits, so that frames which decode reach the detector.
            pipeline.set_camera_info(*_camera_info_fields(default_sim_camera(width, height)))
        result = pipeline.process(raw, stamp)
        _check_result(result, expect_error=raw.encoding not in ENCODINGS
                      or width == 0 or height == 0)


@_fuzz_settings(500)
@given(frames=st.lists(corrupted_frames(), min_size=1, max_size=3), tracking=st.booleans())
def test_damaged_frames_give_one_report_each(frames, tracking):
    pipeline = copy.deepcopy(TRACKING_PIPELINE) if tracking else _new_pipeline()
    for index, pixels in enumerate(frames):
        raw = RawImage('mono8', 640, 480, 640, False, pixels.tobytes())
        _check_result(pipeline.process(raw, 1.0 + index / 30.0))


@_fuzz_settings(800)
@given(fields=camera_infos(), tracking=st.booleans(), frames=st.integers(1, 3))
def test_random_camera_info_gives_a_reason_or_a_usable_camera(fields, tracking, frames):
    pipeline = copy.deepcopy(TRACKING_PIPELINE) if tracking else _new_pipeline()
    error = pipeline.set_camera_info(*fields)
    assert isinstance(error, str)
    if not error:
        # Accepted calibrations hold what CameraModel promises.
        camera = pipeline.camera
        assert isinstance(camera, CameraModel)
        assert np.all(np.isfinite(camera.camera_matrix)) and np.all(np.isfinite(camera.distortion))
        assert camera.camera_matrix[0, 0] > 0.0 and camera.camera_matrix[1, 1] > 0.0
    for index in range(frames):
        raw = RawImage('mono8', 640, 480, 640, False, FRAMES[index].tobytes())
        result = pipeline.process(raw, 1.0 + index / 30.0)
        _check_result(result, expect_error=bool(error))
        if error:
            assert 'camera_info' in result.quality.message


# Through the node over DDS: 240 examples ---------------------------------------------------

@pytest.fixture(scope='module')
def rig():
    """Return one node and camera rig for the DDS examples."""
    node_rig = NodeRig()
    try:
        node_rig.warm_up()
        yield node_rig
    finally:
        node_rig.close()


@st.composite
def image_messages(draw):
    """Draw an Image message: random fields and bytes, or a good frame with one field broken."""
    if draw(st.booleans()):
        raw = draw(raw_images())
        return image_message(encoding=raw.encoding, width=raw.width, height=raw.height,
                             step=raw.step, data=bytes(memoryview(raw.data)),
                             is_bigendian=raw.is_bigendian)
    pixels = draw(corrupted_frames())
    msg = image_message(pixels)
    field = draw(st.sampled_from(['none', 'encoding', 'width', 'height', 'step', 'data',
                                  'is_bigendian']))
    if field == 'encoding':
        msg.encoding = draw(encodings)
    elif field in ('width', 'height', 'step'):
        setattr(msg, field, draw(st.integers(0, 2048) | st.integers(0, UINT32_MAX)))
    elif field == 'data':
        msg.data = bytes(msg.data)[:draw(st.integers(0, 640 * 480 + 100))]
    elif field == 'is_bigendian':
        msg.is_bigendian = draw(st.integers(0, 255))
    return msg


def _send_and_count(rig, image, camera_info):
    # rig.send asserts one detection_quality per frame, and that frames_received counts it.
    output = rig.send(image, camera_info=camera_info)
    assert set(output.values) >= CONTRACT_KEYS | {'frames_received'}
    assert output.level in ('OK', 'WARN', 'ERROR')
    if output.pose is not None:
        position = output.pose.pose.pose.position
        assert all(math.isfinite(v) for v in (position.x, position.y, position.z))
        assert all(math.isfinite(v) for v in output.pose.pose.covariance)
    return output


@_fuzz_settings(180)
@given(image=image_messages())
def test_random_images_through_the_node(rig, image):
    assert isinstance(image, Image)
    _send_and_count(rig, image, True)
    assert len(rig.qualities) == rig.node.frames_in


@_fuzz_settings(60)
@given(fields=camera_infos())
def test_random_camera_info_through_the_node(rig, fields):
    width, height, model, d, k, p, _ = fields
    info = camera_info_message(CAMERA)
    info.width, info.height, info.distortion_model = width, height, model
    info.d, info.k, info.p = [float(v) for v in d], [float(v) for v in k], \
        [float(v) for v in p]
    assert isinstance(info, CameraInfo)
    output = _send_and_count(rig, image_message(FRAMES[0]), info)
    if output.level == 'ERROR':
        assert 'camera_info' in output.status.message
    # The node keeps going with a good calibration.
    _send_and_count(rig, image_message(FRAMES[1]), True)
    assert len(rig.qualities) == rig.node.frames_in
