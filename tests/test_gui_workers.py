"""The window's worker pieces without a window: stale-frame queue, capture pacing and
reconnect, sinks that fail, GUI sources, thumbnails on the demo face."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6.QtCore")

from avatar_cam.demo import ensure_demo_clip, sample_face_crop  # noqa: E402
from avatar_cam.gui.settings import AppSettings  # noqa: E402
from avatar_cam.gui.thumbnails import ThumbnailMaker  # noqa: E402
from avatar_cam.gui.workers import (  # noqa: E402
    Captured,
    CaptureWorker,
    FrameQueue,
    Lost,
    RateMeter,
    SinkSet,
    open_gui_source,
)
from avatar_cam.sources import ImageSource, VideoSource  # noqa: E402
from avatar_cam.styles import load_style  # noqa: E402
from tests.test_gui_helpers import FakeFactory, mosaic_style, settings_open_in_time  # noqa: E402


def test_frame_queue_keeps_only_the_newest() -> None:
    q = FrameQueue(1)
    for i in range(5):
        q.put(i)
    assert q.get(0.1) == 4 and q.dropped == 4
    assert q.get(0.01) is None
    q2 = FrameQueue(2)
    for i in range(4):
        q2.put(i)
    assert [q2.get(0.1), q2.get(0.1)] == [2, 3]


def test_rate_meter() -> None:
    m = RateMeter(window_s=10)
    for i in range(31):
        m.add(latency_ms=10.0 + i % 3, now=i / 30)
    assert m.fps == pytest.approx(30.0) and m.latency_ms == 11.0


def test_capture_reconnects_after_loss() -> None:
    factory = FakeFactory([{"lose_after": 3, "fps": 100}, "gone", {"fps": 100}])
    q = FrameQueue(8)
    states: list[str] = []
    w = CaptureWorker("0", (640, 480), q, lambda s, m: states.append(s), 7, factory, retry_s=0.05)
    w.start()
    deadline = time.monotonic() + 5
    items: list[object] = []
    while time.monotonic() < deadline and states.count("running") < 2:
        item = q.get(0.05)
        if item is not None:
            items.append(item)
    w.stop()
    w.join(2)
    assert states[:3] == ["running", "lost", "running"]
    assert any(isinstance(i, Lost) and i.generation == 7 for i in items)
    assert all(i.generation == 7 for i in items if isinstance(i, Captured))
    assert factory.opened[0][1].closed and factory.opened[-1][1].closed
    assert not w.is_alive()


def test_capture_reports_a_source_that_cannot_open() -> None:
    states: list[tuple[str, str]] = []
    w = CaptureWorker("5", (640, 480), FrameQueue(), lambda s, m: states.append((s, m)), 1,
                      FakeFactory(["camera 5 cannot be opened"]))
    w.start()
    w.join(2)
    assert states == [("failed", "camera 5 cannot be opened")]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo_clip(tmp_path_factory.mktemp("demo") / "demo.mp4")


def test_capture_paces_a_file_like_a_camera(clip: Path) -> None:
    q = FrameQueue(100)
    w = CaptureWorker(str(clip), (640, 480), q, lambda s, m: None, 1)
    w.start()
    time.sleep(0.5)
    w.stop()
    w.join(2)
    n = 0
    while q.get(0.0) is not None:
        n += 1
    assert 8 <= n <= 20  # 30 fps for 0.5 s, not as fast as the file decodes


def test_gui_sources_loop_and_repeat(tmp_path: Path, clip: Path) -> None:
    video = open_gui_source(str(clip))
    assert isinstance(video, VideoSource) and video.loop
    video.close()
    still = tmp_path / "face.png"
    cv2.imwrite(str(still), np.zeros((48, 64, 3), np.uint8))
    image = open_gui_source(str(still))
    assert isinstance(image, ImageSource)
    assert all(image.read() is not None for _ in range(5))


def test_sink_set_drops_a_failing_sink() -> None:
    errors: list[tuple[str, str]] = []

    class Broken:
        closed = False

        def write(self, image: np.ndarray, name: str | None = None) -> None:
            raise OSError("device vanished")

        def close(self) -> None:
            Broken.closed = True

    sinks = SinkSet(lambda n, m: errors.append((n, m)))
    sinks.add("vcam", Broken())
    sinks.write(np.zeros((4, 4, 3), np.uint8))
    assert errors == [("vcam", "device vanished")] and Broken.closed and "vcam" not in sinks
    sinks.write(np.zeros((4, 4, 3), np.uint8))
    assert len(errors) == 1


def test_sample_crop_and_thumbnails(tmp_path: Path) -> None:
    crop = sample_face_crop(128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert crop.std() > 20  # a face, not a flat background
    style = load_style(mosaic_style(tmp_path / "s" / "m.onnx", "m", block=8))
    maker = ThumbnailMaker(tmp_path / "cache", size=64)
    thumb = maker.thumbnail(style)
    maker.close()
    assert thumb.shape == (64, 64, 3)
    assert len(list((tmp_path / "cache").glob("*.png"))) == 1
    again = ThumbnailMaker(tmp_path / "cache", size=64)
    again._sample = None  # type: ignore[assignment]  # must come from the disk cache
    assert np.array_equal(again.thumbnail(style), thumb)
    again.close()


def test_a_looks_thumbnail_is_drawn_again_when_its_base_style_changes(tmp_path: Path) -> None:
    import dataclasses

    from avatar_cam.gui.thumbnails import cache_key

    base = load_style(mosaic_style(tmp_path / "s" / "m.onnx", "m", block=8))
    look_file = tmp_path / "s" / "m-pic.look.json"
    look_file.write_text("{}")
    look = dataclasses.replace(base, path=look_file, model_file=base.path)
    before, plain = cache_key(look), cache_key(base)
    st = base.path.stat()
    os.utime(base.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the base style updated
    assert cache_key(look) != before and cache_key(base) != plain
    assert cache_key(look) == cache_key(dataclasses.replace(look))  # nothing else moves it


def test_settings_file_is_where_it_is_told(tmp_path: Path, monkeypatch) -> None:
    s = AppSettings(tmp_path / "a.ini")
    assert s.location == str(tmp_path / "a.ini")
    assert s.input is None and s.mirror is None and s.camera_size is None and not s.vcam
    s.mirror, s.vcam, s.help_seen = False, True, True
    s.sync()
    t = AppSettings(tmp_path / "a.ini")
    assert t.mirror is False and t.vcam and t.help_seen
    monkeypatch.setenv("AVATAR_CAM_SETTINGS", str(tmp_path / "env.ini"))
    assert AppSettings().location == str(tmp_path / "env.ini")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_pipe_as_the_settings_file_is_said_once_and_never_blocks(tmp_path: Path) -> None:
    """Qt's settings reader blocked for good on a named pipe: the window never opened. Now the
    values live for this run only and the pipe is named as the problem."""
    pipe = tmp_path / "settings.ini"
    os.mkfifo(pipe)
    assert settings_open_in_time(pipe), "reading the settings blocked on the pipe"
    s = AppSettings(pipe)
    assert s.location == str(pipe) and s.mirror is None and "pipe or device" in (s.problem or "")
    s.mirror = True
    assert s.mirror is True, "kept for this run"
    assert s.sync() == s.problem
    assert pipe.is_fifo(), "the pipe is left as it was"


def test_camera_scan_skips_the_busy_camera_and_our_own_output(monkeypatch) -> None:
    from avatar_cam.gui import cameras

    names = {0: "Laptop Webcam", 1: None, 2: "avatar-cam", 3: "USB Camera"}
    opened: list[int] = []
    monkeypatch.setattr(cameras.platform, "system", lambda: "Linux")
    monkeypatch.setattr(cameras, "_linux_name", lambda i: names.get(i))
    monkeypatch.setattr(cameras, "_opens", lambda i: opened.append(i) or True)
    found = cameras.scan_cameras(busy={0}, max_index=5)
    assert found == [(0, "Laptop Webcam"), (3, "USB Camera")]
    assert opened == [3]  # camera 0 is streaming: listed, not opened


def test_typed_flags_are_told_apart_from_defaults() -> None:
    from avatar_cam.gui.app import given_flags, parse_gui_args

    assert given_flags(["--input", "0", "--mode", "avatar", "--mirror"]) == {"input", "mode", "mirror"}
    assert given_flags([]) == set()
    assert parse_gui_args(["--mode", "avatar"]).given == {"mode"}


def test_a_folder_in_the_window_carries_nothing_across_files(tmp_path: Path,
                                                            style_file: Path) -> None:
    from avatar_cam.demo import draw_demo_face
    from avatar_cam.gui.workers import ProcessingWorker
    from avatar_cam.pipeline import Pipeline, PipelineConfig

    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), draw_demo_face(0.0))
    cv2.imwrite(str(folder / "b.png"), np.full((480, 640, 3), 100, np.uint8))
    cv2.imwrite(str(folder / "c.png"), draw_demo_face(1.0))
    pipe = Pipeline(load_style(style_file), PipelineConfig(output_size=(160, 120)))
    packets: list = []
    worker = ProcessingWorker(pipe, FrameQueue(1), SinkSet(lambda n, m: None), packets.append,
                              lambda: 0, lambda: False, lambda: None)
    source = open_gui_source(str(folder))
    assert source.still, "a folder declares itself stills; the window passes no flag"
    while (frame := source.read()) is not None:
        worker.step(Captured(frame, time.perf_counter(), 0))
    assert [p.fallback for p in packets] == [None, "no_face", None]
    assert np.array_equal(packets[1].output, pipe.gate.card("no_face"))
