"""The cover check (`avatar-eval --cover`): in overlay mode, does any of the person's face reach
the output?

Overlay mode sends the camera picture with the cartoon pasted over the face, so what it must
never send is the face itself. Each clip runs through the app's own `Pipeline` in overlay mode;
on every frame with a fresh cartoon an independent MediaPipe Face Mesh (static images, its own
instance) finds the face on the camera frame, and the frame is composited again by the same
compositor with the same cartoon onto the camera picture with the pixels inside that face's hull
inverted. Output pixels that change by more than `CHANGED` levels are face pixels the output
shows; per clip, their share of the face's area on the output, at most and on average, and the
frames with any. A held or fallback frame is not measured (the card and the hold have their own
guards: `tests/fault_harness.py`).

No torch: the app and MediaPipe only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from avatar_cam.composite import Compositor, Mode
from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.frame import Frame
from avatar_cam.pipeline import Pipeline, PipelineConfig
from avatar_cam.styles import StyleInfo
from training.motion_check import app_frames

CHANGED = 24  # levels: a pixel that moves more than this with the face is the face shown


def shown_share(compositor: Compositor, frame: Frame, landmarks: np.ndarray) -> float:
    """The share of the face (the hull of `landmarks`, camera pixels) that `frame`'s overlay
    shows: its output pixels that change when the face's pixels change."""
    hull = np.zeros(frame.image.shape[:2], np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(landmarks[:, :2].astype(np.int32)), 1)
    other = frame.image.copy()
    other[hull > 0] = 255 - other[hull > 0]
    paste = (frame.crop_matrix, frame.cover, frame.cartoon_side)
    before, after = (compositor.overlay(frame.cartoon, image, *paste) for image in (frame.image, other))
    h, w = frame.image.shape[:2]
    scale = max(compositor.size[0] / w, compositor.size[1] / h)  # output pixels a camera pixel, across
    area = max(float(hull.sum()) * scale * scale, 1.0)
    return float((np.abs(before.astype(np.int16) - after).max(2) > CHANGED).sum() / area)


def run_clip(style: StyleInfo, clip: Path, output_size: tuple[int, int] = (1280, 720),
             max_frames: int | None = None, analyzer: ExpressionAnalyzer | None = None) -> dict[str, Any]:
    """`clip` through a fresh app pipeline in overlay mode (no mirror), each fresh frame checked."""
    pipeline = Pipeline(style, PipelineConfig(mode=Mode.OVERLAY, output_size=output_size))
    own = analyzer is None
    analyzer = analyzer or ExpressionAnalyzer()
    frames, shares = 0, []
    try:
        for frame in app_frames(pipeline, clip, max_frames):
            frames += 1
            if frame.fallback is not None or frame.cartoon is None or frame.crop_matrix is None:
                continue
            landmarks = analyzer.landmarks(frame.image)
            if landmarks is not None:
                shares.append(shown_share(pipeline.compositor, frame, landmarks))
    finally:
        if own:
            analyzer.close()
    return {"frames": frames, "checked": len(shares),
            "worst": max(shares) if shares else None, "mean": float(np.mean(shares)) if shares else None,
            "frames_shown": int(sum(s > 0 for s in shares))}


def table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of `run_clip` results by clip name."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.3f}%"

    rows = ["| clip | frames | checked | face shown, at most | on average | frames showing any |",
            "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {name} | {r['frames']} | {r['checked']} | {pct(r['worst'])} | {pct(r['mean'])} | "
             f"{r['frames_shown']} |" for name, r in results.items()]
    return "\n".join(rows)
