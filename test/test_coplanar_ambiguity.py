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

"""Tests of benchmarks/coplanar_ambiguity.py: its sequential test and a short real run."""

import csv

from benchmark_scripts import load_benchmark
import pytest

coplanar_ambiguity = load_benchmark('coplanar_ambiguity')


def _rows(differences_px2, true_px2=1e-4):
    return [{'range_m': 5.0 - 0.01 * index, 'minima': 2 if d is not None else 1,
             'true_sq_px2': true_px2, 'mirror_sq_px2': true_px2 + (d or 0.0), 'band': '5-3'}
            for index, d in enumerate(differences_px2)]


def test_sequential_test_sums_frames_until_the_limit():
    # One unit of log-odds per frame at sigma 0.01 px; frames with one minimum add nothing.
    rows = _rows([1e-4, None] * 20)
    range_m, right = coplanar_ambiguity.sequential_decision(rows, 0.01)
    frames = int(coplanar_ambiguity.LOG_ODDS_LIMIT) + 1
    assert right
    assert range_m == pytest.approx(rows[2 * (frames - 1)]['range_m'])


def test_sequential_test_reports_a_wrong_choice_and_no_choice():
    assert coplanar_ambiguity.sequential_decision(_rows([-4e-4] * 10), 0.01)[1] is False
    assert coplanar_ambiguity.sequential_decision(_rows([1e-6] * 10), 0.01) is None
    # The noise may depend on the frame (the band's prior).
    decision = coplanar_ambiguity.sequential_decision(_rows([1e-4] * 30), lambda row: 0.1)
    assert decision is None


def test_short_run_writes_frames_where_the_true_pose_fits(tmp_path, capsys):
    coplanar_ambiguity.main(['--scenarios', 'coplanar', '--runs', '1', '--min-range', '4.5',
                             '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert 'coplanar                 5-3' in out
    assert 'Sequential test from 5 m' in out
    (path,) = tmp_path.glob('coplanar_ambiguity_*.csv')
    with open(path, newline='') as stream:
        rows = list(csv.DictReader(stream))
    assert rows and all(float(r['range_m']) >= 4.5 and r['band'] == '5-3' for r in rows)
    solved = [r for r in rows if int(r['minima']) > 0]
    assert len(solved) >= 0.9 * len(rows)
    # The true pose fits to noise level; where a mirror exists it fits too, at a few noise
    # levels at most: that is the ambiguity.
    assert max(float(r['true_rms_px']) for r in solved) < 0.05
    mirrors = [float(r['mirror_rms_px']) for r in solved if int(r['minima']) == 2]
    assert mirrors and max(mirrors) < 0.25


def test_a_non_coplanar_scenario_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match='baseline has a non-coplanar layout'):
        coplanar_ambiguity.main(['--scenarios', 'baseline', '--out', str(tmp_path)])
