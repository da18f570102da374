"""The character creator in the window (issue 24): a panel of controls made from the character
file's schema (`character.model.SCHEMA`), and a controller that edits a `CharacterDraft`, shows
it live through the running pipeline (the big preview follows your face while you edit) and
saves, renames, deletes, imports and exports files through a `CharacterLibrary` in the user
styles folder. Everything the user can do is a method here; dialogs are attributes so tests can
answer them."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from avatar_cam.character.creator import (
    PRESETS,
    CharacterDraft,
    CharacterLibrary,
    export_character,
    slug,
    store_background,
)
from avatar_cam.character.model import BOOL, COLOUR, SCHEMA, SUFFIX, V1_SUFFIX, load_character
from avatar_cam.gui.engine import Engine
from avatar_cam.gui.settings import AppSettings
from avatar_cam.gui.styles_ui import StyleController
from avatar_cam.gui.widgets import ButtonGrid, ask_yes_no, open_file, picked_file, start_folder, text_on
from avatar_cam.styles import CHARACTER_KIND, StyleInfo

SECTIONS = {  # panel order and titles
    "face": "Face", "hair": "Hair or headscarf", "eyes": "Eyes", "brows": "Eyebrows", "nose": "Nose",
    "mouth": "Mouth", "glasses": "Glasses", "facial_hair": "Beard and moustache", "headwear": "Hat",
    "clothing": "Clothes", "ears": "Ears", "snout": "Snout (animals)", "markings": "Fur markings (animals)",
    "background": "Background",
}
KEYS = {"shape": "Shape", "skin": "Skin", "blush": "Blush", "freckles": "Freckles", "style": "Style",
        "colour": "Colour", "inner": "Inside", "iris": "Colour", "size": "Size", "lashes": "Lashes",
        "lips": "Lips", "nose": "Nose tip", "accent": "Trim", "kind": "Kind", "top": "Top",
        "bottom": "Bottom", "image": "Picture"}
NAMES = {"hijab": "Headscarf (hijab)", "side_part": "Side part", "cat_eye": "Cat-eye", "tshirt": "T-shirt",
         "vneck": "V-neck", "collar": "Shirt with collar", "full": "Beard and moustache"}
SLIDER_STEPS = 100
SWATCHES_PER_ROW = 10
assert set(SECTIONS) == set(SCHEMA), "every section of the character file has a place in the panel"


def label(value: str) -> str:
    return NAMES.get(value, value.replace("_", " ").capitalize())


class ColourPicker(QWidget):
    """Preset swatches (keyboard and mouse) and a button for any colour; `picked(hex)`."""

    picked = Signal(str)
    custom_requested = Signal()

    def __init__(self, what: str, presets: dict[str, str], parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        self.swatches: dict[str, QToolButton] = {}
        for i, (name, colour) in enumerate(presets.items()):
            b = QToolButton()
            b.setFixedSize(22, 22)
            b.setToolTip(f"{what}: {name}")
            b.setAccessibleName(f"{what} {name}")
            b.setCheckable(True)
            b.setStyleSheet(f"QToolButton {{ background: {colour}; border: 1px solid #555; "
                            "border-radius: 4px; }"
                            "QToolButton:checked { border: 3px solid #2d8cf0; }"
                            "QToolButton:focus { border: 2px dashed #2d8cf0; }")
            b.clicked.connect(lambda _=False, c=colour: self.picked.emit(c))
            grid.addWidget(b, i // SWATCHES_PER_ROW, i % SWATCHES_PER_ROW)
            self.swatches[colour] = b
        self.custom = QPushButton("Any colour...")
        self.custom.setToolTip(f"Choose any {what.lower()} colour")
        self.custom.setAccessibleName(f"{what}: any colour")
        self.custom.clicked.connect(self.custom_requested)
        rows = -(-len(presets) // SWATCHES_PER_ROW) if presets else 0
        grid.addWidget(self.custom, rows, 0, 1, SWATCHES_PER_ROW)
        self.colour = "#000000"

    def set_colour(self, colour: str) -> None:
        self.colour = colour
        for c, b in self.swatches.items():
            b.setChecked(c == colour)
        self.custom.setText(f"Any colour... ({colour})")
        text = text_on(QColor(colour))
        self.custom.setStyleSheet(f"QPushButton {{ background: {colour}; color: {text}; }}")


class CreatorPanel(QWidget):
    """The creator's widgets. `changed(section, key, value, merge)` when the user sets a value
    (`merge`: a slider still being dragged, one undo step); buttons are attributes."""

    changed = Signal(str, str, object, bool)
    drag_started = Signal()  # a slider pressed: its drag is one undo step, not merged with the last
    colour_requested = Signal(str, str)  # section, key: open the colour dialog
    image_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(340)
        col = QVBoxLayout(self)
        col.setContentsMargins(8, 8, 8, 8)
        col.addWidget(self._file_box())
        self.editors: dict[tuple[str, str], QWidget] = {}
        self.groups: dict[str, QGroupBox] = {}
        for section, title in SECTIONS.items():
            col.addWidget(self._section(section, title))
        col.addStretch(1)

    # -- building -------------------------------------------------------------------------------
    def _file_box(self) -> QGroupBox:
        box = QGroupBox("Your character")
        lay = QVBoxLayout(box)
        self.status = QLabel()
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(64)
        self.name_edit.setAccessibleName("Character name")
        self.name_edit.setPlaceholderText("a name for your character")
        row.addWidget(self.name_edit, 1)
        lay.addLayout(row)

        def buttons(*specs: tuple[str, str, str]) -> None:
            grid = ButtonGrid()  # wraps where the panel is too narrow for a row
            for attr, text, tip in specs:
                b = QPushButton(text)
                b.setToolTip(tip)
                setattr(self, attr, b)
                grid.addWidget(b)
            lay.addLayout(grid)

        buttons(("save_button", "Save", "Save under the name above, into your styles (Ctrl+S)"),
                ("save_new_button", "Save as new...", "Save a copy under a new name"),
                ("rename_button", "Rename...", "Give this saved character another name"),
                ("delete_button", "Delete", "Delete this saved character"))
        buttons(("random_button", "Random", "A random character (Ctrl+R)"),
                ("reset_button", "Reset", "Back to how it was when you started editing it"),
                ("undo_button", "Undo", "Undo the last change (Ctrl+Z)"),
                ("redo_button", "Redo", "Redo (Ctrl+Shift+Z)"))
        buttons(("import_button", "Import...", "Add a character file someone gave you"),
                ("export_button", "Export...", "Save this character as a file to share"))
        return box

    def _section(self, section: str, title: str) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, spec in SCHEMA[section].items():
            what = f"{title.split(' (')[0]} {KEYS.get(key, key).lower()}"
            editor = self._editor(section, key, spec, what)
            self.editors[(section, key)] = editor
            form.addRow(KEYS.get(key, key), editor)
        self.groups[section] = box
        return box

    def _editor(self, section: str, key: str, spec: object, what: str) -> QWidget:
        if spec == COLOUR:
            picker = ColourPicker(what.capitalize(), PRESETS.get((section, key), {}))
            picker.picked.connect(lambda c, s=section, k=key: self.changed.emit(s, k, c, False))
            picker.custom_requested.connect(lambda s=section, k=key: self.colour_requested.emit(s, k))
            return picker
        if spec == BOOL:
            check = QCheckBox()
            check.setAccessibleName(what)
            check.toggled.connect(lambda on, s=section, k=key: self.changed.emit(s, k, bool(on), False))
            return check
        if spec == "path":
            button = QPushButton("Choose a picture...")
            button.setAccessibleName("Background picture")
            button.clicked.connect(self.image_requested)
            return button
        if isinstance(spec, tuple) and isinstance(spec[0], str):
            combo = QComboBox()
            combo.setAccessibleName(what)
            for value in spec:
                combo.addItem(label(value), value)
            combo.activated.connect(
                lambda i, s=section, k=key, c=combo: self.changed.emit(s, k, c.itemData(i), False))
            return combo
        lo, hi = spec  # type: ignore[misc]
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, SLIDER_STEPS)
        slider.setPageStep(10)
        slider.setAccessibleName(what)

        def moved(v: int, s: str = section, k: str = key, lo: float = lo, hi: float = hi,
                  sl: QSlider = slider) -> None:
            self.changed.emit(s, k, round(lo + (hi - lo) * v / SLIDER_STEPS, 3), sl.isSliderDown())
        slider.valueChanged.connect(moved)
        slider.sliderPressed.connect(self.drag_started.emit)
        return slider

    # -- showing --------------------------------------------------------------------------------
    def show_draft(self, draft: CharacterDraft) -> None:
        """Every widget shows the draft's value (without emitting `changed`)."""
        for (section, key), editor in self.editors.items():
            value = draft.get(section, key)
            editor.blockSignals(True)
            if isinstance(editor, ColourPicker):
                editor.set_colour(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(editor.findData(value))
            elif isinstance(editor, QSlider):
                lo, hi = SCHEMA[section][key]  # type: ignore[misc]
                editor.setValue(round((float(value) - lo) / (hi - lo) * SLIDER_STEPS))  # type: ignore[arg-type]
            elif isinstance(editor, QPushButton):
                editor.setText(f"Picture: {Path(str(value)).name}" if value else "Choose a picture...")
            editor.blockSignals(False)
        self.undo_button.setEnabled(draft.can_undo())
        self.redo_button.setEnabled(draft.can_redo())


class CreatorController(QObject):
    """Edits one `CharacterDraft` at a time and keeps the window in step: the live preview, the
    style picker (a saved character appears with its thumbnail) and the saved style setting.

    Test hooks (the dialogs): `ask_text(title, label, text) -> str | None`,
    `confirm(title, text) -> bool`, `ask_open(title, filter) -> str`, `ask_save(title, name,
    filter) -> str`, `ask_colour(initial) -> str | None`, `ask_unsaved(name) -> 'save' |
    'discard' | 'cancel'`."""

    def __init__(self, window: QMainWindow, panel: CreatorPanel, engine: Engine, styles: StyleController,
                 settings: AppSettings, show_error: Callable[[str, str], None]):
        super().__init__(window)
        self.window, self.panel, self.engine, self.styles = window, panel, engine, styles
        self.settings, self.show_error = settings, show_error
        self.draft: CharacterDraft | None = None
        self.source: Path | None = None  # the character file whose renderer previews the draft
        self._shown_name: str | None = None  # the draft's name as last put in the name field
        self._gone: str | None = None  # the opened file's background picture was missing: the note
        self.rng = np.random.default_rng()
        self.ask_text = self._ask_text
        self.confirm = lambda title, text: ask_yes_no(window, title, text)
        self.ask_open = lambda title, filt: open_file(window, title, filt)
        self.ask_save = lambda title, name, filt: picked_file(QFileDialog.getSaveFileName(
            window, title, str(Path(start_folder()) / name), filt)[0])
        self.ask_colour = self._ask_colour
        self.ask_unsaved = self._ask_unsaved
        p = panel
        p.changed.connect(self.edit)
        p.drag_started.connect(lambda: self.draft is not None and self.draft.new_step())
        p.colour_requested.connect(self._pick_colour)
        p.image_requested.connect(self._pick_image)
        for button, slot in ((p.save_button, self.save), (p.save_new_button, self.save_as_new),
                             (p.rename_button, self.rename), (p.delete_button, self.delete),
                             (p.random_button, self.randomize), (p.reset_button, self.reset),
                             (p.undo_button, self.undo), (p.redo_button, self.redo),
                             (p.import_button, self.import_file), (p.export_button, self.export)):
            button.clicked.connect(lambda _checked=False, slot=slot: slot())  # not `checked` as a name
        for keys, slot in ((["Ctrl+Z"], self.undo), (["Ctrl+Shift+Z", "Ctrl+Y"], self.redo),
                           (["Ctrl+S"], self.save), (["Ctrl+R"], self.randomize)):
            action = QAction(p)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            p.addAction(action)
        engine.style_changed.connect(self._on_style_changed)
        styles.may_switch = self.may_switch

    @property
    def library(self) -> CharacterLibrary:
        return self.styles.character_library()

    # -- opening --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the creator on the current style when it is a character, else on the default
        character (the first time the creator is shown)."""
        if self.draft is not None:
            return
        current = self.engine.pipeline.style
        if current is None or current.kind != CHARACTER_KIND:
            catalog = self.styles.catalog
            default = catalog.default() if catalog.styles else None
            current = default if default is not None and default.kind == CHARACTER_KIND else next(
                (s for s in catalog.styles if s.kind == CHARACTER_KIND), None)
        if current is not None:
            self.open(current.path)

    def open(self, path: Path) -> bool:
        """Edit the character file at `path` (a built-in is edited as a copy to save as yours)."""
        try:
            ch = load_character(path)
        except ValueError as e:
            self.show_error("Character not opened", f"{path.name}: {e}")
            return False
        own = self.library.owns(path)
        self.draft = CharacterDraft(ch, path if own else None, self.library.folder,
                                    None if own else f"my {ch.name}"[:64])
        self.source = path
        self._shown_name = None  # a new draft: its name in the field
        self._gone = ch.missing_note()
        self._refresh()
        self._preview()
        return True

    def may_switch(self, path: str) -> bool:
        """Asked before the style picker switches to `path`: another character replaces the
        draft here, so unsaved changes are dropped only after a yes (no: nothing switches)."""
        d = self.draft
        if d is None or not d.dirty or self.source is None or Path(path).resolve() == self.source.resolve():
            return True
        info = next((s for s in self.styles.catalog.styles if str(s.path) == path), None)
        if info is None or info.kind != CHARACTER_KIND:
            return True  # a generated style: the draft stays here, unsaved, to come back to
        return self.confirm("Unsaved character", f"Discard your changes to {d.name} and edit {info.name}?")

    def may_close(self) -> bool:
        """Asked before the window closes: unsaved changes are saved, dropped, or the window
        stays open."""
        d = self.draft
        if d is None or not d.dirty:
            return True
        answer = self.ask_unsaved(d.name)
        if answer == "save":
            return self.save() is not None
        return answer == "discard"

    def _on_style_changed(self, info: StyleInfo) -> None:
        """Picking another character in the style picker opens it here (the picker asked first
        when the draft had unsaved changes: `may_switch`)."""
        if self.draft is None or info.kind != CHARACTER_KIND or self.source is None:
            return
        if str(info.path) != self.styles.requested:
            return  # not the user's latest pick (a preview load, or a pick since superseded)
        if info.path.resolve() == self.source.resolve():
            if self.draft.dirty:  # picked again after another style: it loaded the saved file
                self._preview()
            return
        self.open(info.path)

    # -- editing --------------------------------------------------------------------------------
    def edit(self, section: str, key: str, value: object, merge: bool = False) -> bool:
        """Set one value of the draft; the preview shows it at once."""
        if self.draft is None:
            return False
        if (section, key, value) == ("background", "kind", "image") and not self.draft.get("background",
                                                                                           "image"):
            self._pick_image()  # a picture background needs a picture first
            self._refresh()
            return self.draft.get("background", "kind") == "image"
        try:
            self.draft.set(section, key, value, merge=merge)
        except ValueError as e:
            self.show_error("Not changed", str(e))
            self._refresh()
            return False
        self._changed()
        return True

    def randomize(self) -> None:
        if self.draft is not None:
            self.draft.randomize(self.rng)
            self._changed()

    def reset(self) -> None:
        if self.draft is not None:
            self.draft.reset()
            self._changed()

    def undo(self) -> None:
        if self.draft is not None and self.draft.can_undo():
            self.draft.undo()
            self._changed()

    def redo(self) -> None:
        if self.draft is not None and self.draft.can_redo():
            self.draft.redo()
            self._changed()

    def _changed(self) -> None:
        self._refresh()
        self._preview()

    def _preview(self) -> None:
        if self.draft is not None and self.source is not None:
            self.engine.preview_character(self.draft.character(), self.source)

    def _refresh(self) -> None:
        d, p = self.draft, self.panel
        if d is None:
            return
        p.show_draft(d)
        if d.name != self._shown_name:  # opened, saved or renamed: a name typed meanwhile is kept
            p.name_edit.setText(d.name)
            self._shown_name = d.name
        own = d.path is not None
        where = f"saved as {d.path.name}" if own else "not saved yet"
        note = self._picture_note(d)
        if self.engine.pipeline.compositor.custom:  # its Background section seemed to do nothing
            note = ((note + " ") if note else "") + ("The window's Output background is shown instead of "
                                                     "the character's own (Output, Background, Reset).")
        note_html = f"<br><span style='color: #e0a040;'>{html.escape(note, quote=False)}</span>" \
            if note else ""
        p.status.setText(f"<b>{d.name}</b>: {where}{' (unsaved changes)' if d.dirty and own else ''}. "
                         f"The big preview shows it on your face.{note_html}")
        p.rename_button.setEnabled(own)
        p.delete_button.setEnabled(own)

    def _picture_note(self, d: CharacterDraft) -> str | None:
        """The note about a missing background picture: the draft's (deleted while editing),
        else the opened file's while the background it got instead is unchanged."""
        ch = d.character()
        return ch.missing_note() or (self._gone if ch.parts["background"] == d.origin.parts["background"]
                                     else None)

    def _pick_colour(self, section: str, key: str) -> None:
        if self.draft is None:
            return
        colour = self.ask_colour(str(self.draft.get(section, key)))
        if colour:
            self.edit(section, key, colour)

    def _pick_image(self) -> None:
        if self.draft is None:
            return
        path = self.ask_open("Background picture", "Pictures (*.png *.jpg *.jpeg *.bmp *.webp)")
        if path:
            self.set_background_image(Path(path))

    def set_background_image(self, path: Path) -> bool:
        """Use a picture as the background (copied into your styles folder)."""
        if self.draft is None:
            return False
        try:
            rel = store_background(path, self.library.folder)
        except (ValueError, OSError) as e:
            self.show_error("Picture not used", str(e))
            return False
        bg = {k: self.draft.get("background", k) for k in SCHEMA["background"]}
        self.draft.set_parts({"background": {**bg, "kind": "image", "image": rel}})
        self._changed()
        return True

    # -- files ----------------------------------------------------------------------------------
    def _after_save(self, path: Path) -> None:
        self.source = path
        self._gone = None  # the saved file has the background the draft shows
        self.styles.reload(select=str(path))
        self.styles.pick(str(path))
        self._refresh()

    def save(self, name: str | None = None) -> Path | None:
        """Save under the name in the name field (or `name`): over this character's own file,
        or as a new file in your styles folder (asking before replacing another one)."""
        if self.draft is None:
            return None
        name = (name if name is not None else self.panel.name_edit.text()).strip()
        try:
            path = self.library.save(self.draft, name)
        except FileExistsError as e:
            if not self.confirm("Replace?", f"{e}. Replace it?"):
                return None
            path = self.library.save(self.draft, name, overwrite=True)
        except (ValueError, OSError) as e:
            self.show_error("Not saved", str(e))
            return None
        self.window.statusBar().showMessage(f"Saved {name}: it is in the style picker", 5000)
        self._after_save(path)
        return path

    def save_as_new(self) -> Path | None:
        if self.draft is None:
            return None
        name = self.ask_text("Save as new", "Name of the new character:", f"{self.draft.name} 2")
        if not name:
            return None
        own, self.draft.path = self.draft.path, None
        path = self.save(name)
        if path is None:
            self.draft.path = own
        return path

    def rename(self) -> Path | None:
        d = self.draft
        if d is None or d.path is None:
            return None
        name = self.ask_text("Rename", "New name:", d.name)
        if not name:
            return None
        old = d.path
        try:
            path = self.library.rename(old, name)
        except (ValueError, FileExistsError, OSError) as e:
            self.show_error("Not renamed", str(e))
            return None
        style = self.engine.pipeline.style
        in_use = self.styles.requested == str(old) or (style is not None and style.path == old)
        d.rename(name)
        d.path = path  # the file has its saved content under the new name: unsaved changes stay so
        if self.settings.style == str(old):
            self.settings.style = str(path)
        self.source = path
        self.styles.reload(select=str(path))
        if in_use:
            self.styles.pick(str(path))
        self._refresh()
        return path

    def delete(self) -> bool:
        d = self.draft
        if d is None or d.path is None:
            return False
        if not self.confirm("Delete character", f"Delete {d.name} ({d.path.name})? This cannot be undone."):
            return False
        path = d.path
        try:
            self.library.delete(path)
        except (ValueError, OSError) as e:
            self.show_error("Not deleted", str(e))
            return False
        if self.settings.style == str(path) or self.styles.requested == str(path):
            self.settings.style = None
        self.draft = None
        self.styles.reload()
        default = self.styles.catalog.default()
        self.styles.pick(str(default.path))
        fallback = default if default.kind == CHARACTER_KIND else next(
            (s for s in self.styles.catalog.styles if s.kind == CHARACTER_KIND), None)
        if fallback is not None:
            self.open(fallback.path)
        self.window.statusBar().showMessage(f"Deleted {path.name}", 5000)
        return True

    def delete_path(self, path: Path) -> bool:
        """Delete the user's character at `path` (the style picker's menu) as Delete does here,
        with it open; unsaved changes to another character are dropped only after a yes."""
        d = self.draft
        if (d is not None and d.dirty and (self.source is None or self.source.resolve() != path.resolve())
                and not self.confirm("Unsaved character", f"Discard your changes to {d.name}?")):
            return False
        return self.open(path) and self.delete()

    def import_file(self, source: str | Path | None = None) -> Path | None:
        """Add a character file (checked first: a bad or foreign file changes nothing)."""
        source = source or self.ask_open("Import a character", f"Characters (*{SUFFIX} *{V1_SUFFIX})")
        if not source:
            return None
        d = self.draft
        if d is not None and d.dirty and not self.confirm(
                "Unsaved character", f"Discard your changes to {d.name} and edit the imported character?"):
            return None
        try:
            path = self.library.import_file(Path(source))
        except (ValueError, OSError) as e:
            self.show_error("Not imported", str(e))
            return None
        self.styles.reload(select=str(path))
        self.open(path)
        self.styles.pick(str(path))
        self.window.statusBar().showMessage(f"Imported {path.name}", 5000)
        return path

    def export(self, dest: str | Path | None = None) -> Path | None:
        if self.draft is None:
            return None
        dest = dest or self.ask_save("Export character", f"{slug(self.draft.name)}{SUFFIX}",
                                     f"Characters (*{SUFFIX})")
        if not dest:
            return None
        try:
            path = export_character(self.draft.character(), Path(dest))
        except (ValueError, OSError) as e:
            self.show_error("Not exported", str(e))
            return None
        self.window.statusBar().showMessage(f"Exported to {path}", 5000)
        return path

    # -- dialogs --------------------------------------------------------------------------------
    def _ask_text(self, title: str, prompt: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self.window, title, prompt, QLineEdit.EchoMode.Normal, text)
        return value.strip() if ok and value.strip() else None

    def _ask_unsaved(self, name: str) -> str:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self.window, "Unsaved character",
                                      f"Save your changes to {name} before closing?",
                                      buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def _ask_colour(self, initial: str) -> str | None:
        colour = QColorDialog.getColor(QColor(initial), self.window, "Choose a colour")
        return colour.name() if colour.isValid() else None
