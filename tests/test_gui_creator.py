"""The character creator in the real window (offscreen Qt, issue 24): edits show live on the
output the meeting gets, a saved character lands in the user styles folder and the picker (with
a thumbnail) and is sent to the virtual camera; rename, delete, import, export, undo, random;
the panel fits a 1366x768 screen and works from the keyboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QComboBox  # noqa: E402

from avatar_cam.character.model import load_character  # noqa: E402
from avatar_cam.gui.app import build_window, parse_gui_args  # noqa: E402
from avatar_cam.gui.settings import AppSettings  # noqa: E402
from avatar_cam.gui.window import MainWindow  # noqa: E402
from avatar_cam.styles import StyleCatalog, builtin_styles_dir  # noqa: E402
from tests.test_gui_helpers import FakeFactory, mosaic_style, pump, wait_until  # noqa: E402

RED, BLUE = "#ff0000", "#0000ff"


class RecordingVcam:
    """A virtual camera that keeps the last frame it was sent."""

    device, backend = "/dev/video-test", "test"

    def __init__(self, size: tuple[int, int], fps: float):
        self.last: np.ndarray | None = None

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        self.last = image_bgr.copy()

    def close(self) -> None:
        pass


@pytest.fixture
def env(tmp_path: Path, qapp: QApplication):
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    builtin.mkdir()
    for name in ("sunny", "tabby"):
        shutil.copy(builtin_styles_dir() / f"{name}.character.json", builtin)
    mosaic_style(builtin / "mosaic.onnx", "mosaic", block=8)
    user.mkdir()
    windows: list[MainWindow] = []
    vcams: list[RecordingVcam] = []

    class Env:
        root, user_dir = tmp_path, user
        settings = AppSettings(tmp_path / "settings.ini")

        def window(self) -> MainWindow:
            def vcam(size: tuple[int, int], fps: float) -> RecordingVcam:
                vcams.append(RecordingVcam(size, fps))
                return vcams[-1]

            w = build_window(parse_gui_args(["--input", "0", "--size", "320x180"]), settings=self.settings,
                             catalog=StyleCatalog([builtin, user]), source_factory=FakeFactory([{}]),
                             vcam_factory=vcam, thumbnail_dir=tmp_path / "thumbs", has_camera=True)
            w.creator.ask_unsaved = lambda name: "discard"  # closing at the end of a test
            windows.append(w)
            w.show()
            wait_until(lambda: w.output_view.has_frame and w.engine.pipeline.stats.frames_with_face > 3,
                       what="the stream with a face")
            return w

        def sent(self) -> np.ndarray | None:
            """The last frame the virtual camera was sent."""
            return vcams[-1].last if vcams else None

    yield Env()
    for w in windows:
        w.close()
        w.deleteLater()
    QApplication.processEvents()


def _corner(w: MainWindow) -> tuple[int, int, int]:
    frame = w.output_view.frame()
    return tuple(int(v) for v in frame[2, 2]) if frame is not None else (-1, -1, -1)


def _set_background(w: MainWindow, colour: str) -> None:
    assert w.creator.edit("background", "kind", "colour")
    assert w.creator.edit("background", "top", colour)
    bgr = tuple(int(colour[i:i + 2], 16) for i in (5, 3, 1))
    wait_until(lambda: _corner(w) == bgr, what=f"the output showing the {colour} background")


def test_make_save_pick_and_send_your_own_character(env) -> None:
    w = env.window()
    QTest.keyClick(w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Ctrl+E: the creator
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    assert w.tabs.currentIndex() == 1 and w.creator.draft.name == "my sunny"
    _set_background(w, RED)  # the live preview is the pipeline's output: it follows at once
    w.creator.edit("hair", "style", "afro")
    w.creator.edit("glasses", "style", "round")
    w.creator_panel.name_edit.setText("Robin")
    QTest.mouseClick(w.creator_panel.save_button, Qt.MouseButton.LeftButton)  # as a user saves
    path = env.user_dir / "robin.character.json"
    assert path.is_file(), "the Save button saves under the name typed"
    ch = load_character(path)
    assert ch.name == "Robin" and ch.parts["hair"]["style"] == "afro"
    assert ch.parts["background"]["top"] == (255, 0, 0)
    picker = w.controls.style_picker
    assert str(path) in picker.paths()
    index = picker.paths().index(str(path))
    wait_until(lambda: not picker.item(index).icon().isNull(), what="the saved character's thumbnail")
    wait_until(lambda: w.engine.pipeline.style.path == path and env.settings.style == str(path),
               what="the saved character in use and remembered for the next launch")
    w.controls.vcam_button.click()
    wait_until(lambda: env.sent() is not None and tuple(env.sent()[2, 2]) == (0, 0, 255),
               what="the virtual camera sending the character")


def test_undo_redo_random_reset_and_keys(env) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    d, panel = w.creator.draft, w.creator_panel
    start = d.data()
    combo = panel.editors[("hair", "style")]
    assert isinstance(combo, QComboBox)
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Down)  # the keyboard picks the next hair style
    wait_until(lambda: d.get("hair", "style") != start["hair"]["style"], what="a keyboard edit")
    edited = d.get("hair", "style")
    QTest.keyClick(combo, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert d.get("hair", "style") == start["hair"]["style"] and combo.currentData() == start["hair"]["style"]
    QTest.keyClick(combo, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert d.get("hair", "style") == edited
    panel.random_button.click()
    assert d.data() != start
    panel.reset_button.click()
    assert {k: v for k, v in d.data().items() if k != "name"} == {k: v for k,
                                                                  v in start.items() if k != "name"}
    panel.undo_button.click()
    assert d.data() != start


def test_the_creators_keys_work_right_after_ctrl_e(env) -> None:
    """Ctrl+E switched the tab but left the keyboard on the tab bar: Ctrl+R did nothing."""
    w = env.window()
    w.show()
    QTest.keyClick(w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    start = w.creator.draft.data()
    QTest.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert w.creator.draft.data() != start, "Ctrl+R right after Ctrl+E gave a random character"


def test_rename_delete_import_export(env, tmp_path: Path) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    c = w.creator
    c.ask_text = lambda title, prompt, text: "Kim"
    c.confirm = lambda title, text: True
    path = c.save("Robin")
    assert path is not None and c.panel.rename_button.isEnabled()
    new = c.rename()
    assert new == env.user_dir / "kim.character.json" and not path.exists()
    wait_until(lambda: w.engine.pipeline.style.path == new and env.settings.style == str(new),
               what="the renamed file in use and remembered")
    assert str(new) in w.controls.style_picker.paths() and str(path) not in w.controls.style_picker.paths()
    (tmp_path / "share").mkdir()
    out = c.export(tmp_path / "share" / "kim.character.json")
    assert out is not None and load_character(out).name == "Kim"
    assert c.delete()
    assert not new.exists() and str(new) not in w.controls.style_picker.paths()
    wait_until(lambda: w.engine.pipeline.style.name == "sunny", what="back on the default")
    assert env.settings.style != str(new)
    imported = c.import_file(out)
    assert imported == env.user_dir / "kim.character.json" and c.draft.path == imported
    assert str(imported) in w.controls.style_picker.paths()


def test_a_picture_background_shows_live_and_a_bad_picture_is_refused(env, tmp_path: Path) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    picture = tmp_path / "room.png"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (40, 160, 220), np.uint8))
    w.creator.ask_open = lambda title, filt: str(picture)
    assert w.creator.edit("background", "kind", "image")  # asks for the picture first
    wait_until(lambda: _corner(w) == (40, 160, 220), what="the picture behind the character")
    stored = env.user_dir / str(w.creator.draft.get("background", "image"))
    assert stored.is_file() and stored.parent.name == "backgrounds"
    errors = len(w.errors)
    (tmp_path / "fake.png").write_text("not a picture")
    assert not w.creator.set_background_image(tmp_path / "fake.png")
    assert len(w.errors) == errors + 1 and "picture" in w.errors[-1]
    # the window's own Output background wins: the creator says so (its Background seemed dead)
    assert "Output background" not in w.creator_panel.status.text()
    w.set_background("#ff0000")
    w.creator.edit("background", "top", "#123456")
    assert "Output background is shown instead" in w.creator_panel.status.text()


def test_a_character_whose_background_picture_was_deleted_stays_and_is_edited(env, tmp_path: Path) -> None:
    """Its picture deleted: every creator edit was refused naming the picture, and at the next
    start the character was refused and gone from the picker. It stays, on its gradient, with
    one note naming the picture, and edits and saving work."""
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    w.creator.ask_open = lambda title, filt: str(picture)
    picture = tmp_path / "room.png"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (40, 160, 220), np.uint8))
    assert w.creator.edit("background", "kind", "image")
    assert w.creator.edit("background", "top", RED)
    path = w.creator.save("Robin")
    assert path is not None
    wait_until(lambda: env.settings.style == str(path), what="the character remembered for the next start")
    rel = str(w.creator.draft.get("background", "image"))
    (env.user_dir / rel).unlink()  # deleted while it is being edited
    errors = len(w.errors)
    assert w.creator.edit("hair", "style", "afro") and len(w.errors) == errors
    assert f"{rel!r} is missing" in w.creator_panel.status.text()
    w.close()

    w = env.window()  # the next start
    assert w.engine.pipeline.style.path == path and str(path) in w.controls.style_picker.paths()
    assert not w.errors and not w.banner.isVisibleTo(w)
    note = w.controls.style_note
    assert note.isVisibleTo(w) and f"{rel!r} is missing" in note.text() and "gradient" in note.text()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    assert w.creator.source == path and w.creator.draft.get("background", "kind") == "gradient"
    assert f"{rel!r} is missing" in w.creator_panel.status.text()
    wait_until(lambda: max(abs(a - b) for a, b in zip(_corner(w), (0, 0, 255), strict=True)) <= 3,
               what="the gradient's red top instead of the picture")
    assert w.creator.edit("hair", "style", "bob") and not w.errors
    assert w.creator.save() == path and not w.errors
    saved = load_character(path)
    assert saved.parts["hair"]["style"] == "bob" and saved.parts["background"]["kind"] == "gradient"
    assert saved.missing_background is None and "missing" not in w.creator_panel.status.text()


def test_a_bad_import_shows_one_message_and_changes_nothing(env, tmp_path: Path) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    before_files, before_paths = sorted(env.user_dir.iterdir()), w.controls.style_picker.paths()
    before_draft = w.creator.draft.data()
    for name, content in (("x.character.json", "{oops"), ("model.onnx", "not a character"),
                          ("y.character.json", json.dumps({"format": "avatar-cam-character/2"}))):
        bad = tmp_path / name
        bad.write_text(content)
        errors = len(w.errors)
        assert w.creator.import_file(bad) is None
        assert len(w.errors) == errors + 1 and "\n" not in w.errors[-1]
    assert sorted(env.user_dir.iterdir()) == before_files and w.controls.style_picker.paths() == before_paths
    assert w.creator.draft.data() == before_draft


def test_editing_a_built_in_never_writes_over_it_and_names_are_checked(env) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    sunny = env.root / "builtin" / "sunny.character.json"
    before = sunny.read_text()
    w.creator.edit("hair", "style", "bob")
    errors = len(w.errors)
    assert w.creator.save("sunny") is None and len(w.errors) == errors + 1 and "built-in" in w.errors[-1]
    assert w.creator.save("") is None
    assert sunny.read_text() == before and not list(env.user_dir.iterdir())


def test_picking_another_character_asks_first_and_no_changes_nothing(env) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    sunny, tabby = (str(env.root / "builtin" / f"{n}.character.json") for n in ("sunny", "tabby"))
    w.creator.edit("hair", "style", "bob")
    wait_until(lambda: w.engine.pipeline.stylizer.character.parts["hair"]["style"] == "bob",
               what="the draft on the preview")
    asked: list[str] = []
    w.creator.confirm = lambda title, text: asked.append(text) or False
    assert w.styles.choose(tabby) is None and asked  # asked before anything switched
    pump(0.3)
    # no: the same character everywhere (the preview, the picker, the title, the settings)
    assert str(w.engine.pipeline.style.path) == sunny and w.settings.style != tabby
    assert w.controls.style_picker.currentItem().data(Qt.ItemDataRole.UserRole) == sunny
    assert "tabby" not in w.windowTitle()
    assert w.creator.draft.get("hair", "style") == "bob"  # kept
    assert w.engine.pipeline.stylizer.character.parts["hair"]["style"] == "bob"
    w.creator.confirm = lambda title, text: True
    w.styles.choose(tabby).result(20)
    wait_until(lambda: w.creator.draft.name == "my tabby", what="tabby opened in the creator")


def test_rename_keeps_unsaved_changes_unsaved_and_closing_asks(env) -> None:
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    path = w.creator.save("Kid")
    assert path is not None
    w.creator.edit("hair", "style", "bob")
    w.creator.ask_text = lambda title, label, text: "Kid Two"
    renamed = w.creator.rename()
    assert renamed is not None and not path.exists()
    saved = load_character(renamed)
    assert saved.name == "Kid Two" and saved.parts["hair"]["style"] != "bob"  # the file: as saved
    assert w.creator.draft.dirty and "unsaved changes" in w.creator_panel.status.text()
    asked: list[str] = []
    w.creator.ask_unsaved = lambda name: asked.append(name) or "cancel"
    w.close()
    assert asked == ["Kid Two"] and w.isVisible()  # cancel: still open, nothing lost
    w.creator.ask_unsaved = lambda name: "save"
    w.close()
    assert not w.isVisible() and load_character(renamed).parts["hair"]["style"] == "bob"


def test_after_a_rename_save_writes_the_renamed_file_even_with_the_name_field_focused(env) -> None:
    """With the keyboard in the name field, Rename left the field on the old name (a refresh
    does not overwrite a field being typed in), so Save wrote a second character under the old
    name and the renamed file kept its old content."""
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    path = w.creator.save("Kid")
    w.creator_panel.name_edit.setFocus()
    w.creator.edit("hair", "style", "bob")
    w.creator.ask_text = lambda title, label, text: "Kid Two"
    renamed = w.creator.rename()
    assert renamed is not None and w.creator_panel.name_edit.text() == "Kid Two"
    assert w.creator.save() == renamed and not path.exists()
    assert load_character(renamed).parts["hair"]["style"] == "bob"


def test_undo_after_save_keeps_the_name_and_import_asks_before_dropping_edits(env) -> None:
    """Undo after Save brought the old name back (the next Save wrote a second file); Import
    replaced a draft with unsaved changes without asking; a name typed in the field went back
    to the old one at the next edit."""
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    c, panel = w.creator, w.creator_panel
    c.edit("hair", "style", "afro")
    first = c.save("Robin")
    c.undo()
    assert c.draft.name == "Robin" and c.save() == first
    assert sorted(p.name for p in env.user_dir.glob("*.character.json")) == ["robin.character.json"]
    panel.name_edit.setText("Robin Hood")  # typed, not saved yet
    c.edit("glasses", "style", "round")
    assert panel.name_edit.text() == "Robin Hood"
    asked: list[str] = []
    c.confirm = lambda title, text: asked.append(text) or False
    assert c.import_file(builtin_styles_dir() / "tabby.character.json") is None
    assert asked and c.draft.name == "Robin" and c.draft.get("glasses", "style") == "round"


def test_a_character_from_a_cartoon_image_asks_before_dropping_unsaved_edits(env) -> None:
    """The button switched to the new character at once: the creator's unsaved edits were gone."""
    import cv2

    from avatar_cam.demo import draw_demo_face

    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    w.creator.edit("glasses", "style", "round")
    asked: list[str] = []
    w.creator.confirm = lambda title, text: asked.append(text) or False  # no: keep my edits
    ref = env.root / "cartoon.png"
    cv2.imwrite(str(ref), draw_demo_face(0.5))
    w.styles.apply_reference(ref).result(30)
    made = env.user_dir / "sunny-cartoon.character.json"
    wait_until(lambda: made.exists() and bool(asked), what="asked before switching")
    pump(0.3)
    assert w.creator.draft.dirty and w.creator.draft.get("glasses", "style") == "round"
    assert w.engine.pipeline.style.path != made


def test_picking_the_edited_character_again_shows_the_draft_not_the_saved_file(env) -> None:
    """Edited (unsaved), another style picked, then the character again: the output showed the
    saved file while the creator showed the edits."""
    w = env.window()
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    zed = w.creator.save("Zed")
    w.creator.edit("hair", "style", "bob")
    w.styles.choose(str(env.root / "builtin" / "mosaic.onnx")).result(10)
    wait_until(lambda: w.engine.pipeline.style.path.name == "mosaic.onnx", what="the mosaic runs")
    w.styles.choose(str(zed)).result(10)

    def drawn_hair() -> object:
        renderer = w.engine.pipeline.stylizer
        return getattr(renderer, "character", None) and renderer.character.parts["hair"]["style"]

    wait_until(lambda: drawn_hair() == "bob", what="the draft drawn again")
    assert w.creator.draft.dirty


def test_the_creator_fits_a_1366x768_laptop_screen(env) -> None:
    w = env.window()
    w.show_creator()
    w.resize(1366, 740)  # 768 less a panel
    pump(0.2)
    hint = w.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 740, hint
    assert w.width() <= 1366 and w.height() <= 740
    panel_area = w.tabs.currentWidget()
    assert panel_area.width() >= 360  # the panel has room; it scrolls vertically
    for widget in (w.creator_panel.save_button, w.creator_panel.random_button, w.creator_panel.name_edit):
        assert widget.focusPolicy() != Qt.FocusPolicy.NoFocus


def test_the_creators_buttons_fit_in_the_smallest_window_and_at_1050_wide(env) -> None:
    """'Save as new...' was cut off at about 1050 px wide (the window's minimum width with the
    help panel open): the buttons wrap into more rows instead."""
    w = env.window()
    w.show_creator()
    p = w.creator_panel
    buttons = [getattr(p, f"{name}_button") for name in (
        "save", "save_new", "rename", "delete", "random", "reset", "undo", "redo", "import", "export")]
    viewport = w.tabs.currentWidget().viewport()
    for help_open in (True, False):
        w.help_dock.setVisible(help_open)
        pump(0.2)
        for width in (w.minimumSizeHint().width(), 1050):
            w.resize(width, 700)
            pump(0.2)
            assert w.width() == width
            cut = [(b.text(), b.width(), b.sizeHint().width()) for b in buttons
                   if not b.isVisibleTo(w) or b.width() < b.sizeHint().width()
                   or b.mapTo(viewport, QPoint(b.width(), 0)).x() > viewport.width()]
            assert not cut, f"cut off at {width} px, help {'open' if help_open else 'closed'}: {cut}"



def test_the_creator_opens_on_the_default_character_while_a_generated_style_runs(env) -> None:
    """With an ONNX style running, Ctrl+E opened the first character in the list ("my ada"),
    not the default the help promises, and switched the live output to it."""
    shutil.copy(builtin_styles_dir() / "ada.character.json", env.root / "builtin")
    w = env.window()
    w.styles.choose(str(env.root / "builtin" / "mosaic.onnx")).result(10)
    wait_until(lambda: w.engine.pipeline.style.path.name == "mosaic.onnx", what="the mosaic runs")
    w.show_creator()
    wait_until(lambda: w.creator.draft is not None, what="the creator opened")
    assert w.creator.source is not None and w.creator.source.name == "sunny.character.json"
