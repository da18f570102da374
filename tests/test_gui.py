"""The window with the real Qt (offscreen): builds and streams, styles switch mid-stream, broken
styles are refused, settings round-trip, help and hotkeys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")

from PySide6.QtCore import Qt, qInstallMessageHandler  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from avatar_cam.character.params import Calibration  # noqa: E402
from avatar_cam.gui.app import build_window, parse_gui_args  # noqa: E402
from avatar_cam.gui.help import help_html  # noqa: E402
from avatar_cam.gui.settings import AppSettings  # noqa: E402
from avatar_cam.gui.widgets import PATH_ROLE  # noqa: E402
from avatar_cam.gui.window import MainWindow  # noqa: E402
from avatar_cam.styles import CHARACTER_KIND, StyleCatalog, builtin_styles_dir  # noqa: E402
from tests.test_gui_helpers import (  # noqa: E402
    MEDIA,
    FakeFactory,
    mosaic_style,
    nan_style,
    pump,
    settings_open_in_time,
    style_code_style,
    wait_until,
)


@pytest.fixture
def env(tmp_path: Path, qapp: QApplication):
    """Style folders with two mosaics, a user folder, settings and thumbnail cache in tmp."""
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    mosaic_style(builtin / "a-fine.onnx", "fine", block=8)
    mosaic_style(builtin / "b-coarse.onnx", "coarse", block=32)
    user.mkdir()
    windows: list[MainWindow] = []

    class Env:
        root = tmp_path
        settings_path = tmp_path / "settings.ini"

        def window(self, argv: list[str] | None = None, factory: object = None,
                   show: bool = True, **kw: object) -> MainWindow:
            args = parse_gui_args(["--input", "0"] if argv is None else argv)
            w = build_window(args, settings=AppSettings(self.settings_path),
                             catalog=StyleCatalog([builtin, user]),
                             source_factory=factory or FakeFactory([{}]),
                             thumbnail_dir=tmp_path / "thumbs", has_camera=True, **kw)
            windows.append(w)
            if show:
                w.show()
            return w

    yield Env()
    for w in windows:
        w.close()
        w.deleteLater()
    QApplication.processEvents()


def frames_out(w: MainWindow) -> int:
    return w.engine.pipeline.stats.frames_out


def test_window_builds_and_streams(env) -> None:
    w = env.window()
    wait_until(lambda: w.output_view.has_frame and w.camera_view.has_frame, what="first frames")
    wait_until(lambda: frames_out(w) > 10, what="10 frames")
    out = w.output_view.frame()
    assert out is not None and out.shape == (720, 1280, 3)  # the default output, 720p
    assert w.camera_view.frame() is not None
    pump(0.3)
    assert "fps" in w.status_fps.text() and w.status_fps.text() != "fps -"
    assert "latency" in w.status_latency.text()
    assert w.status_provider.text() == "provider cpu"
    assert w.controls.style_picker.count() == 2
    assert w.engine.pipeline.style.name == "fine"  # first in the catalog = default
    assert w.engine.state == "running" and not w.errors
    wait_until(lambda: not w.controls.style_picker.item(0).icon().isNull(), what="thumbnail")
    assert list((env.root / "thumbs").glob("*.png"))


@pytest.mark.skipif(not (MEDIA / "651.mp4").is_file(), reason="../shared/media/651.mp4 absent")
def test_window_on_a_real_clip_finds_the_face(env) -> None:
    from avatar_cam.gui.workers import open_gui_source

    w = env.window(["--input", str(MEDIA / "651.mp4")], factory=open_gui_source)
    wait_until(lambda: frames_out(w) > 15, what="frames from 651.mp4")
    stats = w.engine.pipeline.stats
    assert stats.frames_with_face >= stats.frames_out - 3
    assert "651.mp4" in w.controls.camera_combo.currentText()


def test_style_switch_applies_mid_stream(env) -> None:
    w = env.window()
    wait_until(lambda: frames_out(w) > 5, what="stream running")
    before = frames_out(w)
    w.action_next_style.trigger()
    wait_until(lambda: w.engine.pipeline.style.name == "coarse", what="style switch")
    wait_until(lambda: frames_out(w) > before + 10, what="frames after the switch")
    stats = w.engine.pipeline.stats
    assert "no_style" not in stats.fallbacks and not stats.errors
    assert w.controls.style_picker.current_path().endswith("b-coarse.onnx")
    assert AppSettings(env.settings_path).style.endswith("b-coarse.onnx")
    assert "coarse" in w.windowTitle()
    w.action_prev_style.trigger()
    wait_until(lambda: w.engine.pipeline.style.name == "fine", what="previous style")


def test_broken_style_keeps_the_old_one(env) -> None:
    nan_style(env.root / "user" / "zz-broken.onnx")
    w = env.window()
    wait_until(lambda: frames_out(w) > 3, what="stream running")
    broken = next(p for p in w.controls.style_picker.paths() if "zz-broken" in p)
    w.styles.pick(broken).result(10)
    wait_until(lambda: bool(w.errors), what="error shown")
    assert "NaN" in w.errors[-1] and "Still using fine" in w.errors[-1]
    assert w.engine.pipeline.style.name == "fine"
    assert w.controls.style_picker.current_path().endswith("a-fine.onnx")
    before = frames_out(w)
    wait_until(lambda: frames_out(w) > before + 5, what="stream still running")


def test_add_style_checks_the_file(env) -> None:
    w = env.window()
    junk = env.root / "junk.onnx"
    junk.write_bytes(b"not a model")
    w.styles.add_style_file(junk).result(10)
    wait_until(lambda: bool(w.errors), what="error for junk file")
    assert "not a loadable ONNX model" in w.errors[-1]
    assert not list((env.root / "user").glob("*.onnx"))

    good = mosaic_style(env.root / "elsewhere" / "mine.onnx", "mine", block=4)
    w.styles.add_style_file(good).result(10)
    wait_until(lambda: w.engine.pipeline.style is not None
               and w.engine.pipeline.style.name == "mine", what="added style in use")
    assert (env.root / "user" / "mine.onnx").is_file()
    assert w.controls.style_picker.count() == 3

    # a copy of a built-in character under another file name is added under a name of its own
    copy = env.root / "elsewhere" / "mycopy.character.json"
    shutil.copy(builtin_styles_dir() / "tabby.character.json", copy)
    shutil.copy(builtin_styles_dir() / "tabby.character.json", env.root / "builtin" / "tabby.character.json")
    w.styles.reload()
    w.styles.add_style_file(copy).result(10)
    wait_until(lambda: w.controls.style_picker.count() == 5, what="the copy listed")
    assert (env.root / "user" / "tabby-2.character.json").is_file()


def _made_from_a_cartoon(env, w: MainWindow, style: Path, made: str) -> Path:  # type: ignore[no-untyped-def]
    """Pick `style`, give the button a drawn cartoon; the new style file `made` is in use, picked."""
    import cv2

    from avatar_cam.demo import draw_demo_face

    w.styles.pick(str(style)).result(10)
    wait_until(lambda: w.controls.reference_button.isEnabled(), what="reference enabled")
    ref = env.root / "cartoon.png"
    cv2.imwrite(str(ref), draw_demo_face(0.5))
    w.styles.apply_reference(ref).result(10)
    path = env.root / "user" / made
    wait_until(lambda: w.engine.pipeline.style is not None and w.engine.pipeline.style.path == path,
               what=f"{made} in use")
    assert w.controls.style_picker.current_path() == str(path)
    return path


def test_style_from_a_cartoon_image(env) -> None:
    """The button makes a look from the picture, saves it with the user's styles, lists it
    with a thumbnail and switches to it; a bad picture is one message and nothing changes."""


    style, _ = style_code_style(env.root / "user" / "coded.onnx", dim=4)
    w = env.window()
    assert not w.controls.reference_button.isEnabled()  # the mosaic takes no reference
    n = w.controls.style_picker.count()
    made = _made_from_a_cartoon(env, w, style, "coded-cartoon.look.json")
    assert w.controls.style_picker.count() == n + 1
    code = w.engine.pipeline.stylizer.style_code
    assert code.shape == (1, 4) and not np.allclose(code, 0)  # the picture's mean colour
    # the note, not the "Loading style coded-cartoon.look..." that may come before it
    wait_until(lambda: w.statusBar().currentMessage().endswith(".look.json"), what="the note")
    note = w.statusBar().currentMessage()
    assert str(env.root) not in note and note.endswith("coded-cartoon.look.json")  # fits the bar
    assert w.statusBar().toolTip() == note  # and reads in full on hover
    # and stays under the picker while the look is in use (the bar cut it and cleared it in 8 s)
    assert w.controls.style_note.isVisibleTo(w) and note in w.controls.style_note.text()
    thumbs = w.styles.thumbs.thumbnail(w.engine.pipeline.style)
    assert thumbs.shape[2] == 3
    assert w.controls.reference_button.isEnabled()  # a look takes another picture too
    w.styles.apply_reference(env.root / "missing.png").result(10)
    wait_until(lambda: bool(w.errors), what="error for a missing picture")
    assert "no such picture" in w.errors[-1]
    assert w.engine.pipeline.style.path == made and w.controls.style_picker.count() == n + 1


def test_the_users_styles_are_deleted_from_the_pickers_menu(env) -> None:
    """A look, the style file it was made from and a character made from a picture are deleted
    from the style picker (asked first, No keeps it); the style in use falls back to the default;
    a built-in style and a look's base while the look exists are not (an audit found no way but
    the file manager)."""
    style, _ = style_code_style(env.root / "user" / "coded.onnx", dim=4)
    w = env.window()
    n = w.controls.style_picker.count()
    look = _made_from_a_cartoon(env, w, style, "coded-cartoon.look.json")
    asked: list[str] = []
    w.styles.confirm = lambda title, text: asked.append(text) or False
    assert not w.styles.delete_style(str(look)) and look.is_file() and "coded-cartoon" in asked[-1]
    assert not w.styles.delete_style(str(style)) and style.is_file()  # the look's base
    assert "is the base of coded-cartoon" in w.errors[-1]
    builtin = w.controls.style_picker.paths()[0]
    assert w.styles.deletable(builtin) is None and not w.styles.delete_style(builtin)
    w.styles.confirm = lambda title, text: True
    assert w.styles.delete_style(str(look)) and not look.exists()
    wait_until(lambda: w.engine.pipeline.style.path != look, what="back to the default")
    assert w.engine.pipeline.style.path == w.styles.catalog.default().path
    assert w.settings.style != str(look) and str(look) not in w.controls.style_picker.paths()
    assert w.styles.delete_style(str(style)) and not style.exists()
    assert w.controls.style_picker.count() == n - 1
    made = _made_from_a_cartoon(env, w, builtin_styles_dir() / "sunny.character.json",
                                "sunny-cartoon.character.json")
    w.creator.confirm = lambda title, text: True
    assert w.styles.delete_style(str(made)) and not made.exists()
    assert str(made) not in w.controls.style_picker.paths()
    # a right-click opens the menu only: it switched the style (what the meeting sees) too
    picker = w.controls.style_picker
    wait_until(lambda: w.engine.pipeline.style.path != made, what="back to the default")
    pump(0.3)
    before = w.engine.pipeline.style.path
    other = next(i for i in range(picker.count()) if picker.item(i).data(PATH_ROLE) != str(before))
    QTest.mouseClick(picker.viewport(), Qt.MouseButton.RightButton,
                     pos=picker.visualItemRect(picker.item(other)).center())
    pump(0.3)
    assert w.engine.pipeline.style.path == before and picker.current_path() == str(before)


def test_the_picker_lists_your_characters_then_the_built_in_ones_then_generated_styles(env) -> None:
    """Generated styles (a 144 px painting, a style that keeps the camera's likeness) sat among
    the characters by name; a student's own character came last."""
    shutil.copy(builtin_styles_dir() / "sunny.character.json", env.root / "builtin" / "sunny.character.json")
    shutil.copy(builtin_styles_dir() / "tabby.character.json", env.root / "user" / "zz-mine.character.json")
    w = env.window()
    kinds = [(s.path.parent.name, s.kind == CHARACTER_KIND)
             for s in (w.styles.catalog.resolve(p) for p in w.controls.style_picker.paths())]
    assert kinds[0] == ("user", True) and kinds[1] == ("builtin", True), kinds
    assert all(not character for _, character in kinds[2:]), kinds


def test_a_drawn_character_from_a_cartoon_image(env) -> None:
    """With a drawn character the button is on too: the picture's colours make a new character,
    saved with the user's styles, listed and picked."""
    w = env.window()
    n = w.controls.style_picker.count()
    sunny = builtin_styles_dir() / "sunny.character.json"
    _made_from_a_cartoon(env, w, sunny, "sunny-cartoon.character.json")
    assert "skin and hair colours" in w.controls.reference_button.toolTip()
    assert w.controls.style_picker.count() == n + 1


def test_a_look_that_cannot_be_made_for_any_reason_is_one_message(env) -> None:
    """Not only a bad picture: a look whose base style file has gone since it was picked (a
    StyleError, not a ReferenceError) gets a message too, never silence; the style stays."""
    import cv2

    from avatar_cam.demo import draw_demo_face

    style, _ = style_code_style(env.root / "user" / "coded.onnx", dim=4)
    w = env.window()
    w.styles.pick(str(style)).result(10)
    wait_until(lambda: w.controls.reference_button.isEnabled(), what="reference enabled")
    ref = env.root / "cartoon.png"
    cv2.imwrite(str(ref), draw_demo_face(0.5))
    w.styles.apply_reference(ref).result(10)
    made = env.root / "user" / "coded-cartoon.look.json"
    wait_until(lambda: w.engine.pipeline.style.path == made, what="the look in use")
    style.unlink()  # its base style removed while the look runs
    w.styles.apply_reference(ref).result(10)
    wait_until(lambda: bool(w.errors), what="a message")
    assert "no such style file" in w.errors[-1] and "\n" not in w.errors[-1]
    assert w.engine.pipeline.style.path == made


def test_a_style_that_may_leave_you_recognisable_says_so_under_the_picker(env) -> None:
    sharp = mosaic_style(env.root / "user" / "sharp.onnx", "sharp", block=2)
    w = env.window()
    assert not w.controls.style_note.isVisibleTo(w)
    w.styles.pick(str(sharp)).result(10)
    wait_until(lambda: w.controls.style_note.isVisibleTo(w), what="the note")
    assert "may recognise you" in w.controls.style_note.text()
    w.styles.step(1)
    wait_until(lambda: w.engine.pipeline.style.name != "sharp", what="another style")
    wait_until(lambda: not w.controls.style_note.isVisibleTo(w), what="the note gone")


def test_settings_round_trip(env) -> None:
    s = AppSettings(env.settings_path)
    s.input, s.camera_size, s.mode, s.mirror, s.background = "3", (1280, 720), "overlay", True, "#102030"
    s.sync()
    again = AppSettings(env.settings_path)
    assert (again.input, again.camera_size, again.mode, again.mirror, again.background) == \
        ("3", (1280, 720), "overlay", True, "#102030")

    env.settings_path.unlink()
    w = env.window([])  # no flags: camera 0 (a camera exists)
    w.resize(1333, 811)
    w.controls.mode_combo.setCurrentIndex(w.controls.mode_combo.findData("full"))
    w.controls.mode_combo.activated.emit(w.controls.mode_combo.currentIndex())
    w.controls.mirror_check.setChecked(True)
    w.set_background("#204060")
    w.styles.pick(w.controls.style_picker.paths()[1]).result(10)
    wait_until(lambda: w.engine.pipeline.style.name == "coarse", what="style picked")
    pump(0.1)
    # the status bar names the mode while the output shows the cartoon ("avatar" in every mode)
    wait_until(lambda: w.status_face.text() == "full", what="status: the mode")
    w.close()

    saved = AppSettings(env.settings_path).geometry
    assert saved is not None  # (offscreen clamps restored sizes to its 800x800 screen)
    w2 = env.window([])
    assert w2.restoreGeometry(saved)
    assert w2.engine.pipeline.compositor.mode.value == "full"
    assert w2.engine.pipeline.compositor.mirror is True
    assert w2.controls.background_button.text() == "#204060"
    assert w2.engine.pipeline.compositor.custom_background is not None
    assert w2.engine.pipeline.style.name == "coarse"
    w2.reset_background()  # back to each style's own: a character draws its scene again
    assert w2.engine.pipeline.compositor.custom_background is None
    assert w2.controls.background_button.text() == "Style's own"
    assert AppSettings(env.settings_path).background is None
    w2.close()

    w3 = env.window(["--input", "1", "--mode", "avatar"])  # flags win for this session only
    assert w3.engine.spec == "1" and w3.engine.pipeline.compositor.mode.value == "avatar"
    w3.close()
    assert AppSettings(env.settings_path).mode == "full"
    assert AppSettings(env.settings_path).input != "1"


def test_launch_flags_win_for_the_session_and_are_not_saved(env) -> None:
    """Typed flags are used but never written (a typed --mirror came back on every launch, with
    no flag to turn it off); the user's own click on Mirror still is."""
    w = env.window(["--input", "0", "--mirror", "--mode", "overlay", "--background", "#102030",
                    "--expressiveness", "2"])
    assert w.engine.pipeline.compositor.mirror and w.controls.mirror_check.isChecked()
    assert w.engine.pipeline.compositor.mode.value == "overlay"
    assert w.engine.pipeline.config.calibration.gain == pytest.approx(2.0)
    w.engine.calibrated.emit(True, "Calibrated")  # --calibrate saves the neutral face, not the typed gain
    w.close()
    s = AppSettings(env.settings_path)
    assert (s.mirror, s.mode, s.background) == (None, None, None)
    assert s.calibration.gain == pytest.approx(1.0)

    w2 = env.window([])
    assert not w2.engine.pipeline.compositor.mirror and not w2.controls.mirror_check.isChecked()
    w2.controls.mirror_check.click()
    assert w2.engine.pipeline.compositor.mirror and AppSettings(env.settings_path).mirror is True


def test_first_run_help_panel(env) -> None:
    w = env.window()
    assert w.help_dock.isVisible()
    w.help_dock.close()
    assert AppSettings(env.settings_path).help_seen
    w.action_help.trigger()
    assert w.help_dock.isVisible()
    w.close()
    assert not env.window().help_dock.isVisible()
    for system, needle in (("Linux", "exclusive_caps=1"), ("Windows", "OBS Virtual Camera"),
                           ("Darwin", "OBS Virtual Camera")):
        text = help_html(system)
        assert needle in text and "Zoom" in text and "Meet" in text and "Teams" in text
        assert "(this computer)" in text
    # every window key is in the help's table (Ctrl+E and Ctrl+Q were not), and what the window's
    # controls are for, not only the virtual camera's setup
    for action in w.findChildren(QAction):
        for key in action.shortcuts():
            name = key.toString()
            assert name in text or name.replace("Ctrl+", "") in text, name
    assert "make your own" in text and "Calibrate" in text


def test_hotkeys(env) -> None:
    w = env.window()
    w.activateWindow()
    wait_until(lambda: frames_out(w) > 2, what="stream running")
    QTest.keyClick(w, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    wait_until(lambda: w.engine.pipeline.compositor.mirror, what="Ctrl+M mirrors")
    QTest.keyClick(w, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    wait_until(lambda: w.engine.paused, what="Ctrl+P pauses")
    assert w.controls.pause_button.isChecked()
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    wait_until(lambda: w.engine.pipeline.style.name == "coarse", what="] = next style")
    QTest.keyClick(w, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert not w.controls.camera_check.isChecked() and not w.engine.show_camera
    assert "your camera" not in w.hint.text()  # no words about a picture that is not there
    QTest.keyClick(w, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert not w.engine.paused
    QTest.keyClick(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    wait_until(lambda: not w.isVisible(), what="Ctrl+Q quits")


def test_startup_problems_are_shown_not_fatal(env, tmp_path: Path) -> None:
    w = env.window(["--input", "0", "--style", "no-such-style", "--provider", "nonsense"])
    assert w.engine.pipeline.style.name == "fine"  # fell back to the default
    text = w.banner.label.text()
    assert w.banner.isVisible() and "no-such-style" in text
    assert "'nonsense' is not an execution provider" in text
    w.banner.close_button.click()
    assert not w.banner.isVisible()

    empty = build_window(parse_gui_args(["--input", "0"]), settings=AppSettings(tmp_path / "e.ini"),
                         catalog=StyleCatalog([tmp_path / "none"]), source_factory=FakeFactory([{}]),
                         thumbnail_dir=tmp_path / "t", has_camera=True)
    try:
        empty.show()
        card = empty.engine.pipeline.gate.card("no_style")
        wait_until(lambda: empty.output_view.frame() is not None
                   and np.array_equal(empty.output_view.frame(), card), what="no-style card")
        assert "no style could be loaded" in empty.banner.label.text()
    finally:
        empty.close()


def test_startup_problems_stay_while_the_source_runs(env) -> None:
    """A startup notice stays once the camera runs (it vanished ~0.5 s in); dismissing it or
    picking a style clears it."""
    s = AppSettings(env.settings_path)
    s.style = str(env.root / "user" / "deleted.onnx")  # a saved style that was deleted since
    s.sync()
    w = env.window(["--input", "0", "--style", "no-such-style"])
    wait_until(lambda: w.engine.state == "running" and frames_out(w) > 3, what="stream running")
    pump(0.3)
    text = w.banner.label.text()
    assert w.banner.isVisible() and "no-such-style" in text and "deleted.onnx" in text
    w.styles.pick(w.controls.style_picker.paths()[1]).result(10)
    wait_until(lambda: not w.banner.isVisible(), what="picking a style clears the notice")

    w2 = env.window(["--input", "0", "--style", "no-such-style"])
    wait_until(lambda: w2.engine.state == "running", what="stream running")
    pump(0.3)
    assert w2.banner.isVisible()
    w2.banner.close_button.click()
    assert not w2.banner.isVisible()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_pipe_as_the_settings_file_is_a_notice_and_the_window_runs(env) -> None:
    os.mkfifo(env.root / "pipe.ini")
    assert settings_open_in_time(env.root / "pipe.ini"), "reading the settings blocked on the pipe"
    env.settings_path = env.root / "pipe.ini"
    w = env.window()
    wait_until(lambda: w.engine.state == "running" and frames_out(w) > 3, what="stream running")
    assert w.banner.isVisible()
    assert "pipe.ini is a pipe or device, not a settings file" in w.banner.label.text()


def test_a_startup_notice_and_a_camera_problem_show_together(qapp) -> None:
    """The window had one banner slot: a camera error hid a startup notice (a --provider typo)
    and a startup notice hid the 'demo clip is playing' note. Messages of different topics now
    show together; one cleared leaves the others."""
    from avatar_cam.gui.widgets import Banner

    b = Banner()
    b.show_message("--provider 'foo' is not an execution provider; using auto", topic="startup")
    b.show_message("No webcam could be opened: camera 1", [("Retry", lambda: None)], kind="error",
                   topic="source")
    assert b.label.text().splitlines() == ["No webcam could be opened: camera 1",
                                           "--provider 'foo' is not an execution provider; using auto"]
    assert b.kind == "error" and [x.text() for x in b.buttons()] == ["Retry"]
    b.clear_message("source")  # the camera runs again
    assert not b.isHidden() and b.label.text() == "--provider 'foo' is not an execution provider; using auto"
    assert b.kind == "warning" and b.buttons() == []
    b.show_message("the demo clip is playing", kind="info", topic="camera")
    b.close_button.click()
    assert b.isHidden() and b.topics == []


def test_status_bar_tooltip_follows_the_message(env) -> None:
    """A message longer than the bar reads in full on hover, with no libpyside warning."""
    warnings: list[str] = []
    qInstallMessageHandler(lambda kind, context, text: warnings.append(text))
    try:
        w = env.window(show=False)
    finally:
        qInstallMessageHandler(None)
    assert not [t for t in warnings if "setToolTip" in t]
    w.statusBar().showMessage("a long line about the camera")
    assert w.statusBar().toolTip() == "a long line about the camera"
    w.statusBar().clearMessage()
    assert w.statusBar().toolTip() == ""


def test_a_character_is_listed_with_a_thumbnail_and_picked_live(env) -> None:
    """Issues 14, 23: a drawn character next to the ONNX styles: thumbnail, live switch, provider."""
    rig = shutil.copy(builtin_styles_dir() / "tabby.character.json",
                      env.root / "builtin" / "c-tabby.character.json")
    w = env.window()
    assert w.controls.style_picker.count() == 3
    wait_until(lambda: frames_out(w) > 5, what="stream running")
    index = w.controls.style_picker.paths().index(str(rig))
    wait_until(lambda: not w.controls.style_picker.item(index).icon().isNull(), what="rig thumbnail")
    w.styles.pick(str(rig)).result(20)
    wait_until(lambda: w.engine.pipeline.style.kind == "character", what="switch to the character")
    before = frames_out(w)
    wait_until(lambda: frames_out(w) > before + 10, what="frames drawn by the character")
    stats = w.engine.pipeline.stats
    assert not stats.errors and "no_style" not in stats.fallbacks
    pump(0.3)
    assert w.status_provider.text() == "provider skia"


def test_calibrate_button_and_expressiveness_slider_are_saved(env) -> None:
    """Issue 23: Calibrate learns the neutral face from the stream; the slider sets the gain."""
    shutil.copy(builtin_styles_dir() / "sunny.character.json",
                env.root / "builtin" / "0-sunny.character.json")
    w = env.window(["--input", "0", "--style", "sunny"])
    wait_until(lambda: frames_out(w) > 5, what="stream running")
    assert w.controls.expressiveness_label.text() == "100%"
    QTest.mouseClick(w.controls.calibrate_button, Qt.MouseButton.LeftButton)
    assert not w.controls.calibrate_button.isEnabled()
    assert w.controls.calibrate_button.text() == "Look at the camera..."  # a second to settle
    wait_until(lambda: w.controls.calibrate_button.text() == "Hold a neutral face...", what="measuring")
    wait_until(lambda: w.controls.calibrate_button.isEnabled(), timeout=30, what="calibration done")
    saved = AppSettings(env.settings_path).calibration
    assert saved == w.engine.pipeline.config.calibration and saved.neutral != Calibration().neutral
    w.controls.expressiveness_slider.setValue(160)
    assert w.engine.pipeline.config.calibration.gain == pytest.approx(1.6)
    assert w.controls.expressiveness_label.text() == "160%"
    assert AppSettings(env.settings_path).calibration.gain == pytest.approx(1.6)
    # a generated style: they would do nothing there, so they are greyed out (and back after)
    w.styles.choose(str(env.root / "builtin" / "a-fine.onnx")).result(10)
    wait_until(lambda: not w.controls.calibrate_button.isEnabled(), what="greyed out for a mosaic")
    assert not w.controls.expressiveness_slider.isEnabled()
    w.styles.choose(str(env.root / "builtin" / "0-sunny.character.json")).result(10)
    wait_until(lambda: w.controls.calibrate_button.isEnabled(), what="back for a character")


def test_a_window_opened_on_a_generated_style_greys_out_calibration(env) -> None:
    """Not only after a switch: a window that opens on a generated style (saved from the last
    launch) has Calibrate and Expressiveness greyed out (an audit found them on)."""
    w = env.window(["--input", "0", "--style", "fine"])
    assert w.engine.pipeline.style is not None and w.engine.pipeline.style.kind != CHARACTER_KIND
    assert not w.controls.calibrate_button.isEnabled()
    assert not w.controls.expressiveness_slider.isEnabled()


def test_the_picked_style_keeps_its_thumbnail_colours(tmp_path: Path, qapp: QApplication) -> None:
    """The selected entry's thumbnail is the style's picture, not tinted with the highlight."""
    from PySide6.QtGui import QIcon

    from avatar_cam.gui.widgets import StylePicker
    from avatar_cam.styles import load_style

    style = load_style(builtin_styles_dir() / "tabby.character.json")
    picker = StylePicker(icon_size=32)
    picker.set_styles([style], current=str(style.path))
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 230  # a red thumbnail
    picker.set_thumbnail(str(style.path), rgb)
    icon = picker.item(0).icon()
    normal = icon.pixmap(32, 32, QIcon.Mode.Normal).toImage()
    selected = icon.pixmap(32, 32, QIcon.Mode.Selected).toImage()
    assert picker.currentRow() == 0 and selected == normal
    assert selected.pixelColor(16, 16).red() == 230


def test_the_wheel_scrolls_the_panel_and_never_changes_a_setting(env) -> None:
    """The audit scrolled the panel with the mouse wheel: passing over Output mode switched it
    to Overlay (the camera picture sent, and saved for the next launch) and over Expressiveness
    dragged it to 25%. Over a drop-down, or a slider not clicked, the wheel scrolls the panel."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QScrollArea

    w = env.window()
    w.resize(1100, 420)  # short: the panel scrolls
    pump(0.2)
    c = w.controls
    scroll = c.parentWidget().parentWidget()
    assert isinstance(scroll, QScrollArea) and scroll.verticalScrollBar().maximum() > 0
    mode, gain = c.mode_combo.currentIndex(), c.expressiveness_slider.value()

    def wheel(widget, steps: int) -> None:
        for _ in range(steps):
            centre = QPointF(widget.width() / 2, widget.height() / 2)
            event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                                QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                Qt.ScrollPhase.NoScrollPhase, False)
            QApplication.sendEvent(widget, event)

    top = scroll.verticalScrollBar().value()
    wheel(c.mode_combo, 3)
    wheel(c.expressiveness_slider, 3)
    assert c.mode_combo.currentIndex() == mode and c.expressiveness_slider.value() == gain
    assert scroll.verticalScrollBar().value() > top  # the panel scrolled instead
    c.expressiveness_slider.setFocus()  # clicked: the slider takes the wheel as usual
    pump(0.05)
    if c.expressiveness_slider.hasFocus():
        wheel(c.expressiveness_slider, 1)
        assert c.expressiveness_slider.value() != gain


def test_on_a_small_laptop_screen_the_window_fits_and_the_help_floats(env) -> None:
    """At 1024x600 the window was 1050 px wide (the help beside the panel): the panel's scroll
    bar and the help's close button were off the screen."""
    from PySide6.QtCore import QRect

    w = env.window()
    w.help_dock.show()
    w.fit_screen(QRect(0, 0, 1024, 600))
    pump(0.2)
    assert w.help_dock.isFloating() and w.help_dock.isVisible()
    assert w.minimumSizeHint().width() <= 1024 and w.width() <= 1024 and w.height() <= 600 - 32
    tall = env.window()
    tall.resize(1280, 780)
    tall.fit_screen(QRect(0, 0, 1366, 768))  # with its title bar, the whole window on the screen
    assert tall.height() <= 768 - 32
    wide = env.window()
    wide.help_dock.show()
    wide.help_dock.setFloating(False)  # (the test screen itself is small)
    wide.fit_screen(QRect(0, 0, 1920, 1080))
    assert not wide.help_dock.isFloating()  # room beside the panel: it stays docked


def test_a_background_picture_from_the_window_shows_and_is_kept(env, tmp_path: Path) -> None:
    """The Output panel's Background offered a colour only (`--background IMAGE` worked headless,
    and in the window said 'is not #RRGGBB'). A picture is used, saved and there at the next
    launch; a bad file is one message with the background unchanged; a saved picture deleted
    since gives each style's own background and says so."""
    import cv2

    picture, bad = tmp_path / "bg.png", tmp_path / "notes.png"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (10, 200, 30), np.uint8))
    bad.write_text("not a picture")

    def corner(w: MainWindow) -> tuple[int, ...]:
        frame = w.output_view.frame()
        return tuple(int(v) for v in frame[2, 2]) if frame is not None else ()

    w = env.window()
    wait_until(lambda: frames_out(w) > 3, what="stream running")
    w.set_background_picture(str(picture))
    wait_until(lambda: corner(w) == (10, 200, 30), what="the picture behind the avatar")
    assert w.controls.background_button.text() == "Picture: bg.png"
    w.set_background_picture(str(bad))
    assert w.errors and "notes.png" in w.errors[-1]
    pump(0.3)
    assert corner(w) == (10, 200, 30) and w.controls.background_button.text() == "Picture: bg.png"
    w.reset_background()  # the bad picture's error leaves the status bar (it stayed after Reset)
    assert "notes.png" not in w.statusBar().currentMessage()
    w.set_background_picture(str(picture))
    w.close()
    again = env.window()
    wait_until(lambda: corner(again) == (10, 200, 30), what="the saved picture at the next launch")
    assert again.controls.background_button.text() == "Picture: bg.png"
    again.close()
    picture.unlink()
    gone = env.window()
    assert "the style's own background is used" in gone.banner.label.text()
    assert gone.controls.background_button.text() == "Style's own"


def test_file_dialogs_open_where_a_file_was_last_picked_not_in_the_apps_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication) -> None:
    """Every file dialog opened in the working folder (a clone's source tree) and forgot the
    folder the student had just used."""
    from avatar_cam.gui import widgets

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(widgets, "_last_folder", [])
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(widgets.QStandardPaths, "writableLocation", lambda kind: str(pictures))
    assert widgets.start_folder() == str(pictures)
    photos = tmp_path / "class photos"
    photos.mkdir()
    assert widgets.picked_file("") == "" and widgets.start_folder() == str(pictures)
    assert widgets.picked_file(str(photos / "me.png")) == str(photos / "me.png")
    assert widgets.start_folder() == str(photos)
    monkeypatch.setattr(widgets.QStandardPaths, "writableLocation", lambda kind: "")
    monkeypatch.setattr(widgets, "_last_folder", [])
    assert widgets.start_folder() == str(Path.home())


def test_the_video_view_paints_the_frame_in_its_colours_once_converted(qapp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The view hands Qt the frame in the window's own pixel format, converted once a frame: Qt
    converted and smooth-scaled a BGR888 frame on its thread pool on every paint (a sixth of a
    core at 30 fps). The picture is the frame's, aspect kept, red as red and blue as blue."""
    import cv2

    from avatar_cam.gui import widgets

    frame = np.zeros((90, 160, 3), np.uint8)
    frame[:, :80] = (0, 0, 255)  # BGR: red on the left, blue on the right
    frame[:, 80:] = (255, 0, 0)
    conversions = []
    real = cv2.cvtColor
    monkeypatch.setattr(widgets.cv2, "cvtColor", lambda *a, **k: conversions.append(1) or real(*a, **k))
    view = widgets.VideoView()
    view.resize(400, 300)
    view.set_frame(frame)
    shots = [view.grab().toImage() for _ in range(3)]  # three paints of one frame
    assert len(conversions) == 1
    img = shots[-1]
    left, right, band = img.pixelColor(100, 150), img.pixelColor(300, 150), img.pixelColor(200, 10)
    assert (left.red(), left.blue()) == (255, 0) and (right.red(), right.blue()) == (0, 255)
    assert (band.red(), band.green(), band.blue()) == (24, 26, 30), "letterboxed: 400x225 in 400x300"
    view.set_frame(frame.copy())
    view.grab()
    assert len(conversions) == 2, "a new frame is converted again"
