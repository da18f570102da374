"""What the window remembers between launches (QSettings), stored where tests can redirect it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings

from avatar_cam.character.params import Calibration

ORGANIZATION = "avatar-cam"
APPLICATION = "avatar-cam"
SETTINGS_ENV = "AVATAR_CAM_SETTINGS"  # an .ini path; used instead of the per-user location


def _as_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(value, int):
        return bool(value)
    return default


class AppSettings:
    """Typed access to the saved values: input, camera size, style, mode, mirror, background,
    camera preview, virtual camera, help seen, window geometry.

    `path` (or `$AVATAR_CAM_SETTINGS`) is an INI file; without it the OS's usual per-user place
    for organization/application "avatar-cam" is used."""

    def __init__(self, path: str | Path | None = None):
        path = path or os.environ.get(SETTINGS_ENV) or None
        self.problem: str | None = None  # why no settings are read or saved, in words
        self._location: str | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None  # where a pipe's values go
        if path and Path(path).exists() and not (Path(path).is_file() or Path(path).is_dir()):
            # a pipe or a device: Qt's reader blocks on a pipe for good. The values are kept for
            # this run in a private file instead, and the user is told once
            self.problem = f"{path} is a pipe or device, not a settings file"
            self._location, self._scratch = str(path), tempfile.TemporaryDirectory(prefix="avatar-cam-")
            path = Path(self._scratch.name) / "settings.ini"
        if path:
            self.qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qs = QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                                ORGANIZATION, APPLICATION)

    # -- helpers --------------------------------------------------------------------------------
    def _str(self, key: str) -> str | None:
        v = self.qs.value(key)
        return str(v) if v not in (None, "") else None

    def _set(self, key: str, value: object) -> None:
        if value is None:
            self.qs.remove(key)
        else:
            self.qs.setValue(key, value)

    def _bool(self, key: str, default: bool) -> bool:
        return _as_bool(self.qs.value(key), default)

    def sync(self) -> str | None:
        """Write the settings out now; what went wrong, in words, else None."""
        self.qs.sync()
        if self.problem:
            return self.problem
        if self.qs.status() == QSettings.Status.NoError:
            return None
        access = self.qs.status() == QSettings.Status.AccessError
        return f"{self.location} {'cannot be written' if access else 'is not a settings file'}"

    @property
    def location(self) -> str:
        return self._location or self.qs.fileName()

    # -- values ---------------------------------------------------------------------------------
    @property
    def input(self) -> str | None:
        """Camera index ("0"), video/image path or "demo"; None: never chosen."""
        return self._str("source/input")

    @input.setter
    def input(self, value: str | None) -> None:
        self._set("source/input", value)

    @property
    def camera_size(self) -> tuple[int, int] | None:
        text = self._str("source/camera_size")
        try:
            w, h = (int(v) for v in (text or "").split("x"))
        except ValueError:
            return None
        return (w, h) if w > 0 and h > 0 else None

    @camera_size.setter
    def camera_size(self, size: tuple[int, int] | None) -> None:
        self._set("source/camera_size", f"{size[0]}x{size[1]}" if size else None)

    @property
    def style(self) -> str | None:
        """Path of the chosen style file."""
        return self._str("output/style")

    @style.setter
    def style(self, value: str | None) -> None:
        self._set("output/style", value)

    @property
    def mode(self) -> str | None:
        return self._str("output/mode")

    @mode.setter
    def mode(self, value: str | None) -> None:
        self._set("output/mode", value)

    @property
    def mirror(self) -> bool | None:
        return None if self.qs.value("output/mirror") is None else self._bool("output/mirror", False)

    @mirror.setter
    def mirror(self, value: bool) -> None:
        self._set("output/mirror", bool(value))

    @property
    def background(self) -> str | None:
        """'#RRGGBB'."""
        return self._str("output/background")

    @background.setter
    def background(self, value: str | None) -> None:
        self._set("output/background", value)

    @property
    def calibration(self) -> Calibration:
        """The person's neutral face and expressiveness (defaults when never calibrated or when
        the stored value is not a calibration)."""
        text = self._str("character/calibration")
        try:
            return Calibration.from_dict(json.loads(text)) if text else Calibration()
        except (ValueError, TypeError):
            return Calibration()

    @calibration.setter
    def calibration(self, value: Calibration) -> None:
        self._set("character/calibration", json.dumps(value.to_dict()))

    @property
    def vcam(self) -> bool:
        return self._bool("output/vcam", False)

    @vcam.setter
    def vcam(self, value: bool) -> None:
        self._set("output/vcam", bool(value))

    @property
    def show_camera(self) -> bool:
        return self._bool("window/show_camera", True)

    @show_camera.setter
    def show_camera(self, value: bool) -> None:
        self._set("window/show_camera", bool(value))

    @property
    def help_seen(self) -> bool:
        return self._bool("window/help_seen", False)

    @help_seen.setter
    def help_seen(self, value: bool) -> None:
        self._set("window/help_seen", bool(value))

    @property
    def geometry(self) -> QByteArray | None:
        v = self.qs.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        v = self.qs.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._set("window/state", value)


@dataclass
class StartOptions:
    """What the window starts with (CLI flags over saved settings over defaults)."""

    spec: str
    camera_size: tuple[int, int] = (640, 480)
    mode: str = "avatar"
    mirror: bool = False
    background: str = "#283040"
    background_custom: bool = False  # chosen by the user: characters draw on it too
    background_picture: str | None = None  # a picture file behind the avatar (`background` its mean)
    background_image: np.ndarray | None = None  # that picture, read (BGR)
    calibration: Calibration = field(default_factory=Calibration)
    vcam: bool = False
    auto_demo: bool = False  # the demo clip was picked because no camera exists
    notices: list[str] = field(default_factory=list)
