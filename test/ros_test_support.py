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

"""What the tests that run nodes over DDS share: an isolated rclpy context and spinning."""

import contextlib
import os
import time

import rclpy


@contextlib.contextmanager
def discovery_within_this_process():
    """
    Keep a context created inside from discovering other processes (Jazzy and later).

    The nodes under test talk to each other only. Test runs of other engineers or CI jobs in
    the same domain come and go; Fast DDS can deadlock while it removes such a remote
    participant and this process destroys its own entities at the same time.
    """
    saved = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'OFF'
    try:
        yield
    finally:
        if saved is None:
            del os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']
        else:
            os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = saved


def isolated_context():
    """Yield an rclpy context of its own that sees this process only; shut it down after."""
    ctx = rclpy.Context()
    with discovery_within_this_process():
        rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def spin_until(executor, condition, timeout_s):
    """Spin `executor` until condition() holds; return False on timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=0.01)
    return True
