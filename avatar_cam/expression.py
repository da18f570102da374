"""Expression, pose and gaze measures of one face from MediaPipe Face Mesh (no torch).

Used by `avatar-eval` to check that a cartoon keeps the person's expression, head pose and gaze:
run `ExpressionAnalyzer.analyze` on the input crop and on the cartoon, then `compare` the two.

Measures (all from the 478 refined landmarks; "right" is the person's right, image-left):
- `mouth_open`: inner-lip gap / mouth width (0 closed, ~0.3-0.6 wide open);
- `eye_open`: (right, left) lid gap / eye width (~0.25-0.35 open, < 0.1 closed);
- `yaw`, `pitch`, `roll` (degrees): proxies from the mesh's 3D points (cheek-to-cheek line in x/z,
  forehead-to-chin line in y/z, eye line in x/y);
- `gaze`: (x, y) iris centre offset from the eye centre in eye widths, both eyes averaged,
  measured along the eye line (+x towards image right, +y down);
- `brows`: (right, left) brow height over the eye's corners in face widths, on the levelled face
  (over the corners, not the lid, so a blink does not move the brow);
- `smile`: (lip centre y - mouth corners y) / mouth width on the levelled face (+: corners up);
- `mouth_width`: corner-to-corner distance / face width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.mediapipe_loader import load_mediapipe

N_LANDMARKS = 478  # 468 mesh points + 10 iris points (refine_landmarks=True)

# landmark indices (MediaPipe face mesh topology)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM = 33, 133, 159, 145
LEFT_EYE_INNER, LEFT_EYE_OUTER, LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 362, 263, 386, 374
MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER, LIP_INNER_TOP, LIP_INNER_BOTTOM = 291, 61, 13, 14
RIGHT_CHEEK, LEFT_CHEEK, FOREHEAD, CHIN, NOSE_TIP = 234, 454, 10, 152, 1
UPPER_FOREHEAD = (54, 103, 67, 109, 10, 338, 297, 332, 284)  # the face oval's top, temple to temple
RIGHT_IRIS, LEFT_IRIS = 468, 473  # iris centres
RIGHT_BROW = (70, 63, 105, 66, 107)  # the person's right brow, outer to inner
LEFT_BROW = (300, 293, 334, 296, 336)
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17


@dataclass(frozen=True)
class Expression:
    """Measures of one face; `landmarks` are (478, 3) image pixels (z scaled like x)."""

    landmarks: np.ndarray
    face_size: float  # cheek-to-cheek distance in pixels
    mouth_open: float
    eye_open: tuple[float, float]
    yaw: float
    pitch: float
    roll: float
    gaze: tuple[float, float]
    brows: tuple[float, float] = (0.0, 0.0)
    smile: float = 0.0
    mouth_width: float = 0.0

    def normalized(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(478, 2) landmarks centred on the eye midpoint, eye line horizontal, face size 1 (only
        those at `indices`, in that order, when given)."""
        pts = self.landmarks[:, :2]
        mid = (pts[RIGHT_EYE_OUTER] + pts[LEFT_EYE_OUTER]) / 2
        a = -math.radians(self.roll)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        return ((pts if indices is None else pts[indices]) - mid) @ (rot.T / max(self.face_size, 1e-6))


_MEASURED = (RIGHT_CHEEK, LEFT_CHEEK, LIP_INNER_TOP, LIP_INNER_BOTTOM, MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER,
             RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM, RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_TOP, LEFT_EYE_BOTTOM,
             LEFT_EYE_OUTER, LEFT_EYE_INNER, CHIN, FOREHEAD, RIGHT_IRIS, LEFT_IRIS, UPPER_LIP_TOP,
             LOWER_LIP_BOTTOM, *RIGHT_BROW, *LEFT_BROW)


def measures_from_landmarks(lm: np.ndarray) -> Expression:
    """All measures from (478, 3) pixel landmarks (pure geometry, testable without MediaPipe).
    Computed on the few points they use as plain floats (numpy's per-call cost on 2-vectors was
    most of the time: this runs on every frame the character is drawn)."""
    lm = np.asarray(lm, dtype=np.float64)
    if lm.shape != (N_LANDMARKS, 3):
        raise ValueError(f"need ({N_LANDMARKS}, 3) landmarks, got {lm.shape}")
    p = dict(zip(_MEASURED, lm[list(_MEASURED)].tolist(), strict=True))

    def dist(a: int, b: int) -> float:
        return math.hypot(p[a][0] - p[b][0], p[a][1] - p[b][1])

    face = dist(RIGHT_CHEEK, LEFT_CHEEK)
    mouth = dist(LIP_INNER_TOP, LIP_INNER_BOTTOM) / max(dist(MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER), 1e-6)
    eye_r = dist(RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM) / max(dist(RIGHT_EYE_OUTER, RIGHT_EYE_INNER), 1e-6)
    eye_l = dist(LEFT_EYE_TOP, LEFT_EYE_BOTTOM) / max(dist(LEFT_EYE_OUTER, LEFT_EYE_INNER), 1e-6)
    ex = [p[LEFT_EYE_OUTER][k] - p[RIGHT_EYE_OUTER][k] for k in range(3)]
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    cheeks = [p[LEFT_CHEEK][k] - p[RIGHT_CHEEK][k] for k in range(3)]
    yaw = math.degrees(math.atan2(cheeks[2], math.hypot(cheeks[0], cheeks[1])))
    vert = [p[CHIN][k] - p[FOREHEAD][k] for k in range(3)]
    pitch = math.degrees(math.atan2(-vert[2], math.hypot(vert[0], vert[1])))
    # gaze along the eye line
    length = max(math.hypot(ex[0], ex[1]), 1e-6)
    u = (ex[0] / length, ex[1] / length)
    v = (-u[1], u[0])
    offs = []
    for iris, outer, inner in ((RIGHT_IRIS, RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
                               (LEFT_IRIS, LEFT_EYE_OUTER, LEFT_EYE_INNER)):
        width = max(dist(outer, inner), 1e-6)
        dx = p[iris][0] - (p[outer][0] + p[inner][0]) / 2
        dy = p[iris][1] - (p[outer][1] + p[inner][1]) / 2
        offs.append(((dx * u[0] + dy * u[1]) / width, (dx * v[0] + dy * v[1]) / width))
    gaze = ((offs[0][0] + offs[1][0]) / 2, (offs[0][1] + offs[1][1]) / 2)
    # on the levelled face (`Expression.normalized`): only the heights and one width are needed
    mx = (p[RIGHT_EYE_OUTER][0] + p[LEFT_EYE_OUTER][0]) / 2
    my = (p[RIGHT_EYE_OUTER][1] + p[LEFT_EYE_OUTER][1]) / 2
    a = -math.radians(roll)
    sin, cos, size = math.sin(a), math.cos(a), max(face, 1e-6)

    def y(i: int) -> float:
        return (sin * (p[i][0] - mx) + cos * (p[i][1] - my)) / size

    mouth_w = dist(MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER) / size  # a rotation keeps lengths
    corners_y = (y(MOUTH_LEFT_CORNER) + y(MOUTH_RIGHT_CORNER)) / 2
    centre_y = (y(UPPER_LIP_TOP) + y(LOWER_LIP_BOTTOM)) / 2
    corners_r = (y(RIGHT_EYE_OUTER) + y(RIGHT_EYE_INNER)) / 2
    corners_l = (y(LEFT_EYE_OUTER) + y(LEFT_EYE_INNER)) / 2
    brows = (corners_r - sum(y(i) for i in RIGHT_BROW) / len(RIGHT_BROW),
             corners_l - sum(y(i) for i in LEFT_BROW) / len(LEFT_BROW))
    return Expression(landmarks=lm, face_size=face, mouth_open=mouth, eye_open=(eye_r, eye_l), yaw=yaw,
                      pitch=pitch, roll=roll, gaze=gaze, brows=brows,
                      smile=(centre_y - corners_y) / max(mouth_w, 1e-6), mouth_width=mouth_w)


def compare(ref: Expression, out: Expression) -> dict[str, float]:
    """How far `out` (the cartoon) is from `ref` (the photo).

    `keypoint_error`: mean landmark distance / the photo's face size (same crop, so no alignment);
    the rest are absolute differences of the measures.
    """
    dist = np.linalg.norm(ref.landmarks[:, :2] - out.landmarks[:, :2], axis=1)
    err = dist.mean() / max(ref.face_size, 1e-6)
    return {
        "keypoint_error": float(err),
        "mouth_open_diff": abs(ref.mouth_open - out.mouth_open),
        "eye_open_diff": float(np.mean(np.abs(np.subtract(ref.eye_open, out.eye_open)))),
        "yaw_diff": abs(ref.yaw - out.yaw),
        "pitch_diff": abs(ref.pitch - out.pitch),
        "roll_diff": abs(ref.roll - out.roll),
        "gaze_diff": float(np.hypot(ref.gaze[0] - out.gaze[0], ref.gaze[1] - out.gaze[1])),
    }


class ExpressionAnalyzer:
    """MediaPipe Face Mesh (static images, refined iris landmarks) -> `Expression` or None."""

    def __init__(self, min_confidence: float = 0.5):
        mp = load_mediapipe()  # heavy import, kept out of module import time

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )

    def landmarks(self, image: np.ndarray, bgr: bool = True) -> np.ndarray | None:
        """(478, 3) pixel landmarks of the most prominent face, or None when no face is found."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"need an HxWx3 image, got {image.shape}")
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        h, w = image.shape[:2]
        pts = result.multi_face_landmarks[0].landmark
        if len(pts) < N_LANDMARKS:
            return None
        return np.array([(p.x * w, p.y * h, p.z * w) for p in pts[:N_LANDMARKS]], dtype=np.float64)

    def analyze(self, image: np.ndarray, bgr: bool = True) -> Expression | None:
        """All measures for `image` (uint8, BGR unless `bgr=False`), or None without a face."""
        lm = self.landmarks(image, bgr)
        return None if lm is None else measures_from_landmarks(lm)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> ExpressionAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def face_found(image: np.ndarray, analyzer: ExpressionAnalyzer | None = None, bgr: bool = True) -> bool:
    """True when Face Mesh finds a face in `image`."""
    if analyzer is not None:
        return analyzer.landmarks(image, bgr) is not None
    with ExpressionAnalyzer() as a:
        return a.landmarks(image, bgr) is not None
