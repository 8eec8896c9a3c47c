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

"""Tests of PnP, refinement, the coplanar ambiguity and the 6x6 covariance against known poses."""

from clingers_perception.approach_trajectory import FACING_ROTATION
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.pose_estimation import (evaluate, facing_cosine, pose_covariance,
                                                 pose_jacobian, PoseEstimate, refine,
                                                 solve_pose)
from clingers_perception.transforms import (rotation_angle_between, rotation_matrix,
                                            rotation_vector)
import cv2
import numpy as np
import pytest

# Flat, with no symmetry: three LEDs of the default face and a fourth on the same plane.
FLAT_LAYOUT = [[-0.07, -0.05, 0.0], [0.07, -0.05, 0.0], [0.05, 0.06, 0.0], [-0.03, 0.04, 0.0]]


def _random_poses(rng, count, ranges, max_tilt_deg=12.0, max_offset=0.25):
    """Poses of a target facing the camera, at the given ranges, slightly turned and off-axis."""
    poses = []
    for index in range(count):
        rotation = rotation_matrix(rng.normal(size=3) * np.radians(max_tilt_deg / 2)) \
            @ FACING_ROTATION
        ray = np.array([*rng.uniform(-max_offset, max_offset, 2), 1.0])
        poses.append((rotation, ranges[index % len(ranges)] * ray / np.linalg.norm(ray)))
    return poses


def _pixels(camera, points, rotation, translation):
    pixels, _ = camera.project_pose(points, rotation_vector(rotation), translation)
    return pixels


def _errors(estimate, rotation, translation):
    """Return (position error / range, attitude error in radians)."""
    return (np.linalg.norm(estimate.tvec - translation) / np.linalg.norm(translation),
            rotation_angle_between(estimate.rotation, rotation))


def _perturbed(rng, rotation, translation, angle_deg, fraction):
    """Return a prior like the tracker's prediction: the truth off by degrees and percent."""
    axis = rng.normal(size=3)
    axis *= np.radians(angle_deg) / np.linalg.norm(axis)
    shift = rng.normal(size=3)
    shift *= fraction * np.linalg.norm(translation) / np.linalg.norm(shift)
    return rotation_vector(rotation_matrix(axis) @ rotation), translation + shift


def _pose_error(estimate, rotation, translation):
    """Error vector (x, y, z, rotX, rotY, rotZ) of the estimate, rotation applied on the left."""
    return np.concatenate([estimate.tvec - translation,
                           rotation_vector(estimate.rotation @ rotation.T)])


def test_known_poses_are_recovered_from_exact_pixels_with_a_prior(sim_camera, led_target):
    """From a prior a few degrees and percent off (the tracker's), every pose is exact."""
    rng = np.random.default_rng(0)
    ranges = (0.12, 0.2, 0.35, 0.6, 1.0, 1.8, 3.0)
    for rotation, translation in _random_poses(rng, 70, ranges):
        pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
        prior = _perturbed(rng, rotation, translation, 5.0, 0.05)
        candidates = solve_pose(sim_camera, led_target.positions, pixels, False, prior)
        assert candidates
        position, attitude = _errors(candidates[0], rotation, translation)
        assert position < 1e-6 and attitude < 1e-5, (np.linalg.norm(translation), position,
                                                     attitude)
        assert candidates[0].rms_px < 1e-4


def test_known_poses_are_recovered_from_exact_pixels_without_a_prior(sim_camera, led_target):
    """With no prior, solve_pose alone finds every pose of the default layout."""
    rng = np.random.default_rng(1)
    failures = []
    for rotation, translation in _random_poses(rng, 200, (0.12, 0.2, 0.3, 0.5)):
        pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
        candidates = solve_pose(sim_camera, led_target.positions, pixels, False)
        position, attitude = _errors(candidates[0], rotation, translation)
        if position > 1e-6 or attitude > 1e-5:
            failures.append((round(float(np.linalg.norm(translation)), 3),
                             round(float(np.degrees(attitude)), 1), candidates[0].rms_px))
    assert not failures, failures


def test_far_poses_without_a_prior(sim_camera, led_target):
    """Without a prior, a wrong SQPnP start is never returned as a good fit (rms stays large)."""
    rng = np.random.default_rng(2)
    for rotation, translation in _random_poses(rng, 60, (0.12, 0.3, 1.0, 2.0, 3.0)):
        pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
        for estimate in solve_pose(sim_camera, led_target.positions, pixels, False):
            position, attitude = _errors(estimate, rotation, translation)
            if estimate.rms_px < 1.0:
                assert position < 1e-6 and attitude < 1e-5


def test_noisy_pixels_give_small_errors(sim_camera, led_target):
    """With 0.05 px centroid noise the error stays within 0.5 % of range and 1 degree."""
    rng = np.random.default_rng(3)
    for rotation, translation in _random_poses(rng, 40, (0.2, 0.5, 1.0, 2.0, 3.0)):
        pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
        noisy = pixels + rng.normal(0.0, 0.05, pixels.shape)
        prior = _perturbed(rng, rotation, translation, 3.0, 0.03)
        best = solve_pose(sim_camera, led_target.positions, noisy, False, prior)[0]
        position, attitude = _errors(best, rotation, translation)
        assert position < 0.005 and np.degrees(attitude) < 1.0
        assert best.rms_px < 0.15


@pytest.mark.parametrize('tilt_deg', [25.0, 40.0])
def test_coplanar_layout_gives_the_two_ippe_candidates(sim_camera, tilt_deg):
    """A flat layout has two mirror solutions: both are returned, the true one fits best."""
    flat = LedTarget.from_points(FLAT_LAYOUT)
    assert flat.coplanar
    rotation = rotation_matrix([0.0, np.radians(tilt_deg), 0.0]) @ FACING_ROTATION
    translation = np.array([0.05, -0.03, 1.0])
    pixels = _pixels(sim_camera, flat.positions, rotation, translation)
    candidates = solve_pose(sim_camera, flat.positions, pixels, True)
    assert len(candidates) == 2
    best, mirror = candidates
    position, attitude = _errors(best, rotation, translation)
    assert position < 1e-6 and attitude < 1e-5
    assert best.rms_px < 1e-4 < mirror.rms_px
    # The mirror is a genuinely different attitude, not a copy.
    assert np.degrees(rotation_angle_between(mirror.rotation, rotation)) > 5.0


def test_coplanar_layout_without_a_prior_gives_the_truth_and_its_mirror(sim_camera):
    """
    Generic off-axis views of a flat layout: the truth, exact, and the mirror IPPE pose.

    The mirror turns the target's normal over the line of sight: its +z is the true +z
    reflected about the ray to the target (to a few degrees: the views are not orthographic).
    """
    flat = LedTarget.from_points(FLAT_LAYOUT)
    rng = np.random.default_rng(0)
    for _ in range(12):
        rotation = rotation_matrix(rng.normal(size=3) * 0.3) @ FACING_ROTATION
        translation = np.array([*rng.uniform(-0.4, 0.4, 2), rng.uniform(0.8, 2.5)])
        pixels = _pixels(sim_camera, flat.positions, rotation, translation)
        candidates = solve_pose(sim_camera, flat.positions, pixels, True)
        assert len(candidates) == 2, (translation, len(candidates))
        best, mirror = candidates
        position, attitude = _errors(best, rotation, translation)
        assert position < 1e-6 and attitude < 1e-5, (translation, position, attitude)
        assert best.rms_px < 1e-4 < mirror.rms_px
        assert np.degrees(rotation_angle_between(mirror.rotation, rotation)) > 5.0
        ray = translation / np.linalg.norm(translation)
        normal = rotation[:, 2]
        reflected = 2.0 * (normal @ ray) * ray - normal
        turn = np.degrees(np.arccos(np.clip(mirror.rotation[:, 2] @ reflected, -1.0, 1.0)))
        assert turn < 6.0, (translation, turn)


@pytest.mark.parametrize('coplanar', [True, False], ids=['flat', 'default'])
def test_a_prior_behind_the_camera_gives_no_candidate_behind_it(sim_camera, led_target,
                                                                coplanar):
    """A prior with negative depth is refined but poses behind the camera are dropped."""
    target = LedTarget.from_points(FLAT_LAYOUT) if coplanar else led_target
    for turn, translation in (((0.2, 0.1, 0.0), (0.1, 0.05, 1.2)),
                              ((-0.1, 0.3, 0.2), (-0.2, 0.1, 0.5))):
        rotation = rotation_matrix(turn) @ FACING_ROTATION
        translation = np.array(translation)
        pixels = _pixels(sim_camera, target.positions, rotation, translation)
        # The first is the pose through the optical centre: for a flat layout it projects
        # every LED exactly where the true pose does.
        for prior_rotation, prior_translation in (
                (rotation @ rotation_matrix([0.0, 0.0, np.pi]), -translation),
                (rotation, -translation),
                (rotation, translation * [1.0, 1.0, -1.0])):
            candidates = solve_pose(sim_camera, target.positions, pixels, coplanar,
                                    (rotation_vector(prior_rotation), prior_translation))
            assert candidates
            assert all(c.tvec[2] > 0.0 for c in candidates), [c.tvec for c in candidates]
            position, attitude = _errors(candidates[0], rotation, translation)
            assert position < 1e-6 and attitude < 1e-5


@pytest.mark.parametrize('tilt_deg', [0.0, 10.0, 25.0, 40.0])
def test_coplanar_layout_with_a_prior_finds_the_true_pose(sim_camera, tilt_deg):
    """With the tracker's prior (a few degrees off), the best coplanar candidate is the truth."""
    flat = LedTarget.from_points(FLAT_LAYOUT)
    rotation = rotation_matrix([0.0, np.radians(tilt_deg), 0.0]) @ FACING_ROTATION
    translation = np.array([0.05, -0.03, 1.0])
    pixels = _pixels(sim_camera, flat.positions, rotation, translation)
    prior = _perturbed(np.random.default_rng(int(tilt_deg)), rotation, translation, 3.0, 0.03)
    candidates = solve_pose(sim_camera, flat.positions, pixels, True, prior)
    position, attitude = _errors(candidates[0], rotation, translation)
    assert position < 1e-6 and attitude < 1e-5
    assert candidates[0].rms_px < 1e-4
    assert all(np.all(np.isfinite(c.rvec)) for c in candidates)


def test_far_coplanar_views_are_ambiguous(sim_camera):
    """Far away with pixel noise, both mirror poses of a flat layout fit about equally well."""
    flat = LedTarget.from_points(FLAT_LAYOUT)
    rotation = rotation_matrix([np.radians(10.0), 0.0, 0.0]) @ FACING_ROTATION
    translation = np.array([0.0, 0.0, 3.0])
    rng = np.random.default_rng(4)
    pixels = _pixels(sim_camera, flat.positions, rotation, translation)
    candidates = solve_pose(sim_camera, flat.positions, pixels + rng.normal(0, 0.1, (4, 2)), True)
    assert len(candidates) == 2
    assert all(c.rms_px < 0.3 for c in candidates)
    assert np.degrees(rotation_angle_between(candidates[0].rotation,
                                             candidates[1].rotation)) > 5.0
    # The prior decides: refined from the truth, the true branch is among the candidates.
    with_prior = solve_pose(sim_camera, flat.positions, pixels, True,
                            (rotation_vector(rotation), translation))
    assert min(_errors(c, rotation, translation)[1] for c in with_prior) < 1e-5


def test_pose_jacobian_matches_finite_differences(sim_camera, led_target):
    """The Jacobian is d(pixels)/d(x, y, z, rotX, rotY, rotZ) with rotations about camera axes."""
    rotation = rotation_matrix([0.1, -0.2, 0.15]) @ FACING_ROTATION
    translation = np.array([0.08, -0.05, 0.7])
    estimate = evaluate(sim_camera, led_target.positions,
                        _pixels(sim_camera, led_target.positions, rotation, translation),
                        rotation_vector(rotation), translation)
    jacobian = pose_jacobian(sim_camera, led_target.positions, estimate)
    assert jacobian.shape == (8, 6)
    step = 1e-6
    numeric = np.zeros_like(jacobian)
    for k in range(6):
        delta = np.zeros(6)
        delta[k] = step
        columns = []
        for sign in (1.0, -1.0):
            turned = rotation_matrix(sign * delta[3:]) @ rotation
            moved = translation + sign * delta[:3]
            columns.append(_pixels(sim_camera, led_target.positions, turned, moved).reshape(-1))
        numeric[:, k] = (columns[0] - columns[1]) / (2.0 * step)
    assert np.max(np.abs(jacobian - numeric)) < 1e-3 * np.max(np.abs(numeric))


@pytest.mark.parametrize('range_m, noise_px', [(0.5, 0.3), (1.0, 0.1), (2.5, 0.05)])
def test_covariance_matches_the_scatter_of_noisy_solutions(sim_camera, led_target, range_m,
                                                           noise_px):
    """Monte Carlo: 300 noisy solves; the mean NEES over 6 dof lies in [4.5, 7.5]."""
    rng = np.random.default_rng(int(range_m * 100))
    rotation = rotation_matrix([0.1, -0.05, 0.2]) @ FACING_ROTATION
    translation = np.array([0.05, -0.04, 1.0])
    translation *= range_m / np.linalg.norm(translation)
    pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
    truth = (rotation_vector(rotation), translation)
    nees = []
    errors = []
    for _ in range(300):
        noisy = pixels + rng.normal(0.0, noise_px, pixels.shape)
        estimate = solve_pose(sim_camera, led_target.positions, noisy, False, truth)[0]
        covariance = pose_covariance(sim_camera, led_target.positions, estimate, noise_px)
        error = _pose_error(estimate, rotation, translation)
        errors.append(error)
        nees.append(float(error @ np.linalg.solve(covariance, error)))
    mean = float(np.mean(nees))
    assert 4.5 <= mean <= 7.5, mean
    # Component by component too: the predicted standard deviations are those observed.
    observed = np.std(np.array(errors), axis=0)
    predicted = np.sqrt(np.diag(covariance))
    assert np.all(observed / predicted > 0.75) and np.all(observed / predicted < 1.33), \
        observed / predicted


def test_covariance_scales_with_the_pixel_noise(sim_camera, led_target):
    """The covariance is symmetric, positive definite and scales with the noise squared."""
    rotation = FACING_ROTATION
    translation = np.array([0.0, 0.0, 1.0])
    pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
    estimate = evaluate(sim_camera, led_target.positions, pixels, rotation_vector(rotation),
                        translation)
    small = pose_covariance(sim_camera, led_target.positions, estimate, 0.1)
    large = pose_covariance(sim_camera, led_target.positions, estimate, 0.2)
    assert np.allclose(small, small.T, rtol=0.0, atol=1e-15)
    assert np.all(np.linalg.eigvalsh(small) > 0.0)
    assert np.allclose(large, 4.0 * small, rtol=1e-9, atol=0.0)
    # Depth is the least certain position axis when the target faces the camera.
    assert small[2, 2] > small[0, 0] and small[2, 2] > small[1, 1]


def test_refine_and_evaluate_report_residuals(sim_camera, led_target):
    """refine() converges from a poor start; evaluate() gives per-LED residuals and their rms."""
    rotation = rotation_matrix([0.05, 0.1, -0.1]) @ FACING_ROTATION
    translation = np.array([-0.1, 0.05, 1.2])
    pixels = _pixels(sim_camera, led_target.positions, rotation, translation)
    shifted = pixels + np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    estimate = evaluate(sim_camera, led_target.positions, shifted, rotation_vector(rotation),
                        translation)
    assert isinstance(estimate, PoseEstimate)
    assert np.allclose(estimate.residuals_px, [1.0, 0.0, 0.0, 0.0], atol=1e-9)
    assert estimate.rms_px == pytest.approx(0.5)
    assert estimate.range_m == pytest.approx(np.linalg.norm(translation))
    rng = np.random.default_rng(6)
    start = _perturbed(rng, rotation, translation, 8.0, 0.1)
    refined = refine(sim_camera, led_target.positions, pixels, *start)
    position, attitude = _errors(refined, rotation, translation)
    assert position < 1e-6 and attitude < 1e-5 and refined.rms_px < 1e-4


def test_facing_cosine(sim_camera):
    """The target facing the camera gives cosine 1; turned 120 degrees it faces away."""
    facing = PoseEstimate(rotation_vector(FACING_ROTATION), np.array([0.0, 0.0, 1.0]), 0.0, None)
    assert facing_cosine(facing) == pytest.approx(1.0)
    turned = rotation_matrix([0.0, np.radians(120.0), 0.0]) @ FACING_ROTATION
    away = PoseEstimate(rotation_vector(turned), np.array([0.0, 0.0, 1.0]), 0.0, None)
    assert facing_cosine(away) == pytest.approx(np.cos(np.radians(120.0)))


@pytest.mark.parametrize('translation', [[0.6, 0.3, 1.0], [-0.4, 0.5, 0.7], [0.05, -0.9, 0.6]])
def test_facing_cosine_off_the_optical_axis(translation, turned_from_the_camera):
    """Off the axis, facing_cosine is the cosine of the angle between target +z and the camera."""
    translation = np.array(translation)
    for roll_deg in (0.0, 40.0, 135.0):
        for view_deg in (0.0, 20.0, 45.0, 75.0, 110.0):
            rotation = turned_from_the_camera(translation, view_deg, roll_deg)
            estimate = PoseEstimate(rotation_vector(rotation), translation, 0.0, None)
            assert facing_cosine(estimate) == pytest.approx(np.cos(np.radians(view_deg)),
                                                            abs=1e-9), (roll_deg, view_deg)


def test_three_points_are_refused_or_give_every_solution(sim_camera, led_target):
    """Three points do not fix a pose: refuse, or return candidates among which is the truth."""
    points = led_target.positions[:3]
    wrong = []
    for turn, translation in (((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
                              ((0.1, 0.2, 0.0), (0.03, 0.02, 1.0)),
                              ((-0.1, 0.05, 0.1), (0.1, -0.05, 0.4))):
        rotation = rotation_matrix(turn) @ FACING_ROTATION
        translation = np.array(translation)
        pixels = _pixels(sim_camera, points, rotation, translation)
        try:
            candidates = solve_pose(sim_camera, points, pixels, False)
        except (ValueError, cv2.error):
            continue
        if candidates and not any(_errors(c, rotation, translation)[1] < 1e-5
                                  for c in candidates):
            wrong.append((turn, translation.tolist()))
    assert not wrong, f'a wrong pose fits three points exactly at {wrong}'


def test_collinear_points_give_no_pose(sim_camera):
    """Collinear points cannot fix the roll about their line: refused or no candidate."""
    points = np.array([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.0]])
    rotation = rotation_matrix([0.1, 0.2, 0.0]) @ FACING_ROTATION
    translation = np.array([0.03, 0.02, 1.0])
    pixels = _pixels(sim_camera, points, rotation, translation)
    try:
        candidates = solve_pose(sim_camera, points, pixels, False)
    except (ValueError, cv2.error):
        return
    assert candidates == []


def test_the_default_layout_is_what_these_tests_use(led_target):
    """The fixture is the default layout (these tolerances were set for it)."""
    assert np.array_equal(led_target.positions.reshape(-1), DEFAULT_LED_POSITIONS)
