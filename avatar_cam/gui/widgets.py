"""Small widgets: the video views, the style picker, the message banner and a grid of buttons
that wraps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QRect, QRectF, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from avatar_cam.styles import StyleInfo

PATH_ROLE = Qt.ItemDataRole.UserRole


class WheelGuard(QObject):
    """Installed on the application: the mouse wheel over a drop-down in a scrolling panel, or
    over a slider or spin box there that the user has not clicked, scrolls the panel instead of
    changing the value. Scrolling the panel past Output mode switched it to Overlay (the camera
    picture sent, and saved for the next launch) and dragged Expressiveness to 25%."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or isinstance(obj, QScrollBar) \
                or not isinstance(obj, QComboBox | QAbstractSlider | QAbstractSpinBox):
            return False
        if not isinstance(obj, QComboBox) and obj.hasFocus():
            return False
        parent = obj.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if parent is None:
            return False
        QApplication.sendEvent(parent.verticalScrollBar(), event)  # the panel scrolls by it
        return True


def bgr_to_qimage(bgr: np.ndarray) -> QImage:
    """A QImage over a BGR uint8 array (no copy; keep the array alive while the image is used)."""
    arr = np.ascontiguousarray(bgr)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_BGR888)


def rgb_to_pixmap(rgb: np.ndarray) -> QPixmap:
    arr = np.ascontiguousarray(rgb)
    h, w = arr.shape[:2]
    return QPixmap.fromImage(QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888).copy())


class ButtonGrid(QLayout):
    """Buttons side by side in equal columns, each at least as wide as its size hint; where they
    do not all fit in one row they wrap into rows as even as can be (four make 2 x 2, not 3 + 1),
    so a narrow panel never cuts a label off."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt's name)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def _cell(self) -> QSize:
        """The size of one cell: the widest and tallest size hint."""
        cell = QSize(0, 0)
        for item in self._shown():
            cell = cell.expandedTo(item.sizeHint())
        return cell

    def _shown(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def _extra(self) -> QSize:
        m = self.contentsMargins()
        return QSize(m.left() + m.right(), m.top() + m.bottom())

    def sizeHint(self) -> QSize:  # noqa: N802
        """One button: the grid takes the width the rest of the panel gets (asking for a whole
        row made the panel take width from the video), and its height from `heightForWidth`."""
        return self._cell() + self._extra()

    def minimumSize(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the buttons out in `rect` (with `move`); returns the height that takes."""
        items, cell, sp = self._shown(), self._cell(), self.spacing()
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        if not items:
            return 0
        fit = max(1, (area.width() + sp) // (cell.width() + sp))
        rows = -(-len(items) // fit)
        cols = -(-len(items) // rows)
        for i, item in enumerate(items if move else ()):
            row, col = divmod(i, cols)
            left = area.x() + col * (area.width() + sp) // cols
            right = area.x() + (col + 1) * (area.width() + sp) // cols - sp
            item.setGeometry(QRect(left, area.y() + row * (cell.height() + sp), right - left, cell.height()))
        return rows * cell.height() + (rows - 1) * sp + m.top() + m.bottom()


class VideoView(QWidget):
    """Paints the latest BGR frame scaled to fit (aspect kept), or a line of text when there is
    none. Painting is all it does."""

    def __init__(self, placeholder: str = "", min_size: QSize | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._shown: tuple[np.ndarray, np.ndarray] | None = None  # a frame and it as painted (BGRA)
        self.placeholder = placeholder
        self.setMinimumSize(min_size or QSize(160, 120))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_frame(self, bgr: np.ndarray | None) -> None:
        self._array = bgr
        self._image = bgr_to_qimage(bgr) if bgr is not None else None
        self.update()

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        if self._image is None:
            self.update()

    @property
    def has_frame(self) -> bool:
        return self._image is not None

    def frame(self) -> np.ndarray | None:
        return self._array

    def paintEvent(self, event: object) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 26, 30))
        if self._image is None:
            p.setPen(QColor(170, 176, 186))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self.placeholder)
            return
        img = self._image
        scale = min(self.width() / img.width(), self.height() / img.height())
        w, h = img.width() * scale, img.height() * scale
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, self._painted())

    def _painted(self) -> QImage:
        """The frame in the window's own pixel format, made once a frame: given BGR888, Qt
        converted and smooth-scaled it on its thread pool on every paint (the window's painting
        took 4 ms of CPU a frame at 30 fps, now 2.5)."""
        arr = self._array
        assert arr is not None
        if self._shown is None or self._shown[0] is not arr:
            self._shown = (arr, cv2.cvtColor(arr, cv2.COLOR_BGR2BGRA))
        bgra = self._shown[1]  # kept alive (with its frame) while the image is used
        return QImage(bgra.data, bgra.shape[1], bgra.shape[0], bgra.strides[0], QImage.Format.Format_RGB32)


_last_folder: list[Path] = []  # the folder a file was last picked from, this session
Location = QStandardPaths.StandardLocation
PICTURES = Location.PicturesLocation


def start_folder(kind: Location = PICTURES) -> str:
    """Where a file dialog opens: the folder a file was last picked from, else the user's Pictures
    (or Videos...) folder, else home; never the app's working folder (its source tree)."""
    if _last_folder and _last_folder[0].is_dir():
        return str(_last_folder[0])
    found = QStandardPaths.writableLocation(kind)
    return found if found and Path(found).is_dir() else str(Path.home())


def picked_file(path: str) -> str:
    """Remember where `path` (a dialog's answer, '' for none) was picked from; returns it."""
    if path:
        _last_folder[:] = [Path(path).parent]
    return path


def open_file(parent: QWidget, title: str, filt: str, kind: Location = PICTURES) -> str:
    """A file to open, '' for none (`start_folder`, `picked_file`)."""
    return picked_file(QFileDialog.getOpenFileName(parent, title, start_folder(kind), filt)[0])


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    """A yes/no question with No as the default (Enter does not delete)."""
    no = QMessageBox.StandardButton.No
    return QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | no, no) \
        == QMessageBox.StandardButton.Yes


class StylePicker(QListWidget):
    """Every style as a name and a thumbnail; `picked(path)` when the user chooses one."""

    picked = Signal(str)

    def __init__(self, icon_size: int = 88, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setGridSize(QSize(icon_size + 24, icon_size + 34))
        # three to a row beside the scroll bar (the panel is otherwise as narrow as its widest label)
        self.setMinimumWidth(3 * (icon_size + 24) + self.verticalScrollBar().sizeHint().width()
                             + 2 * self.frameWidth() + 4)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setWordWrap(True)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self._blank = self._blank_icon(icon_size)
        self.currentItemChanged.connect(self._on_current)

    @staticmethod
    def _blank_icon(n: int) -> QIcon:
        pm = QPixmap(n, n)
        pm.fill(QColor(60, 64, 72))
        return QIcon(pm)

    def set_styles(self, styles: list[StyleInfo], current: str | None = None) -> None:
        self.blockSignals(True)
        self.clear()
        for s in styles:
            # a break after each '-' or '_': "anime-preview" wraps onto two lines, not "anime-..."
            label = s.name.replace("-", "-\u200b").replace("_", "_\u200b")
            item = QListWidgetItem(self._blank, label)
            item.setData(PATH_ROLE, str(s.path))
            desc = s.metadata.get("description", "")
            item.setToolTip("\n".join(x for x in (s.summary(), desc,
                                                  "trained on: " + s.metadata.get("trained_on", ""),
                                                  "license: " + s.metadata.get("license_note", ""))
                                      if x))
            self.addItem(item)
        self.blockSignals(False)
        if current:
            self.select_path(current)

    def paths(self) -> list[str]:
        return [self.item(i).data(PATH_ROLE) for i in range(self.count())]

    def _item(self, path: str) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(PATH_ROLE) == path:
                return self.item(i)
        return None

    def select_path(self, path: str) -> None:
        """Show `path` as the current style without emitting `picked`."""
        item = self._item(path)
        if item is not None:
            self.blockSignals(True)
            self.setCurrentItem(item)
            self.blockSignals(False)

    def current_path(self) -> str | None:
        item = self.currentItem()
        return item.data(PATH_ROLE) if item else None

    def set_thumbnail(self, path: str, rgb: np.ndarray) -> None:
        item = self._item(path)
        if item is not None:
            pm = rgb_to_pixmap(rgb)
            icon = QIcon(pm)
            icon.addPixmap(pm, QIcon.Mode.Selected)  # the picked style keeps its colours (no tint)
            item.setIcon(icon)

    def mark_broken(self, path: str, reason: str) -> None:
        item = self._item(path)
        if item is not None:
            item.setToolTip(f"{item.toolTip()}\n\nDoes not run: {reason}")

    def step(self, delta: int) -> str | None:
        """Path of the style `delta` places from the current one (wrapping), or None."""
        n = self.count()
        if n == 0:
            return None
        row = self.currentRow()
        return self.item((max(row, 0) + delta) % n if row >= 0 else 0).data(PATH_ROLE)

    def _on_current(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.picked.emit(current.data(PATH_ROLE))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.RightButton:  # the menu, not a pick: a right-click
            event.accept()  # switched what the meeting sees to the style under the mouse
            return
        super().mousePressEvent(event)


class Banner(QFrame):
    """A coloured box with messages and a few buttons (no webcam, errors); hidden when empty.
    Each message has a `topic` ("source": cleared when the source runs again; "startup": stays
    until dismissed or acted on; "camera": the demo clip playing for want of one), and messages
    of different topics show together, the newest first with its buttons (one slot made a camera
    error hide a startup notice, and the reverse). `clear_message(topic)` drops one, the dismiss
    button all."""

    SEVERITY = ("info", "warning", "error")  # the box takes the colour of its gravest message

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout.addWidget(self.label, 1)
        self.close_button = QToolButton()
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(lambda: self.clear_message())
        self._layout.addWidget(self.close_button)
        self._buttons: list[QPushButton] = []
        self._messages: dict[str, tuple[str, str, list[tuple[str, Callable[[], None]]]]] = {}
        self.hide()

    @property
    def kind(self) -> str:
        """The gravest kind among the messages shown ("" when none): the box's colour."""
        kinds = [k for _, k, _ in self._messages.values()]
        return max(kinds, key=lambda k: self.SEVERITY.index(k) if k in self.SEVERITY else 0, default="")

    @property
    def topics(self) -> list[str]:
        """The topics shown, oldest first."""
        return list(self._messages)

    def show_message(self, text: str, actions: list[tuple[str, Callable[[], None]]] | None = None,
                     kind: str = "warning", topic: str = "") -> None:
        """Show `text` (in place of an earlier message of the same topic)."""
        self._messages.pop(topic, None)
        self._messages[topic] = (text, kind, list(actions or []))
        self._render()

    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)

    def clear_message(self, topic: str | None = None) -> None:
        """Drop the message of `topic` (None: every message)."""
        if topic is None:
            self._messages.clear()
        else:
            self._messages.pop(topic, None)
        self._render()

    def _render(self) -> None:
        for b in self._buttons:
            b.deleteLater()
        self._buttons = []
        if not self._messages:
            self.hide()
            return
        _, _, actions = self._messages[self.topics[-1]]  # the newest message's buttons
        colors = {"warning": "#5a4a1e", "error": "#5c2626", "info": "#23405c"}
        self.setStyleSheet(f"#banner {{ background: {colors.get(self.kind, '#333')}; border-radius: 6px; }}"
                           " #banner QLabel, #banner QToolButton { color: #f0f0f0; }")
        self.label.setText("\n".join(text for text, _, _ in reversed(self._messages.values())))
        for title, callback in actions:
            b = QPushButton(title)
            b.clicked.connect(callback)
            self._layout.insertWidget(self._layout.count() - 1, b)
            self._buttons.append(b)
        self.show()


def text_on(colour: QColor) -> str:
    """Black or white, whichever reads on `colour` (by luma, as the eye sees it: pure green
    takes black text; Qt's lightness put white on it)."""
    luma = 0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue()
    return "#000" if luma > 140 else "#fff"


def big_font(widget: QWidget, points: float = 1.5, bold: bool = True) -> None:
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * points)
    font.setBold(bold)
    widget.setFont(font)
