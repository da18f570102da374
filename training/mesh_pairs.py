"""Prepare (face crop, face-mesh drawing) pairs for the mesh-conditioned style.

    python -m training.mesh_pairs IN_DIR [IN_DIR ...] --out OUT [--size 128] [--limit N]

For each image: pad it (tight crops are missed otherwise), detect the face with the app's
detector (Face Mesh's landmarks stand in where the detector misses, as it does for many anime
faces), crop it the app's way (`avatar_cam.reference.crop_picture`, which the app's reference
pictures go through too), then find the mesh in the crop
exactly as the app does at run time (`crop_landmarks`) and draw it (`draw_face_mesh`).
Writes `OUT/crops/NAME.jpg`, `OUT/meshes/NAME.png`, `OUT/landmarks/NAME.npy` (the crop's (478, 3)
mesh in its pixels, float32: what expression augmentation moves) and `OUT/mesh_pairs.json`
(counts, misses).

A folder with no image at all, or whose images give no pair, is an error (exit 2), as for
`avatar-train prepare`; so is an `--out` that is an input folder, inside one or around one, a
`--size` under 32 and a negative `--limit`.

Cartoons prepared this way are the paired training data (cartoon -> its mesh drawing); photos
prepared this way are the photo-mesh domain (adversarial term) and the held-out evaluation set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from training.cli_errors import crop_out_problem, one_line
from training.data import DataError, ScanResult, _safe_name, decode_image, scan_images

REPORT = "mesh_pairs.json"


def prepare_mesh_pairs(inputs: Sequence[str | Path], out_dir: str | Path, size: int = 128,
                       pad: float = 0.25, limit: int = 0, progress: bool = True) -> dict:
    """Write crop/mesh pairs for every image under `inputs` (first `limit` per input when > 0).
    DataError (nothing written) when the inputs hold no image file."""
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.face import FaceDetector
    from avatar_cam.mesh_drawing import crop_landmarks, draw_face_mesh
    from avatar_cam.reference import crop_picture

    paths: list[tuple[Path, Path]] = []
    skipped = ScanResult()
    for i in inputs:
        scan = scan_images([i], verify=False)
        skipped.skipped += scan.skipped
        paths += [(Path(i), Path(p)) for p in (scan.paths[:limit] if limit > 0 else scan.paths)]
    if not paths:
        why = f" (only {skipped.skipped_counts()})" if skipped.skipped else ""
        raise DataError(f"no images in {', '.join(str(i) for i in inputs)}{why}")
    out = Path(out_dir)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "meshes").mkdir(exist_ok=True)
    (out / "landmarks").mkdir(exist_ok=True)
    report: dict = {"inputs": [str(i) for i in inputs], "size": size, "written": 0,
                    "detector_found": 0, "mesh_box_used": 0, "no_face": [], "no_mesh_in_crop": [],
                    "unreadable": []}
    detector, analyzer = FaceDetector(), ExpressionAnalyzer()
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="mesh pairs", unit="img")
    try:
        for root, p in iterator:
            name = _safe_name(Path(root.name) / p.relative_to(root)) if len(inputs) > 1 else \
                _safe_name(p.relative_to(root))
            img, problem = decode_image(p, min_side=8 * size)
            if img is None:
                report["unreadable"].append(f"{p}: {problem}")
                continue
            found = crop_picture(img, size, detector, analyzer, pad)
            if found is None:
                report["no_face"].append(str(p))
                continue
            crop, how = found
            report["detector_found" if how == "face detector" else "mesh_box_used"] += 1
            lm = crop_landmarks(analyzer, crop)
            if lm is None:
                report["no_mesh_in_crop"].append(str(p))
                continue
            _write(out / "crops" / f"{name}.jpg", crop)
            _write(out / "meshes" / f"{name}.png", draw_face_mesh(lm, size))
            np.save(out / "landmarks" / f"{name}.npy", lm.astype(np.float32))
            report["written"] += 1
    finally:
        detector.close()
        analyzer.close()
    report["found_rate"] = round(report["written"] / max(1, len(paths)), 4)
    (out / REPORT).write_text(json.dumps(report, indent=2))
    return report


def _write(path: Path, img: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix, img, [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix == ".jpg" else [])
    if not ok:
        raise OSError(f"could not encode {path}")
    tmp = path.with_name(path.name + ".tmp")
    buf.tofile(str(tmp))
    os.replace(tmp, path)


@one_line("python -m training.mesh_pairs")
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.mesh_pairs", description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="image folders")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--limit", type=int, default=0, help="first N images of each folder (0: all)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    def fail(message: str) -> int:
        print(f"python -m training.mesh_pairs: error: {message}", file=sys.stderr)
        return 2

    missing = [i for i in args.inputs if not Path(i).is_dir()]
    if missing:
        return fail(f"not a folder: {', '.join(missing)}")
    if args.limit < 0:
        return fail(f"--limit must be 0 (all) or more (got {args.limit})")
    problem = crop_out_problem(args.out, args.inputs, args.size,
                               "the next run would read the pairs as inputs")
    if problem:
        return fail(problem)
    try:
        r = prepare_mesh_pairs(args.inputs, args.out, args.size, limit=args.limit,
                               progress=not args.no_progress)
    except DataError as e:
        return fail(str(e))
    n = r["written"] + len(r["no_face"]) + len(r["no_mesh_in_crop"]) + len(r["unreadable"])
    if not r["written"]:
        return fail(f"no pairs: none of the {n} images in {', '.join(args.inputs)} gave one "
                    f"(report: {Path(args.out) / REPORT})")
    print(f"{r['written']} of {n} images paired ({r['found_rate']:.1%}); detector found "
          f"{r['detector_found']}, mesh box used for {r['mesh_box_used']}; no face {len(r['no_face'])}, "
          f"no mesh in the crop {len(r['no_mesh_in_crop'])}, unreadable {len(r['unreadable'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
