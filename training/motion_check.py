"""The motion check (`avatar-eval --motion`): does the picture a classmate sees move with the person?

Measured on the rendered output, not on the numbers fed to the renderer: each clip runs through
the app's own `Pipeline` (tracking, crop, landmarks, renderer, composite, gate) at the output
size, then an independent MediaPipe Face Mesh (static images, its own instance) reads every
camera frame and every output frame. Per signal, the Pearson correlation over time between the
camera's and the output's measure (`avatar_cam.expression`): mouth open, each eye open, each
brow, smile, gaze x/y, yaw, pitch, roll. Gaze is compared only on frames where the person's
eyes are both open (`GAZE_OPEN`): the iris of a shut eye has no direction, and Face Mesh places
it anywhere on the lid, in the camera frame and in the drawing alike (7154235's one blink, 4 of
its 35 frames, moved its gaze x correlation from 0.88 to 0.71 at one output size).

A signal the person does not measurably move in a clip is reported but marked `still` and not
judged: its correlation would be noise over noise. Moving means both a camera standard deviation
of at least `MOTION_FLOOR` and a `reliability` of at least `RELIABLE`: the correlation between
the camera measure and the same measure on the mirrored camera frame (sides swapped), i.e.
whether Face Mesh itself reproduces that signal of the person. Also the false-wink rate (the
output shuts one eye to under half the other's, the other open, while the person's are even)
and the share of output frames with a face.

No torch: the app and MediaPipe only."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from avatar_cam.composite import Mode
from avatar_cam.expression import Expression, ExpressionAnalyzer
from avatar_cam.frame import Frame
from avatar_cam.pipeline import Pipeline, PipelineConfig
from avatar_cam.sources import VideoSource
from avatar_cam.styles import StyleInfo

SIGNALS = ("mouth_open", "eye_r", "eye_l", "brow_r", "brow_l", "smile", "gaze_x", "gaze_y",
           "yaw", "pitch", "roll")
# camera std under which a signal counts as not moved in a clip (units of each measure)
MOTION_FLOOR = {"mouth_open": 0.03, "eye_r": 0.03, "eye_l": 0.03, "brow_r": 0.004, "brow_l": 0.004,
                "smile": 0.03, "gaze_x": 0.02, "gaze_y": 0.02, "yaw": 1.5, "pitch": 1.5, "roll": 1.5}
RELIABLE = 0.8
_MIRROR_SWAP = {"eye_r": "eye_l", "eye_l": "eye_r", "brow_r": "brow_l", "brow_l": "brow_r"}
_MIRROR_NEGATE = ("gaze_x", "yaw", "roll")
# issue 23's goals per signal (a signal the person does not move is not judged)
GOALS = {"mouth_open": 0.9, "eye_r": 0.9, "eye_l": 0.9, "yaw": 0.9, "roll": 0.9, "smile": 0.8,
         "gaze_x": 0.8, "pitch": 0.8, "brow_r": 0.7, "brow_l": 0.7}
FALSE_WINK_GOAL, FACE_GOAL = 0.02, 0.99


def signals(e: Expression) -> dict[str, float]:
    """The checked measures of one face."""
    return {"mouth_open": e.mouth_open, "eye_r": e.eye_open[0], "eye_l": e.eye_open[1],
            "brow_r": e.brows[0], "brow_l": e.brows[1], "smile": e.smile, "gaze_x": e.gaze[0],
            "gaze_y": e.gaze[1], "yaw": e.yaw, "pitch": e.pitch, "roll": e.roll}


def mirrored(values: dict[str, float]) -> dict[str, float]:
    """Signals measured on a mirrored frame, turned back into the unmirrored frame's terms."""
    return {k: (-1 if k in _MIRROR_NEGATE else 1) * values[_MIRROR_SWAP.get(k, k)] for k in SIGNALS}


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) >= 3 and a.std() > 1e-9 and b.std() > 1e-9:
        return float(np.corrcoef(a, b)[0, 1])
    return None


WINK_OPEN = 0.15  # eye-open measure of an eye that is open (closed ~0.05, open ~0.3)
GAZE = ("gaze_x", "gaze_y")
GAZE_OPEN = WINK_OPEN  # gaze is compared where both of the person's eyes measure at least this


def _uneven(r: float, left: float) -> bool:
    """One eye shut to under half the other's while that other one is open: a wink. Two closed
    eyes (a blink) are even however their tiny openings compare."""
    return min(r, left) < 0.5 * max(r, left) and max(r, left) >= WINK_OPEN


def _eyes_open(m: dict[str, float]) -> bool:
    return min(m["eye_r"], m["eye_l"]) >= GAZE_OPEN


@dataclass
class ClipResult:
    """One clip's frames and their measures (None: no face found on that frame)."""

    name: str
    camera: list[dict[str, float] | None]
    output: list[dict[str, float] | None]
    outputs: list[np.ndarray]
    cameras: list[np.ndarray]
    camera_mirrored: list[dict[str, float] | None] | None = None  # None: reliability not measured

    def summary(self) -> dict[str, Any]:
        n = len(self.output)
        both = [(c, o) for c, o in zip(self.camera, self.output, strict=True) if c and o]
        mirror = self.camera_mirrored or [None] * n
        twice = [(c, m) for c, m in zip(self.camera, mirror, strict=True) if c and m]
        out: dict[str, Any] = {"frames": n, "camera_face_rate": _rate(self.camera),
                               "output_face_rate": _rate(self.output), "compared": len(both),
                               "signals": {}}
        looking = [(c, o) for c, o in both if _eyes_open(c)]
        out["gaze_compared"] = len(looking)
        for k in SIGNALS:
            pairs = looking if k in GAZE else both
            a = np.array([c[k] for c, _ in pairs])
            b = np.array([o[k] for _, o in pairs])
            std = float(a.std()) if len(a) else 0.0
            corr = _corr(a, b)
            if corr is None and len(a) >= 3 and a.std() > 1e-9:
                corr = 0.0  # the output does not move at all while the person does
            seen = [(c, m) for c, m in twice if _eyes_open(c)] if k in GAZE else twice
            reliability = _corr(np.array([c[k] for c, _ in seen]), np.array([m[k] for _, m in seen])) \
                if self.camera_mirrored is not None else None
            reliable = reliability is None or reliability >= RELIABLE
            out["signals"][k] = {"corr": corr, "camera_std": round(std, 4), "reliability": reliability,
                                 "moves": bool(std >= MOTION_FLOOR[k] and reliable)}
        even = [o for c, o in both if not _uneven(c["eye_r"], c["eye_l"])]
        out["false_wink_rate"] = (sum(_uneven(o["eye_r"], o["eye_l"]) for o in even) / len(even)
                                  if even else None)
        return out


def mean_summary(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One clip's summaries at several output sizes as one: each correlation and the false-wink
    rate averaged, the least face rate. A cell on these short clips moves by several hundredths
    when the picture moves by a pixel or a degree (docs/styles.md), so a change is judged on the
    mean over sizes, not on one size's luck. Whether a signal moves is the camera's, the same at
    every size."""
    first = summaries[0]
    out = {**first, "signals": {}, "sizes": len(summaries)}
    for k, sig in first["signals"].items():
        corrs = [s["signals"][k]["corr"] for s in summaries]
        out["signals"][k] = {**sig, "corr": None if None in corrs else float(np.mean(corrs)),
                             "corr_min": None if None in corrs else float(min(corrs))}
    winks = [s["false_wink_rate"] for s in summaries]
    out["false_wink_rate"] = None if None in winks else float(np.mean(winks))
    out["gaze_compared"] = min(s["gaze_compared"] for s in summaries)  # outputs' faces differ by size
    faces = [s["output_face_rate"] for s in summaries]
    out["output_face_rate"] = None if None in faces else float(min(faces))
    return out


def _rate(values: Sequence[object]) -> float | None:
    return sum(v is not None for v in values) / len(values) if values else None


def app_frames(pipeline: Pipeline, clip: Path, max_frames: int | None = None) -> Iterator[Frame]:
    """`clip`'s frames, each as `pipeline` (the app's own) has just processed it."""
    source = VideoSource(clip)
    try:
        for frame in itertools.islice(iter(source.read, None), max_frames):  # None: the clip's end
            pipeline.process(frame)
            yield frame
    finally:
        source.close()


def run_clip(style: StyleInfo, clip: Path, output_size: tuple[int, int] = (1280, 720),
             max_frames: int | None = None, analyzer: ExpressionAnalyzer | None = None) -> ClipResult:
    """`clip` through a fresh app pipeline (avatar mode, no mirror), both sides measured."""
    pipeline = Pipeline(style, PipelineConfig(mode=Mode.AVATAR, output_size=output_size))
    own = analyzer is None
    analyzer = analyzer or ExpressionAnalyzer()
    cameras, outputs = [], []
    try:
        for frame in app_frames(pipeline, clip, max_frames):
            cameras.append(frame.image)
            outputs.append(frame.output.copy())
        cam = [_measure(analyzer, img) for img in cameras]
        flipped = [_measure(analyzer, cv2.flip(img, 1)) for img in cameras]
        out = [_measure(analyzer, img) for img in outputs]
    finally:
        if own:
            analyzer.close()
    return ClipResult(clip.name, cam, out, outputs, cameras, [m and mirrored(m) for m in flipped])


def _measure(analyzer: ExpressionAnalyzer, bgr: np.ndarray) -> dict[str, float] | None:
    e = analyzer.analyze(bgr)
    return None if e is None else signals(e)


def verdict(summary: dict[str, Any]) -> list[str]:
    """The goals a clip misses (empty: it meets every goal that applies)."""
    misses = []
    for k, goal in GOALS.items():
        s = summary["signals"][k]
        if s["moves"] and (s["corr"] is None or s["corr"] < goal):
            misses.append(f"{k} {_fmt(s['corr'])} < {goal}")
    fw = summary["false_wink_rate"]
    if fw is not None and fw > FALSE_WINK_GOAL:
        misses.append(f"false winks {fw:.1%} > {FALSE_WINK_GOAL:.0%}")
    face = summary["output_face_rate"]
    if face is None or face < FACE_GOAL:
        misses.append(f"face on {_fmt(face)} of output frames < {FACE_GOAL}")
    return misses


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table: one row per clip, one column per signal (`~` marks a signal the person
    does not measurably move there)."""
    head = "| clip | " + " | ".join(SIGNALS) + " | false winks | face |"
    rows = [head, "|" + " --- |" * (len(SIGNALS) + 3)]
    for name, s in results.items():
        cells = []
        for k in SIGNALS:
            v = s["signals"][k]
            cells.append(_fmt(v["corr"]) + ("" if v["moves"] else "~"))
        fw = s["false_wink_rate"]
        rows.append(f"| {name} | " + " | ".join(cells)
                    + f" | {'n/a' if fw is None else f'{fw:.1%}'} | {_fmt(s['output_face_rate'])} |")
    return "\n".join(rows)


def sheet(results: Sequence[ClipResult], path: Path, per_clip: int = 6, tile: int = 160) -> None:
    """Per clip, evenly spaced camera frames over their outputs (what the classmate sees)."""
    rows = []
    for r in results:
        idx = np.linspace(0, len(r.outputs) - 1, min(per_clip, len(r.outputs))).round().astype(int)
        for frames in (r.cameras, r.outputs):
            tiles = []
            for i in idx:
                img = frames[i]
                h, w = img.shape[:2]
                s = tile / h
                tiles.append(cv2.resize(img, (round(w * s), tile), interpolation=cv2.INTER_AREA))
            rows.append(tiles)
    width = max(sum(t.shape[1] for t in row) for row in rows)
    canvas = np.full((tile * len(rows), width, 3), 255, np.uint8)
    for y, row in enumerate(rows):
        x = 0
        for t in row:
            canvas[y * tile:(y + 1) * tile, x:x + t.shape[1]] = t
            x += t.shape[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)
