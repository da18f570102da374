"""The main window: previews, controls, help, status bar. It only paints and forwards clicks;
everything slow runs in the engine's threads."""

from __future__ import annotations

import contextlib
import html
import threading
from pathlib import Path

from PySide6.QtCore import QRect, QSize, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from avatar_cam.character.model import hex_colour
from avatar_cam.composite import parse_color
from avatar_cam.gui.cameras import scan_cameras
from avatar_cam.gui.controls import DEMO_SPEC, FILE_SPEC, ControlPanel
from avatar_cam.gui.creator_ui import CreatorController, CreatorPanel
from avatar_cam.gui.engine import Engine
from avatar_cam.gui.help import help_html
from avatar_cam.gui.settings import AppSettings, StartOptions
from avatar_cam.gui.styles_ui import StyleController
from avatar_cam.gui.thumbnails import ThumbnailMaker
from avatar_cam.gui.widgets import Banner, VideoView, WheelGuard, big_font, open_file
from avatar_cam.options import parse_background
from avatar_cam.pipeline import CALIBRATE_SECONDS, CALIBRATE_SETTLE_S
from avatar_cam.sources import IMAGE_EXTS
from avatar_cam.styles import CHARACTER_KIND, StyleCatalog, StyleInfo

CAMERA_HINT = "<b>Left:</b> your camera and the tracked face (only you see it).<br><br>"
KEYS_HINT = ("<b>Keys:</b> Ctrl+Right / Ctrl+Left (or ] / [) style &middot; Ctrl+M mirror "
             "&middot; Ctrl+P pause &middot; Ctrl+Shift+V virtual camera &middot; "
             "Ctrl+K camera preview &middot; Ctrl+E make a character &middot; F1 help")
FALLBACK_TEXT = {"no_face": "looking for a face", "paused": "paused",
                 "source_lost": "camera not available", "generator_error": "style error",
                 "no_style": "no style", "raw_blocked": "held back", "face_moved": "catching up"}


TITLE_BAR = 32  # px a window manager's title bar usually takes, before the window is shown


class MainWindow(QMainWindow):
    """avatar-cam's window. Test hooks: `errors` (every error shown), `banner`, `controls`."""

    cameras_found = Signal(object)  # list[(index, name)] from the camera scan thread

    def __init__(self, engine: Engine, catalog: StyleCatalog, settings: AppSettings,
                 thumbs: ThumbnailMaker, options: StartOptions):
        super().__init__()
        self.engine, self.settings, self.options = engine, settings, options
        self.errors: list[str] = []
        self._last_packet_info: tuple[float, float, str, str | None] | None = None
        self._files: list[str] = [] if options.spec.isdigit() or options.spec == DEMO_SPEC \
            else [options.spec]
        self._cameras: list[tuple[int, str]] = []
        self.setWindowTitle("avatar-cam")
        self._wheel_guard = WheelGuard(self)
        QApplication.instance().installEventFilter(self._wheel_guard)
        screen = self.screen().availableGeometry()
        self.resize(min(1280, screen.width()), min(780, screen.height()))
        self._build_ui()
        self.styles = StyleController(self, self.controls, self.show_error, engine, catalog,
                                      thumbs, settings)
        self.creator = CreatorController(self, self.creator_panel, engine, self.styles, settings,
                                         self.show_error)
        self.styles.delete_character = self.creator.delete_path
        self.tabs.currentChanged.connect(self._on_tab)
        self._build_actions()
        self._connect()
        self._apply_options()
        opened = engine.pipeline.style  # the style the window opens with greys them out too
        self.controls.set_expression_used(opened is None or opened.kind == CHARACTER_KIND)
        self._restore_window()
        self.fit_screen(self.screen().availableGeometry())
        self._calibration = 0  # counts Calibrate clicks and their ends: a stale timer sees it moved
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(250)
        self.refresh_cameras()
        for notice in options.notices:
            self.show_error("Starting avatar-cam", notice, dialog=False)
        if options.notices:
            self.banner.show_message("\n".join(options.notices), kind="warning", topic="startup")

    # -- layout ---------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QWidget()
        row = QHBoxLayout(central)
        left = QVBoxLayout()
        title = QLabel("What the meeting sees")
        big_font(title, 1.15)
        left.addWidget(title)
        self.banner = Banner()
        left.addWidget(self.banner)
        self.output_view = VideoView("Starting...", QSize(320, 240))
        left.addWidget(self.output_view, 1)
        bottom = QHBoxLayout()
        self.camera_view = VideoView("Camera preview", QSize(240, 180))
        self.camera_view.setFixedSize(256, 192)
        self.camera_view.setToolTip("Your camera with the tracked face box. Only you see this.")
        bottom.addWidget(self.camera_view)
        self.hint = QLabel(CAMERA_HINT + KEYS_HINT)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        bottom.addWidget(self.hint, 1)
        left.addLayout(bottom)
        row.addLayout(left, 1)
        self.controls = ControlPanel()
        self.creator_panel = CreatorPanel()
        self.creator_panel.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Ctrl+E focuses it, not an editor
        self.tabs = QTabWidget()
        for widget, title in ((self.controls, "Camera and style"), (self.creator_panel, "Make a character")):
            scroll = QScrollArea()
            scroll.setWidget(widget)
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.tabs.addTab(scroll, title)
        self.tabs.setMinimumWidth(380)
        self.tabs.setMaximumWidth(500)
        row.addWidget(self.tabs)
        self.setCentralWidget(central)

        self.help_dock = QDockWidget("Getting started", self)
        self.help_dock.setObjectName("help")
        browser = QTextBrowser()
        browser.setOpenExternalLinks(True)
        browser.setHtml(help_html())
        self.help_dock.setWidget(browser)
        self.help_dock.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.help_dock)
        self.help_dock.visibilityChanged.connect(self._help_visibility)

        sb = self.statusBar()
        self.status_fps, self.status_latency = QLabel(), QLabel()
        self.status_provider, self.status_face, self.status_vcam = QLabel(), QLabel(), QLabel()
        sb.setStyleSheet("QStatusBar::item { border: none; }")
        for w in (self.status_fps, self.status_latency, self.status_provider, self.status_face,
                  self.status_vcam):
            w.setContentsMargins(10, 0, 10, 0)
            sb.addPermanentWidget(w)
        # a message longer than the bar reads in full on hover (a lambda: setToolTip is no Qt slot,
        # and connecting it directly makes libpyside warn on every launch)
        sb.messageChanged.connect(lambda text: sb.setToolTip(text))

    def _build_actions(self) -> None:
        def action(text: str, keys: list[str], slot: object, checkable: bool = False) -> QAction:
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setCheckable(checkable)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.action_next_style = action("Next style", ["Ctrl+Right", "]"], lambda: self.styles.step(1))
        self.action_prev_style = action("Previous style", ["Ctrl+Left", "["],
                                        lambda: self.styles.step(-1))
        self.action_mirror = action("Mirror", ["Ctrl+M"], self._toggle_mirror)
        self.action_pause = action("Pause", ["Ctrl+P", "Pause"], self._toggle_pause)
        self.action_vcam = action("Virtual camera", ["Ctrl+Shift+V"],
                                  lambda: self.controls.vcam_button.click())
        self.action_camera = action("Camera preview", ["Ctrl+K"],
                                    lambda: self.controls.camera_check.toggle())
        self.action_help = action("Help", ["F1"], self._toggle_help)
        self.action_creator = action("Make a character", ["Ctrl+E"], self.show_creator)
        self.action_quit = action("Quit", ["Ctrl+Q"], self.close)

    def _connect(self) -> None:
        e, c = self.engine, self.controls
        e.frame_ready.connect(self._on_frame)
        e.source_state.connect(self._on_source_state)
        e.vcam_state.connect(self._on_vcam_state)
        e.style_changed.connect(self._on_style_changed)
        e.message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.cameras_found.connect(self._on_cameras)
        c.vcam_button.toggled.connect(self._on_vcam_clicked)
        c.camera_combo.activated.connect(self._on_source_picked)
        c.refresh_button.clicked.connect(self.refresh_cameras)
        c.size_combo.activated.connect(self._on_size_picked)
        c.mode_combo.activated.connect(self._on_mode_picked)
        c.background_colour_action.triggered.connect(self._pick_background)
        c.background_picture_action.triggered.connect(self._pick_background_picture)
        c.background_reset.clicked.connect(self.reset_background)
        c.mirror_check.toggled.connect(self._on_mirror)
        c.camera_check.toggled.connect(self._on_show_camera)
        c.pause_button.toggled.connect(self.set_paused)
        c.calibrate_button.clicked.connect(self.calibrate)
        c.expressiveness_slider.valueChanged.connect(lambda v: self.set_expressiveness(v / 100))
        e.calibrated.connect(self._on_calibrated)

    def _apply_options(self) -> None:
        o, c = self.options, self.controls
        c.set_mode(o.mode)
        c.set_mirror(o.mirror)
        if o.background_picture:
            c.set_background_picture(Path(o.background_picture).name)
        else:
            c.set_background(QColor(o.background) if o.background_custom else None)
        c.camera_check.setChecked(self.settings.show_camera)
        c.set_expressiveness(self.engine.pipeline.config.calibration.gain)
        self._on_show_camera(self.settings.show_camera)
        c.select_size(o.camera_size)
        c.set_cameras([], o.spec, self._files)
        self.help_dock.setVisible(not self.settings.help_seen)
        if o.auto_demo:
            self.banner.show_message("No webcam found, so the demo clip (a drawn face) is playing. "
                                     "Plug a camera in and pick it under Camera.",
                                     [("Look for cameras", self.refresh_cameras)], kind="info",
                                     topic="camera")
        self._on_vcam_state(False, "off")
        if o.vcam:
            self.controls.vcam_button.setChecked(True)

    def _restore_window(self) -> None:
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
            self.help_dock.setVisible(not self.settings.help_seen)

    def fit_screen(self, available: QRect) -> None:
        """On a screen narrower than the window with the help beside it (a 1024x600 laptop:
        1050 px wide, the panel's scroll bar and the help's close button off the screen), the
        help floats over the window instead of widening it; then the window fits the screen."""
        if self.minimumSizeHint().width() > available.width():
            self.help_dock.setFloating(True)
            self.help_dock.resize(min(420, available.width() // 2), available.height() * 3 // 4)
            self.help_dock.move(available.right() - self.help_dock.width(), available.top())
        # the title bar is outside the window's own height: a 780 px window on a 768 px screen
        # put the status bar under the taskbar
        frame = max(self.frameGeometry().height() - self.geometry().height(), TITLE_BAR)
        self.resize(min(self.width(), available.width()), min(self.height(), available.height() - frame))

    # -- frames and status ----------------------------------------------------------------------
    def _on_frame(self) -> None:
        packet = self.engine.take_packet()
        if packet is None:
            return
        self.output_view.set_frame(packet.output)
        if self.controls.camera_check.isChecked():
            if packet.camera is None:
                self.camera_view.set_placeholder("Hidden while paused" if self.engine.paused
                                                 else "No camera picture")
            self.camera_view.set_frame(packet.camera)
        self._last_packet_info = (packet.fps, packet.latency_ms, packet.provider, packet.fallback)

    def _update_status(self) -> None:
        info = self._last_packet_info
        provider = self.engine.pipeline.provider
        if info is None:
            self.status_fps.setText("fps -")
            self.status_latency.setText("latency -")
            self.status_face.setText("")
        else:
            fps, latency, provider, fallback = info
            self.status_fps.setText(f"{fps:4.1f} fps")
            self.status_latency.setText(f"latency {latency:3.0f} ms")
            # the mode while it shows the cartoon (it said "avatar" in overlay and full modes too)
            shown = self.engine.pipeline.compositor.mode.value if fallback is None else fallback
            self.status_face.setText(FALLBACK_TEXT.get(shown, shown))
        self.status_provider.setText(f"provider {provider}")
        on = self.engine.vcam_on
        self.status_vcam.setText("virtual camera ON" if on else "virtual camera off (preview only)")
        self.status_vcam.setStyleSheet("color: #2e7d32; font-weight: bold;" if on else "")

    def show_error(self, title: str, text: str, dialog: bool = True) -> None:
        """Tell the user: always in the status bar, and in a non-blocking dialog if `dialog`."""
        self.errors.append(text)
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0]}", 10000)
        if dialog and self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                              self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    # -- source ---------------------------------------------------------------------------------
    def refresh_cameras(self) -> None:
        """Scan for cameras on a thread (opening devices can take a second); the camera in use
        and our own virtual camera are not opened."""
        spec = self.engine.spec
        busy = {int(spec)} if spec.isdigit() else set()
        own = {self.engine.vcam_device} if self.engine.vcam_device else set()

        def scan() -> None:
            try:
                found = scan_cameras(busy, exclude_devices=own)
            except Exception:
                found = []
            with contextlib.suppress(RuntimeError):  # the window may be gone by now
                self.cameras_found.emit(found)

        threading.Thread(target=scan, name="camera-scan", daemon=True).start()

    def _on_cameras(self, cameras: list[tuple[int, str]]) -> None:
        self._cameras = cameras
        self.controls.set_cameras(cameras, self.engine.spec, self._files)
        if self.options.auto_demo and cameras and "camera" in self.banner.topics:
            self.banner.show_message(f"Found {cameras[0][1]}.", [
                ("Use it", lambda: self.use_source(str(cameras[0][0])))], kind="info", topic="camera")

    def _on_source_picked(self, index: int) -> None:
        spec = self.controls.camera_combo.itemData(index)
        if spec == FILE_SPEC:
            path = open_file(self, "Play a video or image", "Video or image (*.mp4 *.avi *.mov *.mkv "
                             "*.webm *.m4v *.png *.jpg *.jpeg *.bmp *.webp)",
                             QStandardPaths.StandardLocation.MoviesLocation)
            if not path:
                self.controls.select_source(self.engine.spec)
                return
            spec = path
        if spec:
            self.use_source(spec)

    def use_source(self, spec: str, remember: bool = True) -> None:
        """Switch the input (camera index, file, or 'demo'); remembered for the next launch."""
        if not spec.isdigit() and spec != DEMO_SPEC and spec not in self._files:
            self._files.append(spec)
        self.options.auto_demo = False
        self.banner.clear_message()
        self.engine.set_source(spec, self.controls.current_size())
        self.controls.set_cameras(self._cameras, spec, self._files)
        self.output_view.set_placeholder("Opening...")
        if remember:
            self.settings.input = spec

    def _on_size_picked(self, index: int) -> None:
        size = self.controls.size_at(index)
        if size is None:
            return
        self.settings.camera_size = size
        if self.engine.spec.isdigit():
            self.engine.set_source(self.engine.spec, size)

    def _on_source_state(self, state: str, message: str) -> None:
        spec = self.engine.spec
        if state == "running":
            self.banner.clear_message("source")  # a startup notice stays: it is not about the source
            self.statusBar().showMessage(f"Reading {message}", 4000)
        elif state == "lost":
            self.banner.show_message(f"The camera stopped ({message}). The meeting sees a 'Camera "
                                     "not available' card; reconnecting when it comes back...",
                                     topic="source")
        elif state == "failed":
            self.errors.append(message)
            actions = [("Retry", lambda: self.use_source(self.engine.spec, remember=False))]
            if spec != DEMO_SPEC:
                actions.insert(0, ("Use the demo clip", lambda: self.use_source(DEMO_SPEC, False)))
            what = "No webcam could be opened" if spec.isdigit() else "The input cannot be read"
            self.banner.show_message(f"{what}: {message}", actions, kind="error", topic="source")
            self.output_view.set_placeholder(what)
        elif state == "ended":
            self.statusBar().showMessage(message, 6000)

    def _on_style_changed(self, info: StyleInfo) -> None:
        """A style the user picked is running: the startup notice (a style not used) is done;
        the expression controls act on a drawn character only."""
        self.banner.clear_message("startup")
        self.controls.set_expression_used(info.kind == CHARACTER_KIND)

    # -- output controls ------------------------------------------------------------------------
    def _on_mode_picked(self, index: int) -> None:
        mode = self.controls.mode_combo.itemData(index)
        self.engine.set_mode(mode)
        self.settings.mode = mode

    def _pick_background(self) -> None:
        color = QColorDialog.getColor(QColor(self.options.background), self,
                                      "Background colour")
        if color.isValid():
            self.set_background(color.name())

    def set_background(self, hex_color: str) -> None:
        try:
            bgr = parse_color(hex_color)
        except ValueError as e:
            self.show_error("Background", str(e))
            return
        self.engine.set_background(bgr)
        self.controls.set_background(QColor(hex_color))
        self.options.background, self.options.background_picture = hex_color, None
        self.options.background_image = None
        self.settings.background = hex_color

    def _pick_background_picture(self) -> None:
        path = open_file(self, "Background picture",
                         f"Pictures ({' '.join('*' + e for e in sorted(IMAGE_EXTS))})")
        if path:
            self.set_background_picture(path)

    def set_background_picture(self, path: str) -> None:
        """A picture behind the avatar (covering the frame, centre-cropped, never stretched), as
        `--background IMAGE` does headless; saved, so it is there at the next launch."""
        try:
            bgr, picture = parse_background(path)
            if picture is None:
                raise ValueError(f"{path}: not a picture")
        except ValueError as e:  # unreadable, not an image: one message, the background unchanged
            self.show_error("Background picture", str(e))
            return
        self.engine.set_background(bgr, picture)
        self.controls.set_background_picture(Path(path).name)
        self.options.background, self.options.background_picture = hex_colour(bgr[::-1]), path
        self.options.background_image = picture
        self.settings.background = path
        self.statusBar().showMessage(f"Background: {Path(path).name}", 4000)  # over an earlier error

    def reset_background(self) -> None:
        """Back to each style's own background (a character's scene, a generated cartoon's own colour)."""
        self.engine.set_background(None)
        self.controls.set_background(None)
        self.options.background_picture = self.options.background_image = None
        self.settings.background = None
        self.statusBar().showMessage("Background: each style's own", 4000)  # over an earlier error

    def calibrate(self) -> None:
        self._calibration += 1
        self.controls.set_calibrating("settle")
        self.statusBar().showMessage("Calibrating: look at the camera with a relaxed, neutral face "
                                     f"for {CALIBRATE_SETTLE_S + CALIBRATE_SECONDS:g} seconds", 5000)
        self.engine.calibrate()
        this = self._calibration
        QTimer.singleShot(round(CALIBRATE_SETTLE_S * 1000), self, lambda: self._calibration_measures(this))

    def _calibration_measures(self, this: int) -> None:
        """The settling second is over: the face is being measured (unless that calibration
        already ended)."""
        if this == self._calibration:
            self.controls.set_calibrating("hold")

    def _on_calibrated(self, ok: bool, message: str) -> None:
        self._calibration += 1  # ended: its settling timer changes nothing now
        self.controls.set_calibrating(None)
        if ok:  # the measured face; the gain stays the saved one (a typed --expressiveness is not saved)
            self.settings.calibration = self.engine.pipeline.config.calibration.with_gain(
                self.settings.calibration.gain)
        self.statusBar().showMessage(message, 6000)

    def set_expressiveness(self, gain: float) -> None:
        self.settings.calibration = self.engine.set_expressiveness(gain)
        self.controls.set_expressiveness(gain)

    def _on_mirror(self, on: bool) -> None:
        self.engine.set_mirror(on)
        self.settings.mirror = on

    def _toggle_mirror(self) -> None:
        self.controls.mirror_check.toggle()

    def _on_show_camera(self, on: bool) -> None:
        self.engine.show_camera = on
        self.camera_view.setVisible(on)
        self.hint.setText((CAMERA_HINT if on else "") + KEYS_HINT)
        self.settings.show_camera = on

    def set_paused(self, paused: bool) -> None:
        self.engine.set_paused(paused)
        self.controls.set_paused(paused)
        self.statusBar().showMessage("Paused: the meeting sees a 'Paused' card" if paused
                                     else "Resumed", 4000)

    def _toggle_pause(self) -> None:
        self.set_paused(not self.engine.paused)

    # -- virtual camera -------------------------------------------------------------------------
    def _on_vcam_clicked(self, on: bool) -> None:
        if on:
            self.controls.set_vcam(False, "Opening...", busy=True)
        else:
            self.controls.set_vcam(False, "Closing...")
            self.settings.vcam = False
        self.engine.set_vcam(on)

    def _on_vcam_state(self, on: bool, text: str) -> None:
        if on:
            self.controls.set_vcam(True, f"Sending to {text}. Pick it as the camera in "
                                         "Zoom / Meet / Teams (F1 for how).")
            self.settings.vcam = True
        elif text == "off":
            self.controls.set_vcam(False, "Off: the preview still runs; the meeting app sees "
                                          "nothing from avatar-cam.")
        else:
            reason, _, rest = text.partition("\n")
            steps, _, detail = rest.partition("\n")
            body = html.escape(reason)
            if steps:
                body += f"<br><br><b>To set it up:</b> {html.escape(steps)}"
            if detail:
                body += f"<br><small style='color:#666'>Details: {html.escape(detail)}</small>"
            self.controls.set_vcam(False, "<b style='color:#c62828'>Not available: the preview "
                                          f"still runs.</b><br>{body}<br>(F1: full setup help)")
            self.show_error("Virtual camera", text, dialog=False)

    # -- the character creator ------------------------------------------------------------------
    def show_creator(self) -> None:
        """The creator's tab, with the keyboard in it (its Ctrl+S, Ctrl+R, Ctrl+Z act inside it)."""
        self.tabs.setCurrentIndex(1)
        self.creator_panel.setFocus()

    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.creator.start()

    # -- help and closing -----------------------------------------------------------------------
    def _toggle_help(self) -> None:
        self.help_dock.setVisible(not self.help_dock.isVisible())

    def _help_visibility(self, visible: bool) -> None:
        if not visible and self.isVisible():
            self.settings.help_seen = True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        """Save the window, stop the threads, release the camera and the virtual camera (after
        asking about a character with unsaved changes; cancel keeps the window open)."""
        if not self.creator.may_close():
            event.ignore()
            return
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        self._status_timer.stop()
        self.styles.close()
        self.engine.stop()
        super().closeEvent(event)
