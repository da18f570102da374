"""Build the standalone avatar-cam bundle (PyInstaller, one folder) and check that it runs.

    python scripts/bundle.py                          # -> dist/avatar-cam/, then the checks
    python scripts/bundle.py --check-only             # only check an existing dist/avatar-cam
    python scripts/bundle.py --screenshot docs/bundle-linux.png    # Linux: the window under Xvfb too

Run it with the Python of an environment that has avatar-cam's dependencies (the `.venv` that
scripts/start.sh makes; on Windows and macOS see docs/install.md); PyInstaller is installed into
that environment when missing. The same spec (scripts/avatar-cam.spec) builds on Linux, Windows
and macOS, each on its own OS.

The checks run the bundle itself from a temporary folder, with an empty home and no Python
variables: `--version`; every file of the checkout's avatar_cam/assets is in the bundle;
`--list-styles` lists every built-in style of the checkout's catalog, from inside the bundle; a
30-frame headless demo with every built-in style. On Linux the default style's demo runs once more
with every Python installation of this machine hidden (a private mount namespace, `unshare`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_cam import __version__  # noqa: E402

SPEC = ROOT / "scripts" / "avatar-cam.spec"
ASSETS = ROOT / "avatar_cam" / "assets"
PYINSTALLER = "pyinstaller>=6.10"


def build(dist: Path, work: Path) -> None:
    """PyInstaller on the spec, installed first when this environment lacks it."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print(f"bundle: installing {PYINSTALLER} into {sys.prefix}")
        subprocess.run([sys.executable, "-m", "pip", "install", PYINSTALLER], check=True)
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath",
                    str(dist), "--workpath", str(work), str(SPEC)], check=True, cwd=ROOT)


def executable(dist: Path) -> Path:
    """The bundle's command-line executable (on Windows the console twin of the window's)."""
    name = "avatar-cam-cli.exe" if sys.platform == "win32" else "avatar-cam"
    return dist / "avatar-cam" / name


def clean_env(home: Path) -> dict[str, str]:
    """No Python variables, an empty home: no user styles, no settings of the person building."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "AVATAR_CAM", "VIRTUAL_ENV", "QT_"))}
    return env | {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                  "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
                  "AVATAR_CAM_SETTINGS": str(home / "settings.ini")}


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, float]:
    """(stdout, seconds); a failure stops the check with the command's output."""
    start = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"bundle: FAILED {' '.join(cmd)} -> {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout, took


def builtin_styles() -> tuple[set[str], str]:
    """(the built-in style names of the checkout's catalog, the default's name)."""
    from avatar_cam.styles import StyleCatalog

    catalog = StyleCatalog()
    names = {s.name for s in catalog.styles if s.path.resolve().is_relative_to(ASSETS.resolve())}
    return names, catalog.default().name


def hide_python(cmd: list[str]) -> list[str] | None:
    """`cmd` in a private mount namespace where this machine's Python installations are empty
    (Linux with `unshare`; None elsewhere)."""
    if not sys.platform.startswith("linux") or not shutil.which("unshare"):
        return None
    system = {Path("/"), Path("/usr"), Path("/usr/local")}
    prefixes = {Path(sys.base_prefix), Path(sys.prefix), *Path("/usr/lib").glob("python3*"),
                *Path("/usr/local/lib").glob("python3*")}
    dirs = [d for d in prefixes if d.is_dir() and d.resolve() not in system]
    files = [f for f in (*Path("/usr/bin").glob("python3*"), *Path("/usr/local/bin").glob("python3*"))
             if f.is_file()]
    mounts = [f"mount -t tmpfs none {shlex.quote(str(d))}" for d in dirs]
    mounts += [f"mount --bind /dev/null {shlex.quote(str(f))}" for f in files]
    script = (f"set -e; {'; '.join(mounts)}; "
              "if python3 -c '' 2>/dev/null; then echo 'python3 still runs' >&2; exit 3; fi; "
              'exec "$@"')
    return ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", *cmd]


def check(dist: Path) -> None:
    exe = executable(dist)
    if not exe.is_file():
        raise SystemExit(f"bundle: no bundle at {exe}")
    bundle = exe.parent
    shipped = bundle / "_internal" / "avatar_cam" / "assets"
    assets = [p.relative_to(ASSETS) for p in ASSETS.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts]
    missing = [str(a) for a in assets if not (shipped / a).is_file()
               or (shipped / a).read_bytes() != (ASSETS / a).read_bytes()]
    if missing:
        raise SystemExit(f"bundle: missing or different in {shipped}: {missing}")
    names, default = builtin_styles()
    with tempfile.TemporaryDirectory(prefix="avatar-cam-bundle-") as tmp:
        cwd = Path(tmp)
        env = clean_env(cwd / "home")
        out, took = run([str(exe), "--version"], cwd, env)
        if out.strip() != f"avatar-cam {__version__}":
            raise SystemExit(f"bundle: --version says {out.strip()!r}, expected avatar-cam {__version__}")
        print(f"bundle: --version {took:.2f} s: {out.strip()}")
        out, took = run([str(exe), "--list-styles"], cwd, env)
        listed = {line[2:].split(" (", 1)[0]: Path(line.rsplit(" - ", 1)[1]) for line in out.splitlines()
                  if line[:2] in ("* ", "  ")}
        problems = [line for line in out.splitlines() if line.startswith("! ")]
        outside = [n for n, p in listed.items() if not p.resolve().is_relative_to(bundle.resolve())]
        if problems or names - listed.keys() or outside or f"* {default} (" not in out:
            raise SystemExit(f"bundle: --list-styles: broken {problems}, missing "
                             f"{sorted(names - listed.keys())}, outside the bundle {outside}, "
                             f"default {default}:\n{out}")
        print(f"bundle: --list-styles {took:.2f} s: {len(listed)} styles, default {default}")
        for name in sorted(names, key=lambda n: (n != default, n)):
            stats = cwd / f"{name}.json"
            _, took = run([str(exe), "--headless", "--input", "demo", "--output", "none",
                           "--max-frames", "30", "--style", name, "--stats", str(stats)], cwd, env)
            s = json.loads(stats.read_text())
            if s["style"] != name or s["frames_out"] != 30 or s["frames_with_face"] != 30:
                raise SystemExit(f"bundle: demo with {name}: {s}")
            print(f"bundle: demo, 30 frames, {name}: {took:.2f} s from start to exit, "
                  f"{s['fps']} fps, {s['frames_fallback']} fallback, provider {s['provider']}")
        cmd = hide_python([str(exe), "--headless", "--input", "demo", "--output", "none",
                           "--max-frames", "30", "--stats", str(cwd / "hidden.json")])
        if cmd is None:
            print("bundle: not checked with Python hidden (needs Linux and unshare)")
        else:
            _, took = run(cmd, cwd, env)
            s = json.loads((cwd / "hidden.json").read_text())
            print(f"bundle: demo with every Python installation hidden: {s['frames_with_face']}/30 "
                  f"frames with a face, {took:.2f} s")
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"bundle: OK, {bundle} is {size / 2**20:.0f} MiB")


def save_window(screen: Path, out: Path, width: int = 1000) -> None:
    """The window (at the top left of Xvfb's black screen, no window manager), at most `width`
    pixels wide."""
    import cv2
    import numpy as np

    image = cv2.imread(str(screen))
    ys, xs = np.nonzero(image.any(axis=2))
    if not len(xs):
        raise SystemExit("bundle: the screen is black: no window was shown")
    image = image[: ys.max() + 1, : xs.max() + 1]
    if image.shape[1] > width:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])),
                           interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def screenshot(dist: Path, out: Path, seconds: float) -> None:
    """Linux: the bundle's window on the demo clip under Xvfb, the screen grabbed with Qt."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("bundle: --screenshot needs Xvfb (apt install xvfb)")
    with tempfile.TemporaryDirectory(prefix="avatar-cam-window-") as tmp:
        read, write = os.pipe()
        # -noreset: Xvfb writes the display number again on each reset (its last client gone)
        server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                                   "-nolisten", "tcp", "-noreset"], pass_fds=(write,))
        os.close(write)
        display = ":" + os.read(read, 16).decode().strip()
        env = clean_env(Path(tmp) / "home") | {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        start = time.perf_counter()
        log = Path(tmp) / "window.log"
        with log.open("w") as sink:
            app = subprocess.Popen([str(executable(dist)), "--input", "demo"], cwd=tmp, env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
        try:
            time.sleep(seconds)
            if app.poll() is not None:
                raise SystemExit(f"bundle: the window exited with {app.returncode}:\n"
                                 + "\n".join(log.read_text().splitlines()[-20:]))
            grab = ("import sys; from PySide6.QtGui import QGuiApplication; a = QGuiApplication([]); "
                    "sys.exit(not a.primaryScreen().grabWindow(0).save(sys.argv[1]))")
            screen = Path(tmp) / "screen.png"
            subprocess.run([sys.executable, "-c", grab, str(screen)], env=env, check=True)
            took = time.perf_counter() - start
            save_window(screen, out)
            print(f"bundle: window screenshot after {took:.1f} s: {out}")
            app.send_signal(signal.SIGINT)
            code = app.wait(30)
            if code != 0:
                raise SystemExit(f"bundle: the window exited with {code} on Ctrl+C:\n{log.read_text()}")
        finally:
            if app.poll() is None:
                app.kill()
            server.terminate()
            server.wait(10)
            os.close(read)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                   help="PyInstaller's work folder")
    p.add_argument("--check-only", action="store_true", help="check an existing bundle")
    p.add_argument("--no-check", action="store_true", help="build only")
    p.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="Linux: run the window under Xvfb and save the screen")
    p.add_argument("--seconds", type=float, default=12.0, help="how long the window runs before the shot")
    args = p.parse_args(argv)
    if not args.check_only:
        start = time.perf_counter()
        build(args.dist, args.work)
        print(f"bundle: built {executable(args.dist)} in {time.perf_counter() - start:.0f} s")
    if not args.no_check:
        check(args.dist)
    if args.screenshot:
        screenshot(args.dist, args.screenshot, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
