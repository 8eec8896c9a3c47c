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
Offline replay: rosbag2 (sqlite3, mcap) and image folders give the poses of the live pipeline.

The bags are written with `rosbags` from rendered frames, as `ros2 bag record` would store the
camera's Image and CameraInfo; the live run feeds the same frames and stamps to a pipeline the
way perception_node does.
"""

import csv
import math
import os
import re
import sys

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.parameters import build_config, default_values
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.quality import QualityReport
from clingers_perception.replay import (bag_messages, CameraInfoFields, CSV_COLUMNS,
                                        load_camera_yaml, load_parameters, main, QUALITY_KEYS,
                                        replay, ReplayError)
from clingers_perception.transforms import matrix_from_quaternion
import cv2
import numpy as np
import pytest

CAMERA = default_sim_camera(640, 480)
TARGET = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
FRAMES = 24
FRAME_ID = 'ir_camera_optical'
# Some recorded stamp (2026-01-01), 30 Hz.
FIRST_STAMP_NS = 1_767_225_600_000_000_000
PERIOD_NS = 33_333_333
# The contract keys of detection_quality, each a CSV column.
CONTRACT_KEYS = ('state', 'leds_expected', 'leds_detected', 'leds_matched', 'reprojection_rms_px',
                 'confidence', 'range_m', 'detector_profile', 'processing_ms')


def _camera_info():
    k = [float(v) for v in CAMERA.camera_matrix.reshape(-1)]
    p = [k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return CameraInfoFields(CAMERA.width, CAMERA.height, 'plumb_bob',
                            tuple(float(v) for v in CAMERA.distortion), tuple(k), tuple(p))


def _frames(bit_depth=8):
    renderer = IrSceneRenderer(CAMERA, IrSceneConfig(bit_depth=bit_depth))
    rng = np.random.default_rng(5)
    spec = ApproachSpec(start_range_m=1.2, end_range_m=0.6, frames=FRAMES)
    return [renderer.render(led_points_in_camera(TARGET, *pose), rng=rng).image
            for pose in approach_poses(spec)]


@pytest.fixture(scope='module')
def frames():
    return _frames()


def _raw(image):
    encoding = 'mono8' if image.dtype == np.uint8 else 'mono16'
    return RawImage(encoding, image.shape[1], image.shape[0], image.strides[0],
                    sys.byteorder == 'big', image)


def _live(images, stamps, values=None):
    """Run the images through a pipeline as perception_node does; return the FrameResults."""
    config = build_config(default_values() if values is None else values)
    pipeline = LedPosePipeline(config.target, config.settings)
    info = _camera_info()
    results = []
    for image, stamp_s in zip(images, stamps):
        pipeline.set_camera_info(info.width, info.height, info.distortion_model, info.d,
                                 info.k, info.p, config.image_is_rectified)
        results.append(pipeline.process(_raw(image), stamp_s))
    return results


def _write_bag(path, images, storage, extra_image_topic=None, extra_camera_info_topic=None,
               extra_camera_info=None):
    """Write a bag of `images` and their CameraInfo; `extra_camera_info` on the extra topic."""
    # rosbags comes from PyPI (requirements/ros-kilted-pip.txt); a ROS install may lack it.
    pytest.importorskip('rosbags')
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    infos = [_camera_info(), extra_camera_info or _camera_info()]
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    stamps = []
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        image_topics = ['/ir_camera/image_raw']
        if extra_image_topic:
            image_topics.append(extra_image_topic)
        image_connections = [writer.add_connection(t, 'sensor_msgs/msg/Image', typestore=store)
                             for t in image_topics]
        info_connections = [writer.add_connection(t, 'sensor_msgs/msg/CameraInfo',
                                                  typestore=store)
                            for t in ['/ir_camera/camera_info', extra_camera_info_topic] if t]
        for index, image in enumerate(images):
            stamp_ns = FIRST_STAMP_NS + index * PERIOD_NS
            header = types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](
                    sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                frame_id=FRAME_ID)
            camera_infos = [types['sensor_msgs/msg/CameraInfo'](
                header=header, height=info.height, width=info.width,
                distortion_model=info.distortion_model, d=np.array(info.d),
                k=np.array(info.k), r=np.eye(3).reshape(-1), p=np.array(info.p), binning_x=0,
                binning_y=0, roi=types['sensor_msgs/msg/RegionOfInterest'](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
                for info in infos]
            message = types['sensor_msgs/msg/Image'](
                header=header, height=image.shape[0], width=image.shape[1],
                encoding='mono8' if image.dtype == np.uint8 else 'mono16', is_bigendian=0,
                step=image.strides[0], data=image.reshape(-1).view(np.uint8))
            # The driver publishes camera_info with each image; the recorder sees it first.
            for connection, camera_info in zip(info_connections, camera_infos):
                writer.write(connection, stamp_ns,
                             store.serialize_cdr(camera_info, 'sensor_msgs/msg/CameraInfo'))
            for connection in image_connections:
                writer.write(connection, stamp_ns + 1,
                             store.serialize_cdr(message, 'sensor_msgs/msg/Image'))
            stamps.append(header.stamp.sec + 1e-9 * header.stamp.nanosec)
    return stamps


def _read_csv(path):
    with open(path, newline='') as stream:
        return list(csv.DictReader(stream))


def _assert_same_poses(rows, live):
    assert len(rows) == len(live)
    published = 0
    for row, expected in zip(rows, live):
        assert row['state'] == expected.quality.state
        # Each contract key has its column, holding what the live report said (but the time).
        values = dict(expected.quality.key_values())
        for key in CONTRACT_KEYS[:-1]:
            assert row[key] == values[key], key
        if expected.pose is None:
            assert row['pose_valid'] == '0' and row['x'] == 'nan'
            continue
        published += 1
        assert row['pose_valid'] == '1'
        assert math.isfinite(float(row['reprojection_rms_px']))
        position = [float(row[k]) for k in ('x', 'y', 'z')]
        assert position == list(expected.pose.tvec)
        rotation = matrix_from_quaternion([float(row[k]) for k in ('qx', 'qy', 'qz', 'qw')])
        np.testing.assert_allclose(rotation, expected.pose.rotation, atol=1e-12)
        covariance = np.array([float(v) for v in row['covariance'].split()]).reshape(6, 6)
        assert np.array_equal(covariance, expected.covariance)
        assert float(row['std_z']) == math.sqrt(expected.covariance[2, 2])
    # The approach is tracked: all but the acquisition frame give a pose.
    assert published >= len(live) - 2


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_bag_replay_gives_the_live_poses(tmp_path, frames, storage, capsys):
    bag = tmp_path / 'approach'
    stamps = _write_bag(bag, frames, storage)
    live = _live(frames, stamps)
    # The library path: identical objects, bit for bit.
    config = build_config(default_values())
    pipeline = LedPosePipeline(config.target, config.settings)
    rows = list(replay(bag_messages(str(bag)), pipeline))
    assert [r.image.stamp_s for r in rows] == stamps
    assert {r.image.frame_id for r in rows} == {FRAME_ID}
    for row, expected in zip(rows, live):
        assert (row.pose is None) == (expected.pose is None)
        if row.pose is not None:
            assert np.array_equal(row.pose.tvec, expected.pose.tvec)
            assert np.array_equal(row.pose.rvec, expected.pose.rvec)
            assert np.array_equal(row.result.covariance, expected.covariance)
    # The console script: the CSV holds the same numbers.
    output = tmp_path / 'poses.csv'
    assert main([str(bag), '--output', str(output)]) == 0
    assert f'{FRAMES} frames' in capsys.readouterr().err
    table = _read_csv(output)
    assert tuple(table[0]) == CSV_COLUMNS
    assert [float(r['stamp_s']) for r in table] == stamps
    assert {r['source'] for r in table} == {'/ir_camera/image_raw'}
    _assert_same_poses(table, live)
    # A storage file can be given directly as well as the bag folder.
    storage_file = next(n for n in os.listdir(bag) if n.endswith(('.db3', '.mcap')))
    direct = tmp_path / 'direct.csv'
    assert main([str(bag / storage_file), '-o', str(direct)]) == 0
    assert [r['x'] for r in _read_csv(direct)] == [r['x'] for r in table]


def test_bag_with_two_image_topics_needs_a_choice(tmp_path, frames, capsys):
    bag = tmp_path / 'two'
    stamps = _write_bag(bag, frames[:4], 'sqlite3', extra_image_topic='/other/image_raw')
    with pytest.raises(SystemExit) as stop:
        main([str(bag), '-o', str(tmp_path / 'x.csv')])
    assert stop.value.code == 2
    assert '/other/image_raw' in capsys.readouterr().err
    output = tmp_path / 'chosen.csv'
    assert main([str(bag), '--image-topic', '/other/image_raw', '-o', str(output)]) == 0
    table = _read_csv(output)
    assert [float(r['stamp_s']) for r in table] == stamps
    assert {r['source'] for r in table} == {'/other/image_raw'}
    with pytest.raises(ReplayError, match='no sensor_msgs/msg/Image topic /nope'):
        list(bag_messages(str(bag), image_topic='/nope'))


def _write_camera_yaml(path):
    info = _camera_info()
    path.write_text(
        'image_width: %d\nimage_height: %d\ncamera_name: ir_camera\n'
        'camera_matrix: {rows: 3, cols: 3, data: [%s]}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients: {rows: 1, cols: 5, data: [%s]}\n'
        'rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n'
        'projection_matrix: {rows: 3, cols: 4, data: [%s]}\n' % (
            info.width, info.height, ', '.join(repr(v) for v in info.k),
            ', '.join(repr(v) for v in info.d), ', '.join(repr(v) for v in info.p)))


@pytest.mark.parametrize('bit_depth', [8, 16])
def test_folder_replay_gives_the_live_poses(tmp_path, bit_depth, capsys):
    images = _frames(bit_depth)
    folder = tmp_path / 'frames'
    folder.mkdir()
    # Unpadded numbers: the replay must order frame_10 after frame_9.
    for index, image in enumerate(images):
        assert cv2.imwrite(str(folder / f'frame_{index}.png'), image)
    _write_camera_yaml(folder / 'camera.yaml')
    assert load_camera_yaml(folder / 'camera.yaml') == _camera_info()
    output = tmp_path / 'poses.csv'
    assert main([str(folder), '--fps', '20', '-o', str(output)]) == 0
    stamps = [i / 20.0 for i in range(FRAMES)]
    table = _read_csv(output)
    assert [r['source'] for r in table] == [f'frame_{i}.png' for i in range(FRAMES)]
    assert [float(r['stamp_s']) for r in table] == stamps
    _assert_same_poses(table, _live(images, stamps))
    capsys.readouterr()


def test_folder_stamps_from_names_and_an_echoed_camera_info(tmp_path, frames):
    folder = tmp_path / 'named'
    folder.mkdir()
    for index, image in enumerate(frames[:3]):
        cv2.imwrite(str(folder / f'ir_{FIRST_STAMP_NS + index * PERIOD_NS}.png'), image)
    info = _camera_info()
    camera = tmp_path / 'echo.yaml'
    camera.write_text(f'width: {info.width}\nheight: {info.height}\n'
                      f'distortion_model: plumb_bob\nd: {list(info.d)}\nk: {list(info.k)}\n'
                      f'p: {list(info.p)}\n---\n')
    # The CSV's folder does not exist yet: it is made.
    output = tmp_path / 'new' / 'poses.csv'
    assert main([str(folder), '--camera-info', str(camera), '--stamps-from-names',
                 '-o', str(output)]) == 0
    stamps = [float(r['stamp_s']) for r in _read_csv(output)]
    assert stamps == [(FIRST_STAMP_NS + i * PERIOD_NS) * 1e-9 for i in range(3)]


def test_a_frame_before_camera_info_is_reported_as_the_node_would(tmp_path, frames):
    bag = tmp_path / 'late_info'
    stamps = _write_bag(bag, frames[:3], 'sqlite3')
    config = build_config(default_values())
    pipeline = LedPosePipeline(config.target, config.settings)
    items = [m for m in bag_messages(str(bag)) if not isinstance(m, CameraInfoFields)]
    rows = list(replay(items, pipeline))
    assert [r.image.stamp_s for r in rows] == stamps
    assert all(r.quality.level == 2 and 'camera_info' in r.quality.message for r in rows)


def test_parameter_file_and_bad_inputs(tmp_path, capsys):
    shipped = os.path.join(os.path.dirname(__file__), '..', 'config', 'perception.yaml')
    assert load_parameters(shipped) == default_values()
    params = tmp_path / 'perception.yaml'
    params.write_text('/**:\n  ros__parameters:\n    confirm_frames: 3\n    use_sim_time: true\n'
                      '    qos_overrides:\n      /image:\n        subscription:\n'
                      '          depth: 2\n'
                      '    bands:\n      far:\n        min_area_px: 3\n')
    values = load_parameters(params)
    assert values['confirm_frames'] == 3
    assert values['bands.far.min_area_px'] == 3.0
    assert isinstance(values['bands.far.min_area_px'], float)
    params.write_text('/**:\n  ros__parameters:\n    no_such_parameter: 1\n')
    with pytest.raises(ReplayError, match='no_such_parameter'):
        load_parameters(params)
    empty = tmp_path / 'empty'
    empty.mkdir()
    for argv in ([str(empty)], [str(tmp_path / 'missing')],
                 [str(empty), '--params', str(params)]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert 'clingers_replay:' in capsys.readouterr().err


def test_parameter_blocks_apply_as_rcl_applies_them(tmp_path):
    params = tmp_path / 'system.yaml'
    params.write_text('docking_guidance:\n  ros__parameters:\n    capture_distance_m: 0.2\n'
                      '/**:\n  ros__parameters:\n    confirm_frames: 3\n    max_coast_frames: 7\n'
                      '/robot/clingers_perception:\n  ros__parameters:\n'
                      '    detector_backend: simple_blob\n    max_coast_frames: 9\n')
    values = load_parameters(params)
    assert values['confirm_frames'] == 3 and values['detector_backend'] == 'simple_blob'
    # The node's own block comes later in the file and wins, as in rcl.
    assert values['max_coast_frames'] == 9
    params.write_text('docking_guidance:\n  ros__parameters:\n    capture_distance_m: 0.2\n')
    with pytest.raises(ReplayError, match='no ros__parameters block for'):
        load_parameters(params)


@pytest.mark.parametrize('line, words', [
    ('image_is_rectified: "false"', "image_is_rectified must be true or false, not 'false'"),
    ('max_range_m: "20"', "max_range_m must be a number, not '20'"),
    ('max_coast_frames: 2.5', 'max_coast_frames must be an integer, not 2.5'),
    ('min_leds: four', "min_leds must be an integer, not 'four'"),
    ('led_positions: [0.1, a]', 'led_positions must be a list of numbers'),
])
def test_parameter_values_of_another_type_are_refused(tmp_path, capsys, line, words):
    params = tmp_path / 'perception.yaml'
    params.write_text(f'/**:\n  ros__parameters:\n    {line}\n')
    with pytest.raises(ReplayError, match=re.escape(words)):
        load_parameters(params)
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), '--params', str(params)])
    assert stop.value.code == 2 and words in capsys.readouterr().err


def test_bad_arguments_and_files_exit_2_with_a_reason(tmp_path, frames, capsys):
    folder = tmp_path / 'frames'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), frames[0])
    _write_camera_yaml(folder / 'camera.yaml')
    broken = tmp_path / 'broken.yaml'
    broken.write_text('width: [1280\n')
    for argv, words in (([str(folder), '--fps', '0'], 'must be more than 0'),
                        ([str(folder), '--camera-info', str(broken)], 'not valid YAML'),
                        ([str(folder), '-o', str(_below_a_file(tmp_path))], 'File exists')):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert words in capsys.readouterr().err


def _below_a_file(tmp_path):
    """Return a CSV path below a regular file, which no folder can be made for."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    return blocker / 'poses.csv'


def test_bag_with_two_camera_infos_takes_the_given_calibration(tmp_path, frames, capsys):
    bag = tmp_path / 'two_infos'
    stamps = _write_bag(bag, frames[:3], 'sqlite3', extra_camera_info_topic='/ir_camera/info2')
    with pytest.raises(SystemExit) as stop:
        main([str(bag), '-o', str(tmp_path / 'x.csv')])
    assert stop.value.code == 2 and 'choose one' in capsys.readouterr().err
    _write_camera_yaml(tmp_path / 'camera.yaml')
    output = tmp_path / 'given.csv'
    assert main([str(bag), '--camera-info', str(tmp_path / 'camera.yaml'), '-o',
                 str(output)]) == 0
    table = _read_csv(output)
    assert [float(r['stamp_s']) for r in table] == stamps
    assert table[-1]['pose_valid'] == '1'


def test_bag_folder_without_metadata_names_the_cause(tmp_path, frames, capsys):
    bag = tmp_path / 'cut_off'
    _write_bag(bag, frames[:2], 'sqlite3')
    (bag / 'metadata.yaml').unlink()
    with pytest.raises(SystemExit) as stop:
        main([str(bag), '-o', str(tmp_path / 'x.csv')])
    assert stop.value.code == 2
    assert 'no metadata.yaml' in capsys.readouterr().err


def test_csv_quality_columns_are_the_keys_of_detection_quality():
    """Every quality column of the CSV is a key that QualityReport emits, the contract's all."""
    keys = [key for key, _ in QualityReport(level=0, message='', state='TRACKING',
                                            leds_expected=4).key_values()]
    assert QUALITY_KEYS == CONTRACT_KEYS == tuple(keys)
    assert set(QUALITY_KEYS) <= set(CSV_COLUMNS)


def test_rectified_parameter_reaches_the_replayed_camera(tmp_path, frames, capsys):
    """--params with image_is_rectified: true replays as a live node that uses P, not K and D."""
    bag = tmp_path / 'rectified'
    stamps = _write_bag(bag, frames, 'sqlite3')
    params = tmp_path / 'perception.yaml'
    params.write_text('/**:\n  ros__parameters:\n    image_is_rectified: true\n')
    output = tmp_path / 'poses.csv'
    assert main([str(bag), '--params', str(params), '-o', str(output)]) == 0
    capsys.readouterr()
    rectified = _live(frames, stamps, dict(default_values(), image_is_rectified=True))
    _assert_same_poses(_read_csv(output), rectified)
    # The lens distorts: taking the image as rectified gives other poses.
    raw = _live(frames, stamps)
    assert not np.allclose(rectified[-1].pose.tvec, raw[-1].pose.tvec, rtol=0.0, atol=1e-4)


def test_bag_camera_info_is_taken_beside_the_image_topic(tmp_path, frames, capsys):
    """/ir_camera/image_raw replays with /ir_camera/camera_info, not another camera's."""
    other = default_sim_camera(1280, 1024)
    k = tuple(float(v) for v in other.camera_matrix.reshape(-1))
    other_info = CameraInfoFields(other.width, other.height, 'plumb_bob',
                                  tuple(float(v) for v in other.distortion), k,
                                  k[0:3] + (0.0,) + k[3:6] + (0.0,) + k[6:9] + (0.0,))
    bag = tmp_path / 'two_cameras'
    stamps = _write_bag(bag, frames[:4], 'sqlite3', extra_camera_info_topic='/cam_b/camera_info',
                        extra_camera_info=other_info)
    infos = [m for m in bag_messages(str(bag)) if isinstance(m, CameraInfoFields)]
    assert infos == [_camera_info()] * 4
    output = tmp_path / 'poses.csv'
    assert main([str(bag), '-o', str(output)]) == 0
    capsys.readouterr()
    _assert_same_poses(_read_csv(output), _live(frames[:4], stamps))
