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

"""perception_node's main() as a process: it starts, spins in either executor, stops cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time

from clingers_perception.ros_node_support import EXECUTOR_VARIABLE
import pytest

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


class NodeProcess:
    """perception_node started with `python -m`, its output collected line by line."""

    def __init__(self, executor, ros_args=()):
        """Start the node with CLINGERS_EXECUTOR=`executor`, seeing no other process."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
                   ROS_AUTOMATIC_DISCOVERY_RANGE='OFF')
        env[EXECUTOR_VARIABLE] = executor
        self.lines = []
        command = [sys.executable, '-m', 'clingers_perception.perception_node']
        if ros_args:
            command += ['--ros-args', *ros_args]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text, timeout_s):
        """Return True once a line of output contains `text`, False on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.process.poll() is not None:
                self._reader.join(timeout=1.0)
                return any(text in line for line in self.lines)
            time.sleep(0.05)
        return False

    def stop(self):
        """Kill the process if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.mark.parametrize('executor', ['events', 'single_threaded'])
@pytest.mark.parametrize('stop_signal', [signal.SIGINT, signal.SIGTERM], ids=['int', 'term'])
def test_node_starts_and_stops_cleanly_on_a_signal(executor, stop_signal):
    node = NodeProcess(executor)
    try:
        assert node.wait_for('watching 4 LEDs', START_TIMEOUT_S), ''.join(node.lines)
        node.process.send_signal(stop_signal)
        start = time.monotonic()
        code = node.process.wait(timeout=STOP_TIMEOUT_S)
        assert code == 0, ''.join(node.lines)
        assert time.monotonic() - start < STOP_TIMEOUT_S
        assert not any('Traceback' in line for line in node.lines), ''.join(node.lines)
    finally:
        node.stop()


def test_unknown_executor_is_refused_by_name():
    node = NodeProcess('multi')
    try:
        assert node.wait_for("CLINGERS_EXECUTOR='multi' is neither", START_TIMEOUT_S), \
            ''.join(node.lines)
        assert node.process.wait(timeout=STOP_TIMEOUT_S) == 1
    finally:
        node.stop()


@pytest.mark.parametrize('override, words', [
    ('max_candidates:=100', 'max_candidates'),
    ('mono16_bits:=12.0', 'mono16_bits'),
    ('bands.far.min_range_m:=.nan', 'bands.far.min_range_m'),
    ('min_range_m:=5.0', 'min_range_m must be smaller than max_range_m'),
])
def test_invalid_start_parameters_are_refused_plainly(override, words):
    """Out of a declared range or type (rclpy refuses) or inconsistent (we do): no traceback."""
    node = NodeProcess('events', ['-p', override, '-p', 'max_range_m:=2.0'])
    try:
        assert node.process.wait(timeout=START_TIMEOUT_S) == 1, ''.join(node.lines)
        node._reader.join(timeout=1.0)
        output = ''.join(node.lines)
        assert 'invalid parameters' in output and words in output, output
        assert 'Traceback' not in output, output
    finally:
        node.stop()
