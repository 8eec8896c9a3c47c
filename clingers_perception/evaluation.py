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

"""
The evaluation suite: scenarios, how a scenario is run, and the metrics, with no file output.

A scenario is a rendered docking approach (ir_scene, approach_trajectory) from 5 m to contact.
Each frame goes through LedPosePipeline configured exactly as the node is by default
(parameters.build_config), and through the prototype baseline (seed_pipeline) on the same image.
Every frame's errors against the known true pose are recorded, with the Cramér-Rao bound of the
position and attitude for the centroid noise measured on the scenario's own renderer
(cramer_rao). `summarize` reduces the records to per-band statistics and `check_targets`
compares them with the targets of the issue. docs/evaluation.md explains every metric.
"""

from dataclasses import dataclass, field, replace
import math

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.blob_detection import BlobDetector
from clingers_perception.cramer_rao import measure_centroid_noise, pose_bound
from clingers_perception.ir_scene import (default_sim_camera, IrSceneConfig, IrSceneRenderer,
                                          random_distractors)
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.parameters import build_config, default_values
from clingers_perception.pipeline import LedPosePipeline
from clingers_perception.replay import raw_image_of_array
from clingers_perception.seed_pipeline import SeedPipeline
from clingers_perception.transforms import rotation_angle_between, rotation_vector
import numpy as np

OURS = 'ours'
SEED = 'seed'
METHODS = (OURS, SEED)

# A pose further than this from the truth is wrong: guidance would steer on a false target.
WRONG_POSITION_PERCENT = 5.0
WRONG_ATTITUDE_DEG = 5.0

# Targets the pipeline is held to (issue 3).
TARGET_DETECTION_RATE = 0.99
TARGET_BOUND_RATIO = 2.0
TARGET_BOUND_FROM_M = 3.0
TARGET_NEES = (1.0, 6.0)

# The four LEDs of the default layout moved onto the face (z = 0): a coplanar layout.
COPLANAR_LED_POSITIONS = (
    -0.070, -0.050, 0.000,
    0.070, -0.050, 0.000,
    0.050, 0.060, 0.000,
    -0.030, 0.040, 0.000,
)


@dataclass(frozen=True)
class RangeBand:
    """A slice of the approach, from `far_m` (included) down to `near_m`."""

    name: str
    far_m: float
    near_m: float


RANGE_BANDS = (
    RangeBand('5-3', 5.0, 3.0),
    RangeBand('3-1.2', 3.0, 1.2),
    RangeBand('1.2-0.6', 1.2, 0.6),
    RangeBand('0.6-0.3', 0.6, 0.3),
    RangeBand('0.3-0.12', 0.3, 0.12),
)
ALL_BANDS = 'all'


def band_of_range(range_m, bands=RANGE_BANDS):
    """Return the name of the band holding `range_m`; a limit belongs to the farther band."""
    for band in bands:
        if range_m >= band.near_m:
            return band.name
    return bands[-1].name


@dataclass(frozen=True)
class Scenario:
    """One rendered approach: camera, layout, scene and disturbances."""

    name: str
    description: str
    width: int = 1280
    height: int = 1024
    led_positions: tuple = DEFAULT_LED_POSITIONS
    frames: int = 1000
    start_range_m: float = 5.0
    end_range_m: float = 0.12
    lateral_offset_m: float = 0.2
    attitude_offset_deg: float = 5.0
    off_axis_angle_deg: float = 0.0
    roll_deg: float = 0.0
    flare_strength: float = 1.0
    noise_sigma_dn: float = 1.5
    distractors: int = 0
    # LED (0-based) hidden while the range is inside any (near_m, far_m) interval.
    occluded_led: int = -1
    occluded_ranges_m: tuple = ()
    frame_rate_hz: float = 30.0
    seed: int = 0
    # Node parameters other than the defaults, as (name, value) pairs.
    parameters: tuple = ()

    def camera(self):
        """Return the simulated camera of this scenario."""
        return default_sim_camera(self.width, self.height)

    def target(self):
        """Return the LedTarget of this scenario."""
        return LedTarget.from_flat(self.led_positions)

    def scene_config(self):
        """Return the renderer configuration."""
        return IrSceneConfig(flare_strength=self.flare_strength,
                             noise_sigma_dn=self.noise_sigma_dn, seed=self.seed)

    def approach(self):
        """Return the ApproachSpec of the scripted approach."""
        return ApproachSpec(start_range_m=self.start_range_m, end_range_m=self.end_range_m,
                            frames=self.frames, lateral_offset_m=self.lateral_offset_m,
                            attitude_offset_deg=self.attitude_offset_deg,
                            off_axis_angle_deg=self.off_axis_angle_deg, roll_deg=self.roll_deg,
                            seed=self.seed)

    def occluded(self, range_m):
        """Return True when the occluded LED is hidden at `range_m`."""
        return self.occluded_led >= 0 and any(
            near <= range_m <= far for near, far in self.occluded_ranges_m)


# The opt-in radial-profile placement of saturated spots, in the bands where spots saturate.
# The near band trusts its measured noise only down to a fifth of its prior (it places the
# cores of smears), which at the default prior is above the fit's 0.004-0.005 px: its prior
# comes down with the error.
PROFILE_FIT_PARAMETERS = (('bands.mid.fit_profile', True), ('bands.near.fit_profile', True),
                          ('bands.near.centroid_noise_px', 0.025))

SCENARIOS = (
    Scenario('baseline', 'straight-in approach, 1280x1024, default (non-coplanar) layout'),
    Scenario('off_axis_30', 'docking face turned 30 deg from the line of sight, 0.4 m lateral '
             'offset', off_axis_angle_deg=30.0, lateral_offset_m=0.4, seed=1),
    Scenario('rolled_90', 'target rolled 90 deg about its docking axis', roll_deg=90.0, seed=2),
    Scenario('flare_0', 'no lens flare', flare_strength=0.0, seed=3),
    Scenario('flare_3', 'lens flare three times the default strength', flare_strength=3.0,
             seed=4),
    Scenario('distractors_3', '3 distractor spots per frame', distractors=3, seed=5),
    Scenario('distractors_10', '10 distractor spots per frame', distractors=10, seed=6),
    Scenario('occlusion', 'LED 3 hidden from 1.6 to 1.0 m and from 0.35 to 0.25 m',
             occluded_led=2, occluded_ranges_m=((1.0, 1.6), (0.25, 0.35)), seed=7),
    Scenario('noise_3', 'read noise 3 DN (default 1.5)', noise_sigma_dn=3.0, seed=8),
    Scenario('noise_6', 'read noise 6 DN (default 1.5)', noise_sigma_dn=6.0, seed=9),
    Scenario('vga', '640x480 camera', width=640, height=480, seed=10),
    Scenario('vga_distractors_10', '640x480 camera with 10 distractor spots per frame',
             width=640, height=480, distractors=10, seed=13),
    Scenario('profile_fit', 'baseline with the mid and near bands placing saturated spots by '
             'the radial-profile fit', parameters=PROFILE_FIT_PARAMETERS),
    Scenario('vga_profile_fit', '640x480 camera with the radial-profile fit', width=640,
             height=480, seed=10, parameters=PROFILE_FIT_PARAMETERS),
    Scenario('coplanar', 'coplanar layout (4 LEDs on the face)',
             led_positions=COPLANAR_LED_POSITIONS, seed=11),
    Scenario('coplanar_distractors_3', 'coplanar layout with 3 distractor spots per frame',
             led_positions=COPLANAR_LED_POSITIONS, distractors=3, seed=12),
)
QUICK_FRAMES = 150
QUICK_SCENARIOS = ('baseline', 'distractors_3')


def select_scenarios(names=None, quick=False):
    """
    Return the scenarios named (all when None; QUICK_SCENARIOS when quick), shortened if quick.

    Raise ValueError naming an unknown scenario.
    """
    by_name = {s.name: s for s in SCENARIOS}
    if not names:
        names = QUICK_SCENARIOS if quick else [s.name for s in SCENARIOS]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; "
                         f"known: {', '.join(by_name)}")
    chosen = [by_name[n] for n in names]
    return [replace(s, frames=QUICK_FRAMES) if quick else s for s in chosen]


@dataclass
class FrameRecord:
    """One method's result on one frame, against the truth. NaN where there is no value."""

    scenario: str
    method: str
    frame: int
    stamp_s: float
    range_m: float
    band: str
    leds_visible: int
    all_visible: bool
    has_pose: bool
    position_error_m: float = math.nan
    position_error_percent: float = math.nan
    attitude_error_deg: float = math.nan
    range_error_m: float = math.nan
    wrong: bool = False
    nees_position: float = math.nan
    nees_attitude: float = math.nan
    processing_ms: float = math.nan
    bound_position_percent: float = math.nan
    bound_attitude_deg: float = math.nan
    state: str = ''


@dataclass
class ScenarioRun:
    """Everything measured on one scenario."""

    scenario: Scenario
    records: list
    # band name -> cramer_rao.CentroidNoise of the renderer and the pipeline's detector
    centroid_noise: dict = field(default_factory=dict)


def pose_errors(rotation_true, translation_true, rotation, translation):
    """
    Return (position error, rotation error): t_true - t (m), and w with R_true = exp(w) R.

    w (radians) is about the camera axes, the parametrisation of the published covariance.
    """
    position = np.asarray(translation_true, np.float64) - np.asarray(translation, np.float64)
    turn = rotation_vector(np.asarray(rotation_true) @ np.asarray(rotation).T)
    return position.reshape(3), turn


def nees(error, covariance):
    """Return the normalised estimation error squared e^T P^-1 e (NaN if P is singular)."""
    error = np.asarray(error, np.float64)
    try:
        return float(error @ np.linalg.solve(np.asarray(covariance, np.float64), error))
    except np.linalg.LinAlgError:
        return math.nan


def node_pipeline(target, parameters=()):
    """
    Return a LedPosePipeline with the node's parameters for `target`: defaults but `parameters`.

    `parameters` are (name, value) pairs of node parameters; an unknown name raises ValueError.
    """
    values = default_values()
    values['led_positions'] = [float(v) for v in target.positions.reshape(-1)]
    unknown = [name for name, _ in parameters if name not in values]
    if unknown:
        raise ValueError(f"unknown node parameter(s) {', '.join(unknown)}")
    values.update(parameters)
    config = build_config(values)
    return LedPosePipeline(config.target, config.settings)


def measure_scenario_noise(scenario, poses=6, repeats=12):
    """
    Return {band name: CentroidNoise} for the scenario's renderer and the node's detector.

    Up to `poses` true poses of the approach per band, each rendered `repeats` times.
    """
    camera, target = scenario.camera(), scenario.target()
    renderer = IrSceneRenderer(camera, scenario.scene_config())
    settings = node_pipeline(target, scenario.parameters).settings
    detector = BlobDetector(settings.detector_backend, settings.mono16_bits)
    rng = np.random.default_rng([scenario.seed, 2])
    everything = approach_poses(scenario.approach())
    noise = {}
    for band in RANGE_BANDS:
        inside = [(R, t) for R, t in everything
                  if band_of_range(float(np.linalg.norm(t))) == band.name]
        if not inside:
            continue
        picks = np.unique(np.linspace(0, len(inside) - 1, poses).round().astype(int))
        scenes = [(led_points_in_camera(target, *inside[i]), float(np.linalg.norm(inside[i][1])))
                  for i in picks]
        noise[band.name] = measure_centroid_noise(renderer, detector, settings.bands, scenes,
                                                  repeats, rng)
    return noise


def run_scenario(scenario, centroid_noise=None, on_frame=None):
    """
    Run ours and the seed on every frame of `scenario`; return a ScenarioRun.

    `centroid_noise` ({band: CentroidNoise}) is measured when None. `on_frame(index)` is
    called after each frame (progress).
    """
    if centroid_noise is None:
        centroid_noise = measure_scenario_noise(scenario)
    camera, target = scenario.camera(), scenario.target()
    renderer = IrSceneRenderer(camera, scenario.scene_config())
    pipeline = node_pipeline(target, scenario.parameters)
    pipeline.set_camera(camera)
    seed = SeedPipeline(target, camera)
    render_rng = np.random.default_rng([scenario.seed, 0])
    distractor_rng = np.random.default_rng([scenario.seed, 1])
    records = []
    for index, (rotation, translation) in enumerate(approach_poses(scenario.approach())):
        range_m = float(np.linalg.norm(translation))
        points = led_points_in_camera(target, rotation, translation)
        shown = np.ones(target.count, dtype=bool)
        if scenario.occluded(range_m):
            shown[scenario.occluded_led] = False
        distractors = ()
        if scenario.distractors:
            leds = camera.project(points[points[:, 2] > 0.0])
            distractors = random_distractors(distractor_rng, camera, scenario.distractors,
                                             avoid_px=leds)
        frame = renderer.render(points, visible=shown, distractors=distractors, rng=render_rng)
        stamp_s = index / scenario.frame_rate_hz
        band = band_of_range(range_m)
        noise = centroid_noise.get(band)
        bound = None
        if noise is not None and np.isfinite(noise.sigma_px) and frame.visible.sum() >= 4:
            bound = pose_bound(camera, target.positions[frame.visible], rotation, translation,
                               noise.sigma_px)
        common = {'scenario': scenario.name, 'frame': index, 'stamp_s': stamp_s,
                  'range_m': range_m, 'band': band, 'leds_visible': int(frame.visible.sum()),
                  'all_visible': bool(frame.visible.all()), 'bound': bound}
        result = pipeline.process(raw_image_of_array(frame.image), stamp_s)
        records.append(_record(OURS, rotation, translation, result.pose, result.covariance,
                               result.quality.processing_ms, result.quality.state, common))
        baseline = seed.process(frame.image)
        records.append(_record(SEED, rotation, translation, baseline.pose, None,
                               baseline.processing_ms, '', common))
        if on_frame is not None:
            on_frame(index)
    return ScenarioRun(scenario, records, centroid_noise)


def _record(method, rotation, translation, pose, covariance, processing_ms, state, common):
    values = dict(common)
    bound = values.pop('bound')
    record = FrameRecord(method=method, has_pose=pose is not None, processing_ms=processing_ms,
                         state=state, **values)
    if bound is not None:
        record.bound_position_percent = bound.position_percent
        record.bound_attitude_deg = bound.attitude_rms_deg
    if pose is None:
        return record
    position, turn = pose_errors(rotation, translation, pose.rotation, pose.tvec)
    record.position_error_m = float(np.linalg.norm(position))
    record.position_error_percent = 100.0 * record.position_error_m / record.range_m
    record.attitude_error_deg = math.degrees(
        rotation_angle_between(np.asarray(rotation), pose.rotation))
    record.range_error_m = pose.range_m - record.range_m
    record.wrong = bool(record.position_error_percent > WRONG_POSITION_PERCENT
                        or record.attitude_error_deg > WRONG_ATTITUDE_DEG)
    if covariance is not None:
        record.nees_position = nees(position, covariance[:3, :3])
        record.nees_attitude = nees(turn, covariance[3:, 3:])
    return record


@dataclass
class BandSummary:
    """Statistics of one method over one band of one scenario (band 'all': the whole run)."""

    scenario: str
    method: str
    band: str
    frames: int
    all_visible_frames: int
    detected: int
    detection_rate: float
    poses: int
    position_median_percent: float
    position_p95_percent: float
    position_rms_percent: float
    bound_rms_percent: float
    bound_ratio: float
    attitude_median_deg: float
    attitude_p95_deg: float
    bound_attitude_rms_deg: float
    range_error_median_percent: float
    range_error_p95_percent: float
    wrong: int
    nees_position_mean: float
    nees_attitude_mean: float
    processing_median_ms: float
    processing_p95_ms: float
    centroid_sigma_px: float
    centroid_bias_px: float


def summarize(run):
    """Return BandSummary rows of a ScenarioRun: per method, each band then 'all'."""
    rows = []
    for method in METHODS:
        records = [r for r in run.records if r.method == method]
        for band in [b.name for b in RANGE_BANDS] + [ALL_BANDS]:
            chosen = records if band == ALL_BANDS else [r for r in records if r.band == band]
            if chosen:
                rows.append(_summary(run, method, band, chosen))
    return rows


def _summary(run, method, band, records):
    def values(name, only_poses=True):
        return np.array([getattr(r, name) for r in records if r.has_pose or not only_poses],
                        dtype=np.float64)

    visible = [r for r in records if r.all_visible]
    detected = sum(1 for r in visible if r.has_pose)
    position = values('position_error_percent')
    bound = values('bound_position_percent')
    attitude = values('attitude_error_deg')
    range_percent = 100.0 * np.abs(values('range_error_m')) / values('range_m')
    noise = run.centroid_noise.get(band)
    position_rms = _rms(position)
    bound_rms = _rms(bound)
    return BandSummary(
        scenario=run.scenario.name, method=method, band=band, frames=len(records),
        all_visible_frames=len(visible), detected=detected,
        detection_rate=detected / len(visible) if visible else math.nan,
        poses=int(position.size),
        position_median_percent=_percentile(position, 50),
        position_p95_percent=_percentile(position, 95),
        position_rms_percent=position_rms, bound_rms_percent=bound_rms,
        bound_ratio=position_rms / bound_rms if bound_rms > 0.0 else math.nan,
        attitude_median_deg=_percentile(attitude, 50),
        attitude_p95_deg=_percentile(attitude, 95),
        bound_attitude_rms_deg=_rms(values('bound_attitude_deg')),
        range_error_median_percent=_percentile(range_percent, 50),
        range_error_p95_percent=_percentile(range_percent, 95),
        wrong=sum(1 for r in records if r.wrong),
        nees_position_mean=_mean(values('nees_position')),
        nees_attitude_mean=_mean(values('nees_attitude')),
        processing_median_ms=_percentile(values('processing_ms', False), 50),
        processing_p95_ms=_percentile(values('processing_ms', False), 95),
        centroid_sigma_px=noise.sigma_px if noise is not None else math.nan,
        centroid_bias_px=noise.bias_px if noise is not None else math.nan)


@dataclass(frozen=True)
class TargetCheck:
    """One target of the issue for one scenario: met or not, and what was measured."""

    scenario: str
    target: str
    met: bool
    measured: str


def check_targets(summaries):
    """
    Compare the OURS rows of one scenario's BandSummary list with the issue's targets.

    Detection counts in the bands that have frames with every LED in view; the bound ratio in
    the bands from TARGET_BOUND_FROM_M down; NEES over the whole run.
    """
    ours = [s for s in summaries if s.method == OURS]
    if not ours:
        return []
    scenario = ours[0].scenario
    bands = [s for s in ours if s.band != ALL_BANDS]
    overall = next((s for s in ours if s.band == ALL_BANDS), None)
    checks = []
    rated = [s for s in bands if s.all_visible_frames > 0]
    low = [f'{s.band} m: {100 * s.detection_rate:.1f}% ({s.detected}/{s.all_visible_frames})'
           for s in rated if s.detection_rate < TARGET_DETECTION_RATE]
    lowest = min((s.detection_rate for s in rated), default=math.nan)
    checks.append(TargetCheck(scenario, f'detection >= {100 * TARGET_DETECTION_RATE:g}% in '
                              'every band', not low,
                              '; '.join(low) or f'lowest {100 * lowest:.1f}%'))
    wrong = [f'{s.band} m: {s.wrong}' for s in bands if s.wrong]
    checks.append(TargetCheck(scenario, 'zero wrong poses', not wrong,
                              '; '.join(wrong) or '0'))
    near = [s for s in bands if _band_far(s.band) <= TARGET_BOUND_FROM_M and s.poses
            and math.isfinite(s.bound_ratio)]
    over = [f'{s.band} m: {s.bound_ratio:.1f}x' for s in near
            if s.bound_ratio > TARGET_BOUND_RATIO]
    worst = max((s.bound_ratio for s in near), default=math.nan)
    checks.append(TargetCheck(
        scenario, f'position RMS within {TARGET_BOUND_RATIO:g}x of the bound from '
        f'{TARGET_BOUND_FROM_M:g} m down', bool(near) and not over,
        '; '.join(over) or (f'worst {worst:.2f}x' if near else
                            f'no pose from {TARGET_BOUND_FROM_M:g} m down to rate')))
    value = overall.nees_position_mean if overall is not None else math.nan
    checks.append(TargetCheck(
        scenario, f'mean position NEES in [{TARGET_NEES[0]:g}, {TARGET_NEES[1]:g}]',
        TARGET_NEES[0] <= value <= TARGET_NEES[1], f'{value:.2f}'))
    return checks


def _band_far(name):
    return next(b.far_m for b in RANGE_BANDS if b.name == name)


def _percentile(values, q):
    values = values[np.isfinite(values)]
    return float(np.percentile(values, q)) if values.size else math.nan


def _rms(values):
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values ** 2))) if values.size else math.nan


def _mean(values):
    values = values[np.isfinite(values)]
    return float(np.mean(values)) if values.size else math.nan
