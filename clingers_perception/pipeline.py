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

"""One call per frame: decode, detect, identify, solve, track and report."""

from dataclasses import dataclass, field
import math
import time

from clingers_perception.blob_detection import BlobDetector, Window
from clingers_perception.camera_model import CameraModel, CameraModelError
from clingers_perception.defect_pixels import DefectPixelMap
from clingers_perception.frame_gaps import FrameGapCounter
from clingers_perception.identification import IdentificationLimits, LedIdentifier
from clingers_perception.image_decoding import decode_mono, ImageDecodeError, to_8bit
from clingers_perception.pose_estimation import (fitting_rivals, pose_covariance, PoseEstimate,
                                                 solve_pose)
from clingers_perception.quality import ERROR, fit_confidence, OK, QualityReport, WARN
from clingers_perception.range_bands import (band_range_m, DEFAULT_BANDS, scaled_for_camera,
                                             select_band)
from clingers_perception.tracking import Tracker, TrackingSettings
import numpy as np


# Each frame's residuals update the measured centroid noise with this weight.
NOISE_AVERAGING_WEIGHT = 0.05
# The measured centroid noise is trusted down to this fraction of a band's prior. Where a band
# places the cores of flare smears it is trusted less: the four smears lean alike, and the
# pose absorbs that shared bias, so the residuals do not show it but the pose carries it.
NOISE_FLOOR_FRACTION = 0.05
CORE_NOISE_FLOOR_FRACTION = 0.2
# Pixels this far (px) around a spot's thresholded box may hold its light (defect_pixels).
LIT_MARGIN_PX = 3
# A frame with more of its pixels this bright (8-bit scale) has the sun or a lamp in view.
GLARE_LEVEL = 200


@dataclass(frozen=True)
class PipelineSettings:
    """Everything a user can tune; the node maps its parameters onto these fields."""

    detector_backend: str = 'threshold'
    mono16_bits: int = 16
    max_image_bytes: int = 64 * 1024 * 1024
    bands: tuple = DEFAULT_BANDS
    band_hysteresis: float = 0.1
    identification: IdentificationLimits = IdentificationLimits()
    tracking: TrackingSettings = TrackingSettings()
    coplanar_ambiguity_deg: float = 2.0
    learn_hot_pixels: bool = True


@dataclass
class FrameResult:
    """What one frame produced. `pose` is set only when it may be published."""

    stamp_s: float
    quality: QualityReport
    pose: PoseEstimate = None
    covariance: np.ndarray = None
    blobs: list = field(default_factory=list)
    blob_of_led: tuple = None
    timings_ms: dict = field(default_factory=dict)


class LedPosePipeline:
    """The perception pipeline for one camera watching one LED target."""

    def __init__(self, target, settings=PipelineSettings()):
        """Set up for `target` (an LedTarget); a camera must be set before frames give poses."""
        self.camera = None
        self._camera_error = 'no camera_info received yet'
        # The last calibration accepted (kept while a refused one is in force), and what the
        # next frame must say about a change of it.
        self._last_camera = None
        self._camera_change = None
        # Shape of the last frame processed: the track restarts when frames change size.
        self._frame_shape = None
        # Hot pixels learned while tracking (defect_pixels), painted out of every search.
        self.defects = DefectPixelMap()
        self.target = self.settings = self._band = None
        self.frame_gaps = FrameGapCounter()
        self.configure(target, settings)

    def configure(self, target, settings):
        """
        Apply a layout and settings, taking effect on the next frame.

        The track and the measured noise survive a change of settings; a new layout, or a
        change of the bands' noise priors, starts them again.
        """
        new_target = self.target is None or \
            not np.array_equal(target.positions, self.target.positions)
        new_priors = self.settings is None or \
            [b.centroid_noise_px for b in settings.bands] != \
            [b.centroid_noise_px for b in self.settings.bands]
        self.target = target
        self.settings = settings
        self.detector = BlobDetector(settings.detector_backend, settings.mono16_bits)
        if not settings.learn_hot_pixels:
            self.defects.reset()
        self.identifier = LedIdentifier(target, settings.identification)
        if new_target:
            self.tracker = Tracker(settings.tracking)
            self._last_stamp = None
            # Range of the last published pose: where an acquisition search starts.
            self._last_range_m = None
        self.tracker.settings = settings.tracking
        if new_target or new_priors:
            self._noise_var = {b.name: b.centroid_noise_px ** 2 for b in settings.bands}
        self._scale_bands()

    @property
    def bands(self):
        """Return the detector bands in use: the settings' bands fitted to the camera."""
        return self._bands

    def _scale_bands(self):
        """Fit the bands' area limits to the camera's focal length; keep the current band."""
        self._bands = self.settings.bands if self.camera is None else \
            scaled_for_camera(self.settings.bands, self.camera.focal_length_px)
        current = self._band.name if self._band is not None else None
        self._band = next((b for b in self._bands if b.name == current), self._bands[0])

    def set_camera(self, model=None, error=None):
        """Use a new calibration, or record why the last camera_info was refused."""
        if model is not None:
            last = self._last_camera
            if last is not None and not _same_calibration(model, last):
                self._camera_change = (
                    f'camera_info changed mid-run ({last.width}x{last.height}, fx '
                    f'{last.camera_matrix[0, 0]:.1f} px -> {model.width}x{model.height}, fx '
                    f'{model.camera_matrix[0, 0]:.1f} px)')
            self._last_camera = model
        self.camera, self._camera_error = model, error
        self._scale_bands()

    def set_camera_info(self, width, height, distortion_model, d, k, p, rectified=False):
        """Build the camera model from CameraInfo fields; return the error text or ''."""
        try:
            model = CameraModel.from_camera_info(width, height, distortion_model, d, k, p,
                                                 rectified)
        except CameraModelError as error:
            self.set_camera(None, f'camera_info refused: {error}')
            return str(error)
        if self.camera is None or not _same_calibration(model, self.camera):
            self.set_camera(model)
        return ''

    def model_pixels(self, pose):
        """Return where the LEDs of the target project at `pose` (Nx2 pixels), for display."""
        return self.camera.project_pose(self.target.positions, pose.rvec, pose.tvec)[0]

    def process(self, raw, stamp_s):
        """Run one frame (a RawImage) stamped `stamp_s` seconds; return its FrameResult."""
        start = time.perf_counter()
        timings = {}
        # Counted, not warned about: one lost frame is no reason for guidance to hold.
        self.frame_gaps.add(stamp_s)
        warnings = list(self._check_stamp(stamp_s))
        try:
            decoded = decode_mono(raw, self.settings.max_image_bytes)
        except ImageDecodeError as error:
            return self.frame_error(stamp_s, f'bad image: {error}', start)
        warnings.extend(decoded.warnings)
        if self.camera is None:
            return self.frame_error(stamp_s, self._camera_error, start)
        image = decoded.pixels
        if not self.camera.matches_image(image.shape[1], image.shape[0]):
            return self.frame_error(
                stamp_s, f'camera_info is for {self.camera.width}x{self.camera.height} but the '
                f'image is {image.shape[1]}x{image.shape[0]}', start)
        if self._frame_shape is not None and self._frame_shape != image.shape:
            # Another resolution (binning, ROI): the pixel history means nothing any more.
            self.tracker.reset()
            self.defects.reset()
        self._frame_shape = image.shape
        if self._camera_change:
            warnings.append(self._camera_change)
            self._camera_change = None
        last_pose = self.tracker.last_pose
        if self.tracker.expire(stamp_s):
            warnings.append(f'no pose for {stamp_s - last_pose.stamp_s:.2f} s (stream gap?): '
                            'track lost, re-acquiring')
        timings['decode'] = _ms(start)
        result = self._locate(image, stamp_s, timings)
        if warnings and result.quality.level == OK:
            result.quality.level = WARN
        if warnings:
            result.quality.message = '; '.join([result.quality.message] + warnings)
        result.quality.processing_ms = _ms(start)
        result.timings_ms = timings
        return result

    def _locate(self, image, stamp_s, timings):
        camera, target = self.camera, self.target
        prediction = self.tracker.predict(stamp_s)
        tick = time.perf_counter()
        identification, blobs, acquired = None, [], False
        if prediction is not None:
            self._band = select_band(self._bands, float(np.linalg.norm(prediction[1])),
                                     self._band, self.settings.band_hysteresis)
            prior = PoseEstimate(prediction[0], prediction[1], math.nan, None)
            predicted_px, _ = camera.project_pose(target.positions, *prediction)
            windows = self.tracker.search_windows(predicted_px, camera.width, camera.height)
            # A blob cut by its window's edge is not seen whole and its centre is where the
            # window ends: a saturated frame fills every window and puts a "spot" at each
            # predicted LED. Such blobs are left to the whole-frame search below.
            found = self.detector.detect(image, self._band, windows, defects=self.defects)
            blobs = [b for b in found if not b.clipped]
            timings['detect'] = _ms(tick)
            identification = self.identifier.match_predicted(
                camera, blobs, predicted_px, self.settings.tracking.window_margin_px,
                self._band, prior)
            if identification.match is not None:
                if self.settings.learn_hot_pixels:
                    scan_tick = time.perf_counter()
                    match = identification.match
                    self.defects.scan(image, lambda: self._lit(found, match, predicted_px),
                                      self.settings.mono16_bits)
                    timings['detect'] += _ms(scan_tick)
            else:
                # The windows missed (fast motion, a smear outgrowing its window): whole frame.
                blobs = self.detector.detect(image, self._band, defects=self.defects)
                identification = self.identifier.match_predicted(
                    camera, blobs, predicted_px, 4 * self.settings.tracking.window_margin_px,
                    self._band, prior)
            if identification.match is None and len(blobs) >= self.identifier.min_leds:
                # The prediction is off (a jolt, frames lost): search the frame from scratch,
                # with the same safeguards as a first acquisition.
                acquisition = self.identifier.acquire(
                    camera, blobs, self._band,
                    max(self._band.centroid_noise_px, self._noise_px(self._band)),
                    band_range_m(self._bands, self._band))
                if acquisition.match is not None:
                    identification, acquired = acquisition, True
            timings['identify'] = _ms(tick) - timings['detect']
        else:
            prior, first_failure = None, None
            # What the sensor's noise does to each spot's centroid judges the fits (identify).
            read_noise_dn = self.detector.read_noise_dn(image)
            for band in self._acquisition_order():
                tick = time.perf_counter()
                # Spots among distractors placed by the cheaper weighted centroid: enough to
                # match; acquisitions are rare and a track places its LEDs precisely.
                blobs = self.detector.detect(image, band, precise=False,
                                             read_noise_dn=read_noise_dn, defects=self.defects)
                timings['detect'] = timings.get('detect', 0.0) + _ms(tick)
                tick = time.perf_counter()
                identification = self.identifier.acquire(
                    camera, blobs, band, max(band.centroid_noise_px, self._noise_px(band)),
                    band_range_m(self._bands, band))
                timings['identify'] = timings.get('identify', 0.0) + _ms(tick)
                if identification.match is not None:
                    self._band = band
                    break
                if first_failure is None:
                    # The band expected from the last range explains the failure best.
                    first_failure, self._band = (identification, blobs), band
            else:
                identification, blobs = first_failure
            acquired = True
        tick = time.perf_counter()
        pose, reason = None, identification.reason
        if identification.match is not None:
            pose, reason = self._solve(blobs, identification.match, prior)
        timings['pose'] = _ms(tick)
        boxes = None
        if pose is not None:
            boxes = [blobs[i].bbox if i >= 0 else None
                     for i in identification.match.blob_of_led]
        publish = self.tracker.update(stamp_s, pose, boxes, acquired)
        if pose is not None and not publish:
            reason = 'acquired, confirming on the next frame before publishing'
        return self._report(stamp_s, image, blobs, identification, pose if publish else None,
                            reason, timings)

    def _lit(self, spots, match, predicted_px):
        """
        Return Windows that may hold an LED's light while a match holds: no hot pixel is there.

        Every spot found, with a margin for the flanks below threshold, and the window of an LED
        the match has no spot for (too dim for this band, or hidden).
        """
        margin, reach = LIT_MARGIN_PX, self.settings.tracking.window_margin_px
        lit = [Window(x - margin, y - margin, x + w + margin, y + h + margin)
               for x, y, w, h in (spot.bbox for spot in spots)]
        lit.extend(Window(int(x - reach), int(y - reach), int(x + reach) + 1, int(y + reach) + 1)
                   for (x, y), spot in zip(predicted_px, match.blob_of_led) if spot < 0)
        return lit

    def _acquisition_order(self):
        bands = list(self._bands)
        first = bands[0] if self._last_range_m is None else \
            select_band(bands, self._last_range_m)
        return [first] + [b for b in bands if b.name != first.name]

    def _solve(self, blobs, match, prior):
        if not self.target.coplanar:
            # Identification refined this pose on every matched LED; a non-coplanar layout has
            # one minimum, so solving again would find the same pose.
            candidates = [match.pose]
        else:
            seen = [i for i, b in enumerate(match.blob_of_led) if b >= 0]
            image_points = np.array([[blobs[match.blob_of_led[i]].x,
                                      blobs[match.blob_of_led[i]].y] for i in seen])
            reference = prior if prior is not None else match.pose
            candidates = solve_pose(self.camera, self.target.positions[seen], image_points,
                                    True, (reference.rvec, reference.tvec))
        best, rivals = fitting_rivals(candidates, self._band.max_reprojection_rms_px,
                                      np.radians(self.settings.coplanar_ambiguity_deg))
        if best is None:
            return None, 'pose refinement left residuals above the band limit'
        if rivals:
            # Not even a track chooses: where both mirrors fit, its prediction was nearer the
            # wrong one in 29-47 % of such frames beyond 3 m (7 % at 2-3 m), and the wrong one
            # fitted better in a sixth (the detector's bias is as large as their difference).
            return None, 'coplanar pose ambiguity: two mirror poses fit'
        return best, ''

    def _report(self, stamp_s, image, blobs, identification, pose, reason, timings):
        settings, target = self.settings, self.target
        match = identification.match
        matched = match.matched if match is not None else 0
        quality = QualityReport(
            level=OK, message='', state=self.tracker.state, leds_expected=target.count,
            leds_detected=len(blobs), leds_matched=matched,
            detector_profile=f'{self._band.name}/{settings.detector_backend}')
        result = FrameResult(stamp_s, quality, blobs=blobs)
        if pose is None:
            quality.level = WARN
            quality.message = reason or 'no pose'
            # Judged on the scale the detector sees: a 16-bit frame's raw values are not DN.
            frame = to_8bit(image, settings.mono16_bits)
            if not blobs and float(frame.mean()) < 1.0:
                quality.message += '; the frame is black (lens cap, exposure or camera fault?)'
            elif float(np.count_nonzero(frame >= GLARE_LEVEL)) > 0.2 * frame.size:
                quality.message += '; most of the frame is saturated (sun or lamp in view?)'
            if match is not None:
                quality.reprojection_rms_px = match.pose.rms_px
            return result
        tick = time.perf_counter()
        seen = [i for i, b in enumerate(match.blob_of_led) if b >= 0]
        noise_px = self._update_noise(pose, len(seen))
        covariance = pose_covariance(self.camera, target.positions[seen], pose, noise_px)
        timings['covariance'] = _ms(tick)
        result.pose, result.covariance, result.blob_of_led = pose, covariance, match.blob_of_led
        self._last_range_m = pose.range_m
        quality.reprojection_rms_px = pose.rms_px
        quality.range_m = pose.range_m
        quality.confidence = fit_confidence(pose.residuals_px, noise_px, len(seen), target.count)
        quality.extra['centroid_noise_px'] = f'{noise_px:.3f}'
        quality.message = f'{self.tracker.state.lower()} {len(seen)}/{target.count} LEDs at ' \
            f'{pose.range_m:.3f} m'
        return result

    def _update_noise(self, pose, matched):
        """Measure centroid noise from the residuals: the covariance is scaled by it."""
        dof = 2 * matched - 6
        if dof > 0:
            sample = float(np.sum(pose.residuals_px ** 2)) / dof
            self._noise_var[self._band.name] += NOISE_AVERAGING_WEIGHT * (
                sample - self._noise_var[self._band.name])
        return self._noise_px(self._band)

    def _noise_px(self, band):
        """Return the measured centroid noise of `band`, not below a share of its prior."""
        floor = CORE_NOISE_FLOOR_FRACTION if band.locate_core else NOISE_FLOOR_FRACTION
        return math.sqrt(max(self._noise_var[band.name], (floor * band.centroid_noise_px) ** 2))

    def _check_stamp(self, stamp_s):
        previous, self._last_stamp = self._last_stamp, stamp_s
        if previous is None or stamp_s > previous:
            return ()
        if stamp_s == previous:
            return ('stamp repeats the previous frame',)
        self.tracker.reset()
        return (f'stamp went back {previous - stamp_s:.3f} s: track restarted',)

    def frame_error(self, stamp_s, message, start=None):
        """
        Return the ERROR result of a frame that could not be used, counted as one without a pose.

        `start` is the perf_counter() time its processing began. The node also reports here a
        frame that failed in a way no check foresaw, so the track still coasts and goes LOST.
        """
        self.tracker.update(stamp_s, None, None, False)
        quality = QualityReport(level=ERROR, message=message, state=self.tracker.state,
                                leds_expected=self.target.count,
                                processing_ms=_ms(start) if start is not None else 0.0)
        return FrameResult(stamp_s, quality)


def _same_calibration(a, b):
    return a.matches_image(b.width, b.height) and \
        np.array_equal(a.camera_matrix, b.camera_matrix) and \
        np.array_equal(a.distortion, b.distortion)


def _ms(start):
    return 1000.0 * (time.perf_counter() - start)
