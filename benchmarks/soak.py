#!/usr/bin/env python3
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
Soak the perception node: many frames at the highest rate it sustains, in separate processes.

Three processes, all loading the Fast DDS profile config/fastdds.xml:

- the node: `python -m clingers_perception.perception_node` on a namespace of its own;
- a camera: this script with `--role publisher`, publishing a small set of pre-rendered frames
  (and their camera_info) over and over, so that rendering is not what limits the rate; like a
  camera with hardware timestamps it stamps frame i at start + i / rate, whatever the jitter of
  the publishing loop, so the motion the node sees agrees with the stamps;
- this script, which starts both, records every detection_quality and target_pose, samples the
  node's resident memory (VmRSS in /proc/PID/status), shows progress, and reports.

With `--rate auto` (the default) the rate is measured first: a few seconds unthrottled give the
rate the node answers at, then short runs from 85 % of it downwards until one loses at most 1 %
of the frames before the node; the soak runs at that rate. The report gives frames published,
frames received by the node (its frames_received), quality messages and poses out, the node's
memory at start and end, the longest gap between outputs and the latencies; it is printed as a
table and written as CSV under results/.

Example (from the repository root, with the ROS 2 environment of .venv active)::

    ROS_DOMAIN_ID=73 python3 benchmarks/soak.py --frames 50000
    ROS_DOMAIN_ID=73 python3 benchmarks/soak.py --frames 5000 --size 1280x1024 --rate 30
"""

import argparse
import csv
import json
import math
import os
from pathlib import Path
import re
import subprocess
import sys
import threading
import time

from clingers_perception.dds_profile import profile_environment, VARIABLE
from clingers_perception.demo import stop_processes

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / 'config' / 'fastdds.xml'
SIZES = {'640x480': (640, 480), '1280x1024': (1280, 1024)}
# Distinct frames published in a loop: one period of a smooth, closed motion around 1 m.
LOOP_FRAMES = 64
# The rate search starts at this share of the unthrottled rate and steps down by it.
RATE_STEP = 0.85
RATE_TRIES = 4
# A rate is sustained when at most this share of its frames is lost before the node.
MAX_DROP_FRACTION = 0.01
PROGRESS_PERIOD_S = 2.0
# Outputs have drained when none came for this long after the camera stopped.
DRAIN_QUIET_S = 3.0


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--frames', type=int, default=50000, help='frames to publish')
    parser.add_argument('--size', choices=sorted(SIZES), default='640x480')
    parser.add_argument('--rate', default='auto',
                        help='frames per second, "auto" (the highest rate measured to lose at '
                        'most 1%% of the frames) or 0 (unthrottled)')
    parser.add_argument('--calibration-s', type=float, default=4.0,
                        help='length of each measuring run of --rate auto')
    parser.add_argument('--results', default=str(REPO / 'results'),
                        help='folder for the CSV files')
    parser.add_argument('--node-log-level', default='warn')
    parser.add_argument('--role', choices=('main', 'publisher'), default='main',
                        help=argparse.SUPPRESS)
    parser.add_argument('--namespace', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--duration-s', type=float, default=0.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child_environment():
    """Return the environment for every process: the large-frame profile, this source tree."""
    env = dict(os.environ)
    for name, value in profile_environment(PROFILE).items():
        env.setdefault(name, value)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    paths = [str(REPO)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join(paths)
    env['PYTHONUNBUFFERED'] = '1'
    return env


# The camera process --------------------------------------------------------------------------

def render_loop(width, height):
    """Return LOOP_FRAMES mono8 frames of the default target moving around 1 m, and the camera."""
    from clingers_perception.approach_trajectory import FACING_ROTATION, led_points_in_camera
    from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
    from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
    from clingers_perception.transforms import rotation_matrix
    import numpy as np

    camera = default_sim_camera(width, height)
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    renderer = IrSceneRenderer(camera)
    frames = []
    for index in range(LOOP_FRAMES):
        phase = 2.0 * math.pi * index / LOOP_FRAMES
        translation = np.array([0.04 + 0.03 * math.sin(phase), -0.02 + 0.02 * math.cos(phase),
                                1.0 + 0.1 * math.sin(phase)])
        rotation = rotation_matrix([0.05 * math.sin(phase), 0.04, 0.02]) @ FACING_ROTATION
        points = led_points_in_camera(target, rotation, translation)
        frames.append(renderer.render(points, rng=np.random.default_rng(index)).image)
    return frames, camera


def run_publisher(options):
    """
    Publish options.frames frames at options.rate (0: unthrottled); report JSON lines.

    With options.duration_s the camera also stops after that many seconds.
    """
    from clingers_perception.ros_conversions import camera_info_message
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    width, height = SIZES[options.size]
    frames, camera = render_loop(width, height)
    rclpy.init()
    node = rclpy.create_node('soak_camera', namespace=options.namespace)
    image_pub = node.create_publisher(Image, 'image', qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
    images = []
    for pixels in frames:
        msg = Image(width=width, height=height, encoding='mono8', step=width)
        msg.header.frame_id = 'camera_optical_frame'
        msg.data = pixels.tobytes()
        images.append(msg)
    info = camera_info_message(camera)
    info.header.frame_id = 'camera_optical_frame'
    deadline = time.monotonic() + 30.0
    while image_pub.get_subscription_count() == 0 or info_pub.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print(json.dumps({'error': 'the node did not subscribe within 30 s'}), flush=True)
            return 1
        time.sleep(0.05)
    rate = float(options.rate)
    period = 1.0 / rate if rate > 0.0 else 0.0
    start = next_time = time.monotonic()
    last_report = start
    clock = node.get_clock()
    stop_at = start + options.duration_s if options.duration_s > 0.0 else math.inf
    published = 0
    try:
        for index in range(options.frames):
            # Stamped when sent, as a driver stamps a frame when it is taken: a publisher that
            # falls behind its schedule must not add the lag to the measured latency.
            stamp = clock.now().to_msg()
            info.header.stamp = stamp
            image = images[index % LOOP_FRAMES]
            image.header.stamp = stamp
            info_pub.publish(info)
            image_pub.publish(image)
            published = index + 1
            now = time.monotonic()
            if now >= stop_at:
                break
            if now - last_report >= 0.25:
                print(json.dumps({'published': published, 't': now - start}), flush=True)
                last_report = now
            if period:
                next_time += period
                if next_time > now:
                    time.sleep(next_time - now)
                elif now - next_time > period:
                    # Behind: carry on from now rather than bursting to catch up.
                    next_time = now
    finally:
        elapsed = time.monotonic() - start
        print(json.dumps({'done': True, 'published': published, 't': elapsed}), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


# The node process ----------------------------------------------------------------------------

def rss_kib(pid):
    """Return VmRSS of process `pid` in KiB (0 when it is gone)."""
    try:
        with open(f'/proc/{pid}/status') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """Return the user + system CPU time of process `pid`, seconds."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return math.nan


class Monitor:
    """Counts the node's outputs from a subscriber of its own, spun in a thread."""

    def __init__(self, namespace):
        """Subscribe to detection_quality and target_pose on `namespace`."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseWithCovarianceStamped

        rclpy.init()
        self.namespace = namespace
        self.node = rclpy.create_node('soak_monitor', namespace=namespace)
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(DiagnosticArray, 'detection_quality', self._on_quality,
                                      qos)
        self.node.create_subscription(PoseWithCovarianceStamped, 'target_pose', self._on_pose,
                                      qos)
        self.lock = threading.RLock()
        self.reset()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def reset(self):
        """Start a new phase: counts from zero, frames_received measured from here."""
        with self.lock:
            self.qualities = 0
            self.poses = 0
            self.levels = {}
            self.states = {}
            self.first_frames_received = None
            self.last_frames_received = 0
            self.first_arrival = None
            self.last_arrival = None
            self.longest_gap_s = 0.0
            self.processing_ms = []
            self.latency_ms = []
            self.duplicates = 0
            self.problems = {}

    def _on_quality(self, msg):
        now = time.monotonic()
        wall = time.time()
        status = msg.status[0]
        values = {kv.key: kv.value for kv in status.values}
        with self.lock:
            self.qualities += 1
            self.levels[status.level] = self.levels.get(status.level, 0) + 1
            state = values.get('state', '?')
            if status.level != b'\x00':
                # Counted by message with its numbers blanked, so that alike problems add up.
                text = re.sub(r'[-+]?\d+(\.\d+)?', '#', status.message)
                self.problems[text] = self.problems.get(text, 0) + 1
            self.states[state] = self.states.get(state, 0) + 1
            received = int(values.get('frames_received', 0))
            if self.first_frames_received is None:
                self.first_frames_received = received - 1
            if received <= self.last_frames_received:
                self.duplicates += 1
            self.last_frames_received = max(self.last_frames_received, received)
            if self.last_arrival is not None:
                self.longest_gap_s = max(self.longest_gap_s, now - self.last_arrival)
            else:
                self.first_arrival = now
            self.last_arrival = now
            self.processing_ms.append(float(values.get('processing_ms', 'nan')))
            stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            self.latency_ms.append(1000.0 * (wall - stamp))

    def _on_pose(self, msg):
        with self.lock:
            self.poses += 1

    def frames_received(self):
        """Return the frames the node received in this phase, by its own count."""
        with self.lock:
            if self.first_frames_received is None:
                return 0
            return self.last_frames_received - self.first_frames_received

    def node_ready(self):
        """Return True once the node's image subscription and quality publisher are seen."""
        return (self.node.count_subscribers(f'{self.namespace}/image') >= 1
                and self.node.count_publishers(f'{self.namespace}/detection_quality') >= 1)

    def close(self):
        """Stop spinning and shut ROS down in this process."""
        import rclpy

        self.executor.shutdown()
        self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown()


def start_publisher(options, env, namespace, frames, rate, duration_s=0.0):
    """Start the camera process; return it and a list its output lines are collected into."""
    command = [sys.executable, str(Path(__file__).resolve()), '--role', 'publisher',
               '--namespace', namespace, '--frames', str(frames), '--rate', str(rate),
               '--size', options.size, '--duration-s', str(duration_s)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    reports = []

    def read():
        for line in process.stdout:
            try:
                reports.append(json.loads(line))
            except ValueError:
                print(line, end='', file=sys.stderr)

    threading.Thread(target=read, daemon=True).start()
    return process, reports


def published_so_far(reports):
    """Return the latest published count a camera process reported."""
    counts = [r['published'] for r in list(reports) if 'published' in r]
    return counts[-1] if counts else 0


def wait_for_drain(monitor, publisher, progress=None):
    """Wait for the camera to finish and the node's outputs to stop; return the camera's rc."""
    while publisher.poll() is None:
        if progress:
            progress()
        time.sleep(0.2)
    quiet_since, count = time.monotonic(), monitor.qualities
    while time.monotonic() - quiet_since < DRAIN_QUIET_S:
        time.sleep(0.1)
        if monitor.qualities != count:
            quiet_since, count = time.monotonic(), monitor.qualities
    return publisher.returncode


def measure(options, env, namespace, monitor, rate):
    """Publish for options.calibration_s at `rate`; return (published, received, answered/s)."""
    monitor.reset()
    publisher, reports = start_publisher(options, env, namespace, 10 ** 9, rate,
                                         options.calibration_s)
    wait_for_drain(monitor, publisher)
    final = [r for r in reports if r.get('done')]
    with monitor.lock:
        span = (monitor.last_arrival or 0.0) - (monitor.first_arrival or 0.0)
        answered = monitor.qualities
        received = monitor.frames_received()
    if answered < 10 or span <= 0.0 or not final:
        raise RuntimeError(f'the node answered {answered} frames while measuring')
    return final[-1]['published'], received, (answered - 1) / span


def find_sustained_rate(options, env, namespace, monitor):
    """Return the highest rate found to lose at most MAX_DROP_FRACTION, and the unthrottled one."""
    _, _, unthrottled = measure(options, env, namespace, monitor, 0)
    print(f'measuring: unthrottled, the node answers {unthrottled:.1f} frames/s', flush=True)
    rate = RATE_STEP * unthrottled
    for _ in range(RATE_TRIES):
        published, received, _ = measure(options, env, namespace, monitor, f'{rate:.1f}')
        lost = 1.0 - received / published
        print(f'measuring: at {rate:.1f} frames/s, {100.0 * lost:.2f} % lost before the node',
              flush=True)
        if lost <= MAX_DROP_FRACTION:
            break
        rate *= RATE_STEP
    print(f'soaking at {rate:.1f} frames/s', flush=True)
    return f'{rate:.1f}', unthrottled


def percentile(values, q):
    """Return the q-th percentile of the finite values, or nan."""
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return math.nan
    return finite[min(len(finite) - 1, int(round(q / 100.0 * (len(finite) - 1))))]


def run_main(options):
    """Start the node and the camera, soak, report; return the exit status."""
    env = child_environment()
    os.environ.update({k: env[k] for k in list(profile_environment(PROFILE))
                       + ['ROS_AUTOMATIC_DISCOVERY_RANGE']})
    namespace = f'/soak_{os.getpid()}'
    started = time.strftime('%Y%m%d_%H%M%S')
    print(f'soak: {options.frames} frames of {options.size} on {namespace}, '
          f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}, "
          f'profile {env[VARIABLE]}', flush=True)
    node = subprocess.Popen(
        [sys.executable, '-m', 'clingers_perception.perception_node', '--ros-args',
         '-r', f'__ns:={namespace}', '--log-level', options.node_log_level], env=env)
    monitor = Monitor(namespace)
    timeline = []
    try:
        deadline = time.monotonic() + 30.0
        while not monitor.node_ready():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the node did not come up')
            time.sleep(0.05)
        rss_idle = rss_kib(node.pid)

        rate = options.rate
        measured_rate = math.nan
        if rate == 'auto':
            rate, measured_rate = find_sustained_rate(options, env, namespace, monitor)

        monitor.reset()
        rss_start = rss_kib(node.pid)
        cpu_start = cpu_seconds(node.pid)
        start = time.monotonic()
        publisher, reports = start_publisher(options, env, namespace, options.frames, rate)
        last_print = [0.0]

        def progress():
            now = time.monotonic() - start
            if now - last_print[0] < PROGRESS_PERIOD_S:
                return
            last_print[0] = now
            sample = (round(now, 1), published_so_far(reports), monitor.frames_received(),
                      monitor.qualities, monitor.poses, rss_kib(node.pid))
            timeline.append(sample)
            done = 100.0 * sample[1] / options.frames
            print(f'  {sample[0]:7.1f} s  published {sample[1]:7d} ({done:5.1f} %)  '
                  f'received {sample[2]:7d}  quality {sample[3]:7d}  poses {sample[4]:7d}  '
                  f'node RSS {sample[5] / 1024:7.1f} MiB', flush=True)

        publisher_rc = wait_for_drain(monitor, publisher, progress)
        rss_end = rss_kib(node.pid)
        cpu_end = cpu_seconds(node.pid)
        final = [r for r in reports if r.get('done')]
        published = final[-1]['published'] if final else published_so_far(reports)
        publish_s = final[-1]['t'] if final else math.nan
        timeline.append((round(time.monotonic() - start, 1), published,
                         monitor.frames_received(), monitor.qualities, monitor.poses, rss_end))
    finally:
        stop_processes({'perception_node': node})
        monitor.close()

    with monitor.lock:
        received = monitor.frames_received()
        span = (monitor.last_arrival or 0.0) - (monitor.first_arrival or 0.0)
        rows = [
            ('frame size', options.size),
            ('target rate (frames/s)', rate),
            ('unthrottled rate measured (frames/s)', f'{measured_rate:.1f}'),
            ('frames published', published),
            ('publishing time (s)', f'{publish_s:.1f}'),
            ('frames received by the node (frames_received)', received),
            ('frames dropped before the node (%)',
             f'{100.0 * (1.0 - received / published):.2f}' if published else 'nan'),
            ('detection_quality messages', monitor.qualities),
            ('quality messages per frame received',
             f'{monitor.qualities / received:.4f}' if received else 'nan'),
            ('frames_received seen twice or going back', monitor.duplicates),
            ('target_pose messages', monitor.poses),
            ('poses per frame received', f'{monitor.poses / received:.4f}' if received else 'nan'),
            ('levels OK / WARN / ERROR', ' / '.join(str(monitor.levels.get(level, 0))
                                                    for level in (b'\x00', b'\x01', b'\x02'))),
            ('states', ', '.join(f'{k} {v}' for k, v in sorted(monitor.states.items()))),
            ('output rate (quality/s)', f'{(monitor.qualities - 1) / span:.1f}'
             if span > 0 else 'nan'),
            ('longest gap between outputs (ms)', f'{1000.0 * monitor.longest_gap_s:.1f}'),
            ('processing_ms p50 / p99 / max',
             ' / '.join(f'{percentile(monitor.processing_ms, q):.2f}' for q in (50, 99, 100))),
            ('latency stamp->quality ms p50 / p99 / max',
             ' / '.join(f'{percentile(monitor.latency_ms, q):.1f}' for q in (50, 99, 100))),
            ('node RSS idle (MiB)', f'{rss_idle / 1024:.1f}'),
            ('node RSS at start (MiB)', f'{rss_start / 1024:.1f}'),
            ('node RSS at end (MiB)', f'{rss_end / 1024:.1f}'),
            ('node RSS growth (MiB)', f'{(rss_end - rss_start) / 1024:.1f}'),
            ('node RSS sampled during the soak, min / max (MiB)',
             ' / '.join(f'{f(row[5] for row in timeline) / 1024:.1f}' for f in (min, max))),
            ('node CPU time (s)', f'{cpu_end - cpu_start:.1f}'),
            ('camera process exit status', publisher_rc),
        ]
    problems = sorted(monitor.problems.items(), key=lambda item: -item[1])[:5]
    rows.extend((f'WARN/ERROR message x{count}', text) for text, count in problems)
    width = max(len(name) for name, _ in rows)
    print('\n' + '-' * (width + 24))
    for name, value in rows:
        print(f'{name:<{width}}  {value}')
    print('-' * (width + 24))
    results = Path(options.results)
    results.mkdir(parents=True, exist_ok=True)
    summary = results / f'soak_{started}_{options.size}.csv'
    with open(summary, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['metric', 'value'])
        writer.writerows(rows)
    series = results / f'soak_{started}_{options.size}_timeline.csv'
    with open(series, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['t_s', 'published', 'received', 'quality', 'poses', 'node_rss_kib'])
        writer.writerows(timeline)
    print(f'wrote {summary} and {series}')
    ok = publisher_rc == 0 and received > 0 and monitor.qualities == received \
        and monitor.duplicates == 0
    return 0 if ok else 1


def main(argv=None):
    """Run as the soak driver, or as its camera process with --role publisher."""
    options = parse_args(argv)
    if options.role == 'publisher':
        try:
            return run_publisher(options)
        except KeyboardInterrupt:
            return 0
    return run_main(options)


if __name__ == '__main__':
    sys.exit(main())
