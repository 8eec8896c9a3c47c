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
`make demo`: closed-loop docking on the simulated IR camera, from 3 m to DOCKED.

    python3 -m clingers_perception.demo [--timeout 120] [--distractors 0] [--seed 0]
                                        [--results results]

Starts ir_camera_sim, docking_guidance and perception_node as three processes, as the launch
file sim_docking.launch.py would (each told to load the package's config/fastdds.xml, see
dds_profile), one at a time so that none of their first messages is lost, and watches them from
this process: it prints the guidance phase, the range, the pose error against the simulator's
ground truth and the detection state as the chaser closes. When guidance reports DOCKED (or on
timeout) it stops the three processes (SIGINT, wait, then kill), prints a summary table and
writes under the results folder: demo_docking.png (range, pose error and detection state over
time), demo_docking.csv (one row per frame) and demo_logs/ (the output of each process).

Exits 0 only when guidance reported DOCKED and the true final range is within 2 cm of the
capture point.
"""

import argparse
import bisect
import csv
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from clingers_perception.dds_profile import profile_environment
from clingers_perception.transforms import rotation_angle_between
import numpy as np
import yaml

PACKAGE = 'clingers_perception'
CONFIG_FILES = ('fastdds.xml', 'sim_camera.yaml', 'guidance.yaml')
# Exit 0 only when the true final range is this close to the capture distance (m).
FINAL_RANGE_TOLERANCE_M = 0.02
# Keep recording this long after DOCKED, to show that the chaser stays put (s).
SETTLE_S = 1.0
PRINT_PERIOD_S = 1.0
STOP_WAIT_S = 5.0
STATES = ('LOST', 'ACQUIRING', 'TRACKING')
# The three nodes, upstream first.
NODES = ('ir_camera_sim', 'perception_node', 'docking_guidance')
PHASE_COLOURS = {'SEARCH': '#d9d9d9', 'ALIGN': '#fdd49e', 'APPROACH': '#c7e9c0',
                 'HOLD': '#fcbba1', 'BACK_OFF': '#f768a1', 'DOCKED': '#9ecae1'}
RANGE_BANDS_M = ((1.0, math.inf), (0.3, 1.0), (0.0, 0.3))


def config_dir():
    """Return the folder with the package's config files: installed share, else the source."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(PACKAGE)) / 'config'
        if all((installed / name).is_file() for name in CONFIG_FILES):
            return installed
    except (ImportError, LookupError, OSError):
        pass
    return Path(__file__).resolve().parents[1] / 'config'


def node_commands(config, sim_overrides=()):
    """
    Return {name: command line} of the three nodes, with the installed parameter files.

    `sim_overrides` are extra `name:=value` parameters of the camera simulator.
    """
    sim_parameters = [item for value in ('mode:=closed_loop',) + tuple(sim_overrides)
                      for item in ('-p', value)]
    commands = {
        'ir_camera_sim': ['ir_camera_sim_node', '--params-file', config / 'sim_camera.yaml']
        + sim_parameters,
        'perception_node': ['perception_node'],
        'docking_guidance': ['docking_guidance_node', '--params-file',
                             config / 'guidance.yaml'],
    }
    if (config / 'perception.yaml').is_file():
        commands['perception_node'] += ['--params-file', config / 'perception.yaml']
    return {name: [sys.executable, '-m', f'{PACKAGE}.{module}', '--ros-args']
            + [str(a) for a in ros_args] for name, (module, *ros_args) in commands.items()}


def start_process(name, command, config, log_dir):
    """Start one node with the large-frame DDS profile, its output to log_dir/<name>.log."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', **profile_environment(config / 'fastdds.xml'))
    with open(log_dir / f'{name}.log', 'w') as log:
        # A session of its own: a Ctrl-C in the terminal reaches the demo, which stops it.
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def cpu_seconds(pid):
    """Return the CPU time (user + system, s) a process used so far, or NaN off Linux."""
    try:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return math.nan


def stop_processes(processes):
    """
    Stop the processes in the order given: SIGINT, wait, then kill; return exit codes.

    Give them upstream first (NODES), so that no node is interrupted while messages still pour
    in.
    """
    codes = {}
    for name, process in processes.items():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            codes[name] = process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            codes[name] = f'killed after {STOP_WAIT_S:g} s'
            process.wait()
    return codes


class Recording:
    """What the demo saw, keyed by frame stamp (integer nanoseconds)."""

    def __init__(self):
        """Start empty."""
        self.truth = {}
        self.estimates = {}
        self.quality = {}
        # (receive time s, phase), in order.
        self.phases = []

    def phase_at(self, time_s):
        """Return the guidance phase last reported at or before time_s, or ''."""
        index = bisect.bisect_right([t for t, _ in self.phases], time_s) - 1
        return self.phases[index][1] if index >= 0 else ''

    def rows(self):
        """Return one dict per ground-truth frame, in time order, with errors and states."""
        rows = []
        for stamp in sorted(self.truth):
            rotation, translation = self.truth[stamp]
            row = {'stamp_s': stamp * 1e-9, 'true_range_m': float(np.linalg.norm(translation)),
                   'range_m': math.nan, 'position_error_mm': math.nan,
                   'attitude_error_deg': math.nan, 'state': '', 'level': '',
                   'confidence': math.nan}
            estimate = self.estimates.get(stamp)
            if estimate is not None:
                row['range_m'] = float(np.linalg.norm(estimate[1]))
                row['position_error_mm'] = 1000.0 * float(np.linalg.norm(estimate[1]
                                                                         - translation))
                row['attitude_error_deg'] = math.degrees(
                    rotation_angle_between(estimate[0], rotation))
            if stamp in self.quality:
                row['state'], row['level'], row['confidence'] = self.quality[stamp]
            row['phase'] = self.phase_at(row['stamp_s'])
            rows.append(row)
        return rows


def make_monitor(recording, on_phase):
    """Return an rclpy node that fills `recording`; on_phase(phase) runs on each change."""
    from clingers_perception.ros_conversions import pose_from_message, stamp_nanoseconds
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    node = Node('clingers_demo_monitor')

    def on_truth(msg):
        recording.truth[stamp_nanoseconds(msg.header.stamp)] = pose_from_message(msg.pose)

    def on_pose(msg):
        recording.estimates[stamp_nanoseconds(msg.header.stamp)] = pose_from_message(msg.pose.pose)

    def on_quality(msg):
        if msg.status:
            status = msg.status[0]
            values = {item.key: item.value for item in status.values}
            level = status.level[0] if isinstance(status.level, (bytes, bytearray)) \
                else int(status.level)
            recording.quality[stamp_nanoseconds(msg.header.stamp)] = (
                values.get('state', ''), ('OK', 'WARN', 'ERROR', 'STALE')[min(level, 3)],
                float(values.get('confidence', 'nan')))

    def on_status(msg):
        if not recording.phases or recording.phases[-1][1] != msg.data:
            recording.phases.append((node.get_clock().now().nanoseconds * 1e-9, msg.data))
            on_phase(msg.data)

    node.create_subscription(PoseStamped, 'ground_truth/target_pose', on_truth, qos)
    node.create_subscription(PoseWithCovarianceStamped, 'target_pose', on_pose, qos)
    node.create_subscription(DiagnosticArray, 'detection_quality', on_quality, qos)
    node.create_subscription(String, 'docking_status', on_status, qos)
    return node


def progress_line(elapsed_s, recording):
    """Return a line about the newest frame that has both a pose and a quality report."""
    phase = recording.phases[-1][1] if recording.phases else '-'
    stamps = sorted(recording.truth)
    for stamp in reversed(stamps[-10:]):
        if stamp in recording.quality:
            state, level, confidence = recording.quality[stamp]
            true_range = float(np.linalg.norm(recording.truth[stamp][1]))
            text = f'{elapsed_s:6.1f} s  {phase:<9} true range {true_range:6.3f} m'
            estimate = recording.estimates.get(stamp)
            if estimate is None:
                return text + f'  no pose         {state} {level}'
            error_mm = 1000.0 * np.linalg.norm(estimate[1] - recording.truth[stamp][1])
            error_deg = math.degrees(rotation_angle_between(estimate[0],
                                                            recording.truth[stamp][0]))
            return text + (f'  estimate {np.linalg.norm(estimate[1]):6.3f} m  error '
                           f'{error_mm:6.2f} mm {error_deg:5.2f} deg  {state} {level} '
                           f'confidence {confidence:.2f}')
    return f'{elapsed_s:6.1f} s  {phase:<9} waiting for frames ({len(stamps)} received)'


def summary(rows, recording, capture_distance_m, docked_at_s, codes, cpu, run_s):
    """Return the summary table as text."""
    start = rows[0]['stamp_s'] if rows else 0.0
    lines = ['', 'Summary (times are camera time from the first frame; the lines above are '
             'wall time from the start of the demo)', '-------']
    lines.append(f"{'phase':<10} {'entered at (s)':>15} {'time in phase (s)':>18}")
    end = rows[-1]['stamp_s'] if rows else 0.0
    for index, (time_s, phase) in enumerate(recording.phases):
        until = recording.phases[index + 1][0] if index + 1 < len(recording.phases) else end
        lines.append(f'{phase:<10} {time_s - start:15.2f} {max(until - time_s, 0.0):18.2f}')
    reported = [row for row in rows if row['level']]
    posed = sum(1 for row in reported if not math.isnan(row['range_m']))
    levels = {level: sum(1 for row in reported if row['level'] == level)
              for level in ('OK', 'WARN', 'ERROR')}
    lines.append('')
    lines.append(f'frames rendered {len(rows)}, {len(rows) - len(reported)} without a quality '
                 f'report (perception starting, or dropped); of the {len(reported)} processed, '
                 f'{posed} gave a pose '
                 f'({100.0 * posed / max(len(reported), 1):.1f} %), quality OK '
                 f"{levels['OK']} WARN {levels['WARN']} ERROR {levels['ERROR']}")
    lines.append('')
    lines.append(f"{'true range (m)':<15} {'poses':>6} {'position error (mm)':>28} "
                 f"{'attitude error (deg)':>28}")
    lines.append(f"{'':<15} {'':>6} {'median':>9} {'p95':>9} {'max':>9} "
                 f"{'median':>9} {'p95':>9} {'max':>9}")
    for low, high in RANGE_BANDS_M:
        band = [row for row in rows if low <= row['true_range_m'] < high
                and not math.isnan(row['position_error_mm'])]
        label = f'{low:.1f} - {high:.1f}' if math.isfinite(high) else f'>= {low:.1f}'
        if not band:
            lines.append(f'{label:<15} {0:>6}')
            continue
        position = np.array([row['position_error_mm'] for row in band])
        attitude = np.array([row['attitude_error_deg'] for row in band])
        lines.append(f'{label:<15} {len(band):>6} ' + ' '.join(
            f'{v:9.2f}' for v in (np.median(position), np.percentile(position, 95),
                                  position.max(), np.median(attitude),
                                  np.percentile(attitude, 95), attitude.max())))
    lines.append('')
    final = rows[-1]['true_range_m'] if rows else math.nan
    docked = 'never' if docked_at_s is None else \
        f'at {docked_at_s - start:.2f} s of camera time'
    off_mm = 1000.0 * abs(final - capture_distance_m)
    lines.append(f'docked {docked}; final true range {final:.4f} m, capture point at '
                 f'{capture_distance_m:.3f} m: off by {off_mm:.1f} mm '
                 f'(limit {1000.0 * FINAL_RANGE_TOLERANCE_M:.0f} mm)')
    if cpu:
        lines.append(f'CPU use over the {run_s:.1f} s run ({os.cpu_count()} cores), % of one '
                     'core: ' + ', '.join(f'{name} {100.0 * seconds / run_s:.0f}'
                                          for name, seconds in cpu.items()))
    lines.append('processes stopped, exit codes: '
                 + ', '.join(f'{n} {c}' for n, c in codes.items()))
    return '\n'.join(lines)


def write_csv(rows, path):
    """Write one line per frame."""
    with open(path, 'w', newline='') as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ['stamp_s'])
        writer.writeheader()
        writer.writerows(rows)


def write_timestamped_csv(rows, folder, stem):
    """Write `rows` to folder/stem_YYYYmmddTHHMMSS.csv (the folder made if missing); return it."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f'{stem}_{time.strftime("%Y%m%dT%H%M%S")}.csv')
    write_csv(rows, path)
    return path


def plot(rows, recording, capture_distance_m, title, path):
    """Write the PNG: range, position and attitude error, detection state, phases shaded."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    start = rows[0]['stamp_s']
    time_s = np.array([row['stamp_s'] - start for row in rows])
    column = {key: np.array([row[key] for row in rows], dtype=float)
              for key in ('true_range_m', 'range_m', 'position_error_mm', 'attitude_error_deg',
                          'confidence')}
    figure, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 11),
                                gridspec_kw={'height_ratios': [3, 2, 2, 1.5]})
    end = time_s[-1]
    for index, (phase_time, phase) in enumerate(recording.phases):
        left = phase_time - start
        right = recording.phases[index + 1][0] - start if index + 1 < len(recording.phases) \
            else end
        for axis in axes:
            axis.axvspan(max(left, 0.0), right, color=PHASE_COLOURS.get(phase, 'white'),
                         alpha=0.5, linewidth=0)
    axis = axes[0]
    axis.plot(time_s, column['true_range_m'], 'k-', linewidth=1.5, label='true range')
    axis.plot(time_s, column['range_m'], '.', color='tab:red', markersize=2,
              label='estimated range')
    axis.axhline(capture_distance_m, color='tab:blue', linestyle='--',
                 label=f'capture point {capture_distance_m:.2f} m')
    axis.set_yscale('log')
    axis.set_yticks([0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0])
    axis.yaxis.set_major_formatter(FormatStrFormatter('%g'))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.set_ylim(0.8 * min(capture_distance_m, np.nanmin(column['true_range_m'])),
                  1.2 * np.nanmax(column['true_range_m']))
    axis.set_ylabel('range (m)')
    phases_seen = list(dict.fromkeys(phase for _, phase in recording.phases))
    handles = axis.get_legend_handles_labels()[0] + [
        Patch(color=PHASE_COLOURS.get(p, 'white'), alpha=0.5, label=p) for p in phases_seen]
    axis.legend(handles=handles, loc='upper right', fontsize=8, ncol=2)
    axis.set_title(title)
    for axis, key, label in ((axes[1], 'position_error_mm', 'position error (mm)'),
                             (axes[2], 'attitude_error_deg', 'attitude error (deg)')):
        valid = np.isfinite(column[key]) & (column[key] > 0.0)
        axis.plot(time_s[valid], column[key][valid], '.', color='tab:purple', markersize=2)
        axis.set_yscale('log')
        axis.set_ylabel(label)
        axis.grid(True, which='both', alpha=0.3)
    axis = axes[3]
    states = np.array([STATES.index(row['state']) if row['state'] in STATES else np.nan
                       for row in rows])
    axis.step(time_s, states, where='post', color='k')
    axis.set_yticks(range(len(STATES)), STATES)
    axis.set_ylim(-0.5, len(STATES) - 0.5)
    axis.set_ylabel('detection state')
    twin = axis.twinx()
    twin.plot(time_s, column['confidence'], '.', color='tab:green', markersize=2)
    twin.set_ylim(0.0, 1.05)
    twin.set_ylabel('confidence', color='tab:green')
    axis.set_xlabel('time since the first frame (s)')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(timeout_s, results, sim_overrides=()):
    """Run the demo; return the process exit status."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    config = config_dir()
    capture_distance_m = yaml.safe_load((config / 'guidance.yaml').read_text())[
        '/**']['ros__parameters']['capture_distance_m']
    log_dir = results / 'demo_logs'
    log_dir.mkdir(parents=True, exist_ok=True)
    # This process talks over DDS too: give it the same profile before rclpy starts.
    os.environ.update(profile_environment(config / 'fastdds.xml'))
    print(f'clingers_perception demo: closed-loop docking on the simulated IR camera '
          f"(ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}, config {config})", flush=True)
    wall_start = time.monotonic()
    cpu_start = time.process_time()
    run_s = math.nan
    recording = Recording()
    docked_at = []

    def on_phase(phase):
        print(f'{time.monotonic() - wall_start:6.1f} s  phase -> {phase}', flush=True)
        if phase == 'DOCKED' and not docked_at:
            docked_at.append(time.monotonic())

    rclpy.init()
    executor = SingleThreadedExecutor()
    commands = node_commands(config, sim_overrides)
    processes = {}
    cpu = {}
    monitor = None
    failure = None
    try:
        # What a publisher sends before this process has discovered it is lost to the monitor,
        # and discovering a new process took up to 3 s here. So the nodes start one at a time,
        # each once the monitor hears the one before: the camera (the chaser stands still
        # without commands), guidance (it stands still in SEARCH without a pose), then
        # perception, which closes the loop. Every phase and nearly every frame is recorded.
        monitor = make_monitor(recording, on_phase)
        executor.add_node(monitor)
        # Each node with what the monitor must have heard before it starts.
        waiting = [('ir_camera_sim', lambda: True),
                   ('docking_guidance', lambda: recording.truth),
                   ('perception_node', lambda: recording.phases)]
        next_print = wall_start + PRINT_PERIOD_S
        while True:
            executor.spin_once(timeout_sec=0.05)
            now = time.monotonic()
            if waiting and waiting[0][1]():
                name = waiting.pop(0)[0]
                print(f'{now - wall_start:6.1f} s  starting {name}', flush=True)
                processes[name] = start_process(name, commands[name], config, log_dir)
            if docked_at and now - docked_at[0] >= SETTLE_S:
                break
            if now - wall_start > timeout_s:
                failure = f'not docked within {timeout_s:g} s'
                break
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                failure = f'{", ".join(dead)} exited early (see {log_dir})'
                break
            if now >= next_print:
                next_print += PRINT_PERIOD_S
                print(progress_line(now - wall_start, recording), flush=True)
        run_s = time.monotonic() - wall_start
        cpu = {name: cpu_seconds(processes[name].pid) for name in NODES if name in processes}
        cpu['demo monitor'] = time.process_time() - cpu_start
    except (KeyboardInterrupt, ExternalShutdownException):
        failure = 'interrupted'
    finally:
        codes = stop_processes({name: processes[name] for name in NODES if name in processes})
        executor.shutdown()
        if monitor is not None:
            monitor.destroy_node()
        rclpy.try_shutdown()

    rows = recording.rows()
    docked_stamp = None
    if docked_at:
        docked_stamp = next((t for t, p in recording.phases if p == 'DOCKED'), None)
    table = summary(rows, recording, capture_distance_m, docked_stamp, codes, cpu, run_s)
    print(table)
    (results / 'demo_summary.txt').write_text(table.lstrip('\n') + '\n')
    if rows:
        write_csv(rows, results / 'demo_docking.csv')
        final = rows[-1]['true_range_m']
        verdict = 'DOCKED' if docked_at else 'NOT DOCKED'
        plot(rows, recording, capture_distance_m,
             f'Closed-loop docking on the simulated IR camera: {verdict}, final range '
             f'{final:.3f} m', results / 'demo_docking.png')
        print(f'wrote {results / "demo_docking.png"}, {results / "demo_docking.csv"} and '
              f'{results / "demo_summary.txt"}; wall time {time.monotonic() - wall_start:.1f} s')
    final_ok = bool(rows) and abs(rows[-1]['true_range_m'] - capture_distance_m) \
        <= FINAL_RANGE_TOLERANCE_M
    if failure is None and not final_ok:
        failure = 'docked, but the final range is not within ' \
            f'{100.0 * FINAL_RANGE_TOLERANCE_M:.0f} cm of the capture point'
    if failure is not None:
        print(f'FAILED: {failure}')
        for name in processes:
            tail = (log_dir / f'{name}.log').read_text().splitlines()[-5:]
            print(f'--- last lines of {name}.log ---\n' + '\n'.join(tail))
        return 1
    print('PASSED: docked with the final range within '
          f'{100.0 * FINAL_RANGE_TOLERANCE_M:.0f} cm of the capture point')
    return 0


def main(argv=None):
    """Parse the command line and run the demo."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='give up when not docked after this many seconds (default 120)')
    parser.add_argument('--distractors', type=int, default=0,
                        help='bright spots that are not LEDs in the simulated image (default 0)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the simulator: noise, distractors, start offsets')
    parser.add_argument('--results', type=Path, default=Path('results'),
                        help='folder for the plot, the CSV and the logs (default results/)')
    args = parser.parse_args(argv)
    overrides = [f'distractor_count:={args.distractors}', f'seed:={args.seed}']
    return run(args.timeout, args.results, overrides)


if __name__ == '__main__':
    sys.exit(main())
