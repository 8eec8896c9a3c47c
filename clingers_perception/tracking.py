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

"""Track state (ACQUIRING, TRACKING, LOST), motion prediction and search windows."""

from dataclasses import dataclass

from clingers_perception.blob_detection import Window
from clingers_perception.transforms import (rotation_angle_between, rotation_matrix,
                                            rotation_vector)
import numpy as np


ACQUIRING = 'ACQUIRING'
TRACKING = 'TRACKING'
LOST = 'LOST'


# Search one rectangle around all LED windows when it is at most this much larger.
MERGE_AREA_RATIO = 2.0


@dataclass(frozen=True)
class TrackingSettings:
    """How the tracker confirms, coasts and searches."""

    confirm_frames: int = 2
    max_coast_frames: int = 5
    max_prediction_gap_s: float = 1.0
    window_margin_px: float = 12.0


@dataclass(frozen=True)
class TrackedPose:
    """A pose with the stamp of its frame, in seconds."""

    stamp_s: float
    rvec: np.ndarray
    tvec: np.ndarray


class Tracker:
    """Decide when a pose can be trusted and where to look for the LEDs next."""

    def __init__(self, settings=TrackingSettings()):
        """Start in ACQUIRING with no history."""
        self.settings = settings
        self.reset()

    def reset(self):
        """Forget the track (camera, layout or time changed)."""
        self.state = ACQUIRING
        self._history = []
        self._confirmations = 0
        self._misses = 0
        self.led_boxes = None

    @property
    def last_pose(self):
        """Return the newest confirmed TrackedPose, or None."""
        return self._history[-1] if self._history else None

    def expire(self, stamp_s):
        """
        Declare the track LOST when `stamp_s` comes too long after its last pose.

        Return True when it did. Over a gap longer than max_prediction_gap_s (the camera stream
        stopped) the motion model says nothing, so a pose found after it is a new acquisition
        and is confirmed like one.
        """
        last = self.last_pose
        if self.state != TRACKING or last is None or \
                not stamp_s - last.stamp_s > self.settings.max_prediction_gap_s:
            return False
        self.state = LOST
        self._history = []
        self._confirmations = 0
        return True

    def predict(self, stamp_s):
        """Return the constant-velocity prediction (rvec, tvec) at `stamp_s`, or None."""
        if self.state != TRACKING or not self._history:
            return None
        last = self._history[-1]
        gap = stamp_s - last.stamp_s
        if gap < 0.0 or gap > self.settings.max_prediction_gap_s:
            return None
        if len(self._history) < 2:
            return last.rvec, last.tvec
        before = self._history[-2]
        span = last.stamp_s - before.stamp_s
        if span <= 0.0:
            return last.rvec, last.tvec
        ratio = gap / span
        turn = rotation_vector(rotation_matrix(last.rvec) @ rotation_matrix(before.rvec).T)
        rotation = rotation_matrix(turn * ratio) @ rotation_matrix(last.rvec)
        return rotation_vector(rotation), last.tvec + (last.tvec - before.tvec) * ratio

    def search_windows(self, predicted_px, width, height):
        """
        Return the windows to search: one per predicted LED, sized by that LED's last blob.

        Far away the windows crowd together; when one rectangle around all of them is not
        much larger than they are together, it is searched in one pass instead.
        """
        margin = self.settings.window_margin_px
        windows = []
        for index, (x, y) in enumerate(predicted_px):
            half_w = half_h = margin
            if self.led_boxes is not None and self.led_boxes[index] is not None:
                _, _, w, h = self.led_boxes[index]
                half_w, half_h = w + margin, h + margin
            windows.append(Window(int(x - half_w), int(y - half_h),
                                  int(x + half_w) + 1, int(y + half_h) + 1).clamp(width, height))
        union = Window(min(w.x0 for w in windows), min(w.y0 for w in windows),
                       max(w.x1 for w in windows), max(w.y1 for w in windows))
        if _area(union) <= MERGE_AREA_RATIO * sum(_area(w) for w in windows):
            return [union]
        return windows

    def update(self, stamp_s, pose, boxes, acquired):
        """
        Take a verified pose (or None); return True when it may be published.

        A pose found by a fresh acquisition search is published only once `confirm_frames`
        consecutive frames give consistent poses: a chance alignment of distractor spots does
        not survive a second frame. So is one that such a search finds while tracking far
        from the track's last pose (`acquired` then too).
        """
        if pose is None:
            self._misses += 1
            self._confirmations = 0
            if self.state == TRACKING and self._misses > self.settings.max_coast_frames:
                self.state = LOST
                self._history = []
            return False
        entry = TrackedPose(stamp_s, pose.rvec, pose.tvec)
        if acquired and self.state == TRACKING and self._history \
                and not _consistent(self._history[-1], entry):
            # A search of the whole frame found the target far from where the track had it:
            # that is a new acquisition, confirmed like the first one.
            self.state = ACQUIRING
            self._history, self._confirmations = [], 0
        if self.state != TRACKING and acquired:
            previous = self._history[-1] if self._history else None
            consistent = previous is not None and _consistent(previous, entry)
            self._confirmations = self._confirmations + 1 if consistent else 1
            self._history = (self._history + [entry])[-2:]
            if self._confirmations < self.settings.confirm_frames:
                return False
        else:
            self._history = (self._history + [entry])[-2:]
        self.state = TRACKING
        self._misses = 0
        self.led_boxes = boxes
        return True


def _consistent(a, b, relative_distance=0.25, angle_rad=np.radians(15.0)):
    # Loose enough for a fast approach between two frames (a quarter of the range), tight
    # enough that two chance alignments of distractor spots do not agree.
    range_m = max(np.linalg.norm(a.tvec), 1e-6)
    angle = rotation_angle_between(rotation_matrix(a.rvec), rotation_matrix(b.rvec))
    return np.linalg.norm(a.tvec - b.tvec) < relative_distance * range_m and angle < angle_rad


def _area(window):
    return max(0, window.x1 - window.x0) * max(0, window.y1 - window.y0)
