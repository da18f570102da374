"""The real thing end to end: `scripts/screenshot_gui.py` under Xvfb (offscreen Qt when Xvfb is
not installed) saves a screenshot, and `avatar-cam --input CLIP` opens the window and closes
cleanly on Ctrl+C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets")
ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "media" / "651.mp4"


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, AVATAR_CAM_SETTINGS=str(tmp_path / "settings.ini"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    return env


def _clip(tmp_path: Path) -> str:
    if CLIP.is_file():
        return str(CLIP)
    from avatar_cam.demo import ensure_demo_clip

    return str(ensure_demo_clip(tmp_path / "demo.mp4"))


def test_screenshot_script(tmp_path: Path) -> None:
    import cv2

    out = tmp_path / "shot.png"
    cmd = [sys.executable, str(ROOT / "scripts" / "screenshot_gui.py"), "--input", _clip(tmp_path),
           "--out", str(out), "--seconds", "2", "--size", "1280x800"]
    env = _env(tmp_path)
    if shutil.which("xvfb-run"):
        env.pop("DISPLAY", None)
        env.pop("QT_QPA_PLATFORM", None)
    else:
        cmd.append("--offscreen")
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (800, 1280)
    assert img.std() > 20  # a picture, not a blank window


def test_cli_opens_the_window_and_ctrl_c_closes_it(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "avatar_cam.cli", "--input", _clip(tmp_path),
                             "--mode", "overlay"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        thumbs = tmp_path / "cache" / "avatar-cam" / "thumbnails"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not any(thumbs.glob("*.png")):
            time.sleep(0.2)  # the window is up once it has made the style thumbnails
        time.sleep(1.0)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    text = (tmp_path / "settings.ini").read_text()
    assert "geometry" in text  # the window saved itself on the way out
    assert "mode=overlay" not in text  # a typed flag is for this session only
