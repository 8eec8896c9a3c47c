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
How well the frames of a coplanar approach tell the two mirror poses apart.

A flat layout of four LEDs has two poses that fit its spots (IPPE's two solutions, mirror
images about the line of sight). The pipeline refuses to acquire while both fit within the
band's reprojection limit. This script measures, on the evaluation's coplanar scenarios, what
the frames themselves say: each frame is rendered, its spots found by the node's detector in the
band the pipeline uses, matched to the true LED pixels (so identification plays no part), and
both mirror poses solved and refined as the pipeline does (pose_estimation.solve_pose).

Per range band: how often the lower-residual pose is more than 5 deg off (the evaluation's
wrong pose: what a choice by the frame alone would publish), the residuals of both, and how
often the pipeline's rule calls the frame ambiguous. Then a sequential test over each approach
from 5 m: the difference of the two mirrors' squared residuals, in units of a centroid noise,
summed frame by frame until it exceeds LOG_ODDS_LIMIT either way; with the noise measured on
the renderer and with the band's prior. Several approaches (lateral offset directions) and
noise draws per scenario.

    PYTHONPATH=. python3 benchmarks/coplanar_ambiguity.py               # under a minute
    PYTHONPATH=. python3 benchmarks/coplanar_ambiguity.py --runs 16 --min-range 0.6
"""

import argparse
import csv
from dataclasses import replace
import os
import sys
import time

from clingers_perception.approach_trajectory import approach_poses, led_points_in_camera
from clingers_perception.evaluation import (band_of_range, measure_scenario_noise,
                                            node_pipeline, RANGE_BANDS, select_scenarios,
                                            WRONG_ATTITUDE_DEG)
from clingers_perception.ir_scene import IrSceneRenderer, random_distractors
from clingers_perception.pose_estimation import fitting_rivals, solve_pose
from clingers_perception.range_bands import select_band
from clingers_perception.transforms import rotation_angle_between
import numpy as np

# Sum of (S_mirror - S_true) / sigma^2 that decides: twice the log of 1000:1 odds for Gaussian
# noise of that sigma.
LOG_ODDS_LIMIT = 2.0 * np.log(1000.0)
# A detected spot further than this from its true pixel is not taken as that LED.
MATCH_GATE_PX = 3.0


def frame_rows(scenario, run, min_range_m):
    """Return one row per frame of run `run` of `scenario` down to `min_range_m`."""
    variant = replace(scenario, seed=scenario.seed + 1000 * run)
    camera, target = variant.camera(), variant.target()
    pipeline = node_pipeline(target)
    pipeline.set_camera(camera)
    renderer = IrSceneRenderer(camera, variant.scene_config())
    render_rng = np.random.default_rng([variant.seed, 0])
    distractor_rng = np.random.default_rng([variant.seed, 1])
    rows = []
    for index, (rotation, translation) in enumerate(approach_poses(variant.approach())):
        range_m = float(np.linalg.norm(translation))
        if range_m < min_range_m:
            break
        points = led_points_in_camera(target, rotation, translation)
        distractors = ()
        if variant.distractors:
            distractors = random_distractors(distractor_rng, camera, variant.distractors,
                                             avoid_px=camera.project(points))
        frame = renderer.render(points, distractors=distractors, rng=render_rng)
        band = select_band(pipeline.bands, range_m)
        row = {'scenario': scenario.name, 'run': run, 'frame': index, 'range_m': range_m,
               'band': band_of_range(range_m), 'minima': 0}
        rows.append(row)
        blobs = pipeline.detector.detect(frame.image, band)
        if len(blobs) < target.count or not frame.visible.all():
            continue
        centres = np.array([[b.x, b.y] for b in blobs])
        offsets = np.linalg.norm(centres[None, :, :] - frame.led_pixels[:, None, :], axis=2)
        nearest = offsets.argmin(axis=1)
        if np.any(offsets.min(axis=1) > MATCH_GATE_PX):
            continue
        candidates = solve_pose(camera, target.positions, centres[nearest], True)
        if not candidates:
            continue
        errors = [np.degrees(rotation_angle_between(c.rotation, rotation)) for c in candidates]
        true_index = int(np.argmin(errors))
        row['minima'] = min(len(candidates), 2)
        row['true_rms_px'] = candidates[true_index].rms_px
        row['true_sq_px2'] = float(np.sum(candidates[true_index].residuals_px ** 2))
        row['lowest_wrong'] = errors[0] > WRONG_ATTITUDE_DEG
        if len(candidates) > 1:
            mirror = next(c for i, c in enumerate(candidates) if i != true_index)
            row['mirror_rms_px'] = mirror.rms_px
            row['mirror_sq_px2'] = float(np.sum(mirror.residuals_px ** 2))
            # The pipeline's own test, as it applies it when there is no track to choose.
            row['pipeline_ambiguous'] = bool(fitting_rivals(
                candidates, band.max_reprojection_rms_px,
                np.radians(pipeline.settings.coplanar_ambiguity_deg))[1])
        row['prior_noise_px'] = band.centroid_noise_px
    return rows


def sequential_decision(rows, noise_px):
    """
    Return (range_m, right) where the summed log-odds first exceed the limit, or None.

    `noise_px` is a number or a callable of the row. Frames with one minimum add nothing.
    """
    total = 0.0
    for row in rows:
        if row['minima'] < 2:
            continue
        sigma = noise_px(row) if callable(noise_px) else noise_px
        total += (row['mirror_sq_px2'] - row['true_sq_px2']) / sigma ** 2
        if abs(total) >= LOG_ODDS_LIMIT:
            return row['range_m'], total > 0.0
    return None


def band_table(rows):
    """Return the per-band summary rows."""
    table = []
    for band in RANGE_BANDS:
        inside = [r for r in rows if r['band'] == band.name]
        if not inside:
            continue
        solved = [r for r in inside if r['minima'] > 0]
        pairs = [r for r in solved if r['minima'] == 2]
        table.append({
            'band': band.name, 'frames': len(inside), 'solved': len(solved),
            'two_minima_pct': _pct(len(pairs), len(solved)),
            'lowest_wrong_pct': _pct(sum(r['lowest_wrong'] for r in solved), len(solved)),
            'true_rms_px': _median([r['true_rms_px'] for r in solved]),
            'mirror_rms_px': _median([r['mirror_rms_px'] for r in pairs]),
            'ambiguous_pct': _pct(sum(r['pipeline_ambiguous'] for r in pairs), len(solved)),
        })
    return table


def _pct(count, total):
    return 100.0 * count / total if total else float('nan')


def _median(values):
    return float(np.median(values)) if values else float('nan')


def main(argv=None):
    """Run the analysis, print the tables, write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scenarios', nargs='+',
                        default=['coplanar', 'coplanar_distractors_3'])
    parser.add_argument('--runs', type=int, default=8,
                        help='approaches per scenario (other lateral offsets and noise)')
    parser.add_argument('--min-range', type=float, default=1.2,
                        help='stop each approach at this range (m)')
    parser.add_argument('--out', default='results')
    args = parser.parse_args(argv)
    started = time.time()
    print(f'{"scenario":<24} {"band":<8} {"frames":>6} {"solved":>6} {"2 minima %":>10} '
          f'{"lowest wrong %":>14} {"rms true px":>11} {"rms mirror px":>13} '
          f'{"pipeline ambiguous %":>20}')
    all_rows, decisions = [], []
    for scenario in select_scenarios(args.scenarios):
        if not scenario.target().coplanar:
            sys.exit(f'{scenario.name} has a non-coplanar layout: no mirror pose to study')
        sigma = measure_scenario_noise(scenario)
        runs = []
        for run in range(args.runs):
            runs.append(frame_rows(scenario, run, args.min_range))
            print(f'# {scenario.name}: run {run + 1}/{args.runs} '
                  f'({time.time() - started:.0f} s)', file=sys.stderr)
        rows = [r for run in runs for r in run]
        all_rows.extend(rows)
        for entry in band_table(rows):
            print(f'{scenario.name:<24} {entry["band"]:<8} {entry["frames"]:>6} '
                  f'{entry["solved"]:>6} {entry["two_minima_pct"]:>10.1f} '
                  f'{entry["lowest_wrong_pct"]:>14.1f} {entry["true_rms_px"]:>11.4f} '
                  f'{entry["mirror_rms_px"]:>13.4f} {entry["ambiguous_pct"]:>20.1f}')
        noises = {'measured': lambda row: sigma[row['band']].sigma_px,
                  'band prior': lambda row: row['prior_noise_px']}
        for label, noise in noises.items():
            outcomes = [sequential_decision(run, noise) for run in runs]
            decisions.append((scenario.name, label, outcomes))
    print(f'\nSequential test from 5 m (limit {LOG_ODDS_LIMIT:.1f}, 1000:1 odds):')
    print(f'{"scenario":<24} {"noise":<11} {"decided":>8} {"wrong":>6} '
          f'{"range m median":>14} {"range m min":>11}')
    for name, label, outcomes in decisions:
        made = [o for o in outcomes if o is not None]
        ranges = [o[0] for o in made]
        print(f'{name:<24} {label:<11} {len(made):>4}/{len(outcomes):<3} '
              f'{sum(not o[1] for o in made):>6} {_median(ranges):>14.2f} '
              f'{min(ranges) if ranges else float("nan"):>11.2f}')
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f'coplanar_ambiguity_{time.strftime("%Y%m%dT%H%M%S")}.csv')
    fields = ['scenario', 'run', 'frame', 'range_m', 'band', 'minima', 'true_rms_px',
              'mirror_rms_px', 'true_sq_px2', 'mirror_sq_px2', 'lowest_wrong',
              'pipeline_ambiguous', 'prior_noise_px']
    with open(path, 'w', newline='') as stream:
        writer = csv.DictWriter(stream, fields)
        writer.writeheader()
        writer.writerows(all_rows)
    print(f'\n{len(all_rows)} frames in {time.time() - started:.0f} s; CSV: {path}')


if __name__ == '__main__':
    main()
