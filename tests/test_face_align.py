"""Alignment, One-Euro smoothing, tracking choice, and real MediaPipe on real and drawn faces."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.align import DEFAULT_CROP, align_face, crop_matrix, face_crop_matrix, invert
from avatar_cam.face import FaceDetector, FaceTracker, OneEuroFilter, TrackerConfig
from avatar_cam.frame import Face


def _face(cx: float, cy: float, size: float, tilt_deg: float = 0.0) -> Face:
    a = math.radians(tilt_deg)
    d = np.array([math.cos(a), math.sin(a)]) * size * 0.25
    c = np.array([cx, cy - size * 0.1])
    kps = np.array([c - d, c + d, [cx, cy], [cx, cy + size * 0.25], c - 2 * d, c + 2 * d], np.float32)
    return Face(box=(cx - size / 2, cy - size / 2, size, size), keypoints=kps)


def _apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return m[:, :2] @ p + m[:, 2]


@pytest.mark.parametrize("tilt", [-30.0, 0.0, 17.0])
def test_crop_levels_the_eye_line_and_centres_the_face(tilt: float) -> None:
    face = _face(300, 200, 120, tilt)
    m = face_crop_matrix(face, 256)
    r, left = (_apply(m, e) for e in face.eyes)
    assert abs(r[1] - left[1]) < 1e-3, "eyes must be level in the crop"
    assert r[0] < left[0], "person's right eye stays on the image left"
    px = 256 / (DEFAULT_CROP.scale * 120)  # crop pixels per image pixel
    c = _apply(m, np.array(face.center))
    assert abs(c[0] - 128) < 1e-3, "the face centre sits on the crop's vertical midline"
    assert abs(c[1] - (128 + DEFAULT_CROP.shift_y * 120 * px)) < 1e-3, "shifted up to show hair"
    assert abs(np.linalg.norm(left - r) - 0.5 * 120 * px) < 1e-2, "face box fills 1/scale of the crop"


def test_invert_round_trips() -> None:
    m = crop_matrix(np.array([10.0, 20.0]), np.array([50.0, 30.0]), (40.0, 40.0), 100.0, 128)
    p = np.array([33.0, 44.0])
    assert np.allclose(_apply(invert(m), _apply(m, p)), p, atol=1e-6)


def test_one_euro_is_steady_when_still_and_quick_when_moving() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.2, beta=0.5)
    noisy = [f(np.array([100.0 + rng.normal(0, 2.0)]), i / 30, scale=100)[0] for i in range(90)]
    assert np.std(noisy[30:]) < 1.0, "jitter of a still face must shrink"
    f.reset()
    out = [f(np.array([0.0 if i < 10 else 100.0]), i / 30, scale=100)[0] for i in range(20)]
    assert out[13] > 80, f"a fast move must be followed within ~3 frames, got {out[10:14]}"


class _ScriptedDetector:
    def __init__(self, script: list[list[Face]]):
        self.script = script
        self.i = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self.script[min(self.i, len(self.script) - 1)]
        self.i += 1
        return faces


def test_tracker_picks_central_face_then_sticks_to_it() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    center, side = _face(320, 240, 100), _face(100, 240, 110)
    moved_side = _face(110, 240, 150)
    det = _ScriptedDetector([[side, center], [moved_side, _face(325, 240, 100)], [], [], [], [], []])
    tr = FaceTracker(det)  # type: ignore[arg-type]
    assert abs(tr.update(img, 0.0).center[0] - 320) < 1
    second = tr.update(img, 1 / 30)
    assert abs(second.center[0] - 320) < 10, "must not jump to a bigger face elsewhere"
    assert tr.measured is not None  # found on this frame
    held = []
    for k in range(4):
        held.append(tr.update(img, (2 + k) / 30))
        # the held face is not a measurement: overlay mode must not paste a cartoon on it (a fast
        # lean the detector missed sent the face beside the cartoon at its old place)
        assert tr.measured is None
    assert all(h is not None for h in held[:3]) and held[3] is None, "lost face held 3 frames"


def test_mediapipe_finds_the_drawn_demo_face(demo_face: np.ndarray) -> None:
    faces = FaceDetector().detect(demo_face)
    assert len(faces) == 1
    crop = align_face(demo_face, faces[0], 128)
    assert crop.shape == (128, 128, 3)


def test_mediapipe_tracks_every_frame_of_a_real_clip(clip_651: Path) -> None:
    cap = cv2.VideoCapture(str(clip_651))
    tracker = FaceTracker(FaceDetector())
    found, i = 0, 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        face = tracker.update(img, i / 24)
        found += face is not None
        i += 1
    assert i == 62 and found == 62


def test_flow_between_detections_follows_the_face_like_the_detector(clip_651: Path) -> None:
    cap = cv2.VideoCapture(str(clip_651))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    det = FaceDetector()
    every = FaceTracker(det, TrackerConfig(detect_every=1))
    third = FaceTracker(det, TrackerConfig(detect_every=3))
    errs = []
    for i, img in enumerate(frames):
        a, b = every.update(img, i / 24), third.update(img, i / 24)
        errs.append(np.linalg.norm(a.keypoints - b.keypoints, axis=1).mean() / a.box[2])
    assert third.detections <= len(frames) // 3 + 2 and every.detections == len(frames)
    assert max(errs) < 0.02, f"flow drifted {max(errs):.3f} face widths from the detector"


def test_flow_survives_a_resolution_change(demo_face: np.ndarray) -> None:
    tracker = FaceTracker(FaceDetector(), TrackerConfig(detect_every=3))
    assert tracker.update(demo_face, 0.0) is not None
    small = cv2.resize(demo_face, (320, 240))
    face = tracker.update(small, 1 / 30)  # flow cannot compare different sizes: re-detects
    assert face is not None and tracker.detections == 2


def test_silencing_native_stderr_is_safe_across_threads(capfd: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The window starts MediaPipe on two threads at once: fd 2 (where native code writes) is
    silenced while any of them is starting and given back whole afterwards, with no
    closed-descriptor errors; also when `sys.stderr` is not fd 2 (a test harness's capture)."""
    import io
    import os
    import sys
    import threading
    import time

    from avatar_cam.face import quiet_native_stderr

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # no descriptor of its own
    errors: list[BaseException] = []

    def start_many() -> None:
        try:
            for _ in range(100):
                with quiet_native_stderr():
                    os.write(2, b"banner\n")
                    time.sleep(0.0002)  # another thread starts meanwhile
        except BaseException as e:  # noqa: BLE001 (any failure fails the test)
            errors.append(e)

    threads = [threading.Thread(target=start_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"shown\n")
    assert not errors and capfd.readouterr().err == "shown\n"
