"""avatar_cam.expression: the geometry on hand-made landmarks, and MediaPipe on real/blank images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from avatar_cam import expression as ex

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _face(mouth_gap: float = 4.0, eye_gap: float = 3.0, iris_dx: float = 0.0, cheek_dz: float = 0.0
          ) -> np.ndarray:
    """Landmarks of a frontal face, 100 px wide, eyes 10 px wide; everything else at the centre."""
    lm = np.zeros((ex.N_LANDMARKS, 3))
    lm[:, :2] = (50, 50)
    pts = {
        ex.RIGHT_CHEEK: (0, 50), ex.LEFT_CHEEK: (100, 50), ex.FOREHEAD: (50, 0), ex.CHIN: (50, 100),
        ex.RIGHT_EYE_OUTER: (25, 40), ex.RIGHT_EYE_INNER: (35, 40), ex.LEFT_EYE_INNER: (65, 40),
        ex.LEFT_EYE_OUTER: (75, 40), ex.RIGHT_EYE_TOP: (30, 40 - eye_gap / 2),
        ex.RIGHT_EYE_BOTTOM: (30, 40 + eye_gap / 2), ex.LEFT_EYE_TOP: (70, 40 - eye_gap / 2),
        ex.LEFT_EYE_BOTTOM: (70, 40 + eye_gap / 2), ex.MOUTH_RIGHT_CORNER: (40, 75),
        ex.MOUTH_LEFT_CORNER: (60, 75), ex.LIP_INNER_TOP: (50, 75 - mouth_gap / 2),
        ex.LIP_INNER_BOTTOM: (50, 75 + mouth_gap / 2), ex.RIGHT_IRIS: (30 + iris_dx, 40),
        ex.LEFT_IRIS: (70 + iris_dx, 40),
    }
    for i, (x, y) in pts.items():
        lm[i, :2] = (x, y)
    lm[ex.RIGHT_CHEEK, 2] = -cheek_dz / 2
    lm[ex.LEFT_CHEEK, 2] = cheek_dz / 2
    return lm


def _rotate(lm: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out = lm.copy()
    out[:, :2] = (lm[:, :2] - 50) @ r.T + 50
    return out


def test_measures_on_a_hand_made_face() -> None:
    e = ex.measures_from_landmarks(_face(mouth_gap=4, eye_gap=3, iris_dx=1.0, cheek_dz=100 * math.tan(0.2)))
    assert e.face_size == pytest.approx(100)
    assert e.mouth_open == pytest.approx(4 / 20)
    assert e.eye_open == pytest.approx((0.3, 0.3))
    assert e.roll == pytest.approx(0, abs=1e-9)
    assert e.yaw == pytest.approx(math.degrees(0.2))
    assert e.gaze[0] == pytest.approx(0.1) and e.gaze[1] == pytest.approx(0, abs=1e-9)


def test_roll_and_rotation_invariance() -> None:
    a = ex.measures_from_landmarks(_face(iris_dx=1.0))
    b = ex.measures_from_landmarks(_rotate(_face(iris_dx=1.0), 15))
    assert b.roll == pytest.approx(15)
    assert b.mouth_open == pytest.approx(a.mouth_open) and b.gaze[0] == pytest.approx(a.gaze[0])
    np.testing.assert_allclose(a.normalized(), b.normalized(), atol=1e-9)


def test_the_levelled_measures_are_those_of_the_levelled_face() -> None:
    """Brows, smile and mouth width are read from a few points levelled as plain floats; on a
    tilted, noisy face they equal the same measures taken on `normalized()` (all 478 points)."""
    rng = np.random.default_rng(3)
    for tilt in (-25.0, 0.0, 12.0):
        lm = _rotate(_face(mouth_gap=6) + rng.normal(0, 2.0, (ex.N_LANDMARKS, 3)), tilt)
        e = ex.measures_from_landmarks(lm)
        n = e.normalized()
        corners = (n[ex.MOUTH_LEFT_CORNER, 1] + n[ex.MOUTH_RIGHT_CORNER, 1]) / 2
        width = float(np.linalg.norm(n[ex.MOUTH_LEFT_CORNER] - n[ex.MOUTH_RIGHT_CORNER]))
        lip = (n[ex.UPPER_LIP_TOP, 1] + n[ex.LOWER_LIP_BOTTOM, 1]) / 2
        brow_r = (n[ex.RIGHT_EYE_OUTER, 1] + n[ex.RIGHT_EYE_INNER, 1]) / 2 - n[list(ex.RIGHT_BROW), 1].mean()
        brow_l = (n[ex.LEFT_EYE_OUTER, 1] + n[ex.LEFT_EYE_INNER, 1]) / 2 - n[list(ex.LEFT_BROW), 1].mean()
        assert e.mouth_width == pytest.approx(width, abs=1e-12)
        assert e.smile == pytest.approx((lip - corners) / width, abs=1e-12)
        assert e.brows == pytest.approx((brow_r, brow_l), abs=1e-12)


def test_compare() -> None:
    a = ex.measures_from_landmarks(_face(mouth_gap=4))
    assert all(v == pytest.approx(0) for v in ex.compare(a, a).values())
    shifted = _face(mouth_gap=8)
    shifted[:, 0] += 10  # a tenth of the face size
    d = ex.compare(a, ex.measures_from_landmarks(shifted))
    assert d["keypoint_error"] == pytest.approx(0.1, rel=0.02)
    assert d["mouth_open_diff"] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        ex.measures_from_landmarks(np.zeros((468, 3)))


@pytest.fixture(scope="module")
def analyzer():  # noqa: ANN201
    pytest.importorskip("mediapipe")
    a = ex.ExpressionAnalyzer()
    yield a
    a.close()


def test_no_face_on_a_blank_image(analyzer: ex.ExpressionAnalyzer) -> None:
    assert analyzer.analyze(np.full((128, 128, 3), 127, np.uint8)) is None
    assert not ex.face_found(np.zeros((64, 64, 3), np.uint8), analyzer)


@pytest.mark.skipif(not (SHARED / "selfie2anime" / "trainA").is_dir(), reason="shared datasets not present")
def test_real_face_measures_are_plausible(analyzer: ex.ExpressionAnalyzer) -> None:
    import cv2

    path = sorted((SHARED / "selfie2anime" / "trainA").glob("*.jpg"))[0]
    img = cv2.imread(str(path))
    e = analyzer.analyze(img)
    assert e is not None and e.landmarks.shape == (478, 3)
    assert 0 <= e.mouth_open < 1 and all(0.05 < v < 0.8 for v in e.eye_open)
    assert abs(e.roll) < 45 and abs(e.gaze[0]) < 0.5
    m = analyzer.analyze(np.ascontiguousarray(img[:, ::-1]))
    assert m is not None and abs(m.roll + e.roll) < 5  # a mirror flips the roll
