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
clingers_eval: run the evaluation suite and write its tables and plots.

    clingers_eval                      # the full suite (a few minutes)
    clingers_eval --quick              # a small subset, for tests and a first look
    clingers_eval --scenarios baseline vga --output /tmp/eval

Prints a markdown table to stdout and a progress bar to stderr; writes frames.csv,
summary.csv, centroid_noise.csv, targets.csv, summary.md and PNG plots under the output folder
(default results/evaluation).
See docs/evaluation.md for what each number means.
"""

import argparse
import csv
import dataclasses
import math
import os
import sys
import time

from clingers_perception.evaluation import (ALL_BANDS, check_targets,
                                            measure_scenario_noise, OURS, RANGE_BANDS,
                                            run_scenario, SCENARIOS, SEED, select_scenarios,
                                            summarize, WRONG_ATTITUDE_DEG,
                                            WRONG_POSITION_PERCENT)
from clingers_perception.replay import ProgressBar

MAIN_PLOT = 'error_vs_range.png'


def main(argv=None):
    """Run the chosen scenarios; return the exit status (0 also when targets are missed)."""
    parser = argparse.ArgumentParser(
        prog='clingers_eval', description='Evaluate the LED pose pipeline against the prototype '
        'baseline and the Cramér-Rao bound on rendered docking approaches.')
    parser.add_argument('--quick', action='store_true',
                        help='a small subset with few frames (tests, a first look)')
    parser.add_argument('--scenarios', nargs='+', metavar='NAME',
                        help='scenarios to run (default: all); '
                        + ', '.join(s.name for s in SCENARIOS))
    parser.add_argument('--frames', type=int, default=None,
                        help="frames per approach (default: each scenario's own)")
    parser.add_argument('--output', default=os.path.join('results', 'evaluation'),
                        help='folder for the CSV and PNG files (default: results/evaluation)')
    args = parser.parse_args(argv)
    try:
        scenarios = select_scenarios(args.scenarios, args.quick)
    except ValueError as error:
        parser.error(str(error))
    if args.frames is not None:
        if args.frames < 2:
            parser.error('--frames must be at least 2')
        scenarios = [dataclasses.replace(s, frames=args.frames) for s in scenarios]
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as error:
        parser.error(f'--output {args.output}: {error.strerror}')

    started = time.monotonic()
    runs, summaries = [], []
    bar = ProgressBar(sum(s.frames for s in scenarios))
    done = 0
    for scenario in scenarios:
        bar.update(done, f'{scenario.name}: measuring centroid noise')
        noise = measure_scenario_noise(scenario)

        def progress(index, scenario=scenario, offset=done):
            bar.update(offset + index + 1, scenario.name)

        run = run_scenario(scenario, noise, progress)
        done += scenario.frames
        runs.append(run)
        summaries.extend(summarize(run))
    bar.close()
    elapsed = time.monotonic() - started

    checks = [c for run in runs for c in check_targets(
        [s for s in summaries if s.scenario == run.scenario.name])]
    report = markdown_report(runs, summaries, checks, elapsed)
    sys.stdout.write(report)
    with open(os.path.join(args.output, 'summary.md'), 'w') as stream:
        stream.write(report)
    _write_csv(os.path.join(args.output, 'frames.csv'),
               [dataclasses.asdict(r) for run in runs for r in run.records])
    _write_csv(os.path.join(args.output, 'summary.csv'),
               [dataclasses.asdict(s) for s in summaries])
    _write_csv(os.path.join(args.output, 'centroid_noise.csv'),
               [dict(scenario=run.scenario.name, band=band, **dataclasses.asdict(noise))
                for run in runs for band, noise in run.centroid_noise.items()])
    _write_csv(os.path.join(args.output, 'targets.csv'), [dataclasses.asdict(c) for c in checks])
    write_plots(runs, args.output)
    return 0


def markdown_report(runs, summaries, checks, elapsed_s):
    """Return the markdown tables: per scenario and band, then the targets."""
    lines = [f'# clingers_eval: {len(runs)} scenario(s), '
             f'{sum(len(r.records) for r in runs) // 2} frames, {elapsed_s:.0f} s', '']
    for run in runs:
        scenario = run.scenario
        lines.append(f'- **{scenario.name}**: {scenario.description} '
                     f'({scenario.width}x{scenario.height}, {scenario.frames} frames)')
    lines += ['', 'Cells with two values are ours / seed. Errors are over the frames with a pose; '
              'detection over the frames with every LED in view. Bound: Cramér-Rao RMS '
              'position error for the measured centroid noise sigma.', '']
    header = ['scenario', 'band m', 'frames (all LEDs)', 'detection %', 'pos err % median',
              'pos err % p95', 'RMS / bound', 'bound % (sigma / bias px)', 'att err deg p95',
              'range err % p95', 'wrong', 'NEES pos / att', 'ms median']
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('|' + '---|' * len(header))
    by_key = {(s.scenario, s.method, s.band): s for s in summaries}
    for run in runs:
        for band in [b.name for b in RANGE_BANDS] + [ALL_BANDS]:
            ours = by_key.get((run.scenario.name, OURS, band))
            seed = by_key.get((run.scenario.name, SEED, band))
            if ours is None:
                continue
            cells = [
                run.scenario.name if band == RANGE_BANDS[0].name else '',
                f'**{band}**' if band == ALL_BANDS else band,
                f'{ours.frames} ({ours.all_visible_frames})',
                _pair(ours.detection_rate * 100, seed.detection_rate * 100, 1),
                _pair(ours.position_median_percent, seed.position_median_percent, 3),
                _pair(ours.position_p95_percent, seed.position_p95_percent, 3),
                _number(ours.bound_ratio, 2),
                f'{_number(ours.bound_rms_percent, 4)} ({_number(ours.centroid_sigma_px, 3)} / '
                f'{_number(ours.centroid_bias_px, 3)})',
                _pair(ours.attitude_p95_deg, seed.attitude_p95_deg, 2),
                _pair(ours.range_error_p95_percent, seed.range_error_p95_percent, 3),
                f'{ours.wrong} / {seed.wrong}',
                f'{_number(ours.nees_position_mean, 2)} / {_number(ours.nees_attitude_mean, 2)}',
                _pair(ours.processing_median_ms, seed.processing_median_ms, 1),
            ]
            lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', '## Targets (ours)', '']
    names = list(dict.fromkeys(c.target for c in checks))
    lines.append('| scenario | ' + ' | '.join(names) + ' |')
    lines.append('|' + '---|' * (len(names) + 1))
    for run in runs:
        row = {c.target: c for c in checks if c.scenario == run.scenario.name}
        cells = [('met' if row[n].met else '**missed**') + f': {row[n].measured}'
                 for n in names]
        lines.append(f'| {run.scenario.name} | ' + ' | '.join(cells) + ' |')
    lines.append('')
    return '\n'.join(lines) + '\n'


def write_plots(runs, folder):
    """Write one error-vs-range PNG per scenario, and MAIN_PLOT for the first scenario."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    for index, run in enumerate(runs):
        figure = _error_figure(pyplot, run)
        figure.savefig(os.path.join(folder, f'error_vs_range_{run.scenario.name}.png'), dpi=80)
        if index == 0:
            figure.savefig(os.path.join(folder, MAIN_PLOT), dpi=80)
        pyplot.close(figure)


def _error_figure(pyplot, run):
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    records = run.records
    panels = (('position_error_percent', 'bound_position_percent',
               'position error (% of range)', WRONG_POSITION_PERCENT),
              ('attitude_error_deg', 'bound_attitude_deg', 'attitude error (deg)',
               WRONG_ATTITUDE_DEG))
    for axis, (error, bound, label, wrong) in zip(axes, panels):
        for method, style in (
                (SEED, {'marker': 'x', 'color': 'tab:orange', 's': 10, 'alpha': 0.6}),
                (OURS, {'marker': 'o', 'color': 'tab:blue', 's': 6, 'alpha': 0.6})):
            chosen = [r for r in records if r.method == method and r.has_pose]
            axis.scatter([r.range_m for r in chosen],
                         [max(getattr(r, error), 1e-5) for r in chosen],
                         label=f'{method} ({len(chosen)} poses)', **style)
        limit = sorted((r.range_m, getattr(r, bound)) for r in records
                       if r.method == OURS and math.isfinite(getattr(r, bound)))
        if limit:
            ranges, values = zip(*limit)
            axis.plot(ranges, values, color='black', lw=1.2, label='Cramér-Rao bound (RMS)')
            axis.plot(ranges, [2.0 * v for v in values], color='black', lw=0.8, ls='--',
                      label='2x bound')
        axis.axhline(wrong, color='tab:red', lw=0.8, ls=':', label='wrong-pose limit')
        for band in RANGE_BANDS[1:]:
            axis.axvline(band.far_m, color='grey', lw=0.5, alpha=0.5)
        axis.set_xscale('log')
        axis.set_yscale('log')
        limits = [RANGE_BANDS[0].far_m] + [b.near_m for b in RANGE_BANDS]
        axis.set_xticks(limits)
        axis.set_xticklabels([f'{v:g}' for v in limits])
        axis.minorticks_off()
        axis.set_xlim(1.1 * limits[0], 0.9 * limits[-1])
        axis.set_xlabel('range (m)')
        axis.set_ylabel(label)
        axis.grid(True, which='major', alpha=0.3)
    axes[0].legend(loc='upper left', fontsize=8)
    figure.suptitle(f'{run.scenario.name}: {run.scenario.description}', fontsize=10)
    return figure


def _write_csv(path, rows):
    if not rows:
        open(path, 'w').close()
        return
    with open(path, 'w', newline='') as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(value):
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.6g}'
    return value


def _number(value, digits):
    return '-' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def _pair(ours, seed, digits):
    return f'{_number(ours, digits)} / {_number(seed, digits)}'


if __name__ == '__main__':
    sys.exit(main())
