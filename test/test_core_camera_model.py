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

"""Tests of the camera model built from CameraInfo fields: projection, undistortion, refusals."""

from clingers_perception.camera_model import CameraModel, CameraModelError
import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 640, 480
K = [500.0, 0.0, 322.5, 0.0, 505.0, 241.0, 0.0, 0.0, 1.0]
# A rectified camera matrix that differs from K, so a test can tell which one was used.
P = [480.0, 0.0, 318.0, 0.0, 0.0, 480.0, 236.0, 0.0, 0.0, 0.0, 1.0, 0.0]
PLUMB_BOB = [-0.21, 0.05, 0.0012, -0.0008, -0.004]
RATIONAL = [0.35, -0.12, 0.0009, -0.0006, 0.02, 0.62, -0.08, 0.03]


def _camera(model='plumb_bob', d=PLUMB_BOB, k=K, p=P, rectified=False,
            width=WIDTH, height=HEIGHT):
    return CameraModel.from_camera_info(width, height, model, d, k, p, rectified)


def _pixel_grid(camera, margin=2.0, step=20.0):
    xs = np.arange(margin, camera.width - margin, step)
    ys = np.arange(margin, camera.height - margin, step)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def _distorted_projection(camera, normalized):
    """Project normalized points with the textbook plumb_bob / rational model, not OpenCV."""
    k1, k2, p1, p2, k3 = camera.distortion[:5]
    k4, k5, k6 = camera.distortion[5:8] if camera.distortion.size == 8 else (0.0, 0.0, 0.0)
    x, y = normalized[:, 0], normalized[:, 1]
    r2 = x * x + y * y
    radial = (1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3) / (1 + k4 * r2 + k5 * r2 ** 2
                                                            + k6 * r2 ** 3)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    matrix = camera.camera_matrix
    return np.stack([matrix[0, 0] * xd + matrix[0, 2], matrix[1, 1] * yd + matrix[1, 2]], axis=1)


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB), ('rational_polynomial', RATIONAL)])
def test_projection_follows_the_distortion_model(model, d):
    """project() puts camera-frame points where the textbook distortion model puts them."""
    camera = _camera(model, d)
    assert camera.distortion.size == len(d)
    assert np.array_equal(camera.camera_matrix, np.reshape(K, (3, 3)))
    rng = np.random.default_rng(1)
    normalized = rng.uniform(-0.5, 0.5, (200, 2))
    depth = rng.uniform(0.2, 5.0, (200, 1))
    points = np.hstack([normalized * depth, depth])
    expected = _distorted_projection(camera, normalized)
    assert np.max(np.abs(camera.project(points) - expected)) < 1e-9


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB), ('rational_polynomial', RATIONAL)])
def test_normalize_inverts_project_near_the_centre(model, d):
    """project(normalize(pixel)) returns the pixel, within 200 px of the principal point."""
    camera = _camera(model, d)
    pixels = _pixel_grid(camera, step=5.0)
    pixels = pixels[np.linalg.norm(pixels - camera.camera_matrix[:2, 2], axis=1) < 200.0]
    normalized = camera.normalize(pixels)
    assert normalized.shape == pixels.shape
    rays = np.hstack([normalized, np.ones((normalized.shape[0], 1))])
    assert np.max(np.abs(camera.project(rays) - pixels)) < 1e-3
    # Distortion is really applied: the undistorted rays are not the pinhole ones.
    pinhole = (pixels - camera.camera_matrix[:2, 2]) / np.diag(camera.camera_matrix)[:2]
    assert np.max(np.abs(pinhole - normalized)) > 1e-3


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB), ('rational_polynomial', RATIONAL)])
def test_project_then_normalize_returns_the_ray(model, d):
    """normalize(project(p)) is the normalized ray of p for rays that land in the central area."""
    camera = _camera(model, d)
    rng = np.random.default_rng(4)
    rays = rng.uniform(-0.3, 0.3, (300, 2))
    pixels = camera.project(np.hstack([rays, np.ones((rays.shape[0], 1))]))
    assert np.max(np.abs(camera.normalize(pixels) - rays)) < 1e-6


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB), ('rational_polynomial', RATIONAL)])
def test_normalize_inverts_project_over_the_whole_image(model, d):
    """project(normalize(pixel)) returns the pixel to 1e-3 px, corners included."""
    camera = _camera(model, d)
    pixels = _pixel_grid(camera)
    rays = np.hstack([camera.normalize(pixels), np.ones((pixels.shape[0], 1))])
    assert np.max(np.abs(camera.project(rays) - pixels)) < 1e-3


def test_normalize_of_nothing():
    """An empty pixel list normalizes to an empty 0x2 array."""
    assert _camera().normalize(np.zeros((0, 2))).shape == (0, 2)


def test_normalize_inverts_project_near_the_centre_of_a_wide_angle_lens(sim_camera):
    """Round trip on the strongly distorted simulated camera, within 350 px of the centre."""
    pixels = _pixel_grid(sim_camera, step=16.0)
    radius = np.linalg.norm(pixels - sim_camera.camera_matrix[:2, 2], axis=1)
    pixels = pixels[radius < 350.0]
    rays = np.hstack([sim_camera.normalize(pixels), np.ones((pixels.shape[0], 1))])
    assert np.max(np.abs(sim_camera.project(rays) - pixels)) < 0.01


def test_normalize_inverts_project_over_a_wide_angle_image(sim_camera):
    """Round trip on the strongly distorted simulated camera, over the whole image, to 0.01 px."""
    pixels = _pixel_grid(sim_camera, step=16.0)
    rays = np.hstack([sim_camera.normalize(pixels), np.ones((pixels.shape[0], 1))])
    assert np.max(np.abs(sim_camera.project(rays) - pixels)) < 0.01


def test_project_pose_matches_project_of_transformed_points():
    """project_pose(points, rvec, tvec) equals project(R @ p + t), with a 2N x many Jacobian."""
    camera = _camera()
    points = np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.02], [-0.05, -0.03, 0.0], [0.0, 0.0, 0.1]])
    rvec = np.array([0.1, -0.2, 0.05])
    tvec = np.array([0.02, -0.01, 1.5])
    pixels, jacobian = camera.project_pose(points, rvec, tvec)
    angle = np.linalg.norm(rvec)
    axis = rvec / angle
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew
    expected = camera.project(points @ rotation.T + tvec)
    assert np.max(np.abs(pixels - expected)) < 1e-9
    assert jacobian.shape[0] == 2 * points.shape[0]


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB), ('rational_polynomial', RATIONAL)])
def test_project_batch_equals_opencv_for_many_poses(model, d):
    """project_batch is cv2.projectPoints (project_pose) for every pose and point, to 1e-9 px."""
    camera = _camera(model, d)
    # Tangential terms that differ (p1 != p2) and a rational denominator that is not 1.
    assert camera.distortion[2] != camera.distortion[3]
    assert model == 'plumb_bob' or np.all(camera.distortion[5:8] != 0.0)
    rng = np.random.default_rng(5)
    grid = np.stack(np.meshgrid(np.linspace(-0.1, 0.1, 5), np.linspace(-0.08, 0.08, 4),
                                [-0.03, 0.0, 0.04]), axis=-1).reshape(-1, 3)
    rvecs = rng.normal(0.0, 0.3, (40, 3))
    rotations = np.array([cv2.Rodrigues(r)[0] for r in rvecs])
    # Origins across the field of view, up to about 0.5 in normalized coordinates.
    depth = rng.uniform(0.4, 3.0, 40)
    translations = np.column_stack([rng.uniform(-0.45, 0.45, (40, 2)) * depth[:, None], depth])
    batch = camera.project_batch(rotations, translations, grid)
    assert batch.shape == (40, grid.shape[0], 2)
    for index in range(40):
        expected, _ = camera.project_pose(grid, rvecs[index], translations[index])
        assert np.max(np.abs(batch[index] - expected)) < 1e-9, index


def test_rectified_input_uses_p_and_no_distortion():
    """With rectified=True the model is P[:3, :3] with zero distortion, whatever K and D say."""
    camera = _camera(rectified=True)
    assert np.array_equal(camera.camera_matrix, np.reshape(P, (3, 4))[:, :3])
    assert not np.any(camera.distortion)
    points = np.array([[0.3, -0.2, 1.0], [-0.4, 0.25, 2.0], [0.0, 0.0, 0.5]])
    pinhole = points[:, :2] / points[:, 2:] * [480.0, 480.0] + [318.0, 236.0]
    assert np.max(np.abs(camera.project(points) - pinhole)) < 1e-9
    assert np.max(np.abs(camera.normalize(pinhole) - points[:, :2] / points[:, 2:])) < 1e-12


def test_rectified_input_ignores_an_unsupported_raw_model():
    """The raw distortion model does not matter for a rectified image."""
    camera = _camera(model='equidistant', d=[0.1, 0.2, 0.3, 0.4], rectified=True)
    assert not np.any(camera.distortion)


def test_empty_distortion_means_none():
    """An empty D (with or without a model name) is a pinhole camera, as some drivers send."""
    for model in ('', 'plumb_bob', 'rational_polynomial'):
        camera = _camera(model, d=[])
        assert camera.distortion.size in (5, 8) and not np.any(camera.distortion)


def test_model_is_read_only():
    """The calibration arrays cannot be changed behind the pipeline's back."""
    camera = _camera()
    with pytest.raises(ValueError):
        camera.camera_matrix[0, 0] = 1.0
    with pytest.raises(ValueError):
        camera.distortion[0] = 1.0


def test_properties_and_size_check():
    """Focal length, field of view and the image-size check."""
    camera = _camera()
    assert camera.focal_length_px == pytest.approx(502.5)
    assert camera.horizontal_fov_rad == pytest.approx(2 * np.arctan(320.0 / 500.0))
    assert camera.matches_image(640, 480)
    assert not camera.matches_image(480, 640)


@pytest.mark.parametrize('kwargs, words', [
    ({'k': [0.0] + K[1:]}, 'uncalibrated'),
    ({'p': [0.0] + P[1:], 'rectified': True}, 'uncalibrated'),
    ({'k': [float('nan')] + K[1:]}, 'NaN'),
    ({'k': K[:4] + [float('inf')] + K[5:]}, 'NaN or inf'),
    ({'d': PLUMB_BOB[:4] + [float('nan')]}, 'NaN'),
    ({'p': P[:5] + [float('inf')] + P[6:], 'rectified': True}, 'NaN or inf'),
    ({'k': K[:8]}, 'K must have 9'),
    ({'p': P[:9]}, 'P 12'),
    ({'d': PLUMB_BOB[:4]}, 'needs 5 distortion values'),
    ({'model': 'rational_polynomial', 'd': RATIONAL[:5]}, 'needs 8 distortion values'),
    ({'model': 'equidistant', 'd': [0.1, 0.0, 0.0, 0.0]}, "'equidistant' is not supported"),
    ({'model': 'fisheye', 'd': []}, "'fisheye' is not supported"),
    ({'width': 0}, 'empty'),
    ({'height': -5}, 'empty'),
    ({'k': [-500.0] + K[1:]}, 'not a pinhole camera matrix'),
    ({'k': K[:8] + [0.0]}, 'not a pinhole camera matrix'),
    ({'k': K[:2] + [5000.0] + K[3:]}, 'principal point'),
    ({'k': K[:5] + [5000.0] + K[6:]}, 'principal point'),
    ({'k': K[:5] + [-600.0] + K[6:]}, 'principal point'),
    ({'k': [1e200] + K[1:4] + [1e200] + K[5:]}, 'beyond any camera'),
])
def test_bad_calibrations_are_refused_with_the_reason(kwargs, words):
    """Every unusable CameraInfo is refused with a message naming the problem."""
    with pytest.raises(CameraModelError) as refused:
        _camera(**kwargs)
    assert words in str(refused.value), str(refused.value)
