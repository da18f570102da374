"""The window's outputs and failures: virtual camera on/off with a recording pyvirtualcam backend,
no backend (reason + setup steps, preview goes on), pause card, no webcam, unplug + reconnect,
a clean close."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")

from PySide6.QtWidgets import QApplication  # noqa: E402

from avatar_cam.gui.app import build_window, parse_gui_args  # noqa: E402
from avatar_cam.gui.settings import AppSettings  # noqa: E402
from avatar_cam.gui.window import MainWindow  # noqa: E402
from avatar_cam.styles import StyleCatalog  # noqa: E402
from tests.test_gui_helpers import (  # noqa: E402
    FakeFactory,
    RecordingBackend,
    mosaic_style,
    pump,
    wait_until,
)


@pytest.fixture
def make(tmp_path: Path, qapp: QApplication):
    styles = tmp_path / "styles"
    mosaic_style(styles / "mosaic.onnx", "mosaic", block=8)
    windows: list[MainWindow] = []

    def window(argv: list[str], factory: FakeFactory, start: bool = True,
               has_camera: bool = True, retry_s: float = 0.1) -> MainWindow:
        w = build_window(parse_gui_args(argv), settings=AppSettings(tmp_path / "s.ini"),
                         catalog=StyleCatalog([styles, tmp_path / "user"]),
                         source_factory=factory, thumbnail_dir=tmp_path / "thumbs",
                         has_camera=has_camera, start=False)
        w.engine.retry_s = retry_s
        if start:
            w.engine.start()
        w.show()
        windows.append(w)
        return w

    yield window
    for w in windows:
        w.close()
        w.deleteLater()
    QApplication.processEvents()


@pytest.fixture
def test_backend():
    """Register the recording backend with pyvirtualcam (the sink tries every backend)."""
    from pyvirtualcam import camera

    RecordingBackend.instances.clear()
    camera.register_backend("avatar-test", RecordingBackend)
    yield RecordingBackend
    camera.BACKENDS.pop("avatar-test", None)


def out_count(w: MainWindow) -> int:
    return w.engine.pipeline.stats.frames_out


def shows(w: MainWindow, card: np.ndarray) -> bool:
    """The big preview shows `card` (by value: the gate may have drawn its own copy)."""
    frame = w.output_view.frame()
    return frame is not None and np.array_equal(frame, card)


def test_virtual_camera_toggle_sends_the_output(make, test_backend) -> None:
    w = make(["--input", "0"], FakeFactory([{}]))
    wait_until(lambda: out_count(w) > 3, what="stream running")
    w.controls.vcam_button.click()
    wait_until(lambda: w.engine.vcam_on, what="vcam on")
    wait_until(lambda: w.controls.vcam_button.text() == "Virtual camera: ON", what="button state")
    assert "/dev/video-test" in w.controls.vcam_label.text()
    cam = test_backend.instances[-1]
    wait_until(lambda: len(cam.frames) > 5, what="frames sent")
    assert cam.frames[-1].shape == (720, 1280, 3) and (cam.width, cam.height) == (1280, 720)
    pump(0.3)
    assert "virtual camera ON" in w.status_vcam.text()
    assert AppSettings(w.settings.location).vcam
    w.controls.vcam_button.click()
    assert w.controls.vcam_button.text() == "Virtual camera: OFF"
    wait_until(lambda: cam.closed and w.controls.vcam_label.text().startswith("Off"),
               what="vcam closed")
    assert not w.engine.vcam_on and not AppSettings(w.settings.location).vcam
    n = len(cam.frames)
    pump(0.2)
    assert len(cam.frames) == n


def test_no_virtual_camera_backend_keeps_previewing(make) -> None:
    w = make(["--input", "0"], FakeFactory([{}]))
    w.controls.vcam_button.click()  # only the OS backends are registered: none can open here
    wait_until(lambda: "Not available" in w.controls.vcam_label.text(), what="reason shown")
    text = w.controls.vcam_label.text()
    # a plain sentence first, then what to do, the libraries' reasons last as details (the raw
    # pyvirtualcam text came first, with a double full stop and backticks)
    assert "No virtual camera is set up on this computer yet." in text and "Details:" in text
    assert text.index("To set it up") < text.index("Details:") and ".." not in text and "`" not in text
    import html

    from avatar_cam.sinks import vcam_setup_help

    assert html.escape(vcam_setup_help()) in text  # the setup steps for this OS
    assert not w.controls.vcam_button.isChecked() and w.controls.vcam_button.isEnabled()
    before = out_count(w)
    wait_until(lambda: out_count(w) > before + 5, what="preview continues")
    assert w.output_view.has_frame


def test_pause_sends_the_card_never_the_camera(make, test_backend) -> None:
    w = make(["--input", "0"], FakeFactory([{}]))
    w.controls.vcam_button.click()
    wait_until(lambda: w.engine.vcam_on and out_count(w) > 3, what="running with vcam")
    w.action_pause.trigger()
    card = w.engine.pipeline.gate.card("paused")
    wait_until(lambda: shows(w, card), what="paused card shown")
    cam = test_backend.instances[-1]
    n = len(cam.frames)
    wait_until(lambda: len(cam.frames) > n + 3, what="cards sent")
    assert all(np.array_equal(f, card) for f in cam.frames[n + 1:])
    assert not w.camera_view.has_frame  # the local camera picture is hidden too
    assert w.controls.pause_button.isChecked()
    w.action_pause.trigger()
    wait_until(lambda: not shows(w, card) and w.camera_view.has_frame,
               what="resumed")


def test_no_webcam_offers_the_demo_clip(make) -> None:
    factory = FakeFactory(["camera 0 cannot be opened: it does not exist or another app is "
                           "using it", {}])
    w = make(["--input", "0"], factory)
    wait_until(lambda: w.banner.isVisible() and w.banner.kind == "error", what="banner")
    assert "No webcam could be opened" in w.banner.label.text()
    assert "another app" in w.banner.label.text()
    titles = [b.text() for b in w.banner.buttons()]
    assert titles == ["Use the demo clip", "Retry"]
    assert any("another app" in e for e in w.errors)
    card = w.engine.pipeline.gate.card("source_lost")
    wait_until(lambda: shows(w, card), what="card while there is no camera")
    w.banner.buttons()[0].click()
    wait_until(lambda: w.engine.state == "running", what="demo running")
    assert w.engine.spec == "demo" and factory.opened[-1][0] == "demo"
    assert not w.banner.isVisible()


def test_no_camera_at_all_plays_the_demo_clip(make) -> None:
    factory = FakeFactory([{}])
    w = make([], factory, has_camera=False)
    wait_until(lambda: w.engine.state == "running", what="running")
    assert factory.opened[0][0] == "demo"
    assert w.banner.isVisible() and "demo clip" in w.banner.label.text()
    assert AppSettings(w.settings.location).input is None  # auto demo is not remembered


def test_unplug_shows_a_card_and_reconnects(make) -> None:
    factory = FakeFactory([{"lose_after": 8}] + ["gone"] * 25 + [{}])  # ~2.5 s unplugged
    w = make(["--input", "0"], factory)
    card = w.engine.pipeline.gate.card("source_lost")
    wait_until(lambda: w.engine.state == "lost", what="lost")
    wait_until(lambda: w.banner.isVisible() and "reconnecting" in w.banner.label.text(),
               what="lost banner")
    wait_until(lambda: shows(w, card), what="source-lost card")
    assert not w.camera_view.has_frame  # no camera picture while it is gone
    wait_until(lambda: w.engine.state == "running" and len(factory.opened) == 27, what="reconnected")
    wait_until(lambda: not w.banner.isVisible(), what="banner cleared")
    wait_until(lambda: not shows(w, card), what="avatar back")
    assert factory.opened[0][1].closed  # the lost camera was released


def test_close_stops_threads_and_releases_everything(make, test_backend) -> None:
    factory = FakeFactory([{}])
    w = make(["--input", "0"], factory)
    w.controls.vcam_button.click()
    wait_until(lambda: w.engine.vcam_on and out_count(w) > 2, what="running")
    w.close()
    cam = factory.opened[-1][1]
    assert cam.closed and test_backend.instances[-1].closed
    names = {t.name for t in threading.enumerate()}
    assert not any(n.startswith(("capture-", "processing", "avatar-")) for n in names), names


def test_switching_source_and_resolution(make) -> None:
    factory = FakeFactory([{}])
    w = make(["--input", "0"], factory)
    wait_until(lambda: w.engine.state == "running", what="running")
    w.use_source("2")
    wait_until(lambda: w.engine.state == "running" and w.engine.spec == "2", what="camera 2")
    c = w.controls.size_combo
    c.setCurrentIndex(c.findData("1280x720"))
    c.activated.emit(c.currentIndex())
    wait_until(lambda: factory.opened[-1][0] == "2" and len(factory.opened) == 3, what="reopened")
    assert w.engine.camera_size == (1280, 720)
    assert AppSettings(w.settings.location).input == "2"
    assert AppSettings(w.settings.location).camera_size == (1280, 720)
    wait_until(lambda: factory.opened[0][1].closed, what="old camera released")
