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

"""Tests of the hot pixels learned while tracking and painted out of the detector's windows."""

import math

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.blob_detection import Blob, BlobDetector, Window
from clingers_perception.defect_pixels import DefectPixelMap, HOT_SIGHTINGS, SCAN_ROWS
from clingers_perception.identification import Match
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneRenderer
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.range_bands import DEFAULT_BANDS
import cv2
import numpy as np
import pytest

FAR, MID = DEFAULT_BANDS[0], DEFAULT_BANDS[1]


def _frame(shape=(64, 96), level=6, hot=()):
    image = np.full(shape, level, np.uint8)
    for x, y, value in hot:
        image[y, x] = value
    return image


def _passes(defects, image, windows=(), count=HOT_SIGHTINGS):
    """Scan `image` over `count` whole passes (each pass looks at every row once)."""
    for _ in range(count * math.ceil(image.shape[0] / SCAN_ROWS)):
        defects.scan(image, lambda: windows)


def test_a_pixel_above_all_its_neighbours_on_every_pass_is_learned_and_not_before():
    """Two hot pixels (one on the frame's edge) count after HOT_SIGHTINGS passes, not sooner."""
    image = _frame(hot=[(10, 20, 200), (95, 0, 60)])
    defects = DefectPixelMap()
    _passes(defects, image, count=HOT_SIGHTINGS - 1)
    assert defects.count == 0
    _passes(defects, image, count=1)
    assert defects.pixels == {(10, 20), (95, 0)}
    _passes(defects, image, count=2)
    assert defects.count == 2


def test_16_bit_frames_are_scanned_at_the_detectors_bit_depth():
    """A 12-bit frame's hot pixel is learned at 12 bits; read as 16 bits it is too dim."""
    image = _frame(hot=[(10, 20, 200)]).astype(np.uint16) << 4
    at_12, at_16 = DefectPixelMap(), DefectPixelMap()
    for _ in range(HOT_SIGHTINGS * math.ceil(image.shape[0] / SCAN_ROWS)):
        at_12.scan(image, lambda: (), 12)
        at_16.scan(image, lambda: (), 16)
    assert at_12.pixels == {(10, 20)} and at_16.count == 0


def test_pixels_inside_windows_and_pixels_that_move_are_not_learned():
    """A spot inside an LED window stays unknown; so does a sharp spot moving between passes."""
    defects = DefectPixelMap()
    window = Window(0, 10, 30, 30)
    rows = math.ceil(64 / SCAN_ROWS)
    for scan in range(4 * HOT_SIGHTINGS * rows):
        moving = 50 + scan // rows
        image = _frame(hot=[(12, 20, 255), (moving, 40, 255)])
        defects.scan(image, lambda: [window])
    assert defects.count == 0


def test_a_window_hiding_a_candidate_does_not_reset_it():
    """The LED's window passing over a hot pixel for one pass only delays its learning."""
    image = _frame(hot=[(40, 20, 255)])
    defects = DefectPixelMap()
    _passes(defects, image, count=HOT_SIGHTINGS - 1)
    _passes(defects, image, windows=[Window(30, 10, 50, 30)], count=1)
    assert defects.count == 0
    _passes(defects, image, count=1)
    assert defects.pixels == {(40, 20)}


def test_a_textured_scene_is_not_taken_for_defects():
    """Too many pixels standing alone in one scan are a scene, not a sensor's hot pixels."""
    rng = np.random.default_rng(3)
    image = _frame()
    image[rng.integers(0, 64, 400), rng.integers(0, 96, 400)] = 120
    defects = DefectPixelMap()
    _passes(defects, image, count=2 * HOT_SIGHTINGS)
    assert defects.count == 0


def test_painting_out_uses_the_four_neighbours_says_where_and_never_writes_the_frame():
    """A defect takes the mean of its 4-neighbours; one outside the window is left alone."""
    image = _frame(hot=[(10, 20, 250)])
    image[19, 10], image[21, 10], image[20, 9], image[20, 11] = 10, 20, 30, 41
    defects = DefectPixelMap()
    _passes(defects, image)
    assert defects.pixels == {(10, 20)}
    window = Window(5, 15, 25, 35)
    roi = image[window.y0:window.y1, window.x0:window.x1]
    painted, where = defects.paint_out(roi, window)
    assert painted[5, 5] == 25 and image[20, 10] == 250
    assert np.array_equal(np.delete(painted.ravel(), 5 * 20 + 5), np.delete(roi.ravel(), 105))
    assert np.array_equal(np.argwhere(where), [[5, 5]])
    elsewhere = Window(40, 0, 90, 60)
    unchanged = image[elsewhere.y0:elsewhere.y1, elsewhere.x0:elsewhere.x1]
    image_elsewhere, where_elsewhere = defects.paint_out(unchanged, elsewhere)
    assert image_elsewhere is unchanged and where_elsewhere is None


def _spot(peak_dn, sigma_px, centre=(60.3, 50.6), shape=(120, 160)):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    light = peak_dn * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2)
                             / (2.0 * sigma_px ** 2))
    return np.clip(6 + np.round(light), 0, 255).astype(np.uint8)


@pytest.mark.parametrize('band, peak_dn, sigma_px, hot_dn', [
    (FAR, 150, 1.0, 50), (FAR, 200, 1.2, 60), (MID, 200, 1.6, 90)])
def test_a_learned_hot_pixel_touching_a_spot_no_longer_moves_it(
        band, peak_dn, sigma_px, hot_dn):
    """
    A mild hot pixel on a spot's outline moves it by hundredths of a pixel; painted out, less.

    Below the spot's top and not much sharper than its flank, nothing in one frame tells it
    from the spot's light (a clipped one, a sharp top or a sharp pixel on the flank, the
    placement leaves out itself); it moves the spot by 0.05-0.07 px or hides it.
    """
    image = _spot(peak_dn, sigma_px)
    (alone,) = BlobDetector().detect(image, band)
    spot = image > band.threshold_min
    worst_hot = worst_painted = 0.0
    for y in range(44, 58):
        for x in range(54, 68):
            if spot[y, x] or not spot[y - 1:y + 2, x - 1:x + 2].any():
                continue
            defects = DefectPixelMap()
            _passes(defects, _frame(image.shape, hot=[(x, y, hot_dn)]))
            assert defects.pixels == {(x, y)}
            hot = image.copy()
            hot[y, x] = hot_dn
            for map_, worst in ((None, 'hot'), (defects, 'painted')):
                found = [b for b in BlobDetector().detect(hot, band, defects=map_)
                         if abs(b.x - alone.x) < 3.0 and abs(b.y - alone.y) < 3.0]
                error = min((math.hypot(b.x - alone.x, b.y - alone.y) for b in found),
                            default=math.inf)
                if worst == 'hot':
                    worst_hot = max(worst_hot, error)
                else:
                    worst_painted = max(worst_painted, error)
    assert worst_hot > 0.05
    assert worst_painted < 0.01


@pytest.mark.parametrize('band, peak_dn, sigma_px', [
    (FAR, 60, 1.0), (FAR, 150, 1.0), (FAR, 200, 0.8), (MID, 240, 1.6)])
def test_a_learned_hot_pixel_inside_a_spot_takes_the_value_of_its_gaussian(
        band, peak_dn, sigma_px):
    """
    A learned hot pixel on any pixel of a spot leaves it within 0.01 px of where it was.

    Painted out, it holds the mean of its four neighbours, which is less than a peak's light:
    0.03-0.2 px off when the spot was placed on that value. The Gaussian fitted without it
    gives it its value.
    """
    image = _spot(peak_dn, sigma_px)
    (alone,) = BlobDetector().detect(image, band)
    tried, worst = 0, 0.0
    for y, x in np.argwhere(image > band.threshold_min):
        defects = DefectPixelMap()
        _passes(defects, _frame(image.shape, hot=[(x, y, 250)]))
        assert defects.pixels == {(x, y)}
        hot = image.copy()
        hot[y, x] = min(255, int(image[y, x]) + 100)
        (found,) = [b for b in BlobDetector().detect(hot, band, defects=defects)
                    if abs(b.x - alone.x) < 3.0 and abs(b.y - alone.y) < 3.0]
        worst = max(worst, math.hypot(found.x - alone.x, found.y - alone.y))
        tried += 1
    assert tried >= 4
    assert worst < 0.01, worst


def _run(renderer, target, poses, settings=PipelineSettings(), stamps_hz=30.0, searches=None):
    """Run the approach; append to `searches` the windows of each search (None: whole frame)."""
    camera = renderer.camera
    pipeline = LedPosePipeline(target, settings)
    pipeline.set_camera(camera)
    if searches is not None:
        detect = pipeline.detector.detect

        def recorded(image, band, windows=None, **options):
            searches.append(windows)
            return detect(image, band, windows, **options)
        pipeline.detector.detect = recorded
    rng = np.random.default_rng(5)
    for index, (rotation, translation) in enumerate(poses):
        frame = renderer.render(led_points_in_camera(target, rotation, translation),
                                rng=rng).image
        raw = RawImage('mono8', frame.shape[1], frame.shape[0], frame.shape[1], False,
                       frame.tobytes())
        pipeline.process(raw, index / stamps_hz)
    return pipeline


def test_an_approach_learns_the_sensors_hot_pixels_and_nothing_else(led_target):
    """Tracking a rendered 640x480 approach finds every hot pixel of its sensor, and only those."""
    renderer = IrSceneRenderer(default_sim_camera(640, 480))
    poses = approach_poses(ApproachSpec(start_range_m=3.0, end_range_m=0.3, frames=400, seed=2))
    pipeline = _run(renderer, led_target, poses)
    cols, rows, _ = renderer.hot_pixels
    hot = set(zip(cols.tolist(), rows.tolist()))
    assert len(hot) >= 10
    assert pipeline.defects.pixels == hot
    # learn_hot_pixels false: nothing learned, and what was learned is forgotten. A tracked
    # frame still searches its windows alone.
    searches = []
    unlearned = _run(renderer, led_target, poses[:200], PipelineSettings(learn_hot_pixels=False),
                     searches=searches)
    assert unlearned.defects.count == 0
    assert searches.count(None) <= 5
    pipeline.configure(led_target, PipelineSettings(learn_hot_pixels=False))
    assert pipeline.defects.count == 0


def test_a_still_target_is_not_learned_as_defects(led_target):
    """
    Still LEDs stay out of the map over 400 frames: their windows hide them.

    At 2 m each LED of the 640x480 camera stands 20-80 DN above all its neighbours, as a hot
    pixel does.
    """
    renderer = IrSceneRenderer(default_sim_camera(640, 480))
    pose = approach_poses(ApproachSpec(start_range_m=2.0, end_range_m=2.0, frames=2, seed=1))[0]
    pipeline = _run(renderer, led_target, [pose] * 400)
    assert pipeline.tracker.state == 'TRACKING'
    rotation, translation = pose
    leds, _ = renderer.camera.project_pose(led_target.positions, cv2.Rodrigues(rotation)[0],
                                           translation)
    for x, y in pipeline.defects.pixels:
        assert np.min(np.hypot(leds[:, 0] - x, leds[:, 1] - y)) > 5.0


def test_the_lit_boxes_cover_every_spot_and_each_unmatched_led(led_target):
    """While tracking, a spot's box (3 px around it) and a missing LED's window are not scanned."""
    pipeline = LedPosePipeline(led_target)
    spots = [Blob(x=12.0, y=20.0, area=9.0, peak=90, elongation=1.0, bbox=(10, 18, 5, 4),
                  clipped=False)]
    match = Match((0, -1, -1, -1), None)
    predicted = np.array([[12.0, 20.0], [100.0, 50.0], [0.0, 0.0], [300.5, 200.5]])
    margin = pipeline.settings.tracking.window_margin_px
    lit = pipeline._lit(spots, match, predicted)
    assert lit[0] == Window(7, 15, 18, 25)
    assert lit[1] == Window(int(100 - margin), int(50 - margin), int(100 + margin) + 1,
                            int(50 + margin) + 1)
    assert len(lit) == 4
