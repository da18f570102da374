"""Everything about styles in the window: the picker, thumbnails, next/previous, 'add style...'
and 'style from a cartoon image...' (a look file in the user folder, then picked like any
style). Loading and checking run off the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import QMainWindow, QMenu

from avatar_cam.character.creator import CharacterLibrary
from avatar_cam.gui.controls import ControlPanel
from avatar_cam.gui.engine import Engine
from avatar_cam.gui.settings import AppSettings
from avatar_cam.gui.thumbnails import ThumbnailMaker
from avatar_cam.gui.widgets import PATH_ROLE, ask_yes_no, open_file
from avatar_cam.reference import (
    ReferenceError,
    find_style_encoder,
    install_style,
    make_look,
    supports_reference,
)
from avatar_cam.styles import (
    CHARACTER_KIND,
    RENAMED,
    StyleCatalog,
    StyleError,
    StyleInfo,
    first_line,
    load_style,
)


class StyleController(QObject):
    """Connects the style picker and buttons to the engine."""

    style_added = Signal(object, str)  # installed path or None, error text
    look_made = Signal(object, str)  # look file path or None, the note or the error

    def __init__(self, window: QMainWindow, controls: ControlPanel,
                 show_error: Callable[[str, str], None], engine: Engine, catalog: StyleCatalog,
                 thumbs: ThumbnailMaker, settings: AppSettings):
        super().__init__(window)
        self.window, self.engine, self.catalog = window, engine, catalog
        self.thumbs, self.settings = thumbs, settings
        self.controls, self.show_error = controls, show_error
        self.picker = controls.style_picker
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="avatar-style-ui")
        self.requested: str | None = None  # the style file the user last picked
        self._note: tuple[str, str] | None = None  # (style path, status line once it is in use)
        # asked before a user's pick switches (the creator: a character replaces its draft)
        self.may_switch: Callable[[str], bool] = lambda path: True
        # a character is deleted by the creator (its draft may be that character); the window sets it
        self.delete_character: Callable[[Path], bool] = lambda path: False
        self.confirm = lambda title, text: ask_yes_no(window, title, text)  # test hook
        self.picker.picked.connect(self.choose)
        engine.style_changed.connect(self._on_changed)
        engine.style_failed.connect(self._on_failed)
        thumbs.ready.connect(self.picker.set_thumbnail)
        thumbs.failed.connect(self.picker.mark_broken)
        self.controls.add_style_button.clicked.connect(self._ask_add)
        self.controls.reference_button.clicked.connect(self._ask_reference)
        self.style_added.connect(self._on_added)
        self.look_made.connect(self._on_look)
        self.picker.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.picker.customContextMenuRequested.connect(self._menu)
        self.reload()
        self._show_notes(engine.pipeline.style)  # the style the window opened with

    @property
    def user_dir(self) -> Path:
        return self.catalog.dirs[-1]

    def in_picker_order(self, styles: list[StyleInfo]) -> list[StyleInfo]:
        """The picker's order: the user's own characters, the built-in ones, then the generated
        styles (mixed in by name, a 144 px painting and a camera-derived style sat among the
        characters a student picks from), each group by name as the catalog lists it."""
        def group(s: StyleInfo) -> int:
            return 2 if s.kind != CHARACTER_KIND else 0 if self._users(s) else 1

        return sorted(styles, key=group)  # stable: the catalog's order within a group

    def reload(self, select: str | None = None) -> None:
        """Re-read the style folders and make thumbnails for new files."""
        self.catalog.refresh()
        current = self.engine.pipeline.style
        self.picker.set_styles(self.in_picker_order(self.catalog.styles),
                               select or (str(current.path) if current else None))
        self.controls.set_problems(self.catalog.problems)
        self.thumbs.request(self.catalog.styles)
        self._update_reference()
        self._update_title()

    def choose(self, path: str) -> Future[StyleInfo | None] | None:
        """The user picks the style file at `path`: switch to it once `may_switch` agrees; when
        it does not, nothing changes and the picker shows the current style again."""
        if not self.may_switch(path):
            current = self.engine.pipeline.style
            if current is not None:
                self.picker.select_path(str(current.path))
            return None
        return self.pick(path)

    def pick(self, path: str) -> Future[StyleInfo | None]:
        """Switch to the style file at `path` (the stream keeps running meanwhile)."""
        self.requested = path
        self.window.statusBar().showMessage(f"Loading style {Path(path).stem}...", 3000)
        return self.engine.set_style(path)

    def step(self, delta: int) -> None:
        path = self.picker.step(delta)
        if path:
            self.picker.select_path(path)
            self.choose(path)

    def _on_changed(self, info: StyleInfo) -> None:
        self.picker.select_path(str(info.path))
        if str(info.path) == self.requested:
            self.settings.style = str(info.path)
        note = self._note[1] if self._note and self._note[0] == str(info.path) else None
        self._note = None
        self.window.statusBar().showMessage(note or f"Style: {info.name}", 8000 if note else 4000)
        self._show_notes(info, note)
        self._update_reference()
        self._update_title()

    def _show_notes(self, info: StyleInfo | None, made: str | None = None) -> None:
        """Under the picker, what the user should know about the style in use: how a look just
        made from a picture read it (`made`: the face or a centred square, a code kept within the
        style's range; the status bar cut it off), a part it loaded without (a character's
        background picture gone) and whether it may leave them recognisable."""
        notes = (made, info.load_note, info.privacy_note()) if info is not None else ()
        self.controls.set_style_note("\n".join(n for n in notes if n) or None)

    def _on_failed(self, message: str) -> None:
        current = self.engine.pipeline.style
        if current is not None:
            self.picker.select_path(str(current.path))
        keep = f"\n\nStill using {current.name}." if current else ""
        self.show_error("Style not used", message + keep)

    def _update_title(self) -> None:
        style = self.engine.pipeline.style
        self.window.setWindowTitle(f"avatar-cam - {style.name}" if style else "avatar-cam")

    # -- delete ---------------------------------------------------------------------------------
    def deletable(self, path: str) -> StyleInfo | None:
        """The style at `path` when it is the user's own (in their styles folder), else None."""
        info = next((s for s in self.catalog.styles if str(s.path) == path), None)
        return info if info is not None and self._users(info) else None

    def _users(self, info: StyleInfo) -> bool:
        """Whether `info` is the user's own (in their styles folder)."""
        return info.path.parent.resolve() == self.user_dir.resolve()

    def _menu(self, pos: QPoint) -> None:
        item = self.picker.itemAt(pos)
        info = self.deletable(item.data(PATH_ROLE)) if item is not None else None
        if info is None:
            return
        menu = QMenu(self.picker)
        menu.addAction(f"Delete {info.name}...", lambda: self.delete_style(str(info.path)))
        menu.exec(self.picker.viewport().mapToGlobal(pos))

    def delete_style(self, path: str) -> bool:
        """Delete one of the user's styles (a look, an added style file, a character), asked
        first; the style in use falls back to the default. A style that looks are made from
        stays until they are gone (they would stop working)."""
        info = self.deletable(path)
        if info is None:
            return False
        if info.kind == CHARACTER_KIND:
            return self.delete_character(info.path)
        looks = [s.name for s in self.catalog.styles if s.model_file is not None
                 and s.path != info.path and s.model_path.resolve() == info.path.resolve()]
        if looks:
            self.show_error("Not deleted", f"{info.name} is the base of {', '.join(looks)}: delete "
                            f"{'that look' if len(looks) == 1 else 'those looks'} first")
            return False
        if not self.confirm("Delete style", f"Delete {info.name} ({info.path.name})? This cannot be undone."):
            return False
        encoder = find_style_encoder(info) if info.model_file is None else None
        try:
            info.path.unlink()
            if encoder is not None and encoder.parent.resolve().is_relative_to(self.user_dir.resolve()):
                encoder.unlink(missing_ok=True)  # its style encoder, copied in with it
        except OSError as e:
            self.show_error("Not deleted", f"{info.path}: {e.strerror or e}")
            return False
        if self.settings.style == path or self.requested == path:
            self.settings.style = None
        current = self.engine.pipeline.style
        self.reload()
        if current is not None and current.path == info.path:
            self.pick(str(self.catalog.default().path))
        self.window.statusBar().showMessage(f"Deleted {info.name}", 5000)
        return True

    # -- add style ------------------------------------------------------------------------------
    def _ask_add(self) -> None:
        path = open_file(self.window, "Add a style file",
                         "Style files (*.onnx *.character.json *.look.json *.rig.json)",
                         QStandardPaths.StandardLocation.DownloadLocation)
        if path:
            self.add_style_file(path)

    def add_style_file(self, path: str | Path) -> Future[None]:
        """Check `path` as a style file; if good, copy it into the user styles folder and use it."""
        return self._pool.submit(self._install, Path(path))

    def character_library(self) -> CharacterLibrary:
        """The user's characters, named apart from the built-in ones and their old names (an
        added copy of `tabby` becomes `tabby-2`, not a second `tabby` in the picker)."""
        builtin = [s.name for s in self.catalog.styles if s.path.parent != self.user_dir]
        return CharacterLibrary(self.user_dir, [*builtin, *RENAMED])

    def _install(self, path: Path) -> None:
        try:
            info = load_style(path, probe=True)
            if info.kind == CHARACTER_KIND:  # its background picture comes along
                target = self.character_library().import_file(path)
            else:
                target = install_style(info, self.user_dir)
        except (StyleError, ValueError) as e:
            self.style_added.emit(None, str(e))
            return
        except OSError as e:
            self.style_added.emit(None, f"{path}: cannot copy into {self.user_dir} ({e.strerror})")
            return
        self.style_added.emit(str(target), "")

    def _on_added(self, target: str | None, error: str) -> None:
        if target is None:
            self.show_error("Style not added", error)
            return
        self.reload(select=target)
        self.choose(target)

    # -- reference image ------------------------------------------------------------------------
    def _update_reference(self) -> None:
        style = self.engine.pipeline.style
        ok = supports_reference(style)
        self.controls.reference_button.setEnabled(ok)
        self.controls.reference_button.setToolTip(
            "A new character in a cartoon picture's skin and hair colours; saved with your styles"
            if ok and style is not None and style.kind == CHARACTER_KIND else
            "Make a look from any cartoon picture: its colours and hair, your expression; saved with your "
            "styles" if ok else
            "This style has a fixed look (only drawn characters and styles that ship a style encoder "
            "take a picture)")

    def _ask_reference(self) -> None:
        path = open_file(self.window, "Cartoon picture to take the look from",
                         "Pictures (*.png *.jpg *.jpeg *.bmp *.webp)")
        if path:
            self.apply_reference(path)

    def apply_reference(self, image_path: str | Path) -> Future[None]:
        """Make a look from `image_path` with the current style, save it in the user folder
        and use it; a bad picture gets one message and the style stays as it is."""
        style = self.engine.pipeline.style
        return self._pool.submit(self._make_look, style, str(image_path))

    def _make_look(self, style: StyleInfo | None, image_path: str) -> None:
        if style is None:
            self.look_made.emit(None, "no style is loaded")
            return
        try:
            info, note = make_look(style, image_path, self.user_dir)
        except (ReferenceError, StyleError) as e:
            self.look_made.emit(None, str(e))
            return
        except Exception as e:  # on the worker nobody else sees it: one line, never silence
            self.look_made.emit(None, f"{image_path}: no look made ({first_line(e, 200)})")
            return
        self.look_made.emit(str(info.path), note)

    def _on_look(self, path: str | None, text: str) -> None:
        if path is None:
            self.show_error("Style from a cartoon image", text)
            return
        self.reload(select=path)
        text = text.replace(path, Path(path).name)  # the folder is the styles folder; the bar is short
        self._note = (path, text[:1].upper() + text[1:])
        self.choose(path)  # a character with unsaved changes in the creator asks first

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.thumbs.close()
