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
clingers_replay: run the pipeline offline on recorded frames and write poses and quality to CSV.

    clingers_replay FOLDER [--camera-info camera.yaml]     # PNG (8 or 16 bit), TIFF or PGM files
    clingers_replay BAG [--image-topic /cam/image_raw]     # rosbag2 folder, .db3 or .mcap file

No ROS 2 installation is needed: bags are read with the `rosbags` package. Each frame takes the
node's path exactly (the same LedPosePipeline, RawImage and stamp in seconds, CameraInfo fields
applied in the order they were recorded), so a replay gives the poses the node gave live.
`--params` reads the node's parameter file (`/**: ros__parameters:`). The stderr progress bar
that clingers_eval shows as well lives here.
"""

import argparse
import csv
from dataclasses import dataclass
import math
import os
import re
import sys
import time

from clingers_perception.image_decoding import RawImage
from clingers_perception.parameters import build_config, default_values, SPEC_BY_NAME
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.quality import LEVEL_NAMES, QualityReport
from clingers_perception.transforms import quaternion_from_matrix
import cv2
import numpy as np
import yaml

IMAGE_EXTENSIONS = ('.png', '.tif', '.tiff', '.pgm')
# The node whose parameters a parameter file gives (perception_node's default name).
NODE_NAME = 'clingers_perception'
IMAGE_TYPE = 'sensor_msgs/msg/Image'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
# Contract keys of detection_quality, in the order of QualityReport.key_values.
QUALITY_KEYS = ('state', 'leds_expected', 'leds_detected', 'leds_matched', 'reprojection_rms_px',
                'confidence', 'range_m', 'detector_profile', 'processing_ms')
POSE_COLUMNS = ('x', 'y', 'z', 'qx', 'qy', 'qz', 'qw')
STD_COLUMNS = ('std_x', 'std_y', 'std_z', 'std_rot_x', 'std_rot_y', 'std_rot_z')
CSV_COLUMNS = ('frame', 'stamp_s', 'source', 'frame_id', 'level', 'pose_valid') + POSE_COLUMNS \
    + STD_COLUMNS + QUALITY_KEYS + ('message', 'covariance')


class ReplayError(ValueError):
    """An input that cannot be replayed; the message says why."""


@dataclass(frozen=True)
class CameraInfoFields:
    """The sensor_msgs/CameraInfo fields the pipeline uses."""

    width: int
    height: int
    distortion_model: str
    d: tuple
    k: tuple
    p: tuple


@dataclass(frozen=True)
class ImageFrame:
    """One recorded image: its stamp in seconds, the RawImage and where it came from."""

    stamp_s: float
    raw: RawImage
    frame_id: str
    source: str


@dataclass
class ReplayRow:
    """One replayed frame and what the pipeline made of it."""

    frame: int
    image: ImageFrame
    quality: QualityReport
    result: object = None

    @property
    def pose(self):
        """Return the published PoseEstimate, or None."""
        return None if self.result is None else self.result.pose


class ProgressBar:
    """
    A one-line progress bar on a stream (stderr).

    On a terminal it is redrawn in place; elsewhere (a log file) a line is written every tenth
    of the way.
    """

    def __init__(self, total, stream=None, width=30):
        """Count up to `total` steps."""
        self.total = max(int(total), 1)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.start = time.monotonic()
        self._drawn_at = -math.inf
        self._tenth = -1
        self._interactive = hasattr(self.stream, 'isatty') and self.stream.isatty()

    def update(self, done, label=''):
        """Show `done` of the total steps and a label."""
        fraction = min(max(done / self.total, 0.0), 1.0)
        now = time.monotonic()
        elapsed = now - self.start
        remaining = elapsed * (1.0 - fraction) / fraction if fraction > 0.0 else math.nan
        filled = int(round(self.width * fraction))
        text = (f'[{"#" * filled}{"." * (self.width - filled)}] {100 * fraction:5.1f}% '
                f'{done}/{self.total} {elapsed:5.0f} s elapsed'
                + (f', ~{remaining:.0f} s left' if math.isfinite(remaining) else '')
                + (f'  {label}' if label else ''))
        if self._interactive:
            if now - self._drawn_at >= 0.1 or done >= self.total:
                self.stream.write('\r' + text[:120].ljust(120))
                self.stream.flush()
                self._drawn_at = now
        elif int(10 * fraction) > self._tenth:
            self._tenth = int(10 * fraction)
            self.stream.write(text + '\n')
            self.stream.flush()

    def close(self):
        """End the bar's line."""
        if self._interactive:
            self.stream.write('\n')
            self.stream.flush()


def _load_yaml(path):
    """Return the first YAML document of `path`: `ros2 topic echo` ends a message with ---."""
    try:
        with open(path) as stream:
            return next((d for d in yaml.safe_load_all(stream) if d is not None), None)
    except yaml.YAMLError as error:
        raise ReplayError(f'{path}: not valid YAML ({error})') from None


def load_camera_yaml(path):
    """
    Read a camera calibration YAML; return CameraInfoFields.

    Accepts the camera_calibration_parsers format (image_width, camera_matrix: {data: ...},
    distortion_coefficients, projection_matrix) and a CameraInfo echoed as YAML (width, height,
    k, d, p, distortion_model).
    """
    data = _load_yaml(path)
    if not isinstance(data, dict):
        raise ReplayError(f'{path}: not a camera calibration YAML')

    def matrix(*names):
        for name in names:
            value = data.get(name)
            if isinstance(value, dict):
                value = value.get('data')
            if value is not None:
                return tuple(float(v) for v in value)
        return None

    try:
        width = int(data.get('image_width', data.get('width')))
        height = int(data.get('image_height', data.get('height')))
    except (TypeError, ValueError):
        raise ReplayError(f'{path}: image_width and image_height are needed') from None
    k = matrix('camera_matrix', 'k', 'K')
    if k is None:
        raise ReplayError(f'{path}: camera_matrix (K) is missing')
    d = matrix('distortion_coefficients', 'd', 'D') or ()
    p = matrix('projection_matrix', 'p', 'P')
    if p is None:
        p = (k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0)
    model = data.get('distortion_model') or ('plumb_bob' if d else '')
    return CameraInfoFields(width, height, str(model), d, k, p)


def load_parameters(path, node_name=NODE_NAME):
    """
    Read a node parameter file; return {name: value} over the node's defaults.

    As rcl reads it for a node called `node_name`: every `ros__parameters` block whose key is
    a wildcard (`/**`) or names the node (with or without a namespace) applies, later blocks
    over earlier ones, and the blocks of other nodes are left alone. Nested keys are joined
    with dots (bands: far: min_area_px -> bands.far.min_area_px). use_sim_time and
    qos_overrides, which concern rclpy, are skipped; other unknown names, and values of
    another type than the parameter's (which rclpy refuses), are refused.
    """
    data = _load_yaml(path) or {}
    blocks = [block['ros__parameters'] for key, block in data.items()
              if _names_node(str(key), node_name) and isinstance(block, dict)
              and isinstance(block.get('ros__parameters'), dict)] \
        if isinstance(data, dict) else []
    if not blocks:
        raise ReplayError(f'{path}: no ros__parameters block for /** or {node_name}')
    values = default_values()
    for name, value in (item for block in blocks for item in _flatten(block)):
        if name == 'use_sim_time' or name.startswith('qos_overrides.'):
            continue  # for rclpy, not the pipeline
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            raise ReplayError(f'{path}: unknown parameter {name}')
        values[name] = _typed(path, name, value, spec.default)
    return values


def _names_node(key, node_name):
    """Return True when a parameter file's top-level key applies to the node `node_name`."""
    last = key.rstrip('/').rsplit('/', 1)[-1]
    return last in ('*', '**', node_name)


def _typed(path, name, value, default):
    """Return `value` as the type of `default`, as rclpy accepts it; else ReplayError."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), 'true or false'
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), 'an integer'
    elif isinstance(default, float):
        ok, kind = number(value), 'a number'
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(number(v) for v in value)
        kind = 'a list of numbers'
        value = [float(v) for v in value] if ok else value
    else:
        ok, kind = isinstance(value, str), 'a string'
    if not ok:
        raise ReplayError(f'{path}: {name} must be {kind}, not {value!r}')
    return value


def _flatten(tree, prefix=''):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f'{prefix}{key}.')
        else:
            yield f'{prefix}{key}', value


def folder_frames(folder, fps=30.0, stamps_from_names=False):
    """
    Yield an ImageFrame per image file of `folder`, in natural name order.

    Stamps are index / fps seconds, or with `stamps_from_names` the last number in the file
    name taken as nanoseconds (as recorders that name frames by their stamp do).
    """
    names = sorted((n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)),
                   key=_natural_key)
    if not names:
        raise ReplayError(f'{folder}: no {"/".join(IMAGE_EXTENSIONS)} images')
    for index, name in enumerate(names):
        path = os.path.join(folder, name)
        pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise ReplayError(f'{path}: not a readable image')
        if stamps_from_names:
            digits = re.findall(r'\d+', os.path.splitext(name)[0])
            if not digits:
                raise ReplayError(f'{name}: no number in the name to take as the stamp')
            stamp_s = int(digits[-1]) * 1e-9
        else:
            stamp_s = index / fps
        yield ImageFrame(stamp_s, raw_image_of_array(pixels), '', name)


def raw_image_of_array(pixels):
    """Return the RawImage of an image array as cv2.imread gives it (mono, BGR or BGRA)."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if pixels.dtype == np.uint16 and channels == 1:
        encoding = 'mono16'
    elif pixels.dtype == np.uint8:
        encoding = {1: 'mono8', 3: 'bgr8', 4: 'bgra8'}.get(channels)
    else:
        encoding = None
    if encoding is None:
        raise ReplayError(f'{pixels.dtype} images with {channels} channels are not supported')
    pixels = np.ascontiguousarray(pixels)
    return RawImage(encoding, pixels.shape[1], pixels.shape[0], pixels.strides[0],
                    sys.byteorder == 'big', pixels)


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def bag_messages(path, image_topic=None, camera_info_topic=None, camera_info=True):
    """
    Yield ImageFrame and CameraInfoFields from a rosbag2 (sqlite3 or mcap) in recorded order.

    Topics are found by type when not given: the one Image topic, and the CameraInfo topic
    beside it (same namespace) or the only one. A bag without CameraInfo yields images only,
    and so does `camera_info` False (a calibration given another way replaces the recorded).
    """
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import get_typestore, Stores

    # Image and CameraInfo have had the same layout in every ROS 2 distribution.
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    with Reader(path) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        image_topic = _choose_topic(topics, IMAGE_TYPE, image_topic, None)
        if camera_info:
            camera_info_topic = _choose_topic(topics, CAMERA_INFO_TYPE, camera_info_topic,
                                              image_topic, required=False)
        wanted = [c for c in reader.connections
                  if c.topic in (image_topic, camera_info_topic)]
        for connection, _, data in reader.messages(connections=wanted):
            msg = typestore.deserialize_cdr(data, connection.msgtype)
            stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            if connection.topic == image_topic:
                raw = RawImage(msg.encoding, msg.width, msg.height, msg.step,
                               bool(msg.is_bigendian), msg.data)
                yield ImageFrame(stamp_s, raw, msg.header.frame_id, image_topic)
            else:
                yield CameraInfoFields(int(msg.width), int(msg.height), msg.distortion_model,
                                       tuple(msg.d), tuple(msg.k), tuple(msg.p))


def _choose_topic(topics, msgtype, requested, beside, required=True):
    if requested is not None:
        if topics.get(requested) != msgtype:
            raise ReplayError(f'the bag has no {msgtype} topic {requested} '
                              f'(it has: {", ".join(sorted(topics)) or "nothing"})')
        return requested
    candidates = sorted(t for t, m in topics.items() if m == msgtype)
    if beside is not None:
        namespace = beside.rsplit('/', 1)[0]
        near = [t for t in candidates if t.rsplit('/', 1)[0] == namespace]
        if len(near) == 1:
            return near[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates and not required:
        return None
    raise ReplayError(f'the bag has {len(candidates) or "no"} {msgtype} topics'
                      + (f' ({", ".join(candidates)}): choose one' if candidates else ''))


def replay(items, pipeline, rectified=False):
    """Feed ImageFrame and CameraInfoFields items to `pipeline` as the node does; yield rows."""
    frame = 0
    for item in items:
        if isinstance(item, CameraInfoFields):
            pipeline.set_camera_info(item.width, item.height, item.distortion_model, item.d,
                                     item.k, item.p, rectified)
            continue
        try:
            result = pipeline.process(item.raw, item.stamp_s)
        except Exception as error:  # noqa: B902 - as in the node, one bad frame is reported
            result = pipeline.frame_error(item.stamp_s, f'internal error: {error!r}')
        row = ReplayRow(frame, item, result.quality, result)
        frame += 1
        yield row


def csv_record(row):
    """Return the CSV_COLUMNS dict of a ReplayRow; floats keep every digit."""
    quality = row.quality
    values = dict(quality.key_values())
    record = {'frame': row.frame, 'stamp_s': repr(row.image.stamp_s), 'source': row.image.source,
              'frame_id': row.image.frame_id, 'level': LEVEL_NAMES[quality.level],
              'pose_valid': int(row.pose is not None), 'message': quality.message}
    record.update((key, values.get(key, 'nan')) for key in QUALITY_KEYS)
    pose = row.pose
    if pose is None:
        record.update((key, 'nan') for key in POSE_COLUMNS + STD_COLUMNS)
        record['covariance'] = ''
        return record
    numbers = list(pose.tvec) + list(quaternion_from_matrix(pose.rotation))
    numbers += list(np.sqrt(np.maximum(np.diag(row.result.covariance), 0.0)))
    record.update((key, repr(float(v))) for key, v in zip(POSE_COLUMNS + STD_COLUMNS, numbers))
    record['covariance'] = ' '.join(repr(float(v)) for v in row.result.covariance.reshape(36))
    return record


def write_csv(rows, stream):
    """Write ReplayRows to a text stream as CSV; return (frames, poses)."""
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    frames = poses = 0
    for row in rows:
        writer.writerow(csv_record(row))
        frames += 1
        poses += row.pose is not None
    return frames, poses


def is_bag(path):
    """Return True when `path` is a rosbag2 folder or storage file."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, 'metadata.yaml'))
    return path.endswith(('.db3', '.mcap'))


def main(argv=None):
    """Replay a folder of images or a rosbag2; return the exit status."""
    parser = argparse.ArgumentParser(
        prog='clingers_replay', description='Run the LED pose pipeline offline on a folder of '
        'images or a rosbag2 and write the poses and detection quality to CSV.')
    parser.add_argument('input', help='folder of images, or a rosbag2 (folder, .db3 or .mcap)')
    parser.add_argument('--camera-info', metavar='YAML',
                        help='camera calibration YAML; for a folder, default: the only *.yaml '
                        'in it; for a bag, replaces the recorded CameraInfo')
    parser.add_argument('--params', metavar='YAML', help="the node's parameter file")
    parser.add_argument('--output', '-o', default='-', help='CSV file (default: stdout)')
    parser.add_argument('--image-topic', help='Image topic of the bag (default: the only one)')
    parser.add_argument('--camera-info-topic', help='CameraInfo topic of the bag')
    parser.add_argument('--fps', type=_positive, default=30.0,
                        help='frame rate that stamps a folder of images (default 30)')
    parser.add_argument('--stamps-from-names', action='store_true',
                        help='take the last number of each image file name as its stamp, ns')
    args = parser.parse_args(argv)
    try:
        values = load_parameters(args.params) if args.params else default_values()
        config = build_config(values)
        items = _inputs(args)
        bar = ProgressBar(_count(args))
    except (ReplayError, ValueError, OSError) as error:
        parser.exit(2, f'clingers_replay: {error}\n')
    pipeline = LedPosePipeline(config.target, config.settings)

    def counted(rows):
        for row in rows:
            bar.update(row.frame + 1, row.image.source)
            yield row

    try:
        stream = sys.stdout if args.output == '-' else _create(args.output)
    except OSError as error:
        parser.exit(2, f'clingers_replay: {error}\n')
    try:
        frames, poses = write_csv(counted(replay(items, pipeline, config.image_is_rectified)),
                                  stream)
    except (ReplayError, OSError) as error:
        parser.exit(2, f'clingers_replay: {error}\n')
    finally:
        bar.close()
        if stream is not sys.stdout:
            stream.close()
    sys.stderr.write(f'clingers_replay: {frames} frames, {poses} poses'
                     + ('' if args.output == '-' else f', written to {args.output}') + '\n')
    if frames and not poses and not args.camera_info and is_bag(args.input) \
            and not _has_camera_info(args.input):
        sys.stderr.write('clingers_replay: the bag holds no CameraInfo: give the calibration '
                         'with --camera-info\n')
    return 0


def _positive(text):
    value = float(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f'must be more than 0, not {text}')
    return value


def _create(path):
    """Open `path` for the CSV, making its folder first."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    return open(path, 'w', newline='')


def _has_camera_info(path):
    from rosbags.rosbag2 import Reader
    with Reader(path) as reader:
        return any(c.msgtype == CAMERA_INFO_TYPE for c in reader.connections)


def _inputs(args):
    override = load_camera_yaml(args.camera_info) if args.camera_info else None
    if is_bag(args.input):
        messages = bag_messages(args.input, args.image_topic, args.camera_info_topic,
                                camera_info=override is None)
        if override is None:
            return messages
        return _chain(override, messages)
    if not os.path.isdir(args.input):
        raise ReplayError(f'{args.input} is neither a folder of images nor a rosbag2')
    storage = [n for n in os.listdir(args.input) if n.endswith(('.db3', '.mcap'))]
    if storage:
        raise ReplayError(f'{args.input} holds {storage[0]} but no metadata.yaml (a recording '
                          'that was cut off?): give the storage file itself, or run '
                          '`ros2 bag reindex` on the folder')
    if override is None:
        found = [n for n in os.listdir(args.input) if n.endswith(('.yaml', '.yml'))]
        if len(found) != 1:
            raise ReplayError(f'{args.input}: give --camera-info (found {len(found)} YAML files)')
        override = load_camera_yaml(os.path.join(args.input, found[0]))
    return _chain(override, folder_frames(args.input, args.fps, args.stamps_from_names))


def _chain(first, rest):
    yield first
    yield from rest


def _count(args):
    if not is_bag(args.input):
        return sum(1 for n in os.listdir(args.input) if n.lower().endswith(IMAGE_EXTENSIONS))
    from rosbags.rosbag2 import Reader
    with Reader(args.input) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        topic = _choose_topic(topics, IMAGE_TYPE, args.image_topic, None)
        return sum(c.msgcount for c in reader.connections if c.topic == topic)


if __name__ == '__main__':
    sys.exit(main())
