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
LED placement noise and bias per range band, with and without the radial-profile fit.

Below 0.6 m the evaluation's position error is several times the Cramér-Rao bound because the
placement of an LED inside a saturated spot is biased by more than its noise. This script
measures, per scenario and band, the centroid noise (sigma) and bias as the evaluation does
(evaluation.measure_scenario_noise: true poses of the band rendered repeatedly with fresh
noise, the node's detector in the band the pipeline uses, each LED matched to its spot) twice:
with the node's default parameters, and with `bands.mid.fit_profile` and
`bands.near.fit_profile` set (radial_profile). It prints a table and writes a CSV.

    PYTHONPATH=. python3 benchmarks/spot_centre_bias.py                  # about 15 s
    PYTHONPATH=. python3 benchmarks/spot_centre_bias.py --scenarios vga --poses 24 --repeats 8
"""

import argparse
from dataclasses import replace
import sys
import time

from clingers_perception.demo import write_timestamped_csv
from clingers_perception.evaluation import (measure_scenario_noise, PROFILE_FIT_PARAMETERS,
                                            select_scenarios)


def main(argv=None):
    """Measure both placements, print the table, write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scenarios', nargs='+',
                        default=['baseline', 'flare_0', 'flare_3', 'off_axis_30', 'vga'])
    parser.add_argument('--poses', type=int, default=12, help='true poses per band')
    parser.add_argument('--repeats', type=int, default=8, help='noise draws per pose')
    parser.add_argument('--out', default='results')
    args = parser.parse_args(argv)
    started = time.time()
    rows = []
    for scenario in select_scenarios(args.scenarios):
        default = measure_scenario_noise(scenario, args.poses, args.repeats)
        fitted = measure_scenario_noise(replace(scenario, parameters=PROFILE_FIT_PARAMETERS),
                                        args.poses, args.repeats)
        for band, measured in default.items():
            rows.append({'scenario': scenario.name, 'band': band, 'spots': measured.spots,
                         'default_sigma_px': measured.sigma_px,
                         'default_bias_px': measured.bias_px,
                         'profile_fit_sigma_px': fitted[band].sigma_px,
                         'profile_fit_bias_px': fitted[band].bias_px})
        print(f'# {scenario.name} ({time.time() - started:.0f} s)', file=sys.stderr)
    print('| scenario | band m | spots | default sigma / bias px | fit_profile sigma / bias px |'
          ' bias ratio |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        print(f'| {row["scenario"]} | {row["band"]} | {row["spots"]} | '
              f'{row["default_sigma_px"]:.4f} / {row["default_bias_px"]:.4f} | '
              f'{row["profile_fit_sigma_px"]:.4f} / {row["profile_fit_bias_px"]:.4f} | '
              f'{row["default_bias_px"] / row["profile_fit_bias_px"]:.1f}x |')
    path = write_timestamped_csv(rows, args.out, 'spot_centre_bias')
    print(f'\n{len(rows)} bands in {time.time() - started:.0f} s; CSV: {path}')


if __name__ == '__main__':
    main()
