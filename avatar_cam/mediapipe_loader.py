"""MediaPipe, imported without matplotlib."""

from __future__ import annotations

import importlib
import sys
import threading
import types

_LOCK = threading.Lock()


def load_mediapipe() -> types.ModuleType:
    """The `mediapipe` package. Its package init imports `solutions.drawing_utils`, which imports
    matplotlib's pyplot for one plotting helper (`plot_landmarks`) the app never calls: 0.4-0.9 s
    and ~43 MB of every start here. While MediaPipe is first imported, empty stand-ins take
    matplotlib's place (unless it was imported already), and they are taken out again, so what
    imports matplotlib later gets the real one. One thread at a time: another must not see the
    stand-ins or a half-imported MediaPipe."""
    with _LOCK:
        stand_ins: dict[str, types.ModuleType] = {}
        if "mediapipe" not in sys.modules and "matplotlib" not in sys.modules:
            top, pyplot = types.ModuleType("matplotlib"), types.ModuleType("matplotlib.pyplot")
            top.pyplot = pyplot  # type: ignore[attr-defined]
            stand_ins = {"matplotlib": top, "matplotlib.pyplot": pyplot}
            sys.modules.update(stand_ins)
        try:
            return importlib.import_module("mediapipe")
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
