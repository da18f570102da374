"""One line for what a command-line tool cannot do: a path that cannot be read or written (a
missing folder, an output under a file), an unreadable clip, Ctrl-C; the tools' own checks
report everything else. `avatar-train` and `avatar-cam` catch these where they happen. Also the
check that a tool's output folder is not its input (`overlaps`)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from avatar_cam.sources import SourceError

Main = TypeVar("Main", bound=Callable[..., int])
# what the `train` extra adds (pyproject.toml) that the tools import
TRAIN_EXTRA = ("torch", "onnxscript", "safetensors", "tqdm", "matplotlib", "dlib")


def overlaps(a: str | Path, b: str | Path) -> bool:
    """The same folder, or one inside the other: writing one would replace or mix into the other."""
    x, y = Path(a).resolve(), Path(b).resolve()
    return x == y or x in y.parents or y in x.parents


def crop_out_problem(out: str | Path, inputs: list[str], size: int, why: str) -> str | None:
    """What is wrong with a crop tool's `--size` (under 32 px) or `--out` (an input folder, inside
    one or around one: `why` says what would happen), else None."""
    if size < 32:
        return f"--size must be at least 32 (got {size})"
    clash = next((folder for folder in inputs if overlaps(out, folder)), None)
    if clash is not None:
        return f"--out {out} is the input {clash}, inside it or around it: {why}; give a folder of its own"
    return None


def missing_extra(prog: str, e: ModuleNotFoundError) -> int:
    """One line for a tool run from the app's wheel alone (no `train` extra), exit 1; any other
    missing module is raised again."""
    if e.name not in TRAIN_EXTRA:
        raise e
    print(f"{prog}: error: needs the training extra ({e.name} is not installed): "
          "pip install 'avatar-cam[train]'", file=sys.stderr)
    return 1


def one_line(prog: str) -> Callable[[Main], Main]:
    """Decorate a tool's `main`: OSError and `SourceError` become `PROG: error: ...` and exit 2,
    Ctrl-C `PROG: interrupted` and exit 130, a missing training extra (the app's wheel alone)
    one line and exit 1, instead of a traceback."""

    def wrap(main: Main) -> Main:
        @functools.wraps(main)
        def run(*args: object, **kwargs: object) -> int:
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
            except OSError as e:
                where = f"{e.filename}: " if e.filename else ""
                print(f"{prog}: error: {where}{e.strerror or e}", file=sys.stderr)
                return 2
            except SourceError as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 2
            except ModuleNotFoundError as e:  # the app's wheel without its training extra
                return missing_extra(prog, e)

        return run  # type: ignore[return-value]

    return wrap
