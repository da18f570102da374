"""The `avatar-cam` command line, shared by the headless CLI, the window (`gui/app.py`) and the
benchmark."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np

from avatar_cam import __version__
from avatar_cam.composite import Mode, parse_color
from avatar_cam.sources import IMAGE_EXTS, SourceError, read_image

DEFAULT_FPS = 30.0  # the output rate of cameras, pictures and the virtual camera


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"{text!r} is outside 16x16 .. 7680x4320")
    return w, h


def parse_fps(text: str) -> float:
    """A frame rate: a number from 1 to 240 (NaN, 0 and negatives would reach the camera's pacing)."""
    try:
        fps = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1.0 <= fps <= 240.0:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} must be a frame rate from 1 to 240")
    return fps


def parse_gain(text: str) -> float:
    try:
        gain = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.25 <= gain <= 3.0:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0.25 .. 3")
    return gain


def check_provider(text: str) -> str:
    """`--provider`: auto or an execution provider by short name (any case:
    cuda, CUDA) or by ONNX Runtime's own name (CUDAExecutionProvider), else `ValueError`
    (one line). Whether this machine has it is checked where a style needs it
    (`provider_chain`): a drawn character needs none. The window shows the same problems in its
    banner and goes on with auto (`gui.app.build_window`), so the parser leaves it alone."""
    import onnxruntime as ort

    from avatar_cam.inference import SHORT_NAMES

    short = text.strip().lower()
    if short == "auto" or short in SHORT_NAMES.values():
        return short
    if text in ort.get_all_providers():
        return text
    *rest, last = SHORT_NAMES.values()
    raise ValueError(f"--provider {text!r} is not an execution provider (use auto, {', '.join(rest)} "
                     f"or {last})")


def parse_background(text: str) -> tuple[tuple[int, int, int], np.ndarray | None]:
    """A colour, or an image file (then the colour is the image's mean, for the card edges)."""
    if not text.strip():  # '' named no background, and the style's own was replaced by the default
        raise ValueError("--background is empty; give #RRGGBB, R,G,B or an image file (leave it out "
                         "for the style's own)")
    path = Path(text).expanduser()
    if path.suffix.lower() in IMAGE_EXTS or path.is_file():
        try:
            image = read_image(path)
        except SourceError as e:
            raise ValueError(f"background image {e}") from None
        b, g, r = (int(v) for v in image.reshape(-1, 3).mean(0))
        return (b, g, r), image
    return parse_color(text), None


class OneLineParser(argparse.ArgumentParser):
    """Bad flags are bad input like any other: one `avatar-cam: error: ...` line and exit 1
    (argparse prints the whole usage and exits 2)."""

    _args: tuple[str, ...] = ()  # the last parse's arguments (for `_dash_hint`)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        self._args = tuple(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message}{self._dash_hint(message)} (see {self.prog} --help)\n")

    def _dash_hint(self, message: str) -> str:
        """argparse reads a value that starts with '-' (`--size -5x10`) as a flag and says only
        'expected one argument': name the value and how to pass it."""
        found = re.fullmatch(r"argument (\S+): expected one argument", message)
        if found is None:
            return ""
        for flag in found.group(1).split("/"):
            at = self._args.index(flag) if flag in self._args else -1
            if 0 <= at < len(self._args) - 1 and self._args[at + 1].startswith("-"):
                value = self._args[at + 1]
                return f"; {value!r} starts with '-' and was read as a flag (write {flag}={value})"
        return ""


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="avatar-cam",
        description="Your webcam as a cartoon avatar, sent to a virtual camera. "
        "Without --headless the window opens.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--headless", action="store_true", help="run without a window")
    p.add_argument("--input", "-i", metavar="SRC",
                   help="camera index, video, image or folder of images (default: camera 0, or "
                        "the demo clip when there is no camera; 'demo' forces the demo clip)")
    p.add_argument("--output", "-o", metavar="DST", default=None,
                   help="vcam, none, a .mp4 path, an image path or a folder (headless default: vcam)")
    p.add_argument("--style", "-s", metavar="NAME|PATH",
                   help="style name, or a .onnx, .character.json or .look.json file (default: built-in)")
    p.add_argument("--reference", metavar="PICTURE",
                   help="make a look from this cartoon picture with --style (flat-mesh, anime-mesh; "
                        "with a drawn character: a new character in the picture's skin and hair "
                        "colours), save it with your styles and use it")
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.AVATAR.value,
                   help="avatar: only the avatar (a character: head and shoulders in its scene); "
                        "overlay: cartoon face over the camera frame; "
                        "full: whole frame through the style")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N output frames")
    p.add_argument("--stats", metavar="FILE.json", type=Path, help="write run statistics as JSON")
    p.add_argument("--loop", action="store_true", help="loop a video input")
    p.add_argument("--mirror", action="store_true", help="mirror the output horizontally")
    p.add_argument("--size", type=parse_size, default=(1280, 720), metavar="WxH",
                   help="output size (default 1280x720, what meetings send)")
    p.add_argument("--fps", type=parse_fps, default=None,
                   help=f"virtual camera / live output rate (default {DEFAULT_FPS:g}; a video keeps its own)")
    p.add_argument("--camera-size", type=parse_size, default=(640, 480), metavar="WxH",
                   help="resolution asked of the webcam (default 640x480, MJPG)")
    p.add_argument("--background", default=None,
                   help="avatar-mode background: #RRGGBB, R,G,B or an image file (default: the "
                        "style's own: a character's scene, a generated cartoon's own background "
                        "colour)")
    p.add_argument("--calibrate", action="store_true",
                   help="hold a neutral face for the first 3 s of a camera (2 s of a video): the "
                        "character learns your resting eyes, brows, mouth and head angle (saved with "
                        "the settings, used from then on)")
    p.add_argument("--expressiveness", type=parse_gain, default=None, metavar="GAIN",
                   help="how strongly the character shows your expression, 0.25-3 (default: the "
                        "saved value, else 1)")
    p.add_argument("--provider", default="auto",
                   help="ONNX Runtime execution provider: auto, tensorrt, cuda, directml, coreml, cpu")
    p.add_argument("--list-styles", action="store_true", help="list styles and exit")
    p.add_argument("--list-cameras", action="store_true", help="list cameras and exit")
    return p
