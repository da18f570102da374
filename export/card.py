"""Model card for a style file: what the file says about itself, how its run was trained, and
what `avatar-eval` and `avatar-bench` measured, in one markdown file next to the style.

    python -m export.card --style avatar_cam/assets/styles/anime.onnx --run runs/anime_cpu \\
        --eval runs/anime_cpu/eval_ship --recipe training/recipes/anime_cpu.toml \\
        [--notes NOTES.md] [--hardware TEXT] [--out avatar_cam/assets/styles/anime.md] \\
        [--motion runs/motion/anime] [--look runs/look/anime]

`--notes` is hand-written text (how it looks, limitations) placed after the summary. Everything
else comes from files, so a card is regenerated, not edited, when a style is retrained.
`python -m export.card --style S.onnx --eval DIR --judge-identity-only` rewrites just the
"Reads as a cartoon? Hides who it is?" section (style judge, dlib identity) of the existing card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from avatar_cam.styles import StyleError, load_style

JUDGE_HEADING = "## Reads as a cartoon? Hides who it is?"


class CardError(RuntimeError):
    """A missing or unreadable input; one line."""


def training_wall_time_s(run_dir: Path) -> float:
    """Seconds spent in optimisation steps, from the run's metrics log (every resume included)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise CardError(f"{run_dir} has no metrics.jsonl (give --train-minutes)")
    total, prev, window = 0.0, 0, 0
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        step = int(rec["step"])
        window = window or step  # the first record covers one logging window from step 0
        if step <= prev:  # a resume went back to its last checkpoint: this window ran again
            prev = max(step - window, 0)
        total += (step - prev) / max(float(rec["it_per_s"]), 1e-9)
        prev = step
    return total


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _row(label: str, s: dict[str, Any]) -> str:
    return (f"| {label} | {s['n']} | {_f(s['output_face_rate'], 2)} | {_f(s['keypoint_error'])} | "
            f"{_f(s['mouth_open_diff'])} | {_f(s['eye_open_diff'])} | {_f(s['yaw_diff'], 1)} | "
            f"{_f(s['mouth_open_corr'], 2)} | {_f(s.get('eye_open_corr'), 2)} |")


def _failure_lines(fc: dict[str, Any] | None) -> list[str]:
    if not fc:
        return []
    return [f"Failure checks: brightness correlation photo→cartoon {_f(fc['luma_corr'], 2)} (negative "
            f"would be an inversion), diversity {_f(fc['diversity_ratio'], 2)} of the photos' (near 0 "
            f"would be a collapse to one face), checkerboard energy {_f(fc['checkerboard_ratio'], 2)}x "
            "the photos'."]


def _judge_identity_lines(eval_doc: dict[str, Any]) -> list[str]:
    """Does it read as a cartoon (the style judge) and does it hide who it is (dlib), per group."""
    if "judge" not in eval_doc and "identity" not in eval_doc:
        return []

    def row(label: str, s: dict[str, Any]) -> str:
        j, i = s.get("judge") or {}, s.get("identity") or {}
        return (f"| {label} | {s.get('n', j.get('n', i.get('n')))} | {_f(j.get('cartoon_rate'), 2)} | "
                f"{_f(i.get('median_distance'), 2)} | {_f(i.get('frac_ge_0_6'), 2)} | "
                f"{_f(i.get('rank1'), 3)} |")

    i = eval_doc.get("identity") or {}
    lines = ["", f"{JUDGE_HEADING} (`avatar-eval`, {eval_doc['n_photos']} held-out photos)", "",
             "Style judge (`training/judge.py`, a photo / anime / flat CNN trained on the training split "
             "only): share of outputs it calls a cartoon (anime or flat). Identity (dlib face recognition "
             "ResNet, photo and cartoon at the same face rectangle): median photo↔cartoon distance, share "
             "at or over dlib's 0.6 same-person line, and how often the person's own photo is the nearest of "
             f"all {i.get('gallery', 'n/a')} held-out photos to the cartoon "
             f"(chance {_f(i.get('chance'), 3)}).",
             *[f"Not measured: {eval_doc[k]}." for k in ("judge_error", "identity_error") if eval_doc.get(k)],
             "", "| set | n | judge: cartoon | identity distance (median) | ≥ 0.6 | rank-1 retrieval |",
             "|---|---|---|---|---|---|", row("all held-out photos", eval_doc)]
    return lines + [row(k, v) for k, v in eval_doc.get("groups", {}).items() if v["n"]]


def _motion_lines(motion: dict[str, Any] | None) -> list[str]:
    """`avatar-eval --motion`: per clip and signal, the correlation over time of an independent
    Face Mesh on the rendered output with the same on the camera frames."""
    if not motion:
        return []
    from training.motion_check import table

    w, h = motion["size"]
    sizes = motion.get("sizes") or [f"{w}x{h}"]  # several: the clips' table is their mean
    at = f"at {sizes[0]}" if len(sizes) == 1 else f"the mean over {', '.join(sizes)}"
    return ["", f"## Motion check (`avatar-eval --motion`, the app's pipeline, {at})", "",
            "Correlation over time of each measure read by an independent Face Mesh on the output "
            "frames with the same on the camera frames; `~`: the person barely moves it in that clip.",
            "", table(motion["clips"])]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _look_lines(look: dict[str, Any] | None) -> list[str]:
    """`python -m training.look_check`: looks made from held-out cartoons."""
    if not look:
        return []
    return ["", f"## Looks from a picture (`python -m training.look_check`, {look['references']} "
            f"held-out {look['domain']} references x {look['faces']} held-out photos)", "",
            "Each reference goes through the app's own path (its crop, the shipped style encoder); "
            "colours: CIE Lab distance of the skin (cheek boxes) plus the hair (the band above the "
            "forehead, less the background) of the output to every reference; a pair passes when its "
            "own reference is the nearest (pairwise: the share of other references it is nearer its own "
            "than to). A look runs with its picture's skin and hair colours matched "
            "(`avatar_cam/palette.py`); the generator's own colours are the column before the match. "
            "Read as dominant colours: the same with each picture's most common colour of the face's "
            "middle and of the band over the forehead (the cheek boxes land on big, low-drawn eyes). "
            "Mouth and eye corr: over the held-out photos (most rest their mouths); swept: the same "
            "faces' meshes with the lips parted and the lids lowered step by step.", "",
            "| colours: own reference nearest | pairwise | before the colour match | read as dominant "
            "colours (before the match) | judge: reference's domain | dlib ≥ 0.6 | rank-1 (chance) | "
            "mouth corr | eye corr | mouth / eyes swept |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {100 * look['colour_rank1']:.1f}% | {100 * look['colour_pairwise']:.1f}% | "
            f"{_pct(look.get('colour_rank1_unmatched'))} | {_pct(look.get('colour_rank1_dominant'))} "
            f"({_pct(look.get('colour_rank1_dominant_unmatched'))}) | "
            f"{100 * look['judge_domain_rate']:.1f}% | {100 * look['identity_frac_ge_0_6']:.1f}% | "
            f"{100 * look['identity_rank1']:.1f}% ({100 * look['identity_chance']:.1f}%) | "
            f"{_f(look['mouth_open_corr'], 2)} | {_f(look['eye_open_corr'], 2)} | "
            f"{_f(look.get('mouth_sweep_corr'), 2)} / {_f(look.get('eye_sweep_corr'), 2)} |"]


def render(style: Path, run_dir: Path, eval_doc: dict[str, Any], recipe: str, hardware: str,
           notes: str, speed_ms: float | None, train_minutes: float | None = None,
           motion: dict[str, Any] | None = None, look: dict[str, Any] | None = None) -> str:
    try:
        info = load_style(style, probe=False)
    except StyleError as e:
        raise CardError(str(e)) from None
    meta = info.metadata
    cfg = json.loads((run_dir / "config.json").read_text())
    hours = train_minutes / 60 if train_minutes else training_wall_time_s(run_dir) / 3600
    ex = eval_doc["expression"]
    size_mb = style.stat().st_size / 1e6
    size_flag = f" --size {info.size}" if info.size != cfg["size"] else ""
    size_flag += " --style-input" if info.style_code_dim else ""
    init = f" --init-from {cfg['init_from']} --steps {cfg['steps']}" if cfg.get("init_from") else ""
    head = ("| set | n | faces found | landmark err | mouth diff | eye diff | yaw diff ° | mouth corr | "
            "eye corr |")
    lines = [
        f"# {info.name}",
        "",
        f"- **What it is**: `{style.name}`, a {meta.get('generator')} generator trained as "
        f"{meta.get('kind')} ({cfg['model']} losses, {cfg.get('gan_mode', 'lsgan')} GAN) by this "
        f"project's `avatar-train`; {int(meta.get('params', 0)) / 1e6:.3f} M parameters, "
        f"{meta.get('gmac_256')} GMAC at 256², runs at {info.size}² ({size_mb:.2f} MB, "
        f"{meta.get('precision')}).",
        f"- **Data**: {meta.get('trained_on')}.",
        f"- **Terms**: {meta.get('data_terms') or meta.get('license_note')}. "
        f"Licence note of the run: {meta.get('license_note')}.",
        f"- **Recipe**: `{recipe}`; command: `avatar-train --config {recipe}{init} "
        f"--out runs/{run_dir.name}` "
        f"(stopped and resumed with `--resume`), export: `avatar-export --onnx --run runs/{run_dir.name} "
        f"--name {info.name}{size_flag} --out avatar_cam/assets/styles/{style.name}`.",
        f"- **Training**: {meta.get('step')} steps of batch {cfg['batch_size']} at {cfg['size']} px "
        f"({int(meta.get('step', 0)) * cfg['batch_size']:,} photo/cartoon pairs seen), "
        f"{hours:.2f} h of training on {hardware}.",
        f"- **Verified**: {meta.get('verified')}; weights sha256 `{meta.get('weights_sha256', '')[:16]}…`.",
    ]
    if speed_ms is not None:
        lines.append(f"- **Speed**: {speed_ms:.1f} ms per frame for the generator "
                     f"(`avatar-bench --generator-only`, median, this machine).")
    lines += ["", notes.strip(), ""] if notes.strip() else [""]
    lines += [
        f"## Measured (`avatar-eval`, {eval_doc['n_photos']} held-out photos, fixed seed)",
        "",
        f"FID/KID: {_f(eval_doc.get('fid'), 1)} / {_f(eval_doc.get('kid_mean'), 4)}"
        + (f" ({eval_doc['fid_error']})" if eval_doc.get("fid_error") else "") + ".",
        *_failure_lines(eval_doc.get("failure_checks")),
        "Landmark error and mouth/eye-open differences are fractions of the face size, measured by "
        "MediaPipe Face Mesh on the photo and on its cartoon; mouth / eye corr: does the cartoon's "
        "mouth open, and do its eyes close, when the person's do.",
        "",
        head,
        "|---|---|---|---|---|---|---|---|---|",
        _row("all held-out photos", ex),
    ]
    lines += [_row(k, v) for k, v in eval_doc.get("groups", {}).items() if v["n"]]
    if ex.get("false_wink_rate") is not None:
        lines += ["", f"False winks: {100 * ex['false_wink_rate']:.1f}% of the cartoons shut one eye to "
                  "under half the other's where the person's eyes are even."]
    clips = eval_doc.get("clips") or {}
    if clips:
        lines += ["", "Video clips (`../shared/media`, through the app's tracking and crop): flicker is "
                  "the cartoon's frame-to-frame jitter over the crop's (1.0: adds none).", "",
                  "| clip | frames | faces found | mouth corr | eye corr | flicker |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {c['frames_with_face']} | {_f(c.get('output_face_rate'), 2)} | "
                  f"{_f(c.get('mouth_open_corr'), 2)} | {_f(c.get('eye_open_corr'), 2)} | "
                  f"{_f(c.get('flicker'), 2)} |"
                  for name, c in clips.items()]
    lines += _motion_lines(motion) + _look_lines(look)
    lines += _judge_identity_lines(eval_doc)
    return "\n".join(lines) + "\n"


def replace_judge_identity(card: str, eval_doc: dict[str, Any]) -> str:
    """`card` with its judge/identity section (up to the next `## ` heading) written anew from
    `eval_doc`: for hand-written cards and for cards whose run is not on this machine."""
    section = "\n".join(_judge_identity_lines(eval_doc)).strip("\n") + "\n"
    start = card.find(JUDGE_HEADING)
    if start < 0:
        return card.rstrip("\n") + "\n\n" + section
    end = card.find("\n## ", start)
    return card[:start] + section + (card[end:] if end >= 0 else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.card", description=__doc__.split("\n\n")[0])
    p.add_argument("--style", type=Path, required=True)
    p.add_argument("--run", type=Path, help="the training run the style came from")
    p.add_argument("--eval", type=Path, required=True, help="avatar-eval output folder (eval.json)")
    p.add_argument("--recipe", help="recipe file the run was started from")
    p.add_argument("--judge-identity-only", action="store_true",
                   help="only (re)write the judge/identity section of the existing card (no --run needed)")
    p.add_argument("--notes", type=Path, help="hand-written markdown placed after the summary")
    p.add_argument("--hardware", default=f"{cpu_name()}, {os.cpu_count()} cores shared, one torch thread")
    p.add_argument("--speed-ms", type=float, help="generator median ms (avatar-bench)")
    p.add_argument("--train-minutes", type=float,
                   help="training time, for a run whose metrics.jsonl is lost (else read from it)")
    p.add_argument("--out", type=Path, help="default: the style path with .md")
    p.add_argument("--motion", type=Path, help="avatar-eval --motion output folder (motion.json)")
    p.add_argument("--look", type=Path, help="python -m training.look_check output folder (look.json)")
    args = p.parse_args(argv)
    try:
        eval_path = args.eval / "eval.json"
        if not eval_path.is_file():
            raise CardError(f"no eval.json in {args.eval}")
        out = args.out or args.style.with_suffix(".md")
        if args.judge_identity_only:
            if not out.is_file():
                raise CardError(f"no card to update at {out}")
            text = replace_judge_identity(out.read_text(), json.loads(eval_path.read_text()))
        elif not (args.run and args.recipe):
            raise CardError("a full card needs --run and --recipe (or --judge-identity-only)")
        else:
            extra = {k: json.loads((d / f"{k}.json").read_text()) if d else None
                     for k, d in (("motion", args.motion), ("look", args.look))}
            text = render(args.style, args.run, json.loads(eval_path.read_text()), args.recipe,
                          args.hardware, args.notes.read_text() if args.notes else "", args.speed_ms,
                          args.train_minutes, **extra)
    except (CardError, OSError, KeyError, json.JSONDecodeError) as e:
        print(f"card: error: {e}", file=sys.stderr)
        return 2
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
