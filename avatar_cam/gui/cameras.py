"""The camera list for the picker: names where the OS gives them, never opening the camera that
is streaming, and never offering avatar-cam's own virtual camera as an input."""

from __future__ import annotations

import platform
from pathlib import Path

import cv2

from avatar_cam.sources import camera_backend

OWN_LABELS = ("avatar-cam",)  # card_label of our v4l2loopback device (see the help panel)


def _linux_name(i: int) -> str | None:
    """sysfs name of /dev/video{i}, or None when it is not a capture node worth listing."""
    if not Path(f"/dev/video{i}").exists():
        return None
    sys_dir = Path(f"/sys/class/video4linux/video{i}")
    index = sys_dir / "index"
    if index.is_file() and index.read_text().strip() not in ("", "0"):
        return None  # the metadata node a UVC camera exposes next to its capture node
    name = (sys_dir / "name").read_text().strip() if (sys_dir / "name").is_file() else ""
    return name or f"Camera {i}"


def _opens(i: int) -> bool:
    cap = cv2.VideoCapture(i, camera_backend())
    try:
        return cap.isOpened()
    finally:
        cap.release()


def scan_cameras(busy: set[int] | None = None, max_index: int = 8,
                 exclude_devices: set[str] | None = None) -> list[tuple[int, str]]:
    """(index, name) of usable cameras. Indexes in `busy` (streaming now) are listed without
    being opened; our own loopback output (by label or device path) is left out."""
    busy = busy or set()
    exclude = exclude_devices or set()
    found: list[tuple[int, str]] = []
    linux = platform.system() == "Linux"
    for i in range(max_index):
        if linux:
            name = _linux_name(i)
            if name is None or name in OWN_LABELS or f"/dev/video{i}" in exclude:
                continue
        else:
            name = f"Camera {i}"
        if i in busy or _opens(i):
            found.append((i, name))
    return found
