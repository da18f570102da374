"""Face Mesh as the tracker (`avatar_cam.landmarks`): one landmark-model call a frame, the
detectors only when needed, and landmarks where static Face Mesh on the camera frame puts them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.face import FaceDetector
from avatar_cam.frame import Face
from avatar_cam.landmarks import (
    BoxFit,
    MeshTracker,
    Region,
    face_from_mesh,
    points,
    region_from_face,
    to_crop,
)


@pytest.fixture(scope="module")
def tracker() -> MeshTracker:
    return MeshTracker(FaceDetector())


def _frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n and (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    return frames


def test_mediapipe_starts_without_matplotlib() -> None:
    """MediaPipe's package imports matplotlib's pyplot for a plotting helper the app never calls:
    0.65-0.95 s and ~40 MB of every start. The app's MediaPipe users load it without; what
    imports matplotlib afterwards gets the real one. In a fresh interpreter (this one may have
    MediaPipe already)."""
    code = """if True:
        import sys
        import numpy as np
        from avatar_cam.expression import ExpressionAnalyzer
        from avatar_cam.face import FaceDetector
        from avatar_cam.landmarks import MeshTracker
        MeshTracker(FaceDetector())
        with ExpressionAnalyzer() as a:
            assert a.analyze(np.zeros((64, 64, 3), np.uint8)) is None
        assert not any(m.startswith("matplotlib") for m in sys.modules), "matplotlib imported"
        import matplotlib.pyplot
        assert callable(matplotlib.pyplot.figure), "the real matplotlib afterwards"
    """
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_box_fit_reads_where_the_detector_box_said() -> None:
    rng = np.random.default_rng(0)
    lm = np.concatenate([rng.uniform(100, 300, (478, 2)), rng.normal(0, 10, (478, 1))], 1)
    lm[33, :2], lm[263, :2] = (150, 180), (250, 200)  # the eye corners set the turn
    box = Face(box=(140.0, 150.0, 150.0, 150.0), keypoints=np.zeros((6, 2), np.float32))
    got = BoxFit.measure(box, lm).region(lm)
    want = region_from_face(box)
    assert got.center == pytest.approx(want.center) and got.side == pytest.approx(want.side)
    assert got.rotation == pytest.approx(np.arctan2(20, 100))


def test_landmarks_read_from_the_wire_are_the_landmarks_field_by_field() -> None:
    from mediapipe.framework.formats import landmark_pb2

    rng = np.random.default_rng(0)
    xyz = rng.uniform(-1.0, 1.0, (478, 3)).astype(np.float32)
    found = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in xyz:
        found.landmark.add(x=x, y=y, z=z)
    np.testing.assert_array_equal(points(found.SerializeToString()), xyz)
    # one landmark without z, another with a visibility: as long as before, but not all alike
    found.landmark[7].ClearField("z")
    found.landmark[9].visibility = 0.5
    xyz[7, 2] = 0.0
    np.testing.assert_array_equal(points(found.SerializeToString()), xyz)
    assert points(b"").shape == (0, 3)


def test_a_packets_landmarks_are_read_as_mediapipe_holds_them() -> None:
    """The bytes read straight from a packet are the message the public getter builds, written
    out (the tracker reads them without building it)."""
    from mediapipe.framework.formats import landmark_pb2

    from avatar_cam.landmarks import _bytes_reader
    from avatar_cam.mediapipe_loader import load_mediapipe

    mp = load_mediapipe()
    found = landmark_pb2.NormalizedLandmarkList()
    for i in range(478):
        found.landmark.add(x=i / 478, y=1 - i / 478, z=0.01 * i)
    packet = mp.packet_creator.create_proto(found)
    data = _bytes_reader(mp)(packet)
    assert data == mp.packet_getter.get_proto(packet).SerializeToString()
    assert points(data)[477] == pytest.approx([477 / 478, 1 / 478, 4.77])


def test_to_crop_maps_points_and_scales_depth() -> None:
    m = np.array([[0.0, 2.0, 5.0], [-2.0, 0.0, 7.0]])  # turned a quarter, twice the size
    lm = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -1.0]], np.float32)
    assert to_crop(lm, m) == pytest.approx(np.array([[5.0, 5.0, 6.0], [7.0, 7.0, -2.0]]))


def test_the_mesh_follows_the_demo_face_with_one_model_call_a_frame(tracker: MeshTracker) -> None:
    from avatar_cam.demo import draw_demo_face

    tracker.reset()
    d0, m0, a0 = tracker.detections, tracker.mesh_runs, tracker.anchors
    errs = []
    with ExpressionAnalyzer() as static:
        for i in range(25):
            img = draw_demo_face(i / 30)
            face = tracker.update(img, i / 30)
            assert face is not None and tracker.landmarks is not None, i
            ref = static.landmarks(img)
            assert ref is not None
            errs.append(np.linalg.norm(tracker.landmarks[:, :2] - ref[:, :2], axis=1).mean() / face.box[2])
    # a drawn face: the square is framed for real faces (the real clip's test is tighter)
    assert float(np.median(errs)) < 0.02 and max(errs) < 0.06, (np.median(errs), max(errs))
    assert tracker.detections - d0 == 1, "the full-range detector runs only to find the face"
    assert tracker.mesh_runs - m0 == 25, "one landmark-model call a frame"
    assert tracker.anchors - a0 == 1 + 24 // tracker.anchor_every


def test_a_lost_face_is_held_then_dropped_then_found_again(tracker: MeshTracker,
                                                           demo_face: np.ndarray) -> None:
    tracker.reset()
    assert tracker.update(demo_face, 0.0) is not None
    blank = np.full_like(demo_face, 90)
    held = [tracker.update(blank, (1 + k) / 30) for k in range(tracker.config.hold_frames + 1)]
    assert all(f is not None for f in held[:-1]) and held[-1] is None
    assert tracker.landmarks is None, "a held face has no landmarks of this frame"
    before = tracker.detections
    assert tracker.update(demo_face, 1.0) is not None and tracker.detections == before + 1


def test_face_from_mesh_frames_like_the_detector(tracker: MeshTracker, demo_face: np.ndarray) -> None:
    det = max(FaceDetector().detect(demo_face), key=lambda f: f.area)
    assert tracker.still(demo_face) is not None and tracker.landmarks is not None
    mesh = face_from_mesh(tracker.landmarks)
    assert mesh.box[2] == pytest.approx(det.box[2], rel=0.12)
    assert np.linalg.norm(np.subtract(mesh.center, det.center)) < 0.12 * det.box[2]
    assert np.linalg.norm(mesh.eyes[0] - det.eyes[0]) < 0.05 * det.box[2]


def test_the_mesh_reads_only_the_part_of_the_image_it_needs(tracker: MeshTracker,
                                                            demo_face: np.ndarray) -> None:
    assert tracker.still(demo_face) is not None and tracker.landmarks is not None
    region = tracker._fit.region(tracker.landmarks)
    lm = tracker.mesh.landmarks(demo_face, region)
    shifted = np.zeros((demo_face.shape[0] + 40, demo_face.shape[1] + 60, 3), np.uint8)
    shifted[40:, 60:] = demo_face  # the same face further in: the same landmarks, moved
    moved = Region((region.center[0] + 60, region.center[1] + 40), region.side, region.rotation)
    lm2 = tracker.mesh.landmarks(shifted, moved)
    assert lm is not None and lm2 is not None
    assert np.abs(lm2[:, :2] - lm[:, :2] - (60, 40)).max() < 0.05


def test_landmarks_agree_with_static_face_mesh_on_a_real_clip(clip_651: Path, tracker: MeshTracker) -> None:
    tracker.reset()
    errs, d0 = [], tracker.detections
    with ExpressionAnalyzer() as static:
        for i, img in enumerate(_frames(clip_651, 62)):
            face = tracker.update(img, i / 24)
            assert face is not None and tracker.landmarks is not None, i
            ref = static.landmarks(img)
            assert ref is not None
            errs.append(np.linalg.norm(tracker.landmarks[:, :2] - ref[:, :2], axis=1).mean() / face.box[2])
    assert tracker.detections - d0 == 1
    assert float(np.median(errs)) < 0.01 and max(errs) < 0.02, (np.median(errs), max(errs))


def test_a_face_that_suddenly_grows_is_read_whole() -> None:
    """A fast lean towards the camera: the face outgrew the square the short-range detector
    looked in, and the mesh, read in the old square, took part of the face for all of it for
    several frames (a box a third of the face's): overlay mode pasted a small cartoon on the real
    face. The whole picture's detector now finds it at once."""
    from avatar_cam.demo import draw_demo_face

    small = draw_demo_face(0.5, (640, 480))
    zoom = 2.6
    m = np.array([[zoom, 0, 320 - zoom * 320], [0, zoom, 240 - zoom * 0.42 * 480]])
    near = cv2.warpAffine(small, m, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    tracker = MeshTracker(FaceDetector())
    for i in range(6):
        face = tracker.update(small, i / 30)
    assert face is not None
    grown = []
    for i in range(6, 12):
        tracker.update(near, i / 30)
        grown.append(None if tracker.measured is None else tracker.measured.box[2] / face.box[2])
    assert all(g is not None and g > 0.8 * zoom for g in grown), grown
