"""The control column: virtual camera toggle, source, style, output. Widgets only; the window
connects them to the engine."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from avatar_cam.composite import Mode
from avatar_cam.gui.widgets import StylePicker, big_font, text_on


def _select_quietly(combo: QComboBox, index: int) -> None:
    """Show item `index` without emitting the change signal (a programmatic, not a user, pick)."""
    if index >= 0:
        was = combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(was)

CAMERA_SIZES = [(640, 480), (1280, 720), (1920, 1080)]
MODE_LABELS = {Mode.AVATAR: "Avatar (no camera picture at all)", Mode.OVERLAY: "Overlay (cartoon face on "
               "camera)", Mode.FULL: "Full frame (everything cartoon)"}
DEMO_SPEC = "demo"
FILE_SPEC = "__file__"
CALIBRATE_TEXT = {"settle": "Look at the camera...", "hold": "Hold a neutral face..."}


class ControlPanel(QWidget):
    """All the controls, grouped. Attributes are the widgets the window wires up."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(340)
        self.setMaximumWidth(460)
        col = QVBoxLayout(self)
        col.setContentsMargins(8, 8, 8, 8)
        col.addWidget(self._vcam_group())
        col.addWidget(self._source_group())
        col.addWidget(self._style_group(), 1)  # the picker takes the room left: many styles
        self.expression_group = self._expression_group()
        col.addWidget(self.expression_group)
        col.addWidget(self._output_group())

    # -- virtual camera -------------------------------------------------------------------------
    def _vcam_group(self) -> QGroupBox:
        box = QGroupBox("Virtual camera")
        lay = QVBoxLayout(box)
        self.vcam_button = QPushButton()
        self.vcam_button.setCheckable(True)
        self.vcam_button.setMinimumHeight(52)
        self.vcam_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        big_font(self.vcam_button, 1.35)
        self.vcam_label = QLabel()
        self.vcam_label.setWordWrap(True)
        self.vcam_label.setTextFormat(Qt.TextFormat.RichText)
        self.vcam_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.vcam_button)
        lay.addWidget(self.vcam_label)
        self.set_vcam(False, "")
        return box

    def set_vcam(self, on: bool, text: str, busy: bool = False) -> None:
        self.vcam_button.blockSignals(True)
        self.vcam_button.setChecked(on)
        self.vcam_button.blockSignals(False)
        self.vcam_button.setEnabled(not busy)
        label = "Virtual camera: ON" if on else "Virtual camera: OFF"
        self.vcam_button.setText("Opening virtual camera..." if busy else label)
        color = "#2e7d32" if on else "#455a64"
        self.vcam_button.setStyleSheet(
            f"QPushButton {{ background: {color}; color: white; border-radius: 8px; padding: 8px; }}"
            "QPushButton:disabled { background: #37474f; color: #cfd8dc; }")
        self.vcam_label.setText(text)

    # -- source ---------------------------------------------------------------------------------
    def _source_group(self) -> QGroupBox:
        box = QGroupBox("Camera")
        form = QFormLayout(box)
        row = QHBoxLayout()
        self.camera_combo = QComboBox()
        self.camera_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("\u21bb")
        self.refresh_button.setToolTip("Look for cameras again")
        row.addWidget(self.camera_combo, 1)
        row.addWidget(self.refresh_button)
        form.addRow("Source", row)
        self.size_combo = QComboBox()
        for w, h in CAMERA_SIZES:
            self.size_combo.addItem(f"{w} x {h}", f"{w}x{h}")  # str: PySide compares tuples by id
        form.addRow("Resolution", self.size_combo)
        return box

    def set_cameras(self, cameras: list[tuple[int, str]], current: str, files: list[str]) -> None:
        """Fill the source list: cameras, the demo clip, recent files, 'file...'."""
        combo = self.camera_combo
        combo.blockSignals(True)
        combo.clear()
        for index, name in cameras:
            combo.addItem(f"{name} ({index})", str(index))
        if current.isdigit() and combo.findData(current) < 0:
            combo.addItem(f"Camera {current}", current)
        if not cameras and not current.isdigit():
            combo.addItem("No camera found", None)
            combo.model().item(combo.count() - 1).setEnabled(False)  # type: ignore[attr-defined]
        combo.addItem("Demo clip (a drawn face)", DEMO_SPEC)
        for f in files:
            if combo.findData(f) < 0:
                combo.addItem(f"File: {f.rsplit('/', 1)[-1]}", f)
                combo.setItemData(combo.count() - 1, f, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Video or image file...", FILE_SPEC)
        self.select_source(current)
        combo.blockSignals(False)

    def select_source(self, spec: str) -> None:
        _select_quietly(self.camera_combo, self.camera_combo.findData(spec))
        self.size_combo.setEnabled(spec.isdigit())

    def size_at(self, index: int) -> tuple[int, int] | None:
        data = self.size_combo.itemData(index)
        if not data:
            return None
        w, h = (int(v) for v in str(data).split("x"))
        return w, h

    def current_size(self) -> tuple[int, int] | None:
        return self.size_at(self.size_combo.currentIndex())

    def select_size(self, size: tuple[int, int]) -> None:
        i = self.size_combo.findData(f"{size[0]}x{size[1]}")
        if i < 0:
            self.size_combo.addItem(f"{size[0]} x {size[1]}", f"{size[0]}x{size[1]}")
            i = self.size_combo.count() - 1
        _select_quietly(self.size_combo, i)

    # -- style ----------------------------------------------------------------------------------
    def _style_group(self) -> QGroupBox:
        box = QGroupBox("Style")
        lay = QVBoxLayout(box)
        self.style_picker = StylePicker()
        self.style_picker.setMinimumHeight(150)  # at least a row; more styles scroll
        lay.addWidget(self.style_picker)
        row = QHBoxLayout()
        self.add_style_button = QPushButton("Add style...")
        self.add_style_button.setToolTip("Add an ONNX style or a character file (checked first)")
        self.reference_button = QPushButton("Style from a cartoon image...")
        row.addWidget(self.add_style_button)
        row.addWidget(self.reference_button)
        lay.addLayout(row)
        self.style_problems = QLabel()
        self.style_problems.setWordWrap(True)
        self.style_problems.setStyleSheet("color: #e0a040;")
        self.style_problems.hide()
        lay.addWidget(self.style_problems)
        self.style_note = QLabel()  # about the style in use (a picture it is missing, or one that
        # may leave the person recognisable)
        self.style_note.setWordWrap(True)
        self.style_note.setStyleSheet("color: #e0a040;")
        self.style_note.hide()
        lay.addWidget(self.style_note)
        return box

    def set_style_note(self, note: str | None) -> None:
        self.style_note.setText(note or "")
        self.style_note.setVisible(bool(note))

    def set_problems(self, problems: list[str]) -> None:
        if problems:
            self.style_problems.setText(f"{len(problems)} style file(s) could not be used "
                                        "(hover for details)")
            self.style_problems.setToolTip("\n".join(problems))
            self.style_problems.show()
        else:
            self.style_problems.hide()

    # -- expression ---------------------------------------------------------------------------------
    def _expression_group(self) -> QGroupBox:
        box = QGroupBox("Expression")
        form = QFormLayout(box)
        self.calibrate_button = QPushButton("Calibrate")
        self.calibrate_button.setToolTip("Look at the camera with a relaxed, neutral face for 3 s: "
                                         "the character learns your resting eyes, brows and mouth")
        form.addRow(self.calibrate_button)
        self.expressiveness_slider = QSlider(Qt.Orientation.Horizontal)
        self.expressiveness_slider.setRange(25, 300)
        self.expressiveness_slider.setSingleStep(5)
        self.expressiveness_slider.setPageStep(25)
        self.expressiveness_slider.setToolTip("How strongly the character shows your expression "
                                              "(100%: as measured)")
        self.expressiveness_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.expressiveness_slider, 1)
        row.addWidget(self.expressiveness_label)
        form.addRow("Expressiveness", row)
        return box

    def set_expressiveness(self, gain: float) -> None:
        was = self.expressiveness_slider.blockSignals(True)
        self.expressiveness_slider.setValue(round(gain * 100))
        self.expressiveness_slider.blockSignals(was)
        self.expressiveness_label.setText(f"{round(gain * 100)}%")

    def set_calibrating(self, phase: str | None) -> None:
        """Calibrate's button while calibrating: "settle" (the person turns to the camera), then
        "hold" (the face is measured); None: not calibrating."""
        self.calibrate_button.setEnabled(phase is None and self.expression_group.isEnabled())
        self.calibrate_button.setText(CALIBRATE_TEXT[phase] if phase else "Calibrate")

    def set_expression_used(self, used: bool) -> None:
        """Calibrate and Expressiveness act on a drawn character only: greyed out, and saying
        why, for a generated style (they did nothing there)."""
        self.expression_group.setEnabled(used)
        self.expression_group.setToolTip("" if used else "Calibration and expressiveness act on a drawn "
                                         "character; this style is generated from your face")

    # -- output ---------------------------------------------------------------------------------
    def _output_group(self) -> QGroupBox:
        box = QGroupBox("Output")
        form = QFormLayout(box)
        self.mode_combo = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode_combo.addItem(label, mode.value)
        form.addRow("Mode", self.mode_combo)
        self.background_button = QPushButton()
        self.background_button.setToolTip("A colour or a picture behind the avatar")
        menu = QMenu(self.background_button)
        self.background_colour_action = menu.addAction("Colour...")
        self.background_picture_action = menu.addAction("Picture...")
        self.background_button.setMenu(menu)
        self.background_reset = QToolButton()
        self.background_reset.setText("Reset")
        self.background_reset.setToolTip("Use each style's own background (a character's scene, "
                                         "a generated cartoon's own colour)")
        row = QHBoxLayout()
        row.addWidget(self.background_button, 1)
        row.addWidget(self.background_reset)
        form.addRow("Background", row)
        checks = QHBoxLayout()
        self.mirror_check = QCheckBox("Mirror")
        self.camera_check = QCheckBox("Camera preview")
        self.camera_check.setToolTip("The small camera picture with the tracked face box; only "
                                     "you see it")
        checks.addWidget(self.mirror_check)
        checks.addWidget(self.camera_check)
        form.addRow(checks)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Send a 'Paused' card instead of the avatar (Ctrl+P)")
        form.addRow(self.pause_button)
        return box

    def set_mode(self, mode: str) -> None:
        _select_quietly(self.mode_combo, self.mode_combo.findData(mode))

    def set_mirror(self, on: bool) -> None:
        """Tick or untick Mirror without `toggled` (a typed --mirror is not saved)."""
        was = self.mirror_check.blockSignals(True)
        self.mirror_check.setChecked(on)
        self.mirror_check.blockSignals(was)

    def set_background(self, color: QColor | None) -> None:
        """Show the chosen colour, or (None) that each style uses its own background."""
        self.background_reset.setEnabled(color is not None)
        if color is None:
            self.background_button.setText("Style's own")
            self.background_button.setStyleSheet("")
            return
        self.background_button.setText(color.name())
        self.background_button.setStyleSheet(f"background: {color.name()}; color: {text_on(color)};")

    def set_background_picture(self, name: str) -> None:
        """Show that the picture `name` is the background."""
        self.background_reset.setEnabled(True)
        self.background_button.setText(f"Picture: {name}")
        self.background_button.setStyleSheet("")

    def set_paused(self, paused: bool) -> None:
        was = self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Paused: click to resume" if paused else "Pause")
        self.pause_button.blockSignals(was)
