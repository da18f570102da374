"""Run the avatar-cam window on a clip under a virtual X server and save a screenshot.

    python scripts/screenshot_gui.py [--input CLIP] [--out docs/screenshot.png] [--seconds 5]
    python scripts/screenshot_gui.py --screen 1366x768 --size 1366x768 --creator --out docs/creator.png

The default clip is the generated demo face: a screenshot that goes into the repository must not
show a real person (the clips in ../shared/media may be used, never committed, crops included).

Without a display it re-runs itself under `xvfb-run` (apt install xvfb); with `--offscreen` it
uses Qt's offscreen platform instead. Settings and thumbnails go to a temporary folder, so the
window looks like a first run (help panel open) and your own settings are untouched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default="demo", help="clip to play (default: the generated demo clip)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to run before the shot")
    p.add_argument("--size", default="1480x900", help="window size WxH")
    p.add_argument("--no-help", action="store_true", help="close the first-run help panel")
    p.add_argument("--vcam", action="store_true", help="try to turn the virtual camera on")
    p.add_argument("--mode", choices=["avatar", "overlay", "full"], default="avatar")
    p.add_argument("--offscreen", action="store_true", help="use Qt offscreen, not Xvfb")
    p.add_argument("--screen", default="1920x1080", help="the virtual screen's size WxH (Xvfb)")
    p.add_argument("--creator", action="store_true", help="show the 'Make a character' tab")
    p.add_argument("--section", help="with --creator: scroll the panel to this part (e.g. hair)")
    p.add_argument("--random", type=int, help="with --creator: press Random, seeded")
    return p.parse_args(argv)


def need_xvfb(args: argparse.Namespace) -> bool:
    return (not args.offscreen and sys.platform.startswith("linux")
            and not os.environ.get("DISPLAY") and not os.environ.get("AVATAR_CAM_IN_XVFB"))


def rerun_under_xvfb(argv: list[str], screen: str) -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshot_gui: no DISPLAY and no xvfb-run (apt install xvfb); use --offscreen",
              file=sys.stderr)
        return 2
    env = dict(os.environ, AVATAR_CAM_IN_XVFB="1", QT_QPA_PLATFORM="xcb")
    cmd = [xvfb, "-a", "-s", f"-screen 0 {screen}x24", sys.executable, __file__, *argv]
    return subprocess.call(cmd, env=env)


def shoot(args: argparse.Namespace) -> int:
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from avatar_cam.gui.app import build_window, parse_gui_args
    from avatar_cam.gui.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="avatar-shot-") as tmp:
        w = build_window(parse_gui_args(["--input", args.input, "--mode", args.mode]),
                         settings=AppSettings(Path(tmp) / "settings.ini"),
                         thumbnail_dir=Path(tmp) / "thumbs")
        width, height = (int(v) for v in args.size.split("x"))
        w.resize(width, height)
        w.show()
        if args.no_help:
            w.help_dock.hide()
        if args.vcam:
            w.controls.vcam_button.click()
        if args.creator:
            w.show_creator()
            if args.random is not None:
                import numpy as np

                w.creator.rng = np.random.default_rng(args.random)
                w.creator.randomize()
            if args.section:
                area = w.tabs.currentWidget()
                area.ensureWidgetVisible(w.creator_panel.groups[args.section], 0, 0)  # type: ignore[attr-defined]
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = w.grab().save(str(args.out))
        stats = w.engine.pipeline.stats.summary()
        if args.creator:  # the shot's random character is not kept: no "save your changes?" box
            w.creator.ask_unsaved = lambda name: "discard"
        w.close()
    print(f"screenshot_gui: {'saved' if ok else 'FAILED to save'} {args.out} "
          f"({stats['frames_out']} frames, {stats['frames_with_face']} with a face, "
          f"platform {app.platformName()})")
    return 0 if ok and stats["frames_out"] > 0 else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if need_xvfb(args):
        return rerun_under_xvfb(argv, args.screen)
    return shoot(args)


if __name__ == "__main__":
    sys.exit(main())
