"""Overlay mode sends the camera frame around the cartoon face: any other face in it is covered
(`avatar_cam.bystanders`), found by the face detector, never sent as it is."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.bystanders import Bystanders
from avatar_cam.composite import Mode
from avatar_cam.demo import draw_demo_face
from avatar_cam.frame import Face, Frame
from avatar_cam.pipeline import Pipeline, PipelineConfig
from avatar_cam.styles import load_style


def _two_people() -> np.ndarray:
    """640x480: the demo person twice, side by side (the left one larger and the one tracked)."""
    pair = np.hstack([draw_demo_face(1.0, (320, 240)), draw_demo_face(2.0, (320, 240))])
    return cv2.copyMakeBorder(pair, 120, 120, 0, 0, cv2.BORDER_REPLICATE)


OTHER = (slice(226, 283), slice(492, 549))  # the middle of the right person's face box


@pytest.mark.parametrize("still", [False, True])
def test_overlay_covers_a_second_persons_face(style_file: Path, still: bool) -> None:
    camera = _two_people()
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(640, 480)))
    frame = pipe.process(Frame(camera, 0, 0.0, still=still))
    assert frame.fallback is None and frame.face is not None
    assert frame.face.center[0] < 320, "the left person is the one tracked"
    out, cam = frame.output[OTHER].astype(int), camera[OTHER].astype(int)
    assert np.abs(out - cam).mean() > 20, "the other face was sent as the camera saw it"
    assert out.std(axis=(0, 1)).max() < 3, "the other face is under one flat colour"
    assert np.array_equal(camera, _two_people()), "the camera frame itself is untouched"
    assert np.array_equal(frame.output[:40, 280:360], camera[:40, 280:360]), "the rest is the camera's"


def test_someone_coming_in_between_looks_is_covered_on_the_frame_they_come_in(style_file: Path) -> None:
    """The detector looks every third frame; a second person appearing on the frame after a
    look went out as they were until the next one."""
    two = _two_people()
    one = two.copy()
    one[:, 330:] = two[5:6, 330:]  # only the background on the right (its top row, repeated)
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(640, 480)))
    assert pipe.process(Frame(one, 0, 0.0)).fallback is None  # a look: one person
    frame = pipe.process(Frame(two, 1, 1 / 30))  # between looks: the other one comes in
    assert frame.fallback is None
    out, cam = frame.output[OTHER].astype(int), two[OTHER].astype(int)
    assert np.abs(out - cam).mean() > 20 and out.std(axis=(0, 1)).max() < 3, "sent uncovered"


def test_overlay_with_one_person_leaves_the_camera_picture_alone(style_file: Path) -> None:
    camera = cv2.copyMakeBorder(draw_demo_face(1.0, (320, 240)), 120, 120, 160, 160, cv2.BORDER_REPLICATE)
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(640, 480)))
    frame = pipe.process(Frame(camera, 0, 0.0))
    assert frame.fallback is None
    assert np.array_equal(frame.output[:60, :100], camera[:60, :100]), "no patch where no face is"


class _Seen:
    """A detector that finds the faces it is given for each call, in turn."""

    def __init__(self, *calls: list[Face]):
        self.calls = list(calls)
        self.n = 0

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        self.n += 1
        return self.calls.pop(0) if self.calls else []

    detect_still = detect


def _face(x: float, y: float, side: float = 40.0) -> Face:
    return Face(box=(x, y, side, side), keypoints=np.zeros((6, 2), np.float32))


def test_a_face_stays_covered_between_looks_and_for_a_missed_look() -> None:
    own, other = _face(10, 10), _face(200, 10)
    seen = _Seen([own, other], [own], [own], [own])
    b = Bystanders(seen, every=3, hold=1, grow=0.0)
    img = np.zeros((100, 300, 3), np.uint8)
    boxes = [b.update(img, own) for _ in range(9)]  # looks on frames 0, 3 and 6
    assert seen.n == 3
    assert boxes[0] == [other.box] and boxes[2] == [other.box], "covered between looks"
    assert boxes[3] == [other.box] and boxes[5] == [other.box], "covered through one missed look"
    assert boxes[6] == [], "gone after the second missed look"


def test_a_picture_moving_away_from_the_known_faces_makes_the_detector_look_at_once() -> None:
    """Between looks someone coming in went out uncovered for up to two frames: a frame whose
    picture changed away from the tracked face (and from the covered ones) is looked at at once;
    the tracked face moving is not a reason, and a face missed by the extra looks stays covered
    as long as before (its hold counts frames, not looks)."""
    own, other = _face(10, 10), _face(200, 10)
    seen = _Seen([own], [own], [own, other], *[[own]] * 6)
    b = Bystanders(seen, every=3, hold=1, grow=0.0)
    still = np.full((100, 300, 3), 60, np.uint8)
    assert b.update(still, own) == [] and seen.n == 1  # frame 0: a periodic look
    talking = still.copy()
    talking[12:48, 12:48] = 200  # the tracked face changes
    assert b.update(talking, own) == [] and seen.n == 1, "the tracked face's own movement"
    coming = talking.copy()
    coming[10:60, 190:250] = 220  # someone comes in at the right
    assert b.update(coming, own) == [] and seen.n == 2, "a look at once (this one finds nobody yet)"
    boxes = [b.update(coming, own)]  # frame 3: periodic; now the face is found
    assert seen.n == 3 and boxes[0] == [other.box]
    for _ in range(6):  # the picture keeps moving there: a look every frame, none finds them
        coming = coming.copy()
        coming[10:60, 190:250] ^= 0x40
        boxes.append(b.update(coming, own))
    assert seen.n == 9
    assert boxes[1:3] == [[other.box]] * 2, "still covered through looks that miss it (frames 4-5)"
    assert boxes[-1] == [], "gone once a periodic look's time has passed with no find (frame 9)"


def test_the_tracked_face_is_never_covered_and_covers_grow() -> None:
    own = _face(10, 10)
    moved_own = _face(14, 12)  # the detector's box of the same face, a little off the tracked one
    b = Bystanders(_Seen([moved_own, _face(200, 10, 20)]), grow=0.5)
    assert b.update(np.zeros((100, 300, 3), np.uint8), own) == [(190.0, 0.0, 40.0, 40.0)]


def test_a_held_overlay_frame_covers_the_other_face_too(style_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    camera = _two_people()
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(640, 480)))
    assert pipe.process(Frame(camera, 0, 0.0)).fallback is None
    monkeypatch.setattr(pipe.tracker, "update", lambda image, t: None)  # the tracker misses a frame
    frame = pipe.process(Frame(camera.copy(), 1, 1 / 30))
    assert frame.fallback == "no_face" and frame.output.shape == camera.shape, "the held cartoon"
    out = frame.output[OTHER].astype(int)
    assert np.abs(out - camera[OTHER].astype(int)).mean() > 20 and out.std(axis=(0, 1)).max() < 3


def test_a_missed_own_face_keeps_its_last_place() -> None:
    own, other = _face(10, 10), _face(200, 10)
    b = Bystanders(_Seen([own, other], [own, other]), every=1, grow=0.0)
    img = np.zeros((100, 300, 3), np.uint8)
    assert b.update(img, own) == [other.box]
    assert b.update(img, None) == [other.box], "the tracked face's last place is still its own"
    assert Bystanders(_Seen([own, other]), grow=0.0).update(img, None) == [own.box, other.box]


def test_a_face_beside_the_tracked_one_is_covered_even_touching_it() -> None:
    """A photo held by the cheek (or a child leaning in) overlapping the tracked face's box by a
    third was taken for the tracked face: no patch, and the cartoon's ellipse did not reach it,
    so its eyes and mouth went out. Only a face mostly inside the tracked one's box is it (a
    second detection of the same face)."""
    own = Face((200.0, 100.0, 200.0, 200.0), np.zeros((6, 2), np.float32))
    beside = Face((340.0, 150.0, 150.0, 150.0), np.zeros((6, 2), np.float32))  # 40% of it overlaps
    again = Face((215.0, 110.0, 180.0, 180.0), np.zeros((6, 2), np.float32))  # the tracked face again
    cover = Bystanders(_Seen([beside, again]), every=1)  # type: ignore[arg-type]
    boxes = cover.update(np.zeros((480, 640, 3), np.uint8), own)
    assert len(boxes) == 1 and boxes[0][0] < 340 < boxes[0][0] + boxes[0][2]
