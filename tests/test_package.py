"""Issue 26: the app installs like any desktop Python app. The wheel built from the checkout goes
into a fresh environment outside it (no network: `--no-index --no-deps`, the test environment's
packages through a .pth) and runs there with every built-in asset, found as package data.

The built-ins are enumerated from the checkout (every file under `avatar_cam/assets`, every style
its catalog lists), so a new asset needs no edit here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from pathlib import Path
from shutil import copy2, copytree, ignore_patterns

import pytest

import avatar_cam
from avatar_cam.styles import StyleCatalog, assets_dir

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "avatar_cam" / "assets"
# what a clone holds that the build reads
SOURCE = ("pyproject.toml", "README.md", "avatar_cam", "training", "export")
IGNORED = ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
BIN = "Scripts" if os.name == "nt" else "bin"


def checkout_assets() -> list[Path]:
    """Every built-in file in the checkout, relative to `avatar_cam/assets`."""
    return sorted(p.relative_to(ASSETS) for p in ASSETS.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def checkout_styles() -> tuple[set[str], str]:
    """(names of the built-in styles the checkout's catalog lists, the default's name)."""
    assert assets_dir().resolve() == ASSETS.resolve(), "the tests must import avatar_cam from this checkout"
    catalog = StyleCatalog()
    names = {s.name for s in catalog.styles if s.path.resolve().is_relative_to(ASSETS.resolve())}
    return names, catalog.default().name


def copy_source(dest: Path) -> Path:
    """The checkout's sources without build leftovers (a stale build/ could hide a missing file)."""
    dest.mkdir()
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir():
            copytree(src, dest / name, ignore=IGNORED)
        else:
            copy2(src, dest / name)
    return dest


def offline_env(home: Path) -> dict[str, str]:
    """No PYTHONPATH, no pip config or index, an empty home (no user styles)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PIP_", "AVATAR_CAM", "VIRTUAL_ENV"))}
    return env | {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                  "XDG_CONFIG_HOME": str(home / "config"), "PIP_CONFIG_FILE": os.devnull,
                  "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                  "QT_QPA_PLATFORM": "offscreen"}


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@dataclass
class Installed:
    wheel: Path
    python: Path
    app: Path
    site: Path  # the fresh environment's site-packages
    cwd: Path  # outside the checkout
    env: dict[str, str]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`pip wheel` the checkout's sources, install the wheel into a fresh venv, offline."""
    tmp = tmp_path_factory.mktemp("package")
    assert not tmp.resolve().is_relative_to(ROOT), "the install must happen outside the checkout"
    home = tmp / "home"
    home.mkdir()
    env = offline_env(home)
    src = copy_source(tmp / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
         "-w", tmp / "wheels", src], tmp, env)
    (wheel,) = (tmp / "wheels").glob("avatar_cam-*.whl")
    run([sys.executable, "-m", "venv", tmp / "venv"], tmp, env)
    python = tmp / "venv" / BIN / "python"
    run([python, "-m", "pip", "install", "--no-index", "--no-deps", wheel], tmp, env)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    tmp, env).stdout.strip())
    # The dependencies come from the running environment's site-packages, added as plain paths:
    # .pth files there (the checkout's editable finder among them) are not processed.
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "test-environment-packages.pth").write_text("".join(f"{d}\n" for d in deps))
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    return Installed(wheel, python, tmp / "venv" / BIN / "avatar-cam", site, cwd, env)


def test_the_sdist_carries_every_built_in(tmp_path: Path) -> None:
    """`python -m build` and installers that start from the sdist build the wheel from it."""
    src = copy_source(tmp_path / "src")
    env = offline_env(tmp_path)
    run([sys.executable, "-c", "from setuptools import build_meta as b; b.build_sdist('dist')"], src, env)
    (sdist,) = (src / "dist").glob("avatar_cam-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {Path(*Path(m).parts[1:]) for m in tar.getnames()}
    missing = [str(a) for a in checkout_assets() if Path("avatar_cam/assets") / a not in members]
    assert not missing, f"missing from the sdist: {missing}"


def test_the_wheel_installs_outside_the_checkout_with_every_built_in(installed: Installed) -> None:
    assets = checkout_assets()
    assert assets, "avatar_cam/assets is empty"
    shipped = installed.site / "avatar_cam" / "assets"
    missing = [str(a) for a in assets if not (shipped / a).is_file()]
    assert not missing, f"missing from the installed wheel: {missing}"
    changed = [str(a) for a in assets if (shipped / a).read_bytes() != (ASSETS / a).read_bytes()]
    assert not changed, f"differ from the checkout: {changed}"
    print(f"wheel {installed.wheel.name}: {installed.wheel.stat().st_size / 1e6:.1f} MB")

    # the import and the asset lookup come from the installed wheel, never the checkout
    code = ("import importlib.metadata as m, avatar_cam, avatar_cam.styles as s; "
            "print(avatar_cam.__file__); print(s.assets_dir()); print(m.version('avatar-cam'))")
    module, found, version = run([installed.python, "-c", code], installed.cwd,
                                 installed.env).stdout.split("\n")[:3]
    for path in (module, found):
        assert Path(path).resolve().is_relative_to(installed.site.resolve()), path
        assert not Path(path).resolve().is_relative_to(ROOT), path
    assert version == avatar_cam.__version__
    out = run([installed.app, "--version"], installed.cwd, installed.env).stdout.strip()
    assert out == f"avatar-cam {avatar_cam.__version__}"
    for doc in ("README.md", "docs/install.md"):  # their install lines name the wheel that is built
        assert installed.wheel.name in (ROOT / doc).read_text(), f"{doc} names another wheel"


def test_the_installed_app_lists_and_runs_every_built_in_style(installed: Installed) -> None:
    names, default = checkout_styles()
    assert names, "the checkout's catalog lists no built-in style"
    listing = run([installed.app, "--list-styles"], installed.cwd, installed.env).stdout
    assert "\n! " not in "\n" + listing, f"the installed app reports broken styles:\n{listing}"
    listed = {}
    for line in listing.splitlines():
        if line[:2] in ("* ", "  "):
            listed[line[2:].split(" (", 1)[0]] = (line[0] == "*", Path(line.rsplit(" - ", 1)[1]))
    assert names <= listed.keys(), f"not listed by the installed app: {sorted(names - listed.keys())}"
    assert listed[default][0], f"the installed app's default is not {default}:\n{listing}"
    for _, path in listed.values():
        assert path.resolve().is_relative_to(installed.site.resolve()), path

    for name in sorted(names, key=lambda n: (n != default, n)):  # the default first
        stats = installed.cwd / f"{name}.json"
        run([installed.app, "--headless", "--input", "demo", "--output", "none", "--max-frames", "30",
             "--stats", stats, *([] if name == default else ["--style", name])],
            installed.cwd, installed.env)
        s = json.loads(stats.read_text())
        assert s["style"] == name and s["frames_out"] == 30, s
        assert s["frames_with_face"] == 30 and s["frames_fallback"] == 0, (name, s["fallbacks"])
