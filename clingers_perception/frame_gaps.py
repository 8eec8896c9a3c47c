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

"""Frames that never reached the node, estimated from the stamps of those that did."""

# A stamp interval this many nominal periods long is counted as a gap with frames missing.
GAP_PERIODS = 1.5
# Weight of a new regular interval in the running estimate of the camera's period.
PERIOD_AVERAGING_WEIGHT = 0.05


class FrameGapCounter:
    """
    Count frames a fixed-rate camera sent that the node did not receive.

    The sensor-data QoS keeps only the newest frames: when the node falls behind, DDS drops
    the oldest without telling anyone. The node sees it only as a stamp gap of several camera
    periods; each whole period missing counts as one dropped frame.
    """

    def __init__(self):
        """Start with no period known."""
        self.dropped = 0
        self._period_s = None
        self._last_stamp_s = None

    def add(self, stamp_s):
        """Take the stamp of a received frame; return how many frames before it went missing."""
        last, self._last_stamp_s = self._last_stamp_s, stamp_s
        if last is not None and stamp_s <= last:
            # The stream restarted or repeats: count again from the next frame.
            self._last_stamp_s = None
        if last is None or stamp_s <= last:
            return 0
        interval = stamp_s - last
        if self._period_s is None:
            self._period_s = interval
            return 0
        periods = interval / self._period_s
        if periods < GAP_PERIODS:
            self._period_s += PERIOD_AVERAGING_WEIGHT * (interval - self._period_s)
            return 0
        missing = int(round(periods)) - 1
        self.dropped += missing
        return missing
