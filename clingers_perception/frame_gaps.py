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

from collections import deque
import math
import statistics

# A stamp interval this many nominal periods long is counted as a gap with frames missing.
GAP_PERIODS = 1.5
# The camera's period is the median of this many recent stamp intervals: a change of frame
# rate (auto-exposure) or a burst at start moves it within a few frames, lost frames do not.
RECENT_INTERVALS = 9
# A gap counts only when it spans a whole number of periods to within this fraction: stamps
# alternating between uneven intervals are jitter, not lost frames.
MULTIPLE_TOLERANCE = 0.25


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
        self._intervals = deque(maxlen=RECENT_INTERVALS)
        self._last_stamp_s = None

    def add(self, stamp_s):
        """Take the stamp of a received frame; return how many frames before it went missing."""
        last, self._last_stamp_s = self._last_stamp_s, stamp_s
        if not math.isfinite(stamp_s) or (last is not None and stamp_s <= last):
            # The stream restarted or repeats, or the stamp is no time: count again from the
            # next frame.
            self._last_stamp_s = None
            return 0
        if last is None:
            return 0
        interval = stamp_s - last
        self._intervals.append(interval)
        periods = interval / statistics.median(self._intervals)
        whole = round(periods)
        if periods < GAP_PERIODS or abs(periods - whole) > MULTIPLE_TOLERANCE:
            return 0
        self.dropped += whole - 1
        return whole - 1
