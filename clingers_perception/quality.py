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

"""The detection-quality report published for every input frame."""

from dataclasses import dataclass, field
import math

import numpy as np

OK = 0
WARN = 1
ERROR = 2
LEVEL_NAMES = {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR'}
# A fit whose residuals right fits leave at least this often is fully consistent.
CONSISTENT_CHANCE = 0.05


@dataclass
class QualityReport:
    """Level, a message a person can act on, and the values of the interface contract."""

    level: int
    message: str
    state: str
    leds_expected: int
    leds_detected: float = math.nan
    leds_matched: float = math.nan
    reprojection_rms_px: float = math.nan
    confidence: float = 0.0
    range_m: float = math.nan
    detector_profile: str = 'nan'
    processing_ms: float = math.nan
    extra: dict = field(default_factory=dict)

    def key_values(self):
        """Return (key, text) pairs; a value this frame does not have reads 'nan'."""
        values = [
            ('state', self.state),
            ('leds_expected', _text(self.leds_expected)),
            ('leds_detected', _text(self.leds_detected)),
            ('leds_matched', _text(self.leds_matched)),
            ('reprojection_rms_px', _text(self.reprojection_rms_px, 3)),
            ('confidence', _text(self.confidence, 3)),
            ('range_m', _text(self.range_m, 4)),
            ('detector_profile', self.detector_profile),
            ('processing_ms', _text(self.processing_ms, 3)),
        ]
        values.extend((key, str(value)) for key, value in self.extra.items())
        return values


def _text(value, digits=None):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return 'nan'
    if isinstance(value, float) and float(value).is_integer() and digits is None:
        return str(int(value))
    return f'{value:.{digits}f}' if digits is not None else str(value)


def fit_confidence(residuals_px, noise_px, matched, expected):
    """
    Return a 0..1 confidence: how consistent the fit is with the noise, times the LED coverage.

    The chance of residuals this large is uniform over right fits, so it is not a confidence
    by itself; it becomes one when measured against the tail: 1 for the 95 % of right fits
    and falling to 0 as the residuals move into the last 5 %.
    """
    coverage = matched / expected
    if 2 * matched - 6 <= 0:
        return coverage * 0.5
    return coverage * min(1.0, residual_chance(residuals_px, noise_px) / CONSISTENT_CHANCE)


def residual_chance(residuals_px, noise_px):
    """
    Return the chance that a right fit of these point residuals leaves residuals this large.

    This is the chi-square survival function of the squared residuals over the noise (one
    value, or one per point), with 2M - 6 degrees of freedom for M points. That is even, so the
    function has a closed form.
    """
    dof = 2 * len(residuals_px) - 6
    if dof <= 0:
        return 1.0
    normalised = np.asarray(residuals_px, np.float64) / noise_px
    half_chi2 = 0.5 * float(normalised @ normalised)
    term, total = 1.0, 1.0
    for k in range(1, dof // 2):
        term *= half_chi2 / k
        total += term
    return min(1.0, math.exp(-half_chi2) * total)
