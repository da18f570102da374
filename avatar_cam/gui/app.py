"""`run_gui(args)`: what `avatar-cam` without `--headless` runs. Flags given on the command line
win over saved settings for this session (and are not saved); the rest comes from settings."""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import traceback
from pathlib import Path
from types import TracebackType

from avatar_cam.character.model import hex_colour
from avatar_cam.composite import DEFAULT_BACKGROUND, Mode, parse_color
from avatar_cam.gui.cameras import scan_cameras
from avatar_cam.gui.controls import DEMO_SPEC
from avatar_cam.gui.engine import Engine, VcamFactory
from avatar_cam.gui.settings import AppSettings, StartOptions
from avatar_cam.gui.thumbnails import ThumbnailMaker
from avatar_cam.gui.window import MainWindow
from avatar_cam.gui.workers import SourceFactory, open_gui_source
from avatar_cam.inference import provider_chain
from avatar_cam.options import DEFAULT_FPS, build_parser, check_provider, parse_background
from avatar_cam.pipeline import Pipeline, PipelineConfig
from avatar_cam.styles import StyleCatalog, StyleError, StyleInfo, load_style


def _defaults() -> argparse.Namespace:
    return build_parser().parse_args([])


def given_flags(argv: list[str]) -> set[str] | None:
    """The option names (dests) typed in `argv`, or None if `argv` does not parse."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ns, _ = parser.parse_known_args(argv)
    except SystemExit:
        return None
    return set(vars(ns))


def parse_gui_args(argv: list[str]) -> argparse.Namespace:
    """CLI args plus `given`: which flags were typed (they win over saved settings)."""
    args = build_parser().parse_args(argv)
    args.given = given_flags(argv)
    return args


def start_options(args: argparse.Namespace, settings: AppSettings,
                  has_camera: bool | None = None) -> StartOptions:
    """Input, camera size, mode, mirror, background and vcam: a typed flag wins (`args.given`;
    without it, a value other than the default counts as typed), else the saved value, else the
    default. With no input anywhere: camera 0, or the demo clip when there is no camera."""
    d = _defaults()
    typed: set[str] | None = getattr(args, "given", None)

    def flag(name: str) -> bool:
        return name in typed if typed is not None else getattr(args, name) != getattr(d, name)

    notices: list[str] = []
    spec = args.input or settings.input
    auto_demo = False
    if spec is None:
        if has_camera is None:
            has_camera = bool(scan_cameras(max_index=2))
        spec, auto_demo = ("0", False) if has_camera else (DEMO_SPEC, True)
    mode = args.mode if flag("mode") else (settings.mode or args.mode)
    if mode not in {m.value for m in Mode}:
        mode = d.mode
    custom = flag("background") or settings.background is not None
    background = args.background if flag("background") else (settings.background or DEFAULT_BACKGROUND)
    picture, image = None, None
    try:
        bgr, image = parse_background(background)
        picture = background if image is not None else None
        background = hex_colour(bgr[::-1])
    except ValueError as e:  # a saved picture deleted since: each style's own, and a notice
        notices.append(f"{e}; the style's own background is used")
        background, custom = DEFAULT_BACKGROUND, False
    calibration = settings.calibration
    if args.expressiveness is not None:
        calibration = calibration.with_gain(args.expressiveness)
    return StartOptions(
        spec=spec,
        camera_size=args.camera_size if flag("camera_size") else
        (settings.camera_size or args.camera_size),
        mode=mode,
        mirror=bool(args.mirror if flag("mirror") else settings.mirror),
        background=background,
        background_custom=custom,
        background_picture=picture,
        background_image=image,
        calibration=calibration,
        vcam=settings.vcam,
        auto_demo=auto_demo,
        notices=notices,
    )


def load_first_style(pipeline: Pipeline, catalog: StyleCatalog, wanted: list[str | None],
                     notices: list[str]) -> StyleInfo | None:
    """Switch `pipeline` to the first of `wanted` that loads (None = the catalog default);
    what failed goes to `notices`."""
    for name in wanted:
        try:
            info = catalog.resolve(name)
            info = load_style(info.path, probe=True)
            pipeline.set_style(info)
            return info
        except (StyleError, ValueError, OSError) as e:
            notices.append(f"style {name or 'default'} not used: {e}")
        except Exception as e:  # ORT refusing a file it accepted when checking
            notices.append(f"style {name or 'default'} not used: {type(e).__name__}: {e}")
    return None


def build_window(args: argparse.Namespace, settings: AppSettings | None = None,
                 catalog: StyleCatalog | None = None, source_factory: SourceFactory = open_gui_source,
                 vcam_factory: VcamFactory | None = None, thumbnail_dir: Path | None = None,
                 has_camera: bool | None = None, start: bool = True) -> MainWindow:
    """The window and its engine, wired and (with `start`) running. Needs a QApplication."""
    settings = settings or AppSettings()
    catalog = catalog or StyleCatalog()
    options = start_options(args, settings, has_camera)
    if settings.problem:
        options.notices.append(f"{settings.problem}: settings are not saved this time")
    try:
        provider = check_provider(args.provider)  # a typo says so; CUDA is cuda
        provider_chain(provider)
    except ValueError as e:
        options.notices.append(f"{e}; using auto")
        provider = "auto"
    config = PipelineConfig(mode=Mode(options.mode), output_size=tuple(args.size),
                            mirror=options.mirror, background=parse_color(options.background),
                            background_image=options.background_image,
                            background_custom=options.background_custom, provider=provider,
                            calibration=options.calibration)
    pipeline = Pipeline(None, config)
    wanted: list[str | None] = [args.style] if args.style else []
    if settings.style:
        wanted.append(settings.style)
    wanted.append(None)
    if load_first_style(pipeline, catalog, wanted, options.notices) is None:
        options.notices.append("no style could be loaded: add one with 'Add style...'")
    engine = Engine(pipeline, options.spec, options.camera_size, args.fps or DEFAULT_FPS, source_factory,
                    vcam_factory)
    window = MainWindow(engine, catalog, settings, ThumbnailMaker(thumbnail_dir), options)
    if start:
        engine.start()
        if args.calibrate:
            window.calibrate()
    return window


def _excepthook(window: MainWindow | None):  # noqa: ANN202
    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, value, tb)
        if window is not None:
            window.show_error("Unexpected error", f"{kind.__name__}: {value}", dialog=False)

    return hook


def run_gui(args: argparse.Namespace) -> int:
    """Open the window and run until it is closed."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("avatar-cam")
    app.setOrganizationName("avatar-cam")
    if getattr(args, "given", None) is None:  # called from cli.main: see what was typed
        argv = sys.argv[1:]
        with contextlib.suppress(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            if vars(parse_gui_args(argv)) == dict(vars(args), given=given_flags(argv)):
                args.given = given_flags(argv)
    window = build_window(args)
    sys.excepthook = _excepthook(window)  # a bug in a slot becomes a status line, not an exit
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl+C in the terminal closes cleanly
        signal.signal(sig, lambda *_: window.close())
    wake = QTimer(window)  # lets Python run its signal handlers while Qt's loop waits
    wake.timeout.connect(lambda: None)
    wake.start(200)
    window.show()
    try:
        return app.exec()
    finally:
        window.engine.stop()
