"""Issue 8, security: no unpickling anywhere in the shipped code, and a headless run writes nothing
outside the user's config/data/cache dirs and the outputs it was asked for."""

from __future__ import annotations

import ast
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("avatar_cam", "export", "training")
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
LOADERS = {"load", "unsafe_load", "read_pickle"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str, name: str = "<src>") -> list[str]:
    """`file:line what` for every import of an unpickling module, `torch.load` (and
    `torch.hub.load_state_dict_from_url`) without `weights_only=True`, `torch.jit.load`, `np.load`
    with `allow_pickle` not False, `yaml.load`, `pandas.read_pickle`, `eval`, `exec`."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in UNPICKLERS]
        elif isinstance(node, ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if root in UNPICKLERS:
                found.append(f"{where} from {node.module} import ...")
            elif root in ("torch", "numpy", "yaml") and {a.name for a in node.names} & LOADERS:
                found.append(f"{where} from {node.module} import load (kwargs cannot be checked)")
        elif isinstance(node, ast.Call):
            func = _dotted(node.func)
            kw = {k.arg: k.value for k in node.keywords}
            last = func.rsplit(".", 1)[-1]
            if func in ("eval", "exec", "builtins.eval", "builtins.exec"):
                found.append(f"{where} {func}()")
            elif func.startswith("torch") and last in ("load", "load_state_dict_from_url") \
                    and not _is_const(kw.get("weights_only"), True):
                found.append(f"{where} {func}() without weights_only=True")
            elif func in ("np.load", "numpy.load") and "allow_pickle" in kw \
                    and not _is_const(kw["allow_pickle"], False):
                found.append(f"{where} {func}(allow_pickle=...)")
            elif func.startswith(("yaml.", "pd.", "pandas.")) and last in LOADERS:
                found.append(f"{where} {func}()")
    return found


def test_the_checker_catches_what_it_should_and_nothing_else() -> None:
    bad = [
        "import pickle",
        "import joblib as jl",
        "from dill import loads",
        "from torch import load",
        "torch.load(path)",
        "torch.load(path, weights_only=False)",
        "torch.load(path, map_location='cpu')",
        "torch.hub.load_state_dict_from_url(url)",
        "torch.jit.load(path)",
        "np.load(path, allow_pickle=True)",
        "numpy.load(path, allow_pickle=flag)",
        "eval('1 + 1')",
        "exec(code)",
        "yaml.load(text)",
        "pd.read_pickle(path)",
    ]
    for line in bad:
        assert len(unsafe_calls(line)) == 1, line
    good = "\n".join([
        "model.eval()", "net.train().eval()", "torch.load(p, weights_only=True, map_location='cpu')",
        "np.load(p)", "np.load(p, allow_pickle=False)", "re.compile('x')", "json.loads(s)",
        "safetensors.torch.load_file(p)", "onnx.load(p)", "x = 'import pickle; eval(1)'",
        "torch.hub.load_state_dict_from_url(u, weights_only=True)",
    ])
    assert unsafe_calls(good) == []


def test_the_app_export_and_training_never_unpickle_or_eval() -> None:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    assert len(files) > 30 and any(p.name == "checkpoint.py" for p in files)
    found = [hit for p in files
             for hit in unsafe_calls(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == [], "unsafe deserialisation or eval:\n" + "\n".join(found)


# -- nothing written outside the user's dirs and the chosen outputs -----------------------------------

_SKIP_DIRS = {".git", "runs", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv", ".mypy_cache"}


def _snapshot(root: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of every file under `root` (symlinks not followed)."""
    out = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for f in filenames:
            p = Path(dirpath) / f
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def _changed_since(root: Path, t0_ns: int) -> list[str]:
    """Files under `root` created or modified after `t0_ns` (for trees too big to diff)."""
    hits = []
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = Path(dirpath) / f
            try:
                if p.lstat().st_mtime_ns >= t0_ns:
                    hits.append(str(p))
            except FileNotFoundError:
                continue
    return hits


def test_a_headless_run_writes_only_the_user_dirs_and_the_chosen_outputs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    from avatar_cam.cli import main
    from avatar_cam.styles import APP_NAME

    # where the app may write for the real user, and the checkout itself
    real_dirs = [Path(f(APP_NAME)) for f in (platformdirs.user_config_dir, platformdirs.user_data_dir,
                                            platformdirs.user_cache_dir, platformdirs.user_state_dir)]
    watched = {d: _snapshot(d) for d in real_dirs}
    repo_before = _snapshot(ROOT, _SKIP_DIRS)

    home, cwd, tmp, out = (tmp_path / n for n in ("home", "cwd", "tmp", "out"))
    for d in (home, cwd, tmp, out):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.chdir(cwd)
    allowed = [Path(f(APP_NAME)) for f in (platformdirs.user_config_dir, platformdirs.user_data_dir,
                                          platformdirs.user_cache_dir, platformdirs.user_state_dir)]
    assert all(d.is_relative_to(home) for d in allowed)
    # the one third-party write: MediaPipe imports matplotlib, which keeps its font list in the
    # user's cache dir ($XDG_CACHE_HOME/matplotlib) the first time it runs
    allowed.append(Path(platformdirs.user_cache_dir("matplotlib")))

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    t0 = time.time_ns()
    try:
        rc = main(["--headless", "-i", "demo", "-o", str(out / "avatar.mp4"), "--max-frames", "5",
                   "--stats", str(out / "stats.json"), "--provider", "cpu"])
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    assert rc == 0
    assert json.loads((out / "stats.json").read_text())["frames_out"] == 5

    # inside tmp_path: the chosen outputs, and the demo clip in the user's cache dir; nothing else
    # and the record of what it wrote there (a later run may replace only those)
    assert sorted(_snapshot(out)) == [".avatar-cam-outputs.jsonl", "avatar.mp4", "stats.json"]
    assert _snapshot(cwd) == {} and _snapshot(tmp) == {}
    written_home = [home / p for p in _snapshot(home)]
    assert written_home, "the demo clip should have been made in the cache dir (is the snapshot blind?)"
    stray = [str(p) for p in written_home if not any(p.is_relative_to(d) for d in allowed)]
    assert stray == [], f"written outside the user's config/data/cache dirs: {stray}"
    # outside tmp_path: the checkout, the installed packages and the real user's dirs are untouched
    repo_after = _snapshot(ROOT, _SKIP_DIRS)
    changed = sorted(k for k in set(repo_before) | set(repo_after) if repo_before.get(k) != repo_after.get(k))
    assert changed == [], f"the run wrote into the checkout: {changed}"
    assert {d: _snapshot(d) for d in real_dirs} == watched, "the run wrote into the real user's dirs"
    venv = ROOT / ".venv"
    if venv.is_dir():
        assert _changed_since(venv, t0) == [], "the run wrote into the virtual environment"
