"""How well a rig style carries the person: clips through the app's pipeline, measured.

    python scripts/rig_eval.py [--style rig-sunny] [--json out.json] CLIP [CLIP ...]

Per frame: the input's measures (Face Mesh on the camera crop, `avatar_cam.expression`), the
rig's smoothed parameters, and the same measures read back from the drawing by Face Mesh.
Prints Pearson correlations (parameter vs input, drawing vs input) and how often Face Mesh
finds a face in the drawing. Numbers only: no frame of a clip is written anywhere."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEASURES = {  # measure -> the rig parameter that follows it
    "mouth_open": "mouth_open", "eye_open_r": "eye_open_r", "eye_open_l": "eye_open_l",
    "yaw": "yaw", "pitch": "pitch", "roll": "roll", "gaze_x": "gaze_x", "gaze_y": "gaze_y",
}


def _values(e) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {"mouth_open": e.mouth_open, "eye_open_r": e.eye_open[0], "eye_open_l": e.eye_open[1],
            "yaw": e.yaw, "pitch": e.pitch, "roll": e.roll, "gaze_x": e.gaze[0], "gaze_y": e.gaze[1]}


def _r(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 3)


def evaluate(clip: Path, style: str | None) -> dict:
    from avatar_cam.expression import ExpressionAnalyzer, measures_from_landmarks
    from avatar_cam.pipeline import Pipeline
    from avatar_cam.renderers import RigRenderer
    from avatar_cam.rig.params import crop_rotation
    from avatar_cam.sources import VideoSource
    from avatar_cam.styles import StyleCatalog

    pipe = Pipeline(StyleCatalog().resolve(style))
    renderer = pipe.stylizer
    if not isinstance(renderer, RigRenderer):
        raise SystemExit(f"rig_eval: {pipe.style.name if pipe.style else style} is not a rig style")
    src = VideoSource(clip)
    inp: dict[str, list[float]] = {k: [] for k in MEASURES}
    par: dict[str, list[float]] = {k: [] for k in MEASURES}
    drawn_in: dict[str, list[float]] = {k: [] for k in MEASURES}
    drawn: dict[str, list[float]] = {k: [] for k in MEASURES}
    frames = cartoons = found = 0
    with ExpressionAnalyzer() as analyzer:
        while (frame := src.read()) is not None:
            frames += 1
            pipe.process(frame)
            if frame.fallback is not None or frame.landmarks is None or frame.cartoon is None:
                continue
            cartoons += 1
            before = _values(measures_from_landmarks(frame.landmarks.astype(np.float64)))
            before["roll"] += crop_rotation(frame.crop_matrix)  # the crop levels the eyes: image roll
            params = renderer.params
            for k, p in MEASURES.items():
                inp[k].append(before[k])
                par[k].append(getattr(params, p))
            back = analyzer.analyze(frame.cartoon, bgr=False)
            if back is None:
                continue
            found += 1
            after = _values(back)
            for k in MEASURES:
                drawn_in[k].append(before[k])
                drawn[k].append(after[k])
    src.close()
    return {
        "clip": clip.name, "style": renderer.style.name, "frames": frames, "cartoons": cartoons,
        "face_found_in_drawing": round(found / cartoons, 3) if cartoons else None,
        "r_parameter_vs_input": {k: _r(inp[k], par[k]) for k in MEASURES},
        "r_drawing_vs_input": {k: _r(drawn_in[k], drawn[k]) for k in MEASURES},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", type=Path)
    p.add_argument("--style", help="rig style name or file (default: the built-in default)")
    p.add_argument("--json", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    results = [evaluate(c, args.style) for c in args.clips]
    for r in results:
        print(f"{r['clip']} ({r['style']}): {r['cartoons']}/{r['frames']} frames drawn, face found in "
              f"{r['face_found_in_drawing']} of the drawings")
        for k in MEASURES:
            print(f"  {k:<11} r(param, input) {r['r_parameter_vs_input'][k]!s:>6}   "
                  f"r(drawing, input) {r['r_drawing_vs_input'][k]!s:>6}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
