"""The first-run help: how to make 'avatar-cam' the camera in Zoom, Meet and Teams, per OS."""

from __future__ import annotations

import html
import platform

from avatar_cam.pipeline import CALIBRATE_SECONDS, CALIBRATE_SETTLE_S

OS_NAMES = {"Linux": "Linux", "Windows": "Windows", "Darwin": "macOS"}

SETUP_STEPS = {
    "Linux": [
        "Install the loopback driver once: <code>sudo apt install v4l2loopback-dkms</code> "
        "(Fedora: <code>sudo dnf install v4l2loopback</code>).",
        "Load it: <code>sudo modprobe v4l2loopback devices=1 exclusive_caps=1 "
        "card_label=avatar-cam</code>. <b>exclusive_caps=1</b> is what Chrome and Chromium "
        "(Google Meet, Teams in the browser) need to list the device.",
        "To load it at every boot: put <code>v4l2loopback</code> in "
        "<code>/etc/modules-load.d/v4l2loopback.conf</code> and "
        "<code>options v4l2loopback devices=1 exclusive_caps=1 card_label=avatar-cam</code> in "
        "<code>/etc/modprobe.d/v4l2loopback.conf</code>.",
        "Turn <b>Virtual camera</b> on here <i>before</i> opening the camera in the meeting "
        "app: with exclusive_caps=1 the device only appears once something writes to it.",
    ],
    "Windows": [
        "Install OBS Studio 26 or newer once; it brings the <b>OBS Virtual Camera</b> driver "
        "that avatar-cam drives. You do not need to keep OBS open.",
        "Do not start OBS's own virtual camera at the same time as avatar-cam's.",
        "Restart the meeting app if it was open while OBS was installed.",
        "Turn <b>Virtual camera</b> on here, then pick <b>OBS Virtual Camera</b>.",
    ],
    "Darwin": [
        "Install OBS Studio 28 or newer.",
        "Open OBS once, press <i>Start Virtual Camera</i> and allow the system extension "
        "(System Settings, Privacy &amp; Security), then stop it and quit OBS.",
        "Give the app that starts avatar-cam (Terminal, or Python) camera access in System "
        "Settings, Privacy &amp; Security, Camera.",
        "Turn <b>Virtual camera</b> on here, then pick <b>OBS Virtual Camera</b>.",
    ],
}

CAMERA_NAME = {"Linux": "avatar-cam", "Windows": "OBS Virtual Camera", "Darwin": "OBS Virtual Camera"}

MEETING_APPS = [
    ("Zoom", "Settings, Video, Camera: pick <b>{cam}</b>. Zoom mirrors only your own view "
             "('Mirror my video'); the others see you unmirrored."),
    ("Google Meet", "the three dots, Settings, Video, Camera: pick <b>{cam}</b> (in Chrome)."),
    ("Microsoft Teams", "Settings, Devices (or Video and effects), Camera: pick <b>{cam}</b>."),
]

HOTKEYS = [
    ("Ctrl+Right  or  ]", "next style"),
    ("Ctrl+Left  or  [", "previous style"),
    ("Ctrl+M", "mirror on/off"),
    ("Ctrl+P  or  Pause", "pause: the meeting sees a 'Paused' card"),
    ("Ctrl+Shift+V", "virtual camera on/off"),
    ("Ctrl+K", "show/hide the camera preview"),
    ("Ctrl+E", "make a character; in it Ctrl+S save, Ctrl+R random, Ctrl+Z / Ctrl+Shift+Z undo / redo"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
]


def _os_section(system: str, open_: bool) -> str:
    steps = "".join(f"<li>{s}</li>" for s in SETUP_STEPS[system])
    cam = CAMERA_NAME[system]
    apps = "".join(f"<li><b>{name}</b>: {text.format(cam=cam)}</li>" for name, text in MEETING_APPS)
    title = OS_NAMES[system] + (" (this computer)" if open_ else "")
    return f"<h3>{title}</h3><ol>{steps}</ol><p>Then in the meeting app:</p><ul>{apps}</ul>"


def help_html(system: str | None = None) -> str:
    """Rich text for the help panel: this OS first, the others after, then the hotkeys."""
    system = system or platform.system()
    order = [system] if system in SETUP_STEPS else []
    order += [s for s in SETUP_STEPS if s not in order]
    parts = [
        "<h2>Use avatar-cam in your class</h2>",
        "<p>The big picture is exactly what the meeting sees. Your camera image is never sent: "
        "when no face is found or you pause, a card is shown instead.</p>",
        "<p><b>Pick a character</b> under Style (or Ctrl+Right / Ctrl+Left), or <b>make your own</b> "
        "(Ctrl+E: face, hair, glasses, clothes, colours; Random for ideas). <b>Style from a cartoon "
        "image...</b> gives it the colours of any cartoon picture. <b>Calibrate</b>: look at the camera "
        f"with a relaxed face for {CALIBRATE_SETTLE_S + CALIBRATE_SECONDS:g} seconds (the first "
        f"{CALIBRATE_SETTLE_S:g} s to settle), so your resting face is the "
        "character's; <b>Expressiveness</b> makes its expressions bigger or smaller.</p>",
        "<p>Then turn on the <b>virtual camera</b> and pick it in your meeting app:</p>",
    ]
    parts += [_os_section(s, i == 0 and s == system) for i, s in enumerate(order)]
    keys = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(v)}</td></tr>"
                   for k, v in HOTKEYS)
    parts.append(f"<h3>Keys</h3><table cellspacing='4'>{keys}</table>")
    return "".join(parts)
