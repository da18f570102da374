"""Sources (still, folder, video, camera errors) and sinks (vcam via pyvirtualcam, files)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.sinks import (
    MANIFEST,
    FolderSink,
    ImageFileSink,
    SinkError,
    VideoFileSink,
    VirtualCameraSink,
    _imwrite,
    open_sink,
    vcam_setup_help,
    video_size,
)
from avatar_cam.sources import (
    CameraSource,
    FolderSource,
    ImageSource,
    SourceError,
    SourceLost,
    VideoSource,
    open_source,
)
from tests.vcam_backend import RecordingBackend, only_backends


def _video(path: Path, n: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), i * 20, np.uint8))
    w.release()
    return path


def test_video_source_reads_every_frame_and_loops(tmp_path: Path) -> None:
    src = VideoSource(_video(tmp_path / "v.mp4"))
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert len(frames) == 10 and frames[3].timestamp == pytest.approx(0.3)
    looped = VideoSource(tmp_path / "v.mp4", loop=True)
    assert sum(looped.read() is not None for _ in range(25)) == 25


def test_a_looped_one_frame_video_keeps_playing(tmp_path: Path) -> None:
    """OpenCV cannot seek back in a one-frame video: `--loop` on it stopped after one frame."""
    looped = VideoSource(_video(tmp_path / "one.mp4", n=1), loop=True)
    frames = [looped.read() for _ in range(5)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames if f is not None] == [0, 1, 2, 3, 4]


def test_a_video_is_read_upright_as_its_rotation_says_and_a_stop_is_not_damage(tmp_path: Path) -> None:
    """A phone's video: sideways pixels and a display rotation in the track header (written here
    into the MP4's matrix) are read upright (a face lay sideways: 19 of 35 frames missed it). A
    video read only partly (a run stopped by Ctrl+C) has not 'ended early' (a false 'damaged
    file?' note)."""
    import struct

    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (0, 0, 255)  # red left half
    writer = cv2.VideoWriter(str(tmp_path / "r.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(5):
        writer.write(img)
    writer.release()
    data = bytearray((tmp_path / "r.mp4").read_bytes())
    at = data.find(b"tkhd") + 44  # version 0: the display matrix, 9 x 16.16 / 2.30 fixed point
    data[at:at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # 90 degrees
    (tmp_path / "phone.mp4").write_bytes(bytes(data))
    src = VideoSource(tmp_path / "phone.mp4")
    frame = src.read()
    assert frame is not None and frame.image.shape == (64, 48, 3), "turned upright"
    assert frame.image[4, 24, 2] > 200 and frame.image[60, 24, 2] < 60, "the red half on top"
    assert not src.ended_early, "one of five frames read: stopped, not ended"
    while src.read() is not None:
        pass
    assert not src.ended_early
    src.close()


def test_truncated_video_gives_the_frames_it_has_or_one_clear_error(tmp_path: Path) -> None:
    data = _video(tmp_path / "v.mp4", n=30).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    try:
        src = VideoSource(tmp_path / "cut.mp4")
    except SourceError as e:
        assert "cut.mp4" in str(e)
        return
    n = 0
    while src.read() is not None:
        n += 1
    assert n < 30


def test_folder_source_skips_unreadable_files_and_keeps_names(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "c.jpg"), np.zeros((8, 8), np.uint8))  # grayscale becomes BGR
    (tmp_path / "b.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    src = FolderSource(tmp_path)
    names = []
    while (f := src.read()) is not None:
        assert f.image.shape == (8, 8, 3)
        names.append(f.name)
    assert names == ["a.png", "c.jpg"]
    assert len(src.skipped) == 1 and "b.png" in src.skipped[0]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("missing.mp4", "no such file"), ("empty_dir", "no images"), ("x.xyz", "unknown input type"),
     ("bad.png", "not a readable image"), ("bad.mp4", "cannot open"), ("97", "camera 97 cannot be opened")],
)
def test_bad_sources_give_one_clear_line(tmp_path: Path, spec: str, expected: str) -> None:
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "x.xyz").write_text("?")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match=expected):
        open_source(spec if spec.isdigit() else str(tmp_path / spec))


def test_image_source_gives_one_frame(tmp_path: Path) -> None:
    rgba = np.zeros((10, 12, 4), np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    src = ImageSource(tmp_path / "a.png")
    assert src.read().image.shape == (10, 12, 3)
    assert src.read() is None


def test_camera_source_is_a_live_source() -> None:
    assert CameraSource.live and not VideoSource.live


class _ScriptedCamera:
    """A camera (`sources.Capture`) that delivers `n` numbered frames as fast as asked once `go`
    is set, then fails when `unplug` is set."""

    def __init__(self, n: int):
        self.n, self.sent = n, 0
        self.go, self.unplug = threading.Event(), threading.Event()

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.go.wait()
        if self.sent >= self.n:
            self.unplug.wait()
            return False, None
        self.sent += 1
        return True, np.full((4, 4, 3), self.sent, np.uint8)

    def get(self, prop: int) -> float:
        return 30.0

    def release(self) -> None:
        pass


def test_camera_source_hands_on_the_newest_frame_stamped_when_captured() -> None:
    camera = _ScriptedCamera(5)
    cam = CameraSource(0, capture=camera, timeout_s=1.0)
    before = time.perf_counter()
    camera.go.set()  # the capture thread reads all five before we ask
    while camera.sent < 5:
        time.sleep(0.01)
    time.sleep(0.05)
    asked = time.perf_counter()
    frame = cam.read()
    assert frame.image[0, 0, 0] == 5, "stale frames are dropped"
    assert before <= frame.timestamp <= asked, "the timestamp is the capture's, not the read's"
    camera.unplug.set()
    with pytest.raises(SourceLost):
        cam.read()
    cam.close()


def test_vcam_sink_sends_bgr_frames_through_pyvirtualcam() -> None:
    with only_backends(recording=RecordingBackend):
        sink = VirtualCameraSink((32, 24), 30)
        frame = np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8)
        sink.write(frame)
        sink.close()
    assert sink.device == "recording-test-cam"
    assert len(RecordingBackend.frames) == 1 and np.array_equal(RecordingBackend.frames[0], frame)


def test_missing_vcam_backend_gives_library_reasons_and_setup_help() -> None:
    class Broken:
        def __init__(self, **kw: object):
            raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99].")

    with only_backends(v4l2loopback=Broken), pytest.raises(SinkError) as err:
        VirtualCameraSink((32, 24))
    msg = str(err.value)
    assert "'v4l2loopback' backend: No v4l2 loopback device" in msg
    assert vcam_setup_help() in msg
    assert "exclusive_caps=1" in vcam_setup_help("Linux") and "OBS" in vcam_setup_help("Windows")


def test_file_sinks_write_what_they_get(tmp_path: Path) -> None:
    img = np.full((24, 32, 3), 77, np.uint8)
    vs = VideoFileSink(tmp_path / "o.mp4", fps=10)
    for _ in range(5):
        vs.write(img)
    vs.close()
    cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    fs = FolderSink(tmp_path / "frames")
    fs.write(img, "face.jpg")
    fs.write(img)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [MANIFEST, "000001.png", "face.jpg"]
    ImageFileSink(tmp_path / "one.png").write(img)
    assert cv2.imread(str(tmp_path / "one.png")).shape == (24, 32, 3)
    assert isinstance(open_sink("none", (32, 24), 30), object)
    with pytest.raises(SinkError, match="unknown output type"):
        open_sink(str(tmp_path / "x.docx"), (32, 24), 30)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; permission test needs a user")
def test_unwritable_output_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(SinkError, match="not writable"):
        open_sink(str(ro / "o.mp4"), (32, 24), 30)


def test_output_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for out in ("o.png", "o.mp4", "frames"):
        with pytest.raises(SinkError, match="cannot create the output folder"):
            open_sink(str(tmp_path / "afile" / "sub" / out), (32, 24), 30)


def test_a_video_sink_writes_even_sides_and_reports_a_video_it_could_not_keep(tmp_path: Path) -> None:
    """Video encoders need even sides: the sink drops the odd row and column itself (`video_size`,
    which the CLI announces). A video whose file is gone or unreadable when it closes (a full
    disk leaves one without its index) is reported, never left as if written."""
    assert video_size((1001, 563)) == (1000, 562) and video_size((640, 480)) == (640, 480)
    odd = VideoFileSink(tmp_path / "odd.mp4", fps=10)
    for _ in range(3):
        odd.write(np.full((49, 65, 3), 90, np.uint8))
    odd.close()
    cap = cv2.VideoCapture(str(tmp_path / "odd.mp4"))
    ok, frame = cap.read()
    assert ok and frame.shape == (48, 64, 3)
    lost = VideoFileSink(tmp_path / "lost.mp4", fps=10)
    for _ in range(3):
        lost.write(np.full((48, 64, 3), 90, np.uint8))
    (tmp_path / "lost.mp4").unlink()  # the writer keeps writing to a file no one can read back
    with pytest.raises(SinkError, match="could not be written"):
        lost.close()


def test_a_video_container_it_cannot_write_is_refused_before_the_run(tmp_path: Path) -> None:
    """.webm and .mpg are read as inputs but not written (MJPG there failed only after the whole
    run, once as 'is the disk full?'): one line naming what is written, and no file."""
    for name in ("a.webm", "a.mpg"):
        with pytest.raises(SinkError, match=r"does not write \.(webm|mpg) videos; use \.mp4, .*\.mkv"):
            open_sink(str(tmp_path / name), (32, 24), 30)
        assert not (tmp_path / name).exists()
    for name in ("a.mp4", "a.avi", "a.mkv", "a.mov"):
        sink = open_sink(str(tmp_path / name), (32, 24), 30)
        sink.write(np.full((24, 32, 3), 90, np.uint8))
        sink.close()
        assert cv2.VideoCapture(str(tmp_path / name)).read()[0], name


def test_a_video_that_could_neither_be_written_nor_recorded_is_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: the video is unplayable and the outputs list cannot take its line. The broken
    file is removed and the error says the video failed (it said only that the list could not be
    written, and the unrecorded file then blocked every later run from replacing it)."""
    sink = VideoFileSink(tmp_path / "a.mp4", fps=10)
    for _ in range(3):
        sink.write(np.full((48, 64, 3), 90, np.uint8))
    (tmp_path / "a.mp4").write_bytes(b"")  # what a full disk leaves: no playable video

    def full(name: str) -> None:
        raise SinkError(f"{tmp_path}/.avatar-cam-outputs.jsonl: cannot record what was written "
                        "(No space left on device)")

    monkeypatch.setattr(sink._manifest, "record", full)
    with pytest.raises(SinkError, match="could not be written, and its unplayable part was removed"):
        sink.close()
    assert not (tmp_path / "a.mp4").exists()


def test_an_output_that_cannot_be_a_file_is_refused_before_any_frame(tmp_path: Path) -> None:
    """OpenCV's video writer says it opened a path it then never writes: the sink tries the path
    itself. A failed image write leaves no temporary file behind."""
    for name in ("o.mp4", "o.png"):
        (tmp_path / name).mkdir()
        with pytest.raises(SinkError, match="cannot write"):
            open_sink(str(tmp_path / name), (32, 24), 30)
    fs = FolderSink(tmp_path / "frames")
    (tmp_path / "frames" / "000000.png").mkdir()  # the first frame's name is taken by a folder
    with pytest.raises(SinkError, match="not written by avatar-cam; not replaced"):
        fs.write(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SinkError, match="cannot write"):
        _imwrite(tmp_path / "frames" / "000000.png", np.zeros((8, 8, 3), np.uint8))
    assert [p.name for p in (tmp_path / "frames").iterdir()] == ["000000.png"]
    assert not any((tmp_path / "frames" / "000000.png").iterdir())


def test_a_picture_is_written_under_a_temporary_name_of_its_own(tmp_path: Path) -> None:
    """The old temporary name was the picture's plus `.tmp`: a user's `face.jpg.tmp` was replaced."""
    (tmp_path / "face.jpg.tmp").write_text("mine")
    _imwrite(tmp_path / "face.jpg", np.full((8, 8, 3), 50, np.uint8))
    assert (tmp_path / "face.jpg.tmp").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.jpg", "face.jpg.tmp"]


def test_a_folder_sink_replaces_only_what_avatar_cam_wrote(tmp_path: Path) -> None:
    """Each file written is recorded in the folder's manifest; another sink on the folder may
    replace those, never a file someone else put there (refused on opening for the names it is
    told, and on writing for any other), nor one of its own files changed since."""
    img, out = np.full((8, 8, 3), 90, np.uint8), tmp_path / "out"
    first = FolderSink(out, names=["a.png", "b.png"])
    first.write(img, "a.png")
    first.write(img, "b.png")
    FolderSink(out, names=["a.png", "b.png"]).write(img, "a.png")  # its own: replaced
    (out / "c.png").write_text("mine")
    with pytest.raises(SinkError, match=r"already holds c\.png that this run would write over"):
        FolderSink(out, names=["a.png", "c.png"])
    cv2.imwrite(str(out / "b.png"), np.zeros((8, 8, 3), np.uint8))  # the user's now
    with pytest.raises(SinkError, match=r"already holds b\.png and 1 more file\(s\)"):
        FolderSink(out, names=["a.png", "b.png", "c.png"])
    late = FolderSink(out, names=["a.png"])  # told too little: the write itself refuses
    with pytest.raises(SinkError, match="c.png: already there and not written by avatar-cam"):
        late.write(img, "c.png")
    assert (out / "c.png").read_text() == "mine"
    assert cv2.imread(str(out / "b.png")).max() == 0
    # numbered frames: only the first `frames` count, and a run that writes one more is stopped
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "000002.png").write_text("mine")
    with pytest.raises(SinkError, match="already holds 000002.png"):
        FolderSink(frames, frames=3)
    short = FolderSink(frames, frames=2)
    short.write(img)
    short.write(img)
    with pytest.raises(SinkError, match="not replaced"):
        short.write(img)
    assert (frames / "000002.png").read_text() == "mine"
    assert sorted(p.name for p in frames.iterdir()) == [MANIFEST, "000000.png", "000001.png", "000002.png"]
    # re-runs keep the manifest short: one line per file
    for _ in range(3):
        FolderSink(out, names=["a.png"]).write(img, "a.png")
    assert len((out / MANIFEST).read_text().splitlines()) <= 2 * 2


def test_a_folder_of_pictures_into_one_image_says_to_give_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="a folder of images goes to a folder") as err:
        open_sink(str(tmp_path / "out.png"), (32, 24), 30, folder_input=True)
    assert "unknown output type" not in str(err.value) and not (tmp_path / "out.png").exists()
    (tmp_path / "album.png").mkdir()  # an existing folder named like a picture is a folder
    assert isinstance(open_sink(str(tmp_path / "album.png"), (32, 24), 30, folder_input=True), FolderSink)


def test_a_new_demo_clip_replaces_the_cached_clips_of_earlier_versions(tmp_path: Path) -> None:
    """Each drawing-code version writes its own demo clip (2.4 MB); the earlier ones stayed in the
    cache for ever. One used within a day is kept: another version of the app may be playing it
    (removed, a test run beside another checkout could not open its clip again)."""
    from avatar_cam.demo import ensure_demo_clip

    old = tmp_path / "demo-face-v2-deadbeef.mp4"
    old.write_bytes(b"an earlier version's clip")
    day = time.time() - 86400 - 60
    os.utime(old, (day, day))
    recent = tmp_path / "demo-face-v2-00c0ffee.mp4"  # another version, still playing (or played today)
    recent.write_bytes(b"another version's clip")
    mine = tmp_path / "keep.mp4"
    mine.write_bytes(b"not a demo clip")
    new = ensure_demo_clip(tmp_path / "demo-face-v2-0123abcd.mp4")
    assert new.is_file() and cv2.VideoCapture(str(new)).read()[0]
    assert not old.exists() and mine.exists() and recent.exists()
    os.utime(new, (day, day))
    assert ensure_demo_clip(new) == new and time.time() - new.stat().st_mtime < 60, "a use marks it used"
