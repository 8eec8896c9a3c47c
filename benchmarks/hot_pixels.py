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
Poses while LEDs cross hot pixels, with the learned hot-pixel map and without it.

A sensor's own hot pixels rarely lie on an LED's path in one approach, so this script puts them
there: in each rendered approach (5 m to 0.6 m), one hot pixel per LED beside where that LED's
spot will be at a range drawn between 3 and 1.2 m, where spots are small and unsaturated. The
same frames go through the node's pipeline with `learn_hot_pixels` true and false. Over the
frames in which an LED's centre lies within two pixels of one of them: poses published, their
position error (% of range) and attitude error; over all frames: poses and wrong poses.

    PYTHONPATH=. python3 benchmarks/hot_pixels.py                   # about a minute
    PYTHONPATH=. python3 benchmarks/hot_pixels.py --approaches 4 --size 640x480
    PYTHONPATH=. python3 benchmarks/hot_pixels.py --hot-dn 150     # below the clip
"""

import argparse
import math
import sys
import time

from clingers_perception.approach_trajectory import (approach_poses, ApproachSpec,
                                                     led_points_in_camera)
from clingers_perception.demo import write_timestamped_csv
from clingers_perception.evaluation import pose_errors, WRONG_ATTITUDE_DEG, WRONG_POSITION_PERCENT
from clingers_perception.image_decoding import RawImage
from clingers_perception.ir_scene import default_sim_camera, IrSceneConfig, IrSceneRenderer
from clingers_perception.led_target import DEFAULT_LED_POSITIONS, LedTarget
from clingers_perception.pipeline import LedPosePipeline, PipelineSettings
from clingers_perception.transforms import rotation_angle_between
import cv2
import numpy as np

# A spot touches a hot pixel placed this far (px) from its centre.
TOUCH_PX = 2.0


def place_hot_pixels(camera, target, poses, rng):
    """Return (cols, rows) of one pixel per LED beside its spot at a range in [1.2, 3] m."""
    ranges = np.array([np.linalg.norm(t) for _, t in poses])
    frames = np.flatnonzero((ranges >= 1.2) & (ranges <= 3.0))
    cols, rows = [], []
    for led in range(target.count):
        rotation, translation = poses[int(rng.choice(frames))]
        pixel, _ = camera.project_pose(target.positions[led:led + 1],
                                       cv2.Rodrigues(rotation)[0], translation)
        # One pixel off the centre pixel, in a random direction: on the spot's flank.
        step = rng.choice([-1, 1], 2)
        cols.append(int(round(pixel[0, 0])) + int(step[0]))
        rows.append(int(round(pixel[0, 1])) + int(step[1]))
    return np.array(cols), np.array(rows)


def run(camera, target, poses, renderer, learn, render_seed):
    """Return per-frame rows of one pass of the pipeline over the rendered approach."""
    pipeline = LedPosePipeline(target, PipelineSettings(learn_hot_pixels=learn))
    pipeline.set_camera(camera)
    rng = np.random.default_rng(render_seed)
    hot_cols, hot_rows, _ = renderer.hot_pixels
    rows = []
    for index, (rotation, translation) in enumerate(poses):
        frame = renderer.render(led_points_in_camera(target, rotation, translation), rng=rng)
        image = frame.image
        raw = RawImage('mono8', image.shape[1], image.shape[0], image.shape[1], False,
                       image.tobytes())
        result = pipeline.process(raw, index / 30.0)
        near = np.hypot(frame.led_pixels[:, 0, None] - hot_cols[None, :],
                        frame.led_pixels[:, 1, None] - hot_rows[None, :])
        touching = np.any(near <= TOUCH_PX, axis=0)
        known = pipeline.defects.pixels
        row = {'frame': index, 'range_m': float(np.linalg.norm(translation)),
               'touched': bool(touching.any()),
               # Every hot pixel an LED touches is in the map (when learning).
               'touched_known': bool(touching.any()) and all(
                   (int(c), int(r)) in known
                   for c, r in zip(hot_cols[touching], hot_rows[touching])),
               'pose': result.pose is not None,
               'position_percent': math.nan, 'attitude_deg': math.nan,
               'known_hot_pixels': pipeline.defects.count}
        if result.pose is not None:
            position, _ = pose_errors(rotation, translation, result.pose.rotation,
                                      result.pose.tvec)
            row['position_percent'] = 100.0 * float(np.linalg.norm(position)) / row['range_m']
            row['attitude_deg'] = math.degrees(rotation_angle_between(rotation,
                                                                      result.pose.rotation))
        rows.append(row)
    return rows


def summary(rows, touched):
    """Return the table cells of one mode over the `touched` frames, and overall."""
    with_pose = [r for r in touched if r['pose']]
    errors = np.array([r['position_percent'] for r in with_pose])
    attitude = np.array([r['attitude_deg'] for r in with_pose])
    wrong = sum(1 for r in rows if r['pose']
                and (r['position_percent'] > WRONG_POSITION_PERCENT
                     or r['attitude_deg'] > WRONG_ATTITUDE_DEG))
    return {'touched_frames': len(touched), 'touched_with_pose': len(with_pose),
            'position_rms_percent': float(np.sqrt(np.mean(errors ** 2))) if errors.size
            else math.nan,
            'position_max_percent': float(errors.max()) if errors.size else math.nan,
            'attitude_max_deg': float(attitude.max()) if attitude.size else math.nan,
            'poses': sum(r['pose'] for r in rows), 'frames': len(rows), 'wrong': wrong}


def main(argv=None):
    """Run both modes over the approaches, print the table, write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--approaches', type=int, default=12)
    parser.add_argument('--frames', type=int, default=400, help='frames per approach')
    parser.add_argument('--size', default='1280x1024')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--hot-dn', type=float, default=255.0,
                        help='what the placed hot pixels add (DN); 255 saturates them')
    parser.add_argument('--out', default='results')
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split('x'))
    camera = default_sim_camera(width, height)
    target = LedTarget.from_flat(DEFAULT_LED_POSITIONS)
    started = time.time()
    per_frame = []
    for approach in range(args.approaches):
        seed = args.seed + approach
        poses = approach_poses(ApproachSpec(start_range_m=5.0, end_range_m=0.6,
                                            frames=args.frames, seed=seed))
        renderer = IrSceneRenderer(camera)
        renderer.add_hot_pixels(*place_hot_pixels(camera, target, poses,
                                                  np.random.default_rng([seed, 3])),
                                [args.hot_dn] * target.count)
        learned = run(camera, target, poses, renderer, True, [seed, 4])
        unlearned = run(camera, target, poses, renderer, False, [seed, 4])
        for row, other in zip(learned, unlearned):
            # Whether the learning run knew those hot pixels yet, for both runs' frames.
            other['touched_known'] = row['touched_known']
            per_frame.append(dict(row, approach=approach, learn_hot_pixels=True))
            per_frame.append(dict(other, approach=approach, learn_hot_pixels=False))
        print(f'# approach {approach + 1}/{args.approaches} ({time.time() - started:.0f} s)',
              file=sys.stderr)
    own = IrSceneConfig().hot_pixel_count
    print(f'{args.approaches} approaches of {args.frames} frames, {width}x{height}, one hot '
          f'pixel adding {args.hot_dn:g} DN beside each LED at a range in [1.2, 3] m, and {own} '
          'of the sensor\n')
    print('| frames touching a hot pixel | learn_hot_pixels | frames | with a pose | position '
          'error RMS / max (% of range) | attitude error max (deg) | poses in all frames | '
          'wrong |')
    print('|---|---|---|---|---|---|---|---|')
    for label, known in (('learned by then', True), ('not learned yet', False)):
        for learn in (True, False):
            rows = [r for r in per_frame if r['learn_hot_pixels'] == learn]
            cells = summary(rows, [r for r in rows
                                   if r['touched'] and r['touched_known'] == known])
            print(f"| {label} | {str(learn).lower()} | {cells['touched_frames']} | "
                  f"{cells['touched_with_pose']} | {cells['position_rms_percent']:.4f} / "
                  f"{cells['position_max_percent']:.4f} | {cells['attitude_max_deg']:.3f} | "
                  f"{cells['poses']} / {cells['frames']} | {cells['wrong']} |")
    path = write_timestamped_csv(per_frame, args.out, 'hot_pixels')
    print(f'\n{time.time() - started:.0f} s; CSV (per frame): {path}')


if __name__ == '__main__':
    main()
