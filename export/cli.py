"""`avatar-export --onnx`: a training checkpoint (or an untrained generator) -> a verified style file.

    avatar-export --onnx --run RUN_DIR --out STYLE.onnx [--name NAME] [--fp16]
                  [--size 256 | --dynamic] [--style-image CARTOON.png] [--style-input]
    avatar-export --onnx --checkpoint RUN_DIR/checkpoints/step_0002000.safetensors --out STYLE.onnx
    avatar-export --onnx --random-init --generator resnet9|light [--model cyclegan|content-invariant]
                  --size 256 --out bench.onnx      # untrained, for speed benchmarks only

Exit status: 0 written and verified, 1 export or verification failed (one line on stderr, no
output file written), 2 bad usage. See docs/export.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from export.onnx_export import (
    DEFAULT_OPSET,
    EXPORTERS,
    Case,
    ExportError,
    ExportSpec,
    build_cases,
    export_style,
    read_labelled,
)
from export.sources import ExportSource, from_checkpoint, from_random_init, gmacs
from training.cli_errors import one_line


class UsageError(ExportError):
    """An option that cannot work (exit 2, as argparse's own errors)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avatar-export",
        description="Export the photo->cartoon generator of a training run as a verified ONNX style file.")
    p.add_argument("--onnx", action="store_true",
                   help="write an ONNX style file (the only format, so also the default)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", metavar="RUN_DIR", help="a training run (uses checkpoints/latest)")
    src.add_argument("--checkpoint", metavar="FILE",
                     help="one checkpoint: RUN_DIR/checkpoints/step_XXXXXXX.safetensors or its .json")
    src.add_argument("--random-init", action="store_true",
                     help="an UNTRAINED generator (random weights) for speed benchmarks only")
    p.add_argument("--out", required=True, metavar="STYLE.onnx", help="the style file to write")
    p.add_argument("--name", help="style name shown in the app (default: the run's name)")
    p.add_argument("--fp16", action="store_true",
                   help="half-precision weights and compute (float32 input/output kept)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, help="fixed input side in pixels (default: the training size)")
    size.add_argument("--dynamic", action="store_true", help="any input size (multiple of the stride)")
    p.add_argument("--style-image", metavar="CARTOON.png",
                   help="content-invariant: bake this reference cartoon's style instead of the mean")
    p.add_argument("--style-input", action="store_true",
                   help="content-invariant / mesh-conditioned: add a 'style_code' input [1,D] (mean code "
                        "in metadata) and ship the style encoder as encoders/<name>.onnx beside the file")
    p.add_argument("--generator", choices=["resnet9", "light"],
                   help="with --random-init: the architecture (default resnet9)")
    p.add_argument("--model", choices=["cyclegan", "content-invariant"],
                   help="with --random-init: the method whose export graph to build (default cyclegan)")
    p.add_argument("--seed", type=int, default=0, help="with --random-init: weight seed")
    p.add_argument("--verify-images", metavar="DIR",
                   help="photos to verify on (default: the run's held-out photos, plus built-in images)")
    p.add_argument("--exporter", choices=EXPORTERS, default="auto",
                   help="torch exporter (auto: torchscript for fp32, dynamo for fp16)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--trained-on", help="override the trained_on metadata")
    p.add_argument("--license-note", help="override the license_note metadata")
    return p


def _photos(args: argparse.Namespace, source: ExportSource) -> list[Path]:
    if not args.verify_images:
        return source.photos
    d = Path(args.verify_images)
    if not d.is_dir():
        raise UsageError(f"{d}: --verify-images must be a folder of photos")
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    photos = sorted(p for p in d.iterdir() if p.suffix.lower() in exts)
    if not photos:
        raise UsageError(f"{d}: no photos in the --verify-images folder ({', '.join(sorted(exts))})")
    if not read_labelled(photos, 16, 1, "photo"):
        raise UsageError(f"{d}: no photos in the --verify-images folder: none of its {len(photos)} image "
                         "files can be read (truncated, corrupt or not an image)")
    return photos


def verification_cases(source: ExportSource, spec: ExportSpec, photos: list[Path]) -> list[Case]:
    """Cases at the export size; a dynamic export is also checked at a second, smaller size."""
    codes = []
    if source.style_code_dim and source.default_code is not None:
        codes = [("", source.default_code)] + source.extra_codes
    cases = build_cases(spec.size or spec.trace_size, photos, style_codes=codes)
    if spec.size is None:
        m = spec.size_multiple
        other = max(4 * m, (spec.trace_size * 3 // 4) // m * m)
        if other == spec.trace_size:
            other += m
        extra = build_cases(other, photos, n_photos=1, style_codes=codes[:1])
        cases += [c for c in extra[:2]]
    return cases


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.random_init:
        source = from_random_init(args.generator or "resnet9", args.model or "cyclegan", args.size or 256,
                                  args.seed, args.style_input, args.dynamic)
    else:
        source = from_checkpoint(args.run or args.checkpoint, args.style_image, args.style_input)
    print(f"source: {source.summary}")

    meta = dict(source.metadata)
    if args.name:
        meta["name"] = args.name.strip()
    if args.trained_on:
        meta["trained_on"] = args.trained_on
    if args.license_note:
        meta["license_note"] = args.license_note
    if args.random_init and "untrained" not in meta["name"]:
        meta["name"] += "-untrained"  # never let an untrained file pass for a style
    if args.fp16 and not args.name:
        meta["name"] += "-fp16"
    if args.style_input and not args.name:
        meta["name"] += "-styleinput"

    size = None if args.dynamic else (args.size or source.train_size)
    try:
        spec = ExportSpec(size=size, trace_size=size or source.train_size, fp16=args.fp16, opset=args.opset,
                          exporter=args.exporter, style_code_dim=source.style_code_dim,
                          size_multiple=source.size_multiple).check()
    except ExportError as e:  # --size or --opset this generator cannot take
        raise UsageError(str(e)) from None
    if spec.size and spec.size != 256:
        meta[f"gmac_{spec.size}"] = gmacs(source.net, spec.size)
    cases = verification_cases(source, spec, _photos(args, source))
    result = export_style(source.net, args.out, spec, meta, cases, reference=source.reference,
                          default_code=source.default_code, encoder=source.encoder)
    r = result.report
    print(f"app check: load_style accepts it; Stylizer vs torch within {r.app_levels} grey level(s)")
    if source.encoder is not None:
        enc = result.path.parent / result.metadata["style_encoder"]
        print(f"wrote the style encoder {enc} ({enc.stat().st_size / 1e6:.2f} MB)")
    print(f"wrote {result.path} ({result.bytes / 1e6:.2f} MB) '{meta['name']}' kind={meta['kind']} "
          f"max abs error {r.max_abs:.3e} (tolerance {spec.tolerance:.0e}); "
          f"export {result.export_seconds:.1f} s, verify {result.verify_seconds:.1f} s, "
          f"total {time.perf_counter() - t0:.1f} s")
    return 0


@one_line("avatar-export")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = None
    if args.random_init and args.style_image:
        problem = "--style-image needs a trained content-invariant run, not --random-init"
    elif not args.random_init and (args.generator or args.model):
        problem = "--generator and --model apply to --random-init only (a run's config decides)"
    elif args.size is not None and args.size <= 0:
        problem = f"--size must be positive, not {args.size}"
    elif args.name is not None and args.name and not args.name.strip():
        problem = "--name is only spaces (the app would list a blank style); give a name or leave it out"
    if problem:
        print(f"avatar-export: error: {problem}", file=sys.stderr)
        return 2
    try:
        return run(args)
    except UsageError as e:
        print(f"avatar-export: error: {e}", file=sys.stderr)
        return 2
    except ExportError as e:
        print(f"avatar-export: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avatar-export: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
