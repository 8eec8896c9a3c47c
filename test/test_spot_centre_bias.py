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

"""A short real run of benchmarks/spot_centre_bias.py: its table and CSV."""

import csv

from benchmark_scripts import load_benchmark

spot_centre_bias = load_benchmark('spot_centre_bias')


def test_short_run_measures_both_placements_per_band(tmp_path, capsys):
    spot_centre_bias.main(['--scenarios', 'flare_0', '--poses', '2', '--repeats', '3',
                           '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert '| flare_0 | 0.3-0.12 |' in out
    (path,) = tmp_path.glob('spot_centre_bias_*.csv')
    with open(path, newline='') as stream:
        rows = {row['band']: row for row in csv.DictReader(stream)}
    assert set(rows) == {'5-3', '3-1.2', '1.2-0.6', '0.6-0.3', '0.3-0.12'}
    # Unsaturated far spots are placed as before; saturated near ones with less bias.
    assert rows['5-3']['default_bias_px'] == rows['5-3']['profile_fit_bias_px']
    near = rows['0.3-0.12']
    assert float(near['profile_fit_bias_px']) < 0.5 * float(near['default_bias_px'])
