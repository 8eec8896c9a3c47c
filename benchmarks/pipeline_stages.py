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
Per-stage cost of LedPosePipeline, and of the prototype baseline on the same frames.

Two modes, at each image size:

- acquisition: every frame is processed by a fresh pipeline (no track, whole-frame search
  through the range bands from the farthest), with 0 and N distractor spots. confirm_frames is
  1 so that the acquired pose is published and the covariance stage runs as it does in use.
- tracking: one pipeline runs a rendered docking approach at 30 Hz stamps; only the frames that
  start in TRACKING (predicted search windows) are counted.

Stages: msg_in (ros_conversions.raw_image of a sensor_msgs/Image), then the pipeline's own
timings_ms (decode, detect, identify, pose, covariance), then msg_out (pose_message,
range_message and diagnostic_message). The seed (clingers_perception.seed_pipeline) runs on the
same decoded frames in the same process, right after ours. Rendering is not timed.

    # from the repository root (or with install/setup.bash sourced, without PYTHONPATH)
    PYTHONPATH=. python3 benchmarks/pipeline_stages.py     # default: well under 3 minutes
    PYTHONPATH=. python3 benchmarks/pipeline_stages.py --sizes 1280x1024 --tracking-frames 300
"""

import argparse
import csv
import math
import os
import platform
import sys
import time

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.heap_tuning import keep_frame_buffers_in_heap
from clingers_perception.identification import IdentificationLimits
from clingers_perception.ir_scene import (default_sim_camera, IrSceneRenderer,
                                          random_distractors)
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.range_bands import BAND_NAMES, DEFAULT_BANDS, with_field
from clingers_perception.ros_conversions import (diagnostic_message, pose_message,
                                                 range_message, raw_image, stamp_seconds)
from clingers_perception.seed_pipeline import SeedPipeline
from clingers_perception.tracking import TrackingSettings
import cv2
import numpy as np
from sensor_msgs.msg import Image


STAGES = ('msg_in', 'decode', 'detect', 'identify', 'pose', 'covariance', 'msg_out')
SEED_STAGES = ('detect', 'rest')


class _TimedDetector:
    """Stand-in for the seed's SimpleBlobDetector that records how long detect() took."""

    def __init__(self, detector):
        self.detector = detector
        self.last_ms = 0.0

    def detect(self, image):
        start = time.perf_counter()
        keypoints = self.detector.detect(image)
        self.last_ms = 1000.0 * (time.perf_counter() - start)
        return keypoints


def parse_size(text):
    """Return (width, height) from 'WxH'."""
    width, height = text.lower().split('x')
    return int(width), int(height)


def image_message(frame, stamp_s):
    """Return a mono8 sensor_msgs/Image holding `frame`, as a camera driver would send it."""
    msg = Image()
    msg.header.stamp.sec = int(stamp_s)
    msg.header.stamp.nanosec = int(round((stamp_s - int(stamp_s)) * 1e9))
    msg.header.frame_id = 'camera_optical'
    msg.height, msg.width = frame.shape
    msg.encoding = 'mono8'
    msg.step = frame.shape[1]
    msg.data = frame.tobytes()
    return msg


def render_approach(camera, target, frames, distractors, seed):
    """Return [(image, true range)] along a docking approach, with `distractors` spots each."""
    renderer = IrSceneRenderer(camera)
    rng = np.random.default_rng(seed)
    rendered = []
    for rotation, translation in approach_poses(ApproachSpec(frames=frames, seed=seed)):
        points = led_points_in_camera(target, rotation, translation)
        spots = ()
        if distractors:
            leds_px, _ = camera.project_pose(target.positions, cv2.Rodrigues(rotation)[0],
                                             translation)
            spots = random_distractors(rng, camera, distractors, avoid_px=leds_px)
        image = renderer.render(points, distractors=spots, rng=rng).image
        rendered.append((image, float(np.linalg.norm(translation))))
    return rendered


def run_frame(pipeline, seed, msg, camera):
    """Process one message with our pipeline then the seed; return (ours, seed) rows."""
    return run_ours(pipeline, msg, camera), run_seed(seed, msg) if seed is not None else None


def run_ours(pipeline, msg, camera):
    """Process one message with our pipeline and build the messages; return its row."""
    start = time.perf_counter()
    raw = raw_image(msg)
    stamp = stamp_seconds(msg.header.stamp)
    msg_in = 1000.0 * (time.perf_counter() - start)
    cpu_start = time.process_time()
    result = pipeline.process(raw, stamp)
    cpu_ms = 1000.0 * (time.process_time() - cpu_start)
    start = time.perf_counter()
    if result.pose is not None:
        limits = pipeline.settings.identification
        pose_message(msg.header, result.pose, result.covariance)
        range_message(msg.header, result.pose.range_m, camera.horizontal_fov_rad,
                      limits.min_range_m, limits.max_range_m)
    diagnostic_message(msg.header, 'clingers_perception: LED detection', msg.header.frame_id,
                       result.quality)
    msg_out = 1000.0 * (time.perf_counter() - start)
    ours = {stage: result.timings_ms.get(stage, 0.0) for stage in STAGES}
    ours['msg_in'], ours['msg_out'] = msg_in, msg_out
    ours['pipeline'] = result.quality.processing_ms
    ours['cpu'] = cpu_ms
    ours['total'] = msg_in + result.quality.processing_ms + msg_out
    ours['pose'] = result.timings_ms.get('pose', 0.0)
    ours['has_pose'] = result.pose is not None
    return ours


def run_seed(seed, msg):
    """Process one message with the seed; return its row."""
    image = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width)
    cpu_start = time.process_time()
    outcome = seed.process(image)
    cpu_ms = 1000.0 * (time.process_time() - cpu_start)
    detect_ms = seed._detector.last_ms
    return {'detect': detect_ms, 'rest': outcome.processing_ms - detect_ms,
            'total': outcome.processing_ms, 'cpu': cpu_ms, 'has_pose': outcome.pose is not None}


def make_seed(target, camera):
    """Return the prototype baseline with its detector timed."""
    seed = SeedPipeline(target, camera)
    seed._detector = _TimedDetector(seed._detector)
    return seed


def pipeline_settings(args, confirm_frames=TrackingSettings().confirm_frames):
    """Return the PipelineSettings chosen on the command line."""
    limits = IdentificationLimits(max_candidates=args.max_candidates,
                                  max_hypotheses=args.max_hypotheses)
    tracking = TrackingSettings(confirm_frames=confirm_frames,
                                window_margin_px=args.window_margin_px)
    bands = DEFAULT_BANDS
    for name in args.fit_profile:
        bands = with_field(bands, name, 'fit_profile', True)
    return PipelineSettings(detector_backend=args.backend, identification=limits,
                            tracking=tracking, bands=bands)


def warm_up(target, settings, camera, seed, rendered, frames=3):
    """Run a few frames untimed: first calls pay for allocation and OpenCV's lazy setup."""
    pipeline = LedPosePipeline(target, settings)
    pipeline.set_camera(camera)
    for index, (image, _) in enumerate(rendered[:frames]):
        run_frame(pipeline, seed, image_message(image, 1.0 + index / 30.0), camera)


def bench_acquisition(camera, target, frames, distractors, args):
    """Return (ours rows, seed rows) of whole-frame acquisition on fresh pipelines."""
    settings = pipeline_settings(args, confirm_frames=1)
    rendered = render_approach(camera, target, frames, distractors, args.seed + distractors)
    seed = make_seed(target, camera)
    warm_up(target, settings, camera, seed, rendered)
    ours_rows, seed_rows = [], []
    for index, (image, range_m) in enumerate(rendered):
        pipeline = LedPosePipeline(target, settings)
        pipeline.set_camera(camera)
        ours, row_seed = run_frame(pipeline, seed, image_message(image, 100.0 + index / 30.0),
                                   camera)
        ours['range_m'] = row_seed['range_m'] = range_m
        ours_rows.append(ours)
        seed_rows.append(row_seed)
    return ours_rows, seed_rows


def bench_tracking(camera, target, frames, args):
    """
    Return (ours rows, seed rows) of the frames that started in TRACKING.

    Interleaved (default), the seed processes each frame right after ours; with
    args.separate, ours runs over a whole approach and then the seed over the same frames, as
    each would in a process of its own, without the other's memory traffic in between.
    """
    settings = pipeline_settings(args)
    ours_rows, seed_rows = [], []
    for approach in range(args.approaches):
        rendered = render_approach(camera, target, frames, 0, args.seed + 100 * approach)
        seed = make_seed(target, camera)
        warm_up(target, settings, camera, seed, rendered)
        pipeline = LedPosePipeline(target, settings)
        pipeline.set_camera(camera)
        messages = [image_message(image, 100.0 + index / 30.0)
                    for index, (image, _) in enumerate(rendered)]
        tracked = []
        for index, msg in enumerate(messages):
            tracking = pipeline.tracker.state == 'TRACKING'
            ours, row_seed = run_frame(pipeline, None if args.separate else seed, msg, camera)
            if tracking:
                ours['range_m'] = rendered[index][1]
                ours_rows.append(ours)
                tracked.append((index, row_seed))
        for index, row_seed in tracked:
            row_seed = row_seed or run_seed(seed, messages[index])
            row_seed['range_m'] = rendered[index][1]
            seed_rows.append(row_seed)
    return ours_rows, seed_rows


def summary(rows, keys):
    """Return {key: (median, p90)} over rows."""
    out = {}
    for key in keys:
        values = np.array([row[key] for row in rows], dtype=np.float64)
        out[key] = (float(np.median(values)), float(np.percentile(values, 90))) \
            if values.size else (float('nan'), float('nan'))
    return out


def main(argv=None):
    """Run the benchmark, print the tables, write the CSV files."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='640x480,1280x1024,2048x1536')
    parser.add_argument('--tracking-frames', type=int, default=120,
                        help='frames of the rendered approach (the first few acquire)')
    parser.add_argument('--approaches', type=int, default=3,
                        help='rendered approaches (different lateral offsets) for tracking')
    parser.add_argument('--acquisition-frames', type=int, default=60,
                        help='frames per distractor count, spread over the approach')
    parser.add_argument('--distractors', default='0,10')
    parser.add_argument('--backend', default='threshold', choices=('threshold', 'simple_blob'))
    parser.add_argument('--max-candidates', type=int,
                        default=IdentificationLimits().max_candidates)
    parser.add_argument('--max-hypotheses', type=int,
                        default=IdentificationLimits().max_hypotheses)
    parser.add_argument('--window-margin-px', type=float,
                        default=TrackingSettings().window_margin_px)
    parser.add_argument('--fit-profile', nargs='*', default=[], choices=BAND_NAMES,
                        help='bands that place saturated spots by the radial-profile fit '
                        '(bands.<band>.fit_profile; default none, as the node)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cv-threads', type=int, default=None,
                        help='cv2.setNumThreads (default: leave OpenCV as the node does)')
    parser.add_argument('--out', default='results',
                        help='directory for the CSV files')
    parser.add_argument('--separate', action='store_true',
                        help='tracking: time ours over each approach, then the seed over the '
                        'same frames (default: the seed right after ours on each frame)')
    parser.add_argument('--no-heap-tuning', action='store_true',
                        help="leave glibc's malloc as it is (perception_node tunes it)")
    args = parser.parse_args(argv)
    # As perception_node does at start: without it, every frame-sized buffer is a fresh mmap
    # (the seed's 24 thresholded frames more than ours), and its cost varied 3x between runs.
    heap_tuned = not args.no_heap_tuning and keep_frame_buffers_in_heap()
    if args.cv_threads is not None:
        cv2.setNumThreads(args.cv_threads)
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    load_before = os.getloadavg()
    started = time.time()
    cells = []
    for size in args.sizes.split(','):
        width, height = parse_size(size)
        camera = default_sim_camera(width, height)
        for count in (int(c) for c in args.distractors.split(',')):
            ours, seed = bench_acquisition(camera, target, args.acquisition_frames, count, args)
            cells.append((f'{width}x{height}', 'acquisition', count, ours, seed))
            print(f'# done {width}x{height} acquisition, {count} distractors', file=sys.stderr)
        ours, seed = bench_tracking(camera, target, args.tracking_frames, args)
        cells.append((f'{width}x{height}', 'tracking', 0, ours, seed))
        print(f'# done {width}x{height} tracking', file=sys.stderr)
    load_after = os.getloadavg()
    elapsed = time.time() - started
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime('%Y%m%dT%H%M%S')
    write_csv(os.path.join(args.out, f'pipeline_stages_{stamp}.csv'), cells, args)
    print(f'Machine: {platform.node()}, {os.cpu_count()} cores, Python '
          f'{platform.python_version()}, OpenCV {cv2.__version__}, NumPy {np.__version__}, '
          f'cv2 threads {cv2.getNumThreads()}')
    print(f'Settings: detector_backend {args.backend}, max_candidates {args.max_candidates}, '
          f'max_hypotheses {args.max_hypotheses}, window_margin_px {args.window_margin_px:g}, '
          f'fit_profile in {", ".join(args.fit_profile) or "no band"}, '
          f'heap tuned as in perception_node: {"yes" if heap_tuned else "no"}, tracking '
          f'{"in separate passes" if args.separate else "interleaved with the seed"}')
    print(f'Load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/'
          f'{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/'
          f'{load_after[2]:.2f}; run took {elapsed:.0f} s')
    print()
    print_table(cells)
    print(f'\nCSV: {os.path.join(args.out, f"pipeline_stages_{stamp}.csv")}')


def _ratio(seed_ms, ours_ms):
    return f'{seed_ms / ours_ms:.1f}x' if ours_ms > 0.0 and math.isfinite(seed_ms) else '-'


def print_table(cells):
    """Print the markdown table: median / p90 ms per stage, totals, seed and ratio."""
    header = ['size', 'mode', 'distr.', 'n'] + list(STAGES) + \
        ['ours pipeline', 'ours total', 'seed detect', 'seed total', 'seed/ours',
         'ours CPU', 'seed CPU', 'seed/ours CPU', 'poses ours/seed']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for size, mode, count, ours, seed in cells:
        stats = summary(ours, STAGES + ('pipeline', 'total', 'cpu'))
        seed_stats = summary(seed, ('detect', 'total', 'cpu'))
        # Like for like: frame to pose on both sides; the seed builds no messages.
        ratio = _ratio(seed_stats['total'][0], stats['pipeline'][0])
        cpu_ratio = _ratio(seed_stats['cpu'][0], stats['cpu'][0])
        poses = f"{sum(r['has_pose'] for r in ours)}/{sum(r['has_pose'] for r in seed)}"
        cols = [size, mode, str(count), str(len(ours))]
        cols += [f'{stats[s][0]:.3f} / {stats[s][1]:.3f}'
                 for s in STAGES + ('pipeline', 'total')]
        cols += [f'{seed_stats[s][0]:.2f} / {seed_stats[s][1]:.2f}' for s in ('detect', 'total')]
        cols += [ratio, f"{stats['cpu'][0]:.3f} / {stats['cpu'][1]:.3f}",
                 f"{seed_stats['cpu'][0]:.2f} / {seed_stats['cpu'][1]:.2f}", cpu_ratio, poses]
        print('| ' + ' | '.join(cols) + ' |')
    print('\nCells: median / p90 in ms. ours pipeline = processing_ms (decode to report, '
          'includes tracker and report work between the stages); ours total = msg_in + '
          'pipeline + msg_out; seed/ours = seed total over ours pipeline, medians (the same '
          'work on both sides, frame to pose: the seed builds no messages); CPU = process CPU '
          'time of pipeline.process (ours) and SeedPipeline.process (seed), which counts '
          "OpenCV's worker threads and leaves out the time the process waited for a core on "
          'a loaded machine; poses = frames with a published pose.')


def write_csv(path, cells, args):
    """Write one row per frame and configuration."""
    with open(path, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['size', 'mode', 'distractors', 'config', 'backend', 'frame', 'range_m',
                         'has_pose'] + list(STAGES)
                        + ['pipeline', 'total', 'cpu', 'loadavg_1min'])
        load = os.getloadavg()[0]
        for size, mode, count, ours, seed in cells:
            for index, row in enumerate(ours):
                writer.writerow([size, mode, count, 'ours', args.backend, index,
                                 f"{row['range_m']:.4f}", int(row['has_pose'])]
                                + [f'{row[s]:.4f}' for s in STAGES]
                                + [f"{row['pipeline']:.4f}", f"{row['total']:.4f}",
                                   f"{row['cpu']:.4f}", f'{load:.2f}'])
            for index, row in enumerate(seed):
                writer.writerow([size, mode, count, 'seed', 'simple_blob_fixed', index,
                                 f"{row['range_m']:.4f}", int(row['has_pose'])]
                                + ['', '', f"{row['detect']:.4f}", '', '', '', '']
                                + ['', f"{row['total']:.4f}", f"{row['cpu']:.4f}",
                                   f'{load:.2f}'])


if __name__ == '__main__':
    main()
