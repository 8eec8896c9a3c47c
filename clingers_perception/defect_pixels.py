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
Learn the sensor's hot pixels while tracking, and paint them out of the detector's windows.

A hot pixel touching an LED's spot joins its blob. Where it is clipped, the spot's sharp top
or far sharper than the spot's flank, the spot's Gaussian tells it apart in one frame
(spot_centre.without_hot_pixels); one only a little brighter than the flank it lands on looks
like the spot's light, and moves it by a few hundredths of a pixel. What does tell it is that
it stays on the same pixel while the LEDs move. So while a track holds, each frame looks at a
few rows of the frame, away from every spot found and from where an unmatched LED should be,
for pixels standing HOT_STEP_DN above all eight neighbours; one seen there on HOT_SIGHTINGS
passes in a row is a defect. A hot pixel beside an LED's path is then mostly learned while the
LED approaches it, before its spot touches it. The detector replaces a defect in its windows by
the mean of its four neighbours (full scale beside a clipped one), which its threshold and
shape filters see; a spot's Gaussian is fitted without it and gives it its value
(spot_centre.without_known_defects), as the mean of the neighbours underestimates a dim spot's
peak. A glint that stays on one pixel is learned as well, which does no harm.
"""

import bisect

from clingers_perception.image_decoding import to_8bit
from clingers_perception.spot_centre import NEIGHBOURS, SATURATION_LEVEL
import cv2
import numpy as np

# Rows looked at per tracked frame: a pass over 1024 rows takes 64 frames, about 20 us each
# at 1280 columns.
SCAN_ROWS = 16
# A pixel this much (8-bit DN) above the brightest of its neighbours stands alone.
HOT_STEP_DN = 20
# Passes in a row that must see it before it counts: a pixel standing alone by chance (read
# noise 20 DN above eight neighbours, about 1e-6 per pixel at 6 DN of noise) is not there again
# a pass later. Two, so that a hot pixel beside an LED's path is learned before the LED's light
# hides it (a slow approach lingers for seconds at a few pixels from it).
HOT_SIGHTINGS = 2
# More candidates than this share of the pixels scanned (a thousandth: 20 in 16 rows of 1280)
# are a textured scene, not a sensor's defects (commonly 1e-5 to 1e-4 of its pixels).
MAX_CANDIDATE_FRACTION = 1e-3
MAX_DEFECTS = 1024


class DefectPixelMap:
    """The hot pixels found so far in frames of one size."""

    def __init__(self):
        """Start empty."""
        self.reset()

    def reset(self):
        """Forget everything (another frame size: other pixels)."""
        # (row, column), sorted: the defects of a window's rows are found by bisection.
        self._known = []
        self._known_set = set()
        self._sightings = {}
        self._next_row = 0

    @property
    def count(self):
        """Return how many defects are known."""
        return len(self._known)

    @property
    def pixels(self):
        """Return the known defects as a set of (x, y)."""
        return set(self._known_set)

    def scan(self, image, lit, mono16_bits=16):
        """
        Look at the next SCAN_ROWS rows of `image` away from the LEDs' light.

        `lit()` returns the Windows that may hold it; it is asked only when these rows have a
        candidate, which most frames' rows do not. `mono16_bits` as the detector's.
        """
        height = image.shape[0]
        top = self._next_row if self._next_row < height else 0
        bottom = min(height, top + SCAN_ROWS)
        self._next_row = bottom
        if len(self._known) >= MAX_DEFECTS:
            return
        # A row either side, so the first and last rows scanned have all their neighbours.
        above, below = max(0, top - 1), min(height, bottom + 1)
        rows = to_8bit(image[above:below], mono16_bits)
        darkest, brightest = cv2.minMaxLoc(rows)[:2]
        candidates = set()
        # Rows of background alone (most of a frame) cannot hold a pixel standing out so far.
        if brightest - darkest >= HOT_STEP_DN:
            # Saturating: zero unless the pixel is above all its neighbours; dilate's border is
            # neutral for a maximum, so edge pixels are judged by the neighbours they have.
            step = cv2.subtract(rows, cv2.dilate(rows, NEIGHBOURS))[top - above:bottom - above]
            # Often nothing new stands out: one maximum says so, for a tenth of a full search.
            if cv2.minMaxLoc(step)[1] >= HOT_STEP_DN:
                found = cv2.findNonZero(cv2.threshold(step, HOT_STEP_DN - 1, 1,
                                                      cv2.THRESH_BINARY)[1])
                if len(found) > max(1.0, MAX_CANDIDATE_FRACTION * step.size):
                    return
                candidates = {(x, y + top)
                              for x, y in found.reshape(-1, 2).tolist()} - self._known_set
        pending = [p for p in self._sightings if top <= p[1] < bottom]
        if not candidates and not pending:
            return
        hidden = [w for w in lit() if w.y0 < bottom and w.y1 > top]

        def in_light(x, y):
            return any(w.x0 <= x < w.x1 and w.y0 <= y < w.y1 for w in hidden)

        seen = {p for p in candidates if not in_light(*p)}
        # A candidate of these rows not seen again starts over, unless LED light hid it.
        for pixel in pending:
            if pixel not in seen and not in_light(*pixel):
                del self._sightings[pixel]
        for pixel in seen:
            count = self._sightings.get(pixel, 0) + 1
            if count >= HOT_SIGHTINGS:
                bisect.insort(self._known, (pixel[1], pixel[0]))
                self._known_set.add(pixel)
                del self._sightings[pixel]
            else:
                self._sightings[pixel] = count

    def paint_out(self, roi, window):
        """
        Return (image, painted): `roi` of `window` with its defects replaced, and where they are.

        Each defect takes the mean of its four neighbours (those inside the roi), as read
        before any defect was replaced, or full scale beside a clipped one; `roi` is copied
        first, never written. `painted` is a 0/1 uint8 image of the defects' pixels, for the
        spot placement to fit around (spot_centre.without_known_defects). (roi, None) when the
        window holds no defect.
        """
        rows_of_window = self._known[bisect.bisect_left(self._known, (window.y0, -1)):
                                     bisect.bisect_left(self._known, (window.y1, -1))]
        inside = [(y - window.y0, x - window.x0) for y, x in rows_of_window
                  if window.x0 <= x < window.x1]
        if not inside:
            return roi, None
        rows, cols = (np.array(v, np.intp) for v in zip(*inside))
        height, width = roi.shape
        source = roi.astype(np.float32)
        total = np.zeros(cols.size, np.float32)
        count = np.zeros(cols.size, np.float32)
        clipped = np.zeros(cols.size, bool)
        for d_row, d_col in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r, c = rows + d_row, cols + d_col
            ok = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            total[ok] += source[r[ok], c[ok]]
            count[ok] += 1.0
            clipped[ok] |= source[r[ok], c[ok]] >= SATURATION_LEVEL
        value = np.round(total / np.maximum(count, 1.0))
        # Beside a clipped pixel the light may have clipped too: the mean of the neighbours
        # would be a made-up unclipped value, which a Gaussian fit would trust. A clipped one
        # it leaves out, and a disc's rim fit checks a lone bright pixel on its outline.
        value[clipped] = 255
        image = roi.copy()
        image[rows, cols] = value.astype(np.uint8)
        painted = np.zeros_like(roi)
        painted[rows, cols] = 1
        return image, painted
