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

"""Tests of the IR camera renderer and the scripted approach poses."""

import dataclasses

from clingers_perception.approach_trajectory import (
    approach_poses, approach_ranges, ApproachSpec, FACING_ROTATION, led_points_in_camera)
from clingers_perception.ir_scene import (
    default_sim_camera, Distractor, IrSceneConfig, IrSceneRenderer, random_distractors,
    render_frame)
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.transforms import rotation_angle_between
import cv2
import numpy as np
import pytest

CAMERA = default_sim_camera()
CONFIG = IrSceneConfig()


@pytest.fixture(scope='module')
def renderer():
    return IrSceneRenderer(CAMERA, CONFIG)


def _point_at(range_m, direction=(0.2, 0.15)):
    # A point off the principal point so the radial flare has a defined direction.
    ray = np.array([direction[0], direction[1], 1.0])
    return (range_m * ray / np.linalg.norm(ray)).reshape(1, 3)


def _saturated_blob(frame, index=0):
    # The connected clipped region that contains the LED centre, as (mask, stats).
    clipped = (frame.image >= frame.full_scale_dn).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(clipped, connectivity=8)
    col, row = np.round(frame.led_pixels[index]).astype(int)
    label = labels[row, col]
    assert label != 0, 'the LED centre is not clipped'
    return labels == label, stats[label]


def test_default_camera_is_wide_and_distorted():
    for width, height in ((640, 480), (1280, 1024), (2048, 1536)):
        camera = default_sim_camera(width, height)
        assert camera.matches_image(width, height)
        assert 80.0 < np.degrees(camera.horizontal_fov_rad) < 90.0
        assert camera.camera_matrix[0, 0] == pytest.approx(700.0 * width / 1280.0)
        centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        offset = np.abs(camera.camera_matrix[:2, 2] - centre)
        assert np.all(offset > 0.5) and np.all(offset < 0.02 * width)
        assert camera.distortion[0] == pytest.approx(-0.28)
        # Barrel: an off-axis point lands closer to the centre than the pinhole would put it.
        pixel = camera.project([[0.6, 0.0, 1.0]])[0]
        assert pixel[0] - camera.camera_matrix[0, 2] < 0.6 * camera.camera_matrix[0, 0]


@pytest.mark.parametrize('direction', [(0.0, 0.0), (0.123, -0.071), (-0.31, 0.2)])
def test_far_spot_centroid_is_the_led(direction):
    config = dataclasses.replace(CONFIG, hot_pixel_count=0)
    frame = render_frame(CAMERA, config, _point_at(3.0, direction),
                         rng=np.random.default_rng(7))
    assert frame.visible[0]
    col, row = np.round(frame.led_pixels[0]).astype(int)
    patch = frame.image[row - 5:row + 6, col - 5:col + 6].astype(np.float64)
    assert patch.max() < frame.full_scale_dn, 'a 3 m spot should not clip'
    weights = patch - config.background_dn
    weights[weights < 3.0 * config.noise_sigma_dn] = 0.0
    rows, cols = np.mgrid[row - 5:row + 6, col - 5:col + 6]
    centroid = np.array([np.sum(weights * cols), np.sum(weights * rows)]) / np.sum(weights)
    assert np.linalg.norm(centroid - frame.led_pixels[0]) < 0.1


def test_noiseless_far_spot_is_centred_and_calibrated():
    config = dataclasses.replace(CONFIG, noise_sigma_dn=0.0, dn_per_electron=0.0,
                                 hot_pixel_count=0, background_dn=0.0, bit_depth=16,
                                 relative_illumination_at_corner=1.0)
    renderer = IrSceneRenderer(CAMERA, config)
    for offset in ((0.0, 0.0), (0.3, 0.1), (0.5, 0.5), (0.77, 0.42)):
        pixel = CAMERA.camera_matrix[:2, 2] + offset
        ray = np.append(CAMERA.normalize([pixel])[0], 1.0)
        frame = renderer.render(3.0 * ray.reshape(1, 3) / np.linalg.norm(ray))
        image = frame.image.astype(np.float64)
        rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]]
        centroid = np.array([np.sum(image * cols), np.sum(image * rows)]) / np.sum(image)
        assert np.linalg.norm(centroid - frame.led_pixels[0]) < 0.01
    # On axis at 1 m the unclipped peak is led_peak_dn_at_1m; it clips at full scale.
    dim = dataclasses.replace(config, led_peak_dn_at_1m=200.0)
    frame = IrSceneRenderer(CAMERA, dim).render([[0.0, 0.0, 1.0]])
    assert frame.image.max() / 257.0 == pytest.approx(200.0, rel=0.05)


def test_saturated_area_grows_as_range_shrinks(renderer):
    ranges = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15)
    areas = []
    for range_m in ranges:
        frame = renderer.render(_point_at(range_m), rng=np.random.default_rng(1))
        mask, _ = _saturated_blob(frame)
        areas.append(int(mask.sum()))
    assert all(b > a for a, b in zip(areas, areas[1:])), areas


def test_saturated_area_grows_without_flare():
    config = dataclasses.replace(CONFIG, flare_strength=0.0)
    areas = []
    for range_m in (1.0, 0.7, 0.5, 0.35, 0.25, 0.15):
        frame = render_frame(CAMERA, config, _point_at(range_m), rng=np.random.default_rng(2))
        mask, stats = _saturated_blob(frame)
        areas.append(int(mask.sum()))
        aspect = stats[cv2.CC_STAT_WIDTH] / stats[cv2.CC_STAT_HEIGHT]
        assert 0.8 < aspect < 1.25
    assert all(b > a for a, b in zip(areas, areas[1:])), areas


@pytest.mark.parametrize('range_m', [0.3, 0.25, 0.2, 0.15, 0.12])
@pytest.mark.parametrize('direction', [(0.3, 0.0), (0.2, 0.15)])
def test_flare_elongates_the_blob_to_one_side(renderer, range_m, direction):
    frame = renderer.render(_point_at(range_m, direction), rng=np.random.default_rng(3))
    mask, stats = _saturated_blob(frame)
    rows, cols = np.nonzero(mask)
    # Measure along the streak: radial, away from the principal point.
    outward = frame.led_pixels[0] - CAMERA.camera_matrix[:2, 2]
    outward /= np.linalg.norm(outward)
    offsets = np.stack([cols, rows], axis=1) - frame.led_pixels[0]
    along = offsets @ outward
    across = offsets @ np.array([-outward[1], outward[0]])
    assert np.ptp(along) > 2.0 * np.ptp(across)
    if direction[1] == 0.0:
        assert stats[cv2.CC_STAT_WIDTH] > 2.0 * stats[cv2.CC_STAT_HEIGHT]
    # The streak runs to one side: the blob reaches far outwards and not inwards, so its
    # centroid is not the LED.
    assert along.max() > 3.0 * -along.min()
    assert np.mean(offsets, axis=0) @ outward > 1.0
    if range_m <= 0.2:
        assert np.ptp(along) > 3.0 * np.ptp(across)


def test_streak_grows_as_range_shrinks(renderer):
    lengths = []
    for range_m in (0.4, 0.3, 0.2, 0.15, 0.12):
        frame = renderer.render(_point_at(range_m), rng=np.random.default_rng(4))
        mask, _ = _saturated_blob(frame)
        rows, cols = np.nonzero(mask)
        lengths.append(np.ptp(cols) + np.ptp(rows))
    assert all(b > a for a, b in zip(lengths, lengths[1:])), lengths


@pytest.mark.parametrize('range_m', [1.0, 0.6, 0.5])
def test_no_flare_above_flare_range(renderer, range_m):
    frame = renderer.render(_point_at(range_m), rng=np.random.default_rng(5))
    mask, stats = _saturated_blob(frame)
    aspect = stats[cv2.CC_STAT_WIDTH] / stats[cv2.CC_STAT_HEIGHT]
    assert 0.7 < aspect < 1.4
    rows, cols = np.nonzero(mask)
    centroid = np.array([cols.mean(), rows.mean()])
    assert np.linalg.norm(centroid - frame.led_pixels[0]) < 0.5


def test_fixed_flare_direction(renderer):
    config = dataclasses.replace(CONFIG, flare_direction_deg=90.0)
    frame = render_frame(CAMERA, config, _point_at(0.2), rng=np.random.default_rng(6))
    mask, _ = _saturated_blob(frame)
    rows, cols = np.nonzero(mask)
    led = frame.led_pixels[0]
    assert rows.max() - led[1] > 4.0 * (led[1] - rows.min())
    assert abs(cols.mean() - led[0]) < 1.0


def test_hidden_and_outside_leds(renderer):
    points = np.array([[0.05, 0.0, 1.0], [-0.05, 0.0, 1.0], [0.0, 0.0, -1.0], [5.0, 0.0, 1.0]])
    frame = renderer.render(points, visible=[True, False, True, True],
                            rng=np.random.default_rng(8))
    assert frame.visible.tolist() == [True, False, False, False]
    assert np.all(np.isfinite(frame.led_pixels[:2]))
    assert np.all(np.isnan(frame.led_pixels[2]))
    np.testing.assert_allclose(frame.ranges_m, np.linalg.norm(points, axis=1))
    shown = np.round(frame.led_pixels[0]).astype(int)
    hidden = np.round(frame.led_pixels[1]).astype(int)
    assert frame.image[shown[1], shown[0]] == frame.full_scale_dn
    patch = frame.image[hidden[1] - 8:hidden[1] + 9, hidden[0] - 8:hidden[0] + 9]
    assert patch.max() < CONFIG.background_dn + 8.0 * CONFIG.noise_sigma_dn
    with pytest.raises(ValueError):
        renderer.render(points, visible=[True, False])


def test_output_types_and_bit_depth():
    for bit_depth, dtype in ((8, np.uint8), (16, np.uint16)):
        config = dataclasses.replace(CONFIG, bit_depth=bit_depth)
        frame = render_frame(CAMERA, config, _point_at(0.5), rng=np.random.default_rng(9))
        assert frame.image.dtype == dtype
        assert frame.image.shape == (CAMERA.height, CAMERA.width)
        assert frame.image.flags['C_CONTIGUOUS']
        assert frame.full_scale_dn == np.iinfo(dtype).max
        assert frame.image.max() == np.iinfo(dtype).max
        background = np.median(frame.image[:100, :100])
        scale = 257.0 if bit_depth == 16 else 1.0
        assert background == pytest.approx(CONFIG.background_dn * scale, abs=2.0 * scale)
    with pytest.raises(ValueError):
        IrSceneConfig(bit_depth=12)
    with pytest.raises(ValueError):
        IrSceneConfig(flare_width_fraction=0.7)


def test_frames_vary_but_repeat_with_the_same_rng(renderer):
    points = _point_at(1.0)
    first = renderer.render(points, rng=np.random.default_rng(10)).image
    again = renderer.render(points, rng=np.random.default_rng(10)).image
    other = renderer.render(points, rng=np.random.default_rng(11)).image
    np.testing.assert_array_equal(first, again)
    assert np.any(first != other)
    # Read noise has the configured sigma and is not frozen between frames.
    difference = first[:200, :200].astype(np.float64) - other[:200, :200]
    assert np.std(difference) / np.sqrt(2.0) == pytest.approx(CONFIG.noise_sigma_dn, rel=0.2)


def test_distractors_appear_where_requested(renderer):
    distractors = [
        Distractor(200.0, 300.0, peak_dn=400.0, sigma_px=1.0, kind='glint'),
        Distractor(900.5, 700.0, peak_dn=80.0, sigma_px=5.0, elongation=2.5, angle_deg=30.0,
                   kind='reflection'),
        Distractor(1000.0, 150.0, peak_dn=900.0, sigma_px=0.3, kind='hot_spot'),
    ]
    frame = renderer.render(np.zeros((0, 3)), distractors=distractors,
                            rng=np.random.default_rng(12))
    assert frame.led_pixels.shape == (0, 2)
    image = frame.image.astype(np.float64)
    for distractor in distractors:
        col, row = int(round(distractor.x_px)), int(round(distractor.y_px))
        patch = image[row - 15:row + 16, col - 15:col + 16]
        peak_row, peak_col = np.unravel_index(np.argmax(patch), patch.shape)
        assert abs(peak_row - 15) <= 1 and abs(peak_col - 15) <= 1
    assert image[300, 200] == 255
    assert 40 < image[700, 900] < 120
    assert image[150, 1000] == 255 and image[150, 1002] < 30


def test_random_distractors_cover_kinds_and_keep_apart():
    rng = np.random.default_rng(13)
    leds = np.array([[640.0, 512.0], [700.0, 512.0]])
    distractors = random_distractors(rng, CAMERA, 9, min_separation_px=50.0, avoid_px=leds)
    assert len(distractors) == 9
    assert sorted({d.kind for d in distractors}) == ['glint', 'hot_spot', 'reflection']
    places = np.array([[d.x_px, d.y_px] for d in distractors])
    assert np.all((places >= 0) & (places < [CAMERA.width, CAMERA.height]))
    everything = np.vstack([places, leds])
    distances = np.linalg.norm(everything[:, None] - everything[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances[:9].min() >= 50.0
    for distractor in distractors:
        if distractor.kind == 'glint':
            assert distractor.sigma_px < 1.5 and 100.0 < distractor.peak_dn
        elif distractor.kind == 'reflection':
            assert distractor.sigma_px > 2.0 and distractor.peak_dn < 120.0
        else:
            assert distractor.sigma_px < 0.5 and distractor.peak_dn > 255.0
    only_glints = random_distractors(rng, CAMERA, 3, kinds=('glint',))
    assert {d.kind for d in only_glints} == {'glint'}
    with pytest.raises(ValueError):
        random_distractors(rng, CAMERA, 2, kinds=('moon',))
    with pytest.raises(ValueError):
        random_distractors(rng, CAMERA, 200, min_separation_px=400.0)


def test_approach_spans_the_ranges_facing_the_camera():
    spec = ApproachSpec()
    poses = approach_poses(spec)
    assert len(poses) == spec.frames
    ranges = np.array([np.linalg.norm(t) for _, t in poses])
    assert ranges[0] == pytest.approx(3.0)
    assert ranges[-1] == pytest.approx(0.12)
    assert np.all(np.diff(ranges) < 0.0)
    np.testing.assert_allclose(ranges, approach_ranges(spec))
    # Geometric spacing: as many frames below 0.6 m as above.
    assert np.sum(ranges < 0.6) >= 0.45 * spec.frames
    for rotation, t in poses:
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        toward_camera = -t / np.linalg.norm(t)
        assert rotation[:, 2] @ toward_camera > np.cos(np.radians(10.0))
    final_rotation, final_t = poses[-1]
    assert rotation_angle_between(final_rotation, FACING_ROTATION) < np.radians(0.5)
    assert np.linalg.norm(final_t[:2]) < 1e-9
    assert np.linalg.norm(poses[0][1][:2]) == pytest.approx(spec.lateral_offset_m)


def test_approach_keeps_every_led_in_the_image(renderer):
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    for rotation, t in approach_poses(ApproachSpec(frames=60)):
        points = led_points_in_camera(target, rotation, t)
        assert np.all(points[:, 2] > 0.05)
        frame = renderer.render(points, rng=np.random.default_rng(14))
        assert np.all(frame.visible), np.linalg.norm(t)
    # Target y (up on the face) appears up in the image when facing squarely.
    points = led_points_in_camera(target, FACING_ROTATION, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(points[:, 1], -target.positions[:, 1])
    np.testing.assert_allclose(points[:, 2], 1.0 - target.positions[:, 2])


def test_approach_options():
    spec = ApproachSpec(frames=10, off_axis_angle_deg=20.0, roll_deg=30.0,
                        attitude_offset_deg=0.0, seed=3)
    rotation, t = approach_poses(spec)[-1]
    toward_camera = -t / np.linalg.norm(t)
    assert np.degrees(np.arccos(rotation[:, 2] @ toward_camera)) == pytest.approx(20.0)
    again = approach_poses(spec)
    np.testing.assert_array_equal(again[-1][0], rotation)
    with pytest.raises(ValueError):
        ApproachSpec(start_range_m=0.1, end_range_m=0.2)
    with pytest.raises(ValueError):
        ApproachSpec(frames=1)


@pytest.mark.parametrize('bit_depth', [8, 16])
def test_hot_pixels_stay_in_place_and_more_can_be_added(bit_depth):
    """The seeded hot pixels light in every frame; one added at a chosen pixel does too."""
    config = dataclasses.replace(CONFIG, noise_sigma_dn=0.0, bit_depth=bit_depth)
    hot_renderer = IrSceneRenderer(CAMERA, config)
    cols, rows, dn = hot_renderer.hot_pixels
    assert cols.size == CONFIG.hot_pixel_count and np.all((dn >= 40.0) & (dn <= 255.0))
    hot_renderer.add_hot_pixels([100], [200], [50.0])
    scale = 257.0 if bit_depth == 16 else 1.0
    for seed in (1, 2):
        image = hot_renderer.render(_point_at(3.0), rng=np.random.default_rng(seed)).image
        lit = np.minimum(CONFIG.background_dn + dn, 255.0) * scale
        np.testing.assert_allclose(image[rows, cols], lit, atol=scale)
        assert image[200, 100] == pytest.approx((CONFIG.background_dn + 50.0) * scale, abs=scale)
    assert hot_renderer.hot_pixels[0].size == CONFIG.hot_pixel_count + 1
