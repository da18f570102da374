"""Everything about styles in the window: the picker, thumbnails, next/previous, 'add style...'
and 'style from a cartoon image...'. Loading and checking run off the UI thread."""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from avatar_cam.character.creator import CharacterLibrary
from avatar_cam.gui.controls import ControlPanel
from avatar_cam.gui.engine import Engine
from avatar_cam.gui.reference import (
    ReferenceError,
    default_encoder_path,
    find_style_encoder,
    style_code_from_image,
    supports_reference,
)
from avatar_cam.gui.settings import AppSettings
from avatar_cam.gui.thumbnails import ThumbnailMaker
from avatar_cam.styles import CHARACTER_KIND, StyleCatalog, StyleError, StyleInfo, load_style


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def install_style(info: StyleInfo, folder: Path) -> Path:
    """Copy a checked style file (and its style encoder, if any) into `folder`; a file already
    there with the same bytes is reused, a different one keeps its name and the copy gets -2."""
    folder.mkdir(parents=True, exist_ok=True)
    if info.path.resolve().parent == folder.resolve():
        return info.path
    same = folder / info.path.name
    if same.is_file() and filecmp.cmp(same, info.path, shallow=False):
        return same
    target = _free_name(folder, info.path.name)
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(info.path, tmp)
    os.replace(tmp, target)
    encoder = find_style_encoder(info)
    if encoder is not None:
        enc_target = default_encoder_path(target)
        enc_target.parent.mkdir(exist_ok=True)
        shutil.copyfile(encoder, enc_target)
    return target


class StyleController(QObject):
    """Connects the style picker and buttons to the engine."""

    style_added = Signal(object, str)  # installed path or None, error text
    code_ready = Signal(object, str)  # style code or None, error text

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
        self.picker.picked.connect(self.pick)
        engine.style_changed.connect(self._on_changed)
        engine.style_failed.connect(self._on_failed)
        thumbs.ready.connect(self.picker.set_thumbnail)
        thumbs.failed.connect(self.picker.mark_broken)
        self.controls.add_style_button.clicked.connect(self._ask_add)
        self.controls.reference_button.clicked.connect(self._ask_reference)
        self.style_added.connect(self._on_added)
        self.code_ready.connect(self._on_code)
        self.reload()

    @property
    def user_dir(self) -> Path:
        return self.catalog.dirs[-1]

    def reload(self, select: str | None = None) -> None:
        """Re-read the style folders and make thumbnails for new files."""
        self.catalog.refresh()
        current = self.engine.pipeline.style
        self.picker.set_styles(self.catalog.styles, select or (str(current.path) if current else None))
        self.controls.set_problems(self.catalog.problems)
        self.thumbs.request(self.catalog.styles)
        self._update_reference()
        self._update_title()

    def pick(self, path: str) -> Future[StyleInfo | None]:
        """Switch to the style file at `path` (the stream keeps running meanwhile)."""
        self.requested = path
        self.window.statusBar().showMessage(f"Loading style {Path(path).stem}...", 3000)
        return self.engine.set_style(path)

    def step(self, delta: int) -> None:
        path = self.picker.step(delta)
        if path:
            self.picker.select_path(path)
            self.pick(path)

    def _on_changed(self, info: StyleInfo) -> None:
        self.picker.select_path(str(info.path))
        if str(info.path) == self.requested:
            self.settings.style = str(info.path)
        self.window.statusBar().showMessage(f"Style: {info.name}", 4000)
        self._update_reference()
        self._update_title()

    def _on_failed(self, message: str) -> None:
        current = self.engine.pipeline.style
        if current is not None:
            self.picker.select_path(str(current.path))
        keep = f"\n\nStill using {current.name}." if current else ""
        self.show_error("Style not used", message + keep)

    def _update_title(self) -> None:
        style = self.engine.pipeline.style
        self.window.setWindowTitle(f"avatar-cam - {style.name}" if style else "avatar-cam")

    # -- add style ------------------------------------------------------------------------------
    def _ask_add(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Add a style file", "",
                                              "Style files (*.onnx *.character.json *.rig.json)")
        if path:
            self.add_style_file(path)

    def add_style_file(self, path: str | Path) -> Future[None]:
        """Check `path` as a style file; if good, copy it into the user styles folder and use it."""
        return self._pool.submit(self._install, Path(path))

    def _install(self, path: Path) -> None:
        try:
            info = load_style(path, probe=True)
            if info.kind == CHARACTER_KIND:  # its background picture comes along
                target = CharacterLibrary(self.user_dir).import_file(path)
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
        self.pick(target)

    # -- reference image ------------------------------------------------------------------------
    def _update_reference(self) -> None:
        style = self.engine.pipeline.style
        ok = supports_reference(style)
        self.controls.reference_button.setEnabled(ok)
        self.controls.reference_button.setToolTip(
            "Use the look of a cartoon picture with this style" if ok else
            "This style has a fixed look (only styles with a style-code input take a reference image)")

    def _ask_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Cartoon image to take the style from",
                                              "", "Images (*.png *.jpg *.jpeg *.bmp *.webp)")
        if path:
            self.apply_reference(path)

    def apply_reference(self, image_path: str | Path) -> Future[None]:
        style = self.engine.pipeline.style
        return self._pool.submit(self._make_code, style, str(image_path))

    def _make_code(self, style: StyleInfo | None, image_path: str) -> None:
        if style is None:
            self.code_ready.emit(None, "no style is loaded")
            return
        try:
            self.code_ready.emit(style_code_from_image(style, image_path), "")
        except ReferenceError as e:
            self.code_ready.emit(None, str(e))

    def _on_code(self, code: np.ndarray | None, error: str) -> None:
        try:
            ok = code is not None and self.engine.set_style_code(code)
        except ValueError as e:
            ok, error = False, str(e)
        if ok:
            self.window.statusBar().showMessage("Style code taken from the cartoon image", 5000)
        else:
            self.show_error("Style from a cartoon image", error or "the style changed meanwhile")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.thumbs.close()
