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
End-to-end latency through DDS: a camera-like process -> perception_node -> back.

For every cell (image size x frame rate x with / without the Fast DDS profile) this script
starts two processes with subprocess, both with the same environment:

- the perception node: `python3 -m clingers_perception.perception_node` (or --node-cmd);
- a camera process (this script with --role camera): it publishes pre-rendered mono8 frames of
  a docking approach (played forwards then backwards, so the motion is continuous) with their
  CameraInfo at the requested rate, best effort like a camera driver, each stamped with the
  wall clock just before publishing; it subscribes to detection_quality and target_pose and
  records, per frame, receipt time - image stamp. The first --warmup seconds (discovery,
  acquisition) are published but not counted.

Reported per cell: frames published, quality messages received, dropped (published - received),
frames the node saw (frames_received in its report), latency p50 / p99 / max of
detection_quality and target_pose, CPU time of the node process per frame (utime + stime from
/proc/PID/stat over the counted window) and the load average.

    # from the repository root (or with install/setup.bash sourced, without PYTHONPATH)
    PYTHONPATH=. python3 benchmarks/end_to_end_dds.py               # 18 cells x 10 s
    PYTHONPATH=. python3 benchmarks/end_to_end_dds.py --acceptance  # 1280x1024, 60 Hz, 60 s
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.dds_profile import FAST_DDS_2_VARIABLE, profile_environment, VARIABLE
from clingers_perception.demo import stop_processes
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.ros_conversions import camera_info_message
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(REPO, 'config', 'fastdds.xml')
NAMESPACE = '/clingers_e2e_bench'
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    """Return utime + stime of process `pid` in seconds (0 if it is gone)."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    # Fields after the command name start at field 3 (state); utime is 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(values, q):
    """Return the q-th percentile of values, nan when there are none."""
    return float(np.percentile(values, q)) if len(values) else float('nan')


# ----------------------------------------------------------------------------- camera process


def render_frames(width, height, count):
    """Return mono8 frames of a docking approach, forwards then backwards."""
    camera = default_sim_camera(width, height)
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    renderer = IrSceneRenderer(camera)
    rng = np.random.default_rng(0)
    frames = [renderer.render(led_points_in_camera(target, rotation, translation),
                              rng=rng).image
              for rotation, translation in approach_poses(ApproachSpec(frames=count))]
    return camera, frames + frames[-2:0:-1]


def run_camera(args):
    """Publish frames, collect the node's answers, write a JSON summary to args.result."""
    width, height = (int(v) for v in args.size.split('x'))
    camera, frames = render_frames(width, height, args.frames)
    images = []
    for frame in frames:
        msg = Image()
        msg.header.frame_id = 'camera_optical'
        msg.height, msg.width = frame.shape
        msg.encoding = 'mono8'
        msg.step = width
        msg.data = frame.tobytes()
        images.append(msg)
    info = camera_info_message(camera)
    info.header.frame_id = 'camera_optical'

    rclpy.init()
    node = rclpy.create_node('e2e_camera', namespace=NAMESPACE)
    image_pub = node.create_publisher(Image, 'image', qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
    results_qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
    received = {'quality': {}, 'pose': {}}
    last_report = {}

    def on_quality(msg):
        now = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        received['quality'].setdefault(stamp, now)
        if msg.status:
            values = {kv.key: kv.value for kv in msg.status[0].values}
            last_report.update(values)
            received.setdefault('states', {}).setdefault(stamp, values.get('state', '?'))

    def on_pose(msg):
        now = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        received['pose'].setdefault(stamp, now)

    quality_sub = node.create_subscription(DiagnosticArray, 'detection_quality', on_quality,
                                           results_qos)
    node.create_subscription(PoseWithCovarianceStamped, 'target_pose', on_pose, results_qos)

    deadline = time.monotonic() + args.discovery_timeout
    while time.monotonic() < deadline and (image_pub.get_subscription_count() < 1
                                           or quality_sub.get_publisher_count() < 1):
        rclpy.spin_once(node, timeout_sec=0.1)
    connected = image_pub.get_subscription_count() >= 1 and \
        quality_sub.get_publisher_count() >= 1
    for _ in range(5):
        info.header.stamp = node.get_clock().now().to_msg()
        info_pub.publish(info)
        rclpy.spin_once(node, timeout_sec=0.1)

    warmup = int(round(args.warmup * args.rate))
    total = warmup + int(round(args.duration * args.rate))
    published = {}
    marks = {}

    def publish_loop():
        period = 1.0 / args.rate
        start = time.monotonic() + 0.05
        late = []
        for index in range(total):
            due = start + index * period
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                late.append(-pause)
            if index == warmup:
                marks['cpu_start'] = cpu_seconds(args.node_pid)
                marks['self_cpu_start'] = time.process_time()
                marks['wall_start'] = time.monotonic()
            stamp = time.time_ns()
            msg = images[index % len(images)]
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            info.header.stamp = msg.header.stamp
            info_pub.publish(info)
            image_pub.publish(msg)
            if index >= warmup:
                published[stamp] = index
        marks['wall_end'] = time.monotonic()
        # Let the last frame's answer arrive before the node's CPU time is read.
        time.sleep(min(0.5, 20 * period))
        marks['cpu_end'] = cpu_seconds(args.node_pid)
        marks['self_cpu_end'] = time.process_time()
        marks['late_ms_max'] = 1000.0 * max(late) if late else 0.0
        marks['late_frames'] = sum(1 for v in late if v > period)

    thread = threading.Thread(target=publish_loop, daemon=True)
    thread.start()
    while thread.is_alive():
        rclpy.spin_once(node, timeout_sec=0.02)
    drain = time.monotonic() + args.drain
    while time.monotonic() < drain:
        rclpy.spin_once(node, timeout_sec=0.02)

    quality_ms = [(received['quality'][s] - s) / 1e6 for s in published
                  if s in received['quality']]
    pose_ms = [(received['pose'][s] - s) / 1e6 for s in published if s in received['pose']]
    states = received.get('states', {})
    tracking = sum(1 for s in published if states.get(s) == 'TRACKING')
    counted = len(quality_ms)
    node_cpu = marks.get('cpu_end', 0.0) - marks.get('cpu_start', 0.0)
    wall = marks.get('wall_end', 0.0) - marks.get('wall_start', 0.0)
    summary = {
        'size': args.size, 'rate_hz': args.rate, 'profile': args.profile_label,
        'connected': connected, 'published': len(published),
        'achieved_rate_hz': len(published) / wall if wall > 0 else float('nan'),
        'quality_received': counted, 'pose_received': len(pose_ms),
        'dropped': len(published) - counted, 'tracking_frames': tracking,
        'node_frames_received_total': last_report.get('frames_received', 'nan'),
        'quality_p50_ms': percentile(quality_ms, 50), 'quality_p99_ms': percentile(quality_ms, 99),
        'quality_max_ms': max(quality_ms) if quality_ms else float('nan'),
        'pose_p50_ms': percentile(pose_ms, 50), 'pose_p99_ms': percentile(pose_ms, 99),
        'pose_max_ms': max(pose_ms) if pose_ms else float('nan'),
        'node_processing_ms_last': last_report.get('processing_ms', 'nan'),
        'node_cpu_s': node_cpu,
        'node_cpu_ms_per_frame': 1000.0 * node_cpu / counted if counted else float('nan'),
        'node_cpu_percent': 100.0 * node_cpu / wall if wall > 0 else float('nan'),
        'camera_cpu_ms_per_frame': 1000.0 * (marks.get('self_cpu_end', 0.0)
                                             - marks.get('self_cpu_start', 0.0))
        / max(1, len(published)),
        'publish_late_ms_max': marks.get('late_ms_max', float('nan')),
        'publish_late_frames': marks.get('late_frames', 0),
        'loadavg_1min_end': os.getloadavg()[0],
    }
    with open(args.result, 'w') as handle:
        json.dump(summary, handle)
    node.destroy_node()
    rclpy.try_shutdown()


# ----------------------------------------------------------------------------- orchestrator


def cell_environment(with_profile, domain_id):
    """Return the environment of both processes of one cell."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env['PYTHONUNBUFFERED'] = '1'
    for name in (VARIABLE, FAST_DDS_2_VARIABLE):
        env.pop(name, None)
    if with_profile:
        env.update(profile_environment(PROFILE))
    return env


def run_cell(size, rate, with_profile, args, log_dir):
    """Start the node and the camera for one cell; return the camera's summary dict."""
    env = cell_environment(with_profile, args.domain_id)
    label = 'profile' if with_profile else 'builtin'
    name = f'{size}_{rate:g}hz_{label}'
    node_cmd = args.node_cmd.split() if args.node_cmd else \
        [sys.executable, '-m', 'clingers_perception.perception_node']
    node_cmd += ['--ros-args', '-r', f'__ns:={NAMESPACE}']
    with open(os.path.join(log_dir, f'node_{name}.log'), 'w') as node_log:
        node = subprocess.Popen(node_cmd, env=env, stdout=node_log, stderr=subprocess.STDOUT)
        result_path = os.path.join(log_dir, f'camera_{name}.json')
        camera_cmd = [sys.executable, os.path.abspath(__file__), '--role', 'camera',
                      '--size', size, '--rate', str(rate), '--duration', str(args.duration),
                      '--warmup', str(args.warmup), '--frames', str(args.frames),
                      '--node-pid', str(node.pid), '--result', result_path,
                      '--profile-label', label]
        try:
            with open(os.path.join(log_dir, f'camera_{name}.log'), 'w') as camera_log:
                subprocess.run(camera_cmd, env=env, stdout=camera_log,
                               stderr=subprocess.STDOUT, check=False,
                               timeout=args.duration + args.warmup + 120)
        finally:
            stop_processes({'perception_node': node})
    try:
        with open(result_path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {'size': size, 'rate_hz': rate, 'profile': label, 'connected': False,
                'error': f'no result; see {log_dir}'}


COLUMNS = ('size', 'rate_hz', 'profile', 'published', 'quality_received', 'dropped',
           'pose_received', 'quality_p50_ms', 'quality_p99_ms', 'quality_max_ms', 'pose_p50_ms',
           'pose_p99_ms', 'node_cpu_ms_per_frame', 'node_cpu_percent',
           'camera_cpu_ms_per_frame', 'achieved_rate_hz', 'publish_late_frames',
           'node_frames_received_total', 'tracking_frames', 'loadavg_1min_end', 'connected')


def print_table(rows):
    """Print the markdown table of all cells."""
    shown = ('size', 'rate_hz', 'profile', 'published', 'quality_received', 'dropped',
             'quality_p50_ms', 'quality_p99_ms', 'quality_max_ms', 'pose_p50_ms',
             'node_cpu_ms_per_frame', 'node_cpu_percent', 'achieved_rate_hz',
             'loadavg_1min_end')
    print('| ' + ' | '.join(shown) + ' |')
    print('|' + '---|' * len(shown))
    for row in rows:
        cols = []
        for key in shown:
            value = row.get(key, 'n/a')
            cols.append(f'{value:.2f}' if isinstance(value, float) else str(value))
        print('| ' + ' | '.join(cols) + ' |')


def main(argv=None):
    """Run the cells (or the camera role) and report."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='640x480,1280x1024,2048x1536')
    parser.add_argument('--rates', default='30,60,120')
    parser.add_argument('--profiles', default='with,without',
                        help='with and/or without the profile config/fastdds.xml')
    parser.add_argument('--duration', type=float, default=10.0, help='counted seconds per cell')
    parser.add_argument('--warmup', type=float, default=2.0,
                        help='seconds published first and not counted')
    parser.add_argument('--drain', type=float, default=1.0)
    parser.add_argument('--frames', type=int, default=120,
                        help='pre-rendered approach frames (played forwards and back)')
    parser.add_argument('--acceptance', action='store_true',
                        help='only the acceptance cell: 1280x1024, 60 Hz, 60 s, with profile')
    parser.add_argument('--domain-id', type=int, default=int(os.environ.get('ROS_DOMAIN_ID',
                                                                            89) or 89))
    parser.add_argument('--node-cmd', default='',
                        help='command starting the node (default: python3 -m ...perception_node)')
    parser.add_argument('--out', default='results')
    parser.add_argument('--discovery-timeout', type=float, default=30.0)
    # Internal: the camera process.
    parser.add_argument('--role', default='orchestrator', choices=('orchestrator', 'camera'))
    parser.add_argument('--size', default='1280x1024')
    parser.add_argument('--rate', type=float, default=60.0)
    parser.add_argument('--node-pid', type=int, default=0)
    parser.add_argument('--result', default='')
    parser.add_argument('--profile-label', default='')
    args = parser.parse_args(argv)
    if args.role == 'camera':
        run_camera(args)
        return
    if args.acceptance:
        args.sizes, args.rates, args.profiles, args.duration = '1280x1024', '60', 'with', 60.0
    log_dir = tempfile.mkdtemp(prefix='clingers_e2e_')
    load_before = os.getloadavg()
    rows = []
    for size in args.sizes.split(','):
        for rate in (float(r) for r in args.rates.split(',')):
            for profile in args.profiles.split(','):
                row = run_cell(size, rate, profile == 'with', args, log_dir)
                rows.append(row)
                print(f"# {size} {rate:g} Hz {row.get('profile')}: dropped "
                      f"{row.get('dropped')}, p50 {row.get('quality_p50_ms', float('nan')):.2f}"
                      f" ms, p99 {row.get('quality_p99_ms', float('nan')):.2f} ms",
                      file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"end_to_end_dds_{time.strftime('%Y%m%dT%H%M%S')}.csv")
    with open(path, 'w', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS) + ['error'],
                                extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    print(f'Machine: {platform.node()}, {os.cpu_count()} cores, Python '
          f"{platform.python_version()}, RMW {os.environ.get('RMW_IMPLEMENTATION', 'default')}"
          f', ROS_DOMAIN_ID {args.domain_id}, {args.duration:g} s counted per cell after '
          f'{args.warmup:g} s warm-up')
    print(f'Load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/'
          f'{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/'
          f'{load_after[2]:.2f}')
    print()
    print_table(rows)
    print('\nLatency: receipt of detection_quality (quality_*) or target_pose (pose_*) in the '
          'camera process minus the image stamp; dropped = published - quality received; '
          'node CPU from /proc/PID/stat utime+stime over the counted window.')
    print(f'CSV: {path}; logs: {log_dir}')


if __name__ == '__main__':
    main()
