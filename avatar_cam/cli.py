"""`avatar-cam`: the window by default; `--headless` runs the same pipeline from the shell."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from avatar_cam.character.params import Calibration
from avatar_cam.composite import DEFAULT_BACKGROUND, Mode
from avatar_cam.face import quiet_native_stderr
from avatar_cam.gui.settings import AppSettings
from avatar_cam.options import DEFAULT_FPS, build_parser, check_provider, parse_background
from avatar_cam.pipeline import CALIBRATE_SECONDS, CALIBRATE_SETTLE_S, Pipeline, PipelineConfig
from avatar_cam.sinks import (
    FolderSink,
    ImageFileSink,
    Sink,
    SinkError,
    VideoFileSink,
    open_sink,
    try_writing,
    video_size,
)
from avatar_cam.sources import (
    FolderSource,
    ImageSource,
    Source,
    SourceError,
    VideoSource,
    list_cameras,
    open_source,
)
from avatar_cam.styles import CHARACTER_KIND, StyleCatalog, StyleError, StyleInfo, load_style

FILE_SINKS = (VideoFileSink, FolderSink)


def _fail(msg: str) -> int:
    print(f"avatar-cam: error: {msg}", file=sys.stderr)
    return 1


def list_styles() -> int:
    catalog = StyleCatalog()
    default = catalog.default() if catalog.styles else None
    for s in catalog.styles:
        mark = "*" if default and s.path == default.path else " "
        print(f"{mark} {s.summary()}")
    for problem in catalog.problems:
        print(f"! {problem}")
    print("user styles folder:", catalog.dirs[-1])
    return 0 if catalog.styles else 1


def make_look_from(style: str | None, picture: str) -> str:
    """`--reference`: a look from `picture` with `style` (default: the default style) saved
    in the user styles folder; returns its path for `--style`."""
    from avatar_cam.reference import make_look

    catalog = StyleCatalog()
    info = catalog.resolve(style)
    with quiet_native_stderr():  # MediaPipe's start-up banners, not for a user
        look, note = make_look(info, picture, catalog.dirs[-1])
    print(f"avatar-cam: {note}", file=sys.stderr)
    return str(look.path)


def _same(a: Path, b: Path) -> bool:
    """The same file: by path, or by inode where both exist (a hard link to the input)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, RuntimeError):
        return False


SUMMARY_KEYS = frozenset({"frames_in", "frames_out", "fallbacks", "latency_ms", "style"})


def _is_summary(path: Path) -> bool:
    """Whether `path` holds a summary an earlier run wrote (a JSON object with its keys)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.keys() >= SUMMARY_KEYS


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and the folders above it that do not exist yet, deepest first (what an output
    there may create)."""
    missing = []
    for p in (path, *path.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


def check_paths(spec: str, output: str, stats: Path | None) -> None:
    """`ValueError` (one line) before anything runs when a file the run writes would replace
    the input (the output the input file or folder, also through a hard link; the stats file the
    input or the output) or an existing file that is not an earlier run's summary, or when the
    stats file cannot be written."""
    source = Path(spec).expanduser()
    written = [] if output in ("vcam", "none") else [Path(output).expanduser()]
    if source.exists() and any(_same(out, source) for out in written):
        raise ValueError(f"--output {output} is the input: writing it would replace what is being "
                         "read; give another file or folder")
    if stats is None:
        return
    stats = stats.expanduser()
    is_input = source.exists() and _same(stats, source)
    if is_input or any(_same(stats, out) for out in written):
        raise ValueError(f"--stats {stats} is the {'input' if is_input else 'output'}; "
                         "give the summary a file of its own (e.g. stats.json)")
    if stats.is_dir() or (os.path.lexists(stats) and not _is_summary(stats)):
        raise ValueError(f"--stats {stats}: exists and is not an earlier run's summary; the summary "
                         "would replace it (give a new file name, e.g. stats.json)")
    try:
        stats.parent.mkdir(parents=True, exist_ok=True)
        try_writing(stats)
    except OSError as e:
        raise ValueError(f"--stats {stats}: cannot write ({e.strerror})") from None


def resolve_style(name: str | None) -> StyleInfo:
    """The style `name` names (None: the default), checked: a generated one is loaded and run
    once (`load_style`); `StyleError` otherwise."""
    style = StyleCatalog().resolve(name)
    if style.kind != CHARACTER_KIND and style.likeness is None:  # listed by name: not yet run
        style = load_style(style.path)
    return style


def run_headless(args: argparse.Namespace) -> int:
    from avatar_cam.demo import default_input

    try:
        background, background_image = parse_background(
            DEFAULT_BACKGROUND if args.background is None else args.background)
        style = resolve_style(args.style)
        spec = default_input(args.input)
        check_paths(spec, args.output or "vcam", args.stats)
        with quiet_native_stderr():  # FFmpeg's and OpenCV's own lines about a file or camera
            source = open_source(spec, loop=args.loop, width=args.camera_size[0],
                                 height=args.camera_size[1])
    except (StyleError, SourceError, ValueError) as e:
        return _fail(str(e))
    if args.calibrate and style.kind != CHARACTER_KIND:
        source.close()
        return _fail(f"--calibrate needs a drawn character style ({style.name} is generated from the face "
                     "mesh or the picture and does not use the face measures calibration learns)")
    if args.calibrate and source.still:
        source.close()
        what = "a folder of photos" if isinstance(source, FolderSource) else "a photo"
        return _fail(f"--calibrate learns your neutral face from 2 s of a camera or video; {what} "
                     f"({source.name}) has no 2 s: calibrate with --input 0 (or a video), then run "
                     "the photos without it")
    if args.expressiveness is not None and style.kind != CHARACTER_KIND:
        print(f"avatar-cam: note: --expressiveness is not used by {style.name} (it scales a drawn "
              "character's expressions)", file=sys.stderr)
    fps = (args.fps or DEFAULT_FPS) if source.live or source.still else source.fps
    if args.fps is not None and not (source.live or source.still) and args.fps != source.fps:
        print(f"avatar-cam: note: the output keeps the video's {source.fps:g} fps (--fps sets the rate "
              "of cameras, pictures and the virtual camera)", file=sys.stderr)
    output = args.output or "vcam"
    new_dirs = _missing_dirs(Path(output).expanduser()) if output not in ("vcam", "none") else []
    try:
        sink = open_sink(output, args.size, fps, folder_input=isinstance(source, FolderSource),
                         **planned_files(source, args.max_frames))
        if isinstance(sink, ImageFileSink) and not source.still and args.max_frames != 1:
            raise SinkError(f"{output}: one image cannot hold a {'camera' if source.live else 'video'}'s "
                            "frames; give a video file (.mp4), a folder, or --max-frames 1 for one picture")
        if isinstance(source, FolderSource) and isinstance(sink, VideoFileSink):
            raise SinkError(f"{output}: a folder of images goes to a folder (each picture keeps its "
                            "name) or none, not into a video (a thirtieth of a second each)")
        if (args.loop or source.live) and args.max_frames is None and isinstance(sink, FILE_SINKS):
            raise SinkError(f"{output}: a {'looped input' if args.loop else 'camera'} never ends; give "
                            "--max-frames N to stop writing the file")
        if isinstance(sink, VideoFileSink) and video_size(args.size) != tuple(args.size):
            w, h = video_size(args.size)
            print(f"avatar-cam: note: the video is {w}x{h} (video encoders need even sides)",
                  file=sys.stderr)
        if args.reference is not None:  # saved only now: a run refused above saved it anyway
            style = resolve_style(make_look_from(args.style, args.reference))
        settings = AppSettings()
        if settings.problem:
            print(f"avatar-cam: note: {settings.problem}: the saved calibration is not used",
                  file=sys.stderr)
        calibration = settings.calibration
        if args.expressiveness is not None:  # for this run; the window's slider saves it
            calibration = calibration.with_gain(args.expressiveness)
        config = PipelineConfig(mode=Mode(args.mode), output_size=args.size, mirror=args.mirror,
                                background=background, background_image=background_image,
                                background_custom=args.background is not None, provider=args.provider,
                                calibration=calibration)
        pipeline = Pipeline(style, config)
    except (SinkError, StyleError, ValueError) as e:
        source.close()
        for d in new_dirs:  # a refused run leaves no folder it made behind
            with contextlib.suppress(OSError):
                d.rmdir()
        return _fail(str(e))

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.background is not None and not faces_tracked(pipeline, args.mode):
        print(f"avatar-cam: note: --background is not used in full mode with {style.name}: the whole "
              "picture is restyled (it is in avatar mode)", file=sys.stderr)
    elif args.background is not None and Mode(args.mode) is Mode.OVERLAY:
        print("avatar-cam: note: --background is not used in overlay mode: the camera picture is "
              "around the cartoon face (it is in avatar mode)", file=sys.stderr)
    made = [d for d in new_dirs if d.is_dir()]
    if made:  # a mistyped folder is made without a word otherwise
        print(f"avatar-cam: note: made the folder {made[-1]} for the output", file=sys.stderr)
    for note in (style.load_note, style.privacy_note()):
        if note:
            print(f"avatar-cam: note: {note}", file=sys.stderr)
    print(f"avatar-cam: {source.name} -> {output} | style {style.name} | provider "
          f"{pipeline.provider} | mode {args.mode}", file=sys.stderr)
    reopen = (lambda: open_source(spec, width=args.camera_size[0], height=args.camera_size[1])) \
        if source.live else None
    calibrated: list[str] = []
    if args.calibrate:
        def done(cal: Calibration | None, message: str) -> None:
            if cal is not None:
                settings.calibration = replace(cal, gain=settings.calibration.gain)
                problem = settings.sync()
                message += f" (not saved: {problem})" if problem else f" (saved in {settings.location})"
            calibrated.append(message)
            print(f"avatar-cam: {message}", file=sys.stderr)

        # a camera: a second to settle (the person turns from the terminal); a video plays as
        # recorded (the shared clips are 2.3-2.6 s: with the second, none calibrated)
        settle = CALIBRATE_SETTLE_S if source.live else 0.0
        needs = f"{CALIBRATE_SECONDS + settle:g} s"
        print(f"avatar-cam: calibrating: look at the camera with a relaxed, neutral face for {needs}",
              file=sys.stderr)
        pipeline.calibrate(done, CALIBRATE_SECONDS, settle)
    try:
        stats = pipeline.run(source, [sink], max_frames=args.max_frames, stop=stop, reopen=reopen)
    except Exception as e:  # a sink that kept failing (disk full, device gone): say so, exit 1
        sink_closed(sink)
        return _fail(f"output {output} failed: {e}")
    finally:
        source.close()
    closing = sink_closed(sink)
    if isinstance(source, FolderSource) and source.skipped and not stats.stills:
        for d in new_dirs:  # nothing was written into a folder this run made
            with contextlib.suppress(OSError):
                d.rmdir()
        return _fail(f"{source.path}: none of its {len(source.skipped)} picture files could be read "
                     f"({source.skipped[0]})")
    if args.calibrate and not calibrated:
        print(f"avatar-cam: calibration did not finish: it needs {needs} of your face tracked, and the "
              "run ended first (nothing saved; a short video calibrates with --loop --max-frames N)",
              file=sys.stderr)
    summary = stats.summary() | {"provider": pipeline.provider, "style": style.name,
                                 "mode": args.mode, "input": spec, "output": output}
    tracked = faces_tracked(pipeline, args.mode)
    summary["faces_tracked"] = tracked
    summary["stopped"] = stop.is_set()  # by Ctrl+C or a TERM signal: a file output ends there
    if not tracked:  # no count rather than a count of faces no one looked for
        summary |= {"frames_with_face": None, "files_without_face": None, "names_without_face": None}
    if isinstance(source, FolderSource) and source.skipped:
        summary["skipped_inputs"] = source.skipped
    if isinstance(source, VideoSource) and source.ended_early \
            and (args.max_frames is None or source.frames_read < args.max_frames):
        summary["input_ended_early"] = {"frames_read": source.frames_read,
                                        "frames_in_file": source.frame_count}
        print(f"avatar-cam: note: {source.name} stopped decoding after {source.frames_read} of the "
              f"{source.frame_count} frames it lists (a damaged file?); the output has those "
              f"{source.frames_read}", file=sys.stderr)
    if args.stats:
        try:
            args.stats.expanduser().write_text(json.dumps(summary, indent=2))
        except OSError as e:
            return _fail(f"{args.stats}: cannot write stats ({e.strerror})")
    untracked = "faces not looked for in full mode"
    latency = f"latency p50 {summary['latency_ms']['p50']} ms"
    lost = sum(n for k, n in stats.errors.items() if k.startswith("sink:"))
    if source.still:  # each image on its own: what was done with them, no frame rate
        did = "processed" if lost or output == "none" else "sent" if output == "vcam" else "wrote"
        n = summary["stills"]
        images = f"{did} {n} file{'' if n == 1 else 's'}"
        named = summary["names_without_face"]
        which = f": {', '.join(named[:5])}{', ...' if len(named) > 5 else ''}" if named else ""
        faceless = (f", {summary['files_without_face']} without a face (placeholder card{which})"
                    if summary["files_without_face"] else "")
        counts = (f"{images}, {summary['frames_with_face']} with a face{faceless}"
                  if tracked else f"{images} ({untracked})")
        if summary.get("skipped_inputs"):
            counts += f", {len(summary['skipped_inputs'])} unreadable (skipped)"
        print(f"avatar-cam: {counts}, {latency}", file=sys.stderr)
    else:
        faces = f"{summary['frames_with_face']} with a face" if tracked else untracked
        n = summary["frames_out"]
        rate = f"{summary['fps']} fps, " if n > 1 else ""  # one frame has no rate
        frames = f"{n} frame{'' if n == 1 else 's'}"
        ended = " (stopped: Ctrl+C or TERM)" if stop.is_set() else ""
        print(f"avatar-cam: {frames}, {faces}, {summary['frames_fallback']} fallback, {rate}{latency}{ended}",
              file=sys.stderr)
    if lost:
        return _fail(f"output {output}: {lost} frame(s) not written: {pipeline.sink_error}")
    if closing:
        return _fail(closing)
    return 0


def planned_files(source: Source, max_frames: int | None) -> dict:
    """What a folder output will be given from `source` (`open_sink`'s `names`, `frames`):
    an image's or a folder's file names, else how many numbered frames (None: not known)."""
    if isinstance(source, FolderSource):
        return {"names": [p.name for p in source.files][:max_frames]}
    if isinstance(source, ImageSource):
        return {"names": [source.name]}
    count = None if source.live or (isinstance(source, VideoSource) and source.loop) else \
        getattr(source, "frame_count", 0) or None  # a video's header: a hint, `write` still checks
    if max_frames is not None:
        count = max_frames if count is None else min(count, max_frames)
    return {"frames": count}


def faces_tracked(pipeline: Pipeline, mode: str) -> bool:
    """Whether the run looked for faces: full mode with a style that restyles the whole picture
    (not one drawn from the face's landmarks) never does."""
    stylizer = pipeline.stylizer
    return not (Mode(mode) is Mode.FULL and stylizer is not None and not stylizer.needs_landmarks)


def sink_closed(sink: Sink) -> str:
    """Close `sink`; what went wrong in words (a video the disk had no room for), else ''."""
    try:
        sink.close()
    except SinkError as e:
        return str(e)
    return ""


def has_display() -> bool:
    """Whether a window can open (Linux needs an X or Wayland display; tests set offscreen)."""
    if platform.system() != "Linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_without_display(args: argparse.Namespace) -> int:
    """No screen (a server, an SSH session): run headless into the virtual camera, or, when none
    exists, into a preview video, and say so."""
    import platformdirs

    from avatar_cam.sinks import SinkError, VirtualCameraSink
    from avatar_cam.styles import APP_NAME

    print("avatar-cam: no display, so no window; running headless.", file=sys.stderr)
    args.headless = True
    if args.output is None:
        try:
            VirtualCameraSink(args.size, args.fps or DEFAULT_FPS).close()
            args.output = "vcam"
        except SinkError as e:
            preview = Path(platformdirs.user_data_dir(APP_NAME)) / "preview.mp4"
            print(f"avatar-cam: {e}\navatar-cam: preview only: writing {preview}", file=sys.stderr)
            args.output = str(preview)
            if args.max_frames is None:  # a camera never ends; the demo clip is 300 frames
                args.max_frames = 300
    return run_headless(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_styles or args.list_cameras:  # both when both are asked for
        rc = list_styles() if args.list_styles else 0
        if args.list_cameras:
            cams = list_cameras()
            for i, name in cams:
                print(f"{i}: {name}")
            if not cams:
                print("no camera found (use --input demo or a video file)")
        return rc
    if args.max_frames is not None and args.max_frames < 1:
        return _fail("--max-frames must be at least 1")
    if args.headless or not has_display():  # refused at once (the window shows a bad name in its
        try:                                 # banner and uses auto)
            args.provider = check_provider(args.provider)
        except ValueError as e:
            return _fail(str(e))
    if args.headless:
        return run_headless(args)  # a --reference look is saved once the run's checks pass
    if not has_display():
        return run_without_display(args)
    if args.reference is not None:
        try:
            args.style = make_look_from(args.style, args.reference)
        except (StyleError, ValueError) as e:
            return _fail(str(e))
    try:
        from avatar_cam.gui.app import run_gui
    except ImportError as e:
        return _fail(f"the window cannot start ({e}); use --headless")
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
