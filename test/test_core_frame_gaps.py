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

"""Tests of the estimate of frames lost before the node, from the stamps of those received."""

from clingers_perception.frame_gaps import FrameGapCounter
from clingers_perception.image_decoding import RawImage
from clingers_perception.pipeline import LedPosePipeline
import numpy as np


def test_regular_frames_count_nothing_and_gaps_count_whole_periods():
    """A 60 Hz stream with jitter loses nothing; skipping 1 and then 4 frames counts 5."""
    counter = FrameGapCounter()
    rng = np.random.default_rng(0)
    stamps = [k / 60.0 + rng.uniform(-0.002, 0.002) for k in range(100)]
    assert sum(counter.add(s) for s in stamps) == 0
    assert counter.add(101 / 60.0) == 1
    assert counter.add(106 / 60.0) == 4
    assert counter.dropped == 5


def _count(stamps):
    counter = FrameGapCounter()
    for stamp in stamps:
        counter.add(stamp)
    return counter.dropped


def test_a_change_of_frame_rate_is_followed_within_a_few_frames():
    """30 Hz, then 10 Hz (auto-exposure): a few intervals look like gaps, then none do."""
    stamps = [k / 30.0 for k in range(60)] + [2.0 + k / 10.0 for k in range(1, 300)]
    assert _count(stamps) <= 10
    # And a frame lost at the new rate is counted.
    assert _count(stamps + [31.9 + 0.2]) == _count(stamps) + 1


def test_uneven_intervals_and_a_burst_at_start_are_not_gaps():
    """Stamps alternating 20 / 46 ms, or 15 frames 1 ms apart before a steady 30 Hz."""
    alternating = np.cumsum([0.020, 0.046] * 100)
    assert _count(alternating) == 0
    burst = [k * 0.001 for k in range(15)] + [0.014 + k / 30.0 for k in range(1, 300)]
    assert _count(burst) <= 4


def test_a_gap_in_the_first_interval_does_not_hide_later_ones():
    """The first interval spans a lost frame: the next lost frame is still counted."""
    stamps = [0.0] + [k / 30.0 for k in range(2, 50)] + [k / 30.0 for k in range(51, 80)]
    assert _count(stamps) == 1


def test_repeated_or_backward_stamps_are_not_gaps():
    """Stamps that repeat, go back or are no number say nothing about lost frames."""
    counter = FrameGapCounter()
    for stamp in (0.0, 0.1, 0.2, 0.2, 0.1, 0.2, 0.3, float('nan'), 0.4, float('inf'), 0.5):
        counter.add(stamp)
    assert counter.dropped == 0


def test_the_pipeline_reports_the_count_without_warning(sim_camera, led_target):
    """The pipeline keeps the count; a lost frame alone does not lower the quality level."""
    pipeline = LedPosePipeline(led_target)
    pipeline.set_camera(sim_camera)
    black = np.zeros((sim_camera.height, sim_camera.width), np.uint8)
    raw = RawImage('mono8', sim_camera.width, sim_camera.height, sim_camera.width, False, black)
    for k in (0, 1, 2, 3, 6, 7):
        result = pipeline.process(raw, k / 30.0)
    assert pipeline.frame_gaps.dropped == 2
    assert 'missing' not in result.quality.message
