"""The look check (issue 27): does a look made from a cartoon picture take that picture's
look, and only its look?

    python -m training.look_check --style flat-mesh --held-out training/resume/flat_mesh/split.json \
        --pictures ../shared/datasets/dicebear [--refs 16] [--faces 50] [--holdout runs/judge] [--out DIR]

References: `--refs` held-out cartoons of the style's own training run (its `split.json`
`val_B`, never trained on), mapped back to the original pictures in `--pictures` and taken round
robin over their looks (the name before the first `_`, e.g. `avataaars`), so every look counts.
Each goes through the app's own path: `avatar_cam.reference.style_code_from_image` (the app's
crop, the shipped encoder). Faces: the first `--faces` held-out photos of `--holdout` (the fixed
split of `python -m training.judge split`) that the style's run did not train on (that split was
made apart from the runs: 62 of its 300 photos are in the mesh styles' `train_A`, as mesh
drawings), drawn as face meshes the app's way. Every reference
meets every face through the app's `Stylizer` (the code frozen in), and per pair:

- the app's colour match (`avatar_cam.palette`, as a saved look runs): the look's colours from
  `avatar_cam.reference.look_colours` applied to each output; `colour_rank1_unmatched` is the
  rank-1 below on the generator's outputs before the match;
- colours (`REGIONS`, fixed boxes in the app's aligned crop, the same for references and
  outputs: the median of the two cheek boxes is the skin, the median of the band above the
  forehead, less the background (the two top corners' median colour), the hair; a band that is
  nearly all background has the background's colour): CIE Lab distance skin + hair from the output
  to each reference; the pair passes when its own reference is the nearest of all (`rank1`);
  `pairwise`: the share of other references it is nearer its own than to;
- the same with each picture's dominant colours (`dominant_colours`, `colour_*_dominant`): the
  boxes' medians read a picture's big, low-drawn eyes as skin (DiceBear `adventurer_0072`: grey)
  and a parted fringe's forehead or a sky as hair (5 of the 16 held-out anime references more
  than 10 ΔE off), so pairs whose pictures match failed there (stop 44, the sheets looked at);
  the most common colour of the face's middle and of the band over the forehead less background
  and skin (`avatar_cam.palette`) reads them where they are, for references and outputs alike.
  It is the colour match's own reading, so where it is wrong the match and the check agree
  (a hat's brim read as hair passes); its `_unmatched` column is the generator alone;
- the style judge's label of the output, against the reference's domain (`--domain`);
- identity: dlib distance photo <-> output and rank-1 retrieval among the faces (per reference);
- expression: mouth and eye-open correlation photo -> output over the faces (per reference);
  most held-out photos rest their mouths, so this says little about a look whose closed mouth
  is drawn a little open. Hence also a sweep, as a person moving their face would: the first
  `SWEEP_FACES` faces' meshes with the lips parted (`MOUTH_SWEEP`, the training edit
  `training.expression_aug.open_mouth`) and with both upper lids lowered (`EYE_SWEEP`,
  `close_eyes`); the correlation between the edited mesh's measure and the output's, over every
  face and amount (`mouth_sweep_corr`, `eye_sweep_corr`).

Writes `OUT/look.json` and `OUT/look_sheet.png` (a row per reference: the reference crop, then
its look on the first `--sheet-faces` faces; the top row shows those faces' mesh drawings,
never the photos)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from training.cli_errors import one_line, overlaps

if TYPE_CHECKING:
    from avatar_cam.styles import StyleInfo

# (x0, x1, y0, y1) as fractions of the crop's side; the app's crop puts the eyes at y ~0.47 and
# the mouth at ~0.70 for photos, DiceBear and anime faces alike (median Face Mesh landmarks).
REGIONS = {"skin": [(0.28, 0.40, 0.56, 0.64), (0.60, 0.72, 0.56, 0.64)],
           "hair": [(0.30, 0.70, 0.10, 0.22)],
           "background": [(0.0, 0.08, 0.0, 0.08), (0.92, 1.0, 0.0, 0.08)]}
MOUTH_SWEEP = (0.0, 0.15, 0.3, 0.45)  # mouth widths the inner lips are parted by
EYE_SWEEP = (0.0, 0.35, 0.7, 1.0)  # how far both upper lids are lowered (1: shut)
SWEEP_FACES = 10
BACKGROUND_DELTA = 20.0  # Lab distance under which a hair-band pixel counts as background
MIN_HAIR_SHARE = 0.1


def _pixels(lab: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    n = lab.shape[0]
    return np.concatenate([lab[int(y0 * n):int(y1 * n), int(x0 * n):int(x1 * n)].reshape(-1, 3)
                           for x0, x1, y0, y1 in boxes])


def colours(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Lab colours of the skin and hair regions of an aligned crop (see the module docstring)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    bg = np.median(_pixels(lab, REGIONS["background"]), axis=0)
    band = _pixels(lab, REGIONS["hair"])
    hair = band[np.linalg.norm(band - bg, axis=1) > BACKGROUND_DELTA]
    return {"skin": np.median(_pixels(lab, REGIONS["skin"]), axis=0),
            "hair": np.median(hair, axis=0) if len(hair) >= MIN_HAIR_SHARE * len(band) else bg}


def dominant_colours(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Lab skin and hair of an aligned crop as its dominant colours there (`crop_palette`); a
    picture with no hair colour of its own there (a hat or hair of the background's colour) has
    the boxes' hair reading."""
    from avatar_cam.palette import crop_palette

    p = crop_palette(rgb)
    return {"skin": np.array(p.skin), "hair": colours(rgb)["hair"] if p.hair is None else np.array(p.hair)}


def colour_distance(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return float(np.linalg.norm(a["skin"] - b["skin"]) + np.linalg.norm(a["hair"] - b["hair"]))


def sweep_corr(meshes: Sequence[np.ndarray], amounts: Sequence[float],
               edit: Callable[[np.ndarray, float], np.ndarray], render: Callable[[np.ndarray], np.ndarray],
               analyze: Callable[[np.ndarray], Any], read: Callable[[Any], float]) -> float | None:
    """Correlation between `read` of each edited mesh (`edit(landmarks, amount)`) and `read` of
    `analyze` on what `render` draws from it, over every mesh and amount; outputs without a face
    are left out (None: under three pairs, or either side constant)."""
    from avatar_cam.expression import measures_from_landmarks

    pairs = []
    for lm in meshes:
        for amount in amounts:
            moved = edit(lm, amount)
            seen = analyze(render(moved))
            if seen is not None:
                pairs.append((read(measures_from_landmarks(moved)), read(seen)))
    if len(pairs) < 3:
        return None
    a, b = np.array(pairs).T
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 1e-9 and b.std() > 1e-9 else None


def held_out_pictures(split: Path, pictures: Path, n: int) -> list[Path]:
    """`n` originals of a run's held-out cartoons (`val_B`), round robin over their looks.
    ValueError (one line) when `split` is not a run's split.json."""
    try:
        doc = json.loads(split.read_text(encoding="utf-8"))
    except ValueError as e:  # invalid JSON or not UTF-8
        raise ValueError(f"--held-out {split}: not a split.json ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("val_B"), list):
        raise ValueError(f"--held-out {split}: no val_B list (the held-out cartoons of the style's run)")
    names = [Path(str(p)).stem for p in doc["val_B"]]
    found = {p.stem: p for p in pictures.iterdir() if p.is_file()}
    looks: dict[str, list[Path]] = defaultdict(list)
    for stem in sorted(names):
        if stem in found:
            looks[stem.split("_")[0] if "_" in stem else ""].append(found[stem])
    out: list[Path] = []
    while len(out) < n and any(looks.values()):
        for key in sorted(looks):
            if looks[key] and len(out) < n:
                out.append(looks[key].pop(0))
    return out


def look_table(outputs: list[list[dict[str, np.ndarray]]], refs: list[dict[str, np.ndarray]]
               ) -> dict[str, Any]:
    """rank-1 and pairwise colour agreement; `outputs[r][f]` are the colours of reference r's
    look on face f."""
    hits, wins, per_ref = [], [], []
    for r, row in enumerate(outputs):
        ref_hits = []
        for out in row:
            d = np.array([colour_distance(out, ref) for ref in refs])
            others = np.delete(d, r)
            ref_hits.append(bool((others > d[r]).all()))
            wins.append(float((others > d[r]).mean()))
        hits += ref_hits
        per_ref.append(float(np.mean(ref_hits)))
    return {"rank1": float(np.mean(hits)), "pairwise": float(np.mean(wins)), "per_reference": per_ref}


def _tile(rgb: np.ndarray, n: int) -> np.ndarray:
    return cv2.resize(rgb, (n, n), interpolation=cv2.INTER_AREA)


def look_sheet(ref_crops: list[np.ndarray], outputs: list[list[np.ndarray]], drawings: list[np.ndarray],
               path: Path, n_faces: int, tile: int = 112) -> None:
    blank = np.full((tile, tile, 3), 255, np.uint8)
    rows = [np.concatenate([blank] + [_tile(d, tile) for d in drawings[:n_faces]], 1)]
    for crop, outs in zip(ref_crops, outputs, strict=True):
        rows.append(np.concatenate([_tile(crop, tile)] + [_tile(o, tile) for o in outs[:n_faces]], 1))
    sheet = np.concatenate(rows, 0)
    sheet[tile - 2:tile] = 0
    sheet[:, tile - 2:tile] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def mesh_reference_style(name: str) -> StyleInfo:
    """The style to check: one that draws from a face-mesh drawing (the check feeds held-out faces
    as meshes) and takes a reference picture. ValueError (one line) for any other."""
    from avatar_cam.reference import supports_reference
    from avatar_cam.styles import StyleCatalog, StyleError, takes_mesh

    try:
        style = StyleCatalog().resolve(name)
    except StyleError as e:
        raise ValueError(str(e)) from None
    if not takes_mesh(style):
        raise ValueError(f"style {style.name} ({style.kind}) does not take a face-mesh drawing: the look "
                         "check feeds held-out faces as meshes; give a mesh-conditioned style (flat-mesh)")
    if not supports_reference(style):
        raise ValueError(f"style {style.name} takes no reference picture (no style encoder beside it)")
    return style


def run(style: StyleInfo, references: list[Path], photo_paths: list[Path], domain: str, out: Path,
        sheet_faces: int = 4) -> dict[str, Any]:
    """The whole check (`style` from `mesh_reference_style`); see the module docstring."""
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.inference import Stylizer
    from avatar_cam.mesh_drawing import crop_landmarks, draw_face_mesh
    from avatar_cam.mesh_style import MeshStylizer, outside_face
    from avatar_cam.palette import ColourMatch
    from avatar_cam.reference import look_colours, style_code_from_image
    from training.evaluate import _images, expression_records, summarize
    from training.expression_aug import close_eyes, open_mouth
    from training.identity import FaceIdentity, own_ranks, summarize_identity
    from training.judge import Judge

    mesh = MeshStylizer(Stylizer(style, "cpu", threads=1))
    photos, drawings, names = [], [], []
    for p, rgb in zip(photo_paths, _images(photo_paths, style.size), strict=True):
        try:
            drawings.append(mesh.drawing(rgb))
        except LookupError:
            continue
        photos.append(rgb)
        names.append(p.name)
    codes, ref_crops, ref_notes, matches = [], [], [], []
    for ref in references:
        code, crop = style_code_from_image(style, ref)
        codes.append(code)
        colours_of = look_colours(style, code, crop.rgb)
        matches.append(ColourMatch(colours_of["drawn"], colours_of["reference"]))
        ref_crops.append(_tile(crop.rgb, style.size))
        ref_notes.append(crop.how)
    judge, identity = Judge(), FaceIdentity()
    rects = [identity.face_rect(p) for p in photos]
    photo_desc = np.stack([identity.descriptor(p, r) for p, (r, _) in zip(photos, rects, strict=True)])
    analyzer = ExpressionAnalyzer()
    photo_measures = {id(p): analyzer.analyze(p, bgr=False) for p in photos}

    def analyze(rgb: np.ndarray) -> Any:  # the photos' measures once, not once per reference
        if any(rgb is p for p in photos):
            return photo_measures[id(rgb)]
        return analyzer.analyze(rgb, bgr=False)

    readers = {"": colours, "_dominant": dominant_colours}
    ref_colours = {k: [read(c) for c in ref_crops] for k, read in readers.items()}
    sweep_meshes = [lm for lm in (crop_landmarks(analyzer, np.ascontiguousarray(p[..., ::-1]))
                                  for p in photos[:SWEEP_FACES]) if lm is not None]
    blank = np.zeros((style.size, style.size, 3), np.uint8)  # the edits move the landmarks of any picture
    rng = np.random.default_rng(0)

    def parted(lm: np.ndarray, amount: float) -> np.ndarray:
        return open_mouth(blank, lm, amount, rng)[1] if amount > 0 else lm

    def lowered(lm: np.ndarray, amount: float) -> np.ndarray:
        return close_eyes(blank, lm, (amount, amount))[1]

    def mouth(e: Any) -> float:
        return e.mouth_open

    def eyes(e: Any) -> float:
        return float(np.mean(e.eye_open))
    all_outputs, per_ref = [], []
    out_colours: dict[str, list[list[dict[str, np.ndarray]]]] = {k: [] for k in readers}
    raw_colours: dict[str, list[list[dict[str, np.ndarray]]]] = {k: [] for k in readers}
    outsides = [outside_face(d) for d in drawings]  # where each drawing's face is not
    for ref, code, note, match in zip(references, codes, ref_notes, matches, strict=True):
        mesh.set_style_code(code)
        raw = [mesh.stylizer(d) for d in drawings]
        outs = [match(o, outside) for o, outside in zip(raw, outsides, strict=True)]
        all_outputs.append(outs)
        for k, read in readers.items():
            raw_colours[k].append([read(o) for o in raw])
            out_colours[k].append([read(o) for o in outs])
        labels = judge.labels(outs)
        cart = np.stack([identity.descriptor(o, r) for o, (r, _) in zip(outs, rects, strict=True)])
        dist, ranks = own_ranks(cart, photo_desc)
        expr = summarize(expression_records(photos, outs, names, analyze))

        def render(lm: np.ndarray, match: Any = match) -> np.ndarray:
            drawing = np.ascontiguousarray(draw_face_mesh(mesh.gain(lm), style.size)[..., ::-1])
            return match(mesh.stylizer(drawing), outside_face(drawing))

        def seen(rgb: np.ndarray) -> Any:
            return analyzer.analyze(rgb, bgr=False)
        per_ref.append({
            "reference": ref.name, "crop": note, "code": [round(float(v), 4) for v in code[0]],
            "judge_domain_rate": labels.count(domain) / len(labels),
            "judge": {c: labels.count(c) for c in sorted(set(labels))},
            "identity": summarize_identity(dist, ranks, len(photos), [f for _, f in rects]),
            "mouth_open_corr": expr["mouth_open_corr"], "eye_open_corr": expr["eye_open_corr"],
            "mouth_sweep_corr": sweep_corr(sweep_meshes, MOUTH_SWEEP, parted, render, seen, mouth),
            "eye_sweep_corr": sweep_corr(sweep_meshes, EYE_SWEEP, lowered, render, seen, eyes),
            "output_face_rate": expr["output_face_rate"], "false_wink_rate": expr["false_wink_rate"]})
    analyzer.close()
    colour: dict[str, Any] = {}
    for k in readers:
        table = look_table(out_colours[k], ref_colours[k])
        unmatched = look_table(raw_colours[k], ref_colours[k])
        for r, rate in zip(per_ref, table["per_reference"], strict=True):
            r[f"colour_rank1{k}"] = rate
        colour |= {f"colour_rank1{k}": table["rank1"], f"colour_pairwise{k}": table["pairwise"],
                   f"colour_rank1{k}_unmatched": unmatched["rank1"],
                   f"colour_pairwise{k}_unmatched": unmatched["pairwise"]}
    dists = [r["identity"] for r in per_ref]

    def mean(key: str) -> float | None:
        vals = [r[key] for r in per_ref if r[key] is not None]
        return float(np.mean(vals)) if vals else None

    result = {
        "style": style.name, "domain": domain, "references": len(references), "faces": len(photos),
        "pairs": len(references) * len(photos), "regions": REGIONS,
        **colour,
        "judge_domain_rate": mean("judge_domain_rate"),
        "identity_median_distance": float(np.median([d["median_distance"] for d in dists])),
        "identity_frac_ge_0_6": float(np.mean([d["frac_ge_0_6"] for d in dists])),
        "identity_rank1": float(np.mean([d["rank1"] for d in dists])), "identity_chance": 1 / len(photos),
        "mouth_open_corr": mean("mouth_open_corr"), "eye_open_corr": mean("eye_open_corr"),
        "mouth_sweep_corr": mean("mouth_sweep_corr"), "eye_sweep_corr": mean("eye_sweep_corr"),
        "sweep_faces": len(sweep_meshes),
        "output_face_rate": mean("output_face_rate"), "false_wink_rate": mean("false_wink_rate"),
        "per_reference": per_ref}
    out.mkdir(parents=True, exist_ok=True)
    (out / "look.json").write_text(json.dumps(result, indent=2))
    look_sheet(ref_crops, all_outputs, drawings, out / "look_sheet.png", sheet_faces)
    return result


@one_line("python -m training.look_check")
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.look_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", required=True, help="a style that takes a reference picture")
    ap.add_argument("--held-out", type=Path, required=True, metavar="SPLIT.json",
                    help="the style's training run split.json (its val_B cartoons were never trained on)")
    ap.add_argument("--pictures", type=Path, required=True, help="folder of the original cartoon pictures")
    ap.add_argument("--domain", choices=["flat", "anime"], default="flat", help="the references' domain")
    ap.add_argument("--refs", type=int, default=16)
    ap.add_argument("--faces", type=int, default=50)
    ap.add_argument("--sheet-faces", type=int, default=4)
    ap.add_argument("--holdout", type=Path, default=Path("runs/judge"), help="held-out photo split")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    from avatar_cam.styles import style_stem
    from training.evaluate import EvalError, held_out, photo_crops, untrained

    def fail(message: str) -> int:
        print(f"look_check: error: {message}", file=sys.stderr)
        return 2

    for key, low in (("refs", 2), ("faces", 1), ("sheet_faces", 1)):
        if getattr(args, key) < low:
            return fail(f"--{key.replace('_', '-')} must be at least {low} (got {getattr(args, key)})")
    try:
        style = mesh_reference_style(args.style)
        refs = held_out_pictures(args.held_out, args.pictures, args.refs)
        held = held_out(args.holdout)[0]
        if not held:
            raise ValueError(f"--holdout {args.holdout} is not a training run with held-out photos (no "
                             "split.json there; the default runs/judge is relative to the project folder)")
        photos, trained = untrained(photo_crops(args.holdout, held), [args.held_out])
        photos = photos[: args.faces]
    except (ValueError, EvalError) as e:
        return fail(str(e))
    if trained:
        print(f"look_check: {trained} held-out photos of {args.holdout} left out: the style's run "
              f"trained on them ({args.held_out})", file=sys.stderr)
    if len(refs) < 2 or not photos:
        return fail(f"need >= 2 references ({len(refs)}) and held-out photos ({len(photos)})")
    out = args.out or Path("runs/look") / style_stem(style.path)
    if out.exists() and not out.is_dir():
        return fail(f"--out {out} is a file, not a folder")
    if overlaps(out, args.pictures):
        return fail(f"--out {out} is the pictures folder {args.pictures}, inside it or around it: the look "
                    "sheet would be read as a reference next time; give a folder of its own")
    out.mkdir(parents=True, exist_ok=True)  # an output it cannot write fails now, not after the run
    r = run(style, refs, photos, args.domain, out, args.sheet_faces)

    def corr(v: float | None) -> str:  # None: no face found on the outputs to correlate
        return "n/a" if v is None else f"{v:.2f}"

    print(f"{r['style']}: {r['references']} held-out references x {r['faces']} faces; colours nearest "
          f"their own reference {r['colour_rank1']:.1%} (pairwise {r['colour_pairwise']:.1%}; before the "
          f"colour match {r['colour_rank1_unmatched']:.1%}); read as dominant colours "
          f"{r['colour_rank1_dominant']:.1%} (pairwise {r['colour_pairwise_dominant']:.1%}; before the "
          f"match {r['colour_rank1_dominant_unmatched']:.1%}); judge "
          f"'{r['domain']}' {r['judge_domain_rate']:.1%}; dlib >= 0.6 {r['identity_frac_ge_0_6']:.1%}, "
          f"rank-1 {r['identity_rank1']:.1%} (chance {r['identity_chance']:.1%}); mouth corr "
          f"{corr(r['mouth_open_corr'])}, eyes {corr(r['eye_open_corr'])}; swept on {r['sweep_faces']} "
          f"faces: mouth {corr(r['mouth_sweep_corr'])}, eyes {corr(r['eye_sweep_corr'])}")
    for p in r["per_reference"]:
        print(f"  {p['reference']:<24} colour {p['colour_rank1']:.0%} (dominant "
              f"{p['colour_rank1_dominant']:.0%})  judge {p['judge_domain_rate']:.0%}  "
              f"dlib>=0.6 {p['identity']['frac_ge_0_6']:.0%}  mouth {corr(p['mouth_open_corr'])} "
              f"(swept {corr(p['mouth_sweep_corr'])})  eyes swept {corr(p['eye_sweep_corr'])}  "
              f"({p['crop']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
