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

"""A short real run of benchmarks/hot_pixels.py: its table and per-frame CSV."""

import csv

from benchmark_scripts import load_benchmark

hot_pixels = load_benchmark('hot_pixels')


def test_short_run_compares_both_modes_on_the_same_frames(tmp_path, capsys):
    hot_pixels.main(['--approaches', '1', '--frames', '150', '--size', '640x480',
                     '--hot-dn', '150', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert 'one hot pixel adding 150 DN beside each LED' in out
    assert out.count('| learned by then |') == 2 and out.count('| not learned yet |') == 2
    (path,) = tmp_path.glob('hot_pixels_*.csv')
    with open(path, newline='') as stream:
        rows = list(csv.DictReader(stream))
    learned = [r for r in rows if r['learn_hot_pixels'] == 'True']
    unlearned = [r for r in rows if r['learn_hot_pixels'] == 'False']
    assert len(learned) == len(unlearned) == 150
    # Same frames, same touches; only the learning run learns.
    assert [r['touched'] for r in learned] == [r['touched'] for r in unlearned]
    assert int(learned[-1]['known_hot_pixels']) >= 12
    assert {r['known_hot_pixels'] for r in unlearned} == {'0'}
