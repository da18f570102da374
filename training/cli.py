"""`avatar-train`: train a photo->cartoon model, prepare (crop + align) photos, print MACs.

    avatar-train --model cyclegan|content-invariant --generator resnet9|light \\
        --data-a DIR [DIR ...] --data-b DIR --out RUN_DIR --size 256 --batch-size N --steps N \\
        [--resume] [--device auto|cpu|cuda|mps] [--config FILE] [--set KEY=VALUE ...]
    avatar-train --resume --out RUN_DIR           # continue exactly where RUN_DIR stopped
    torchrun --nproc_per_node=N -m training.cli ...   # N processes (GPUs): DDP, same training
    avatar-train --config RUN/config.json --init-from RUN --out NEW --size 144   # fine-tune
    avatar-train prepare --input DIR [DIR ...] --out DIR --size 256 [--domain photo|cartoon]
    avatar-train macs [--size 256]

Options resolve as defaults < `--config FILE` (TOML recipe or a run's config.json) < flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.cli_errors import one_line
from training.options import MODELS, ConfigError, TrainConfig, read_config_file

# flag -> config key, for flags that map one-to-one
_FLAGS = {
    "model": str, "generator": str, "dataroot": str, "out": str, "size": int, "batch_size": int,
    "steps": int, "seed": int, "device": str, "amp": str, "workers": int, "threads": int, "lr": float,
    "gan_mode": str, "upsample": str, "save_every": int, "sample_every": int, "log_every": int,
    "val_count": int, "name": str, "trained_on": str, "license_note": str, "teacher": str,
    "keep_checkpoints": int, "minutes": float, "init_from": str, "dist_timeout": float,
}


def _train_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog,
                                description="Train a photo->cartoon generator on unpaired folders.")
    p.add_argument("--config", help="TOML recipe (training/recipes/*.toml) or a run's config.json")
    p.add_argument("--data-a", nargs="+", action="extend", help="photo folder(s); repeatable")
    p.add_argument("--data-b", nargs="+", action="extend", help="cartoon folder(s); repeatable")
    for key, typ in _FLAGS.items():
        if key in ("model", "generator"):
            continue
        p.add_argument("--" + key.replace("_", "-"), type=typ, default=None)
    p.add_argument("--model", choices=list(MODELS))
    p.add_argument("--generator", choices=["resnet9", "light"])
    p.add_argument("--resume", action="store_true", help="continue RUN_DIR exactly (step, LR, RNG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other config key, value read as its type (e.g. --set lambda_cycle=5, "
                        "--set name=2024, --set flip=false)")
    return p


def _parse_set(items: list[str]) -> dict:
    """`--set KEY=VALUE` items, each VALUE read as its option's type (`name=2024` is a name)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        key = k.strip().replace("-", "_")
        if not key:
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        out[key] = TrainConfig.value_from_text(key, v)
    return out


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults < config file (or RUN_DIR/config.json on --resume) < explicit flags."""
    values: dict = {}
    if args.config:
        values.update(read_config_file(args.config))
    if args.resume:
        out = args.out or values.get("out")
        if not out:
            raise ConfigError("--resume needs --out RUN_DIR: the run to continue")
        saved = Path(str(out)) / "config.json"
        if not saved.is_file():
            raise ConfigError(f"nothing to resume: {saved} not found")
        if not args.config:
            values.update(read_config_file(saved))
    for key in _FLAGS:
        v = getattr(args, key, None)
        if v is not None:
            values[key] = v
    if args.data_a:
        values["data_a"] = args.data_a
    if args.data_b:
        values["data_b"] = args.data_b
    if args.no_progress:
        values["progress"] = False
    values.update(_parse_set(args.set))
    return TrainConfig.from_dict(values, "options")


def cmd_train(argv: list[str]) -> int:
    args = _train_parser("avatar-train").parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as e:
        print(f"avatar-train: error: {e}", file=sys.stderr)
        return 2
    try:
        return _train(cfg, args.resume)
    except KeyboardInterrupt:  # a Ctrl-C while starting, or a second one while training
        from training.checkpoint import checkpoint_dir, latest_step

        step = latest_step(cfg.out)
        where = ("no checkpoint was saved (nothing to resume)" if step is None else
                 f"the last checkpoint is step {step} in {checkpoint_dir(cfg.out)}: --resume goes on from it")
        print(f"avatar-train: interrupted; {where}", file=sys.stderr)
        return 130


def _train(cfg: TrainConfig, resume: bool) -> int:
    """`train` with its errors as one line: exit 2 for bad options, data or checkpoints, 1 for I/O."""
    from training import distributed
    from training.checkpoint import CheckpointError
    from training.data import DataError
    from training.trainer import train

    try:
        run_dir = train(cfg, resume=resume)
    except (ConfigError, CheckpointError, DataError, FileNotFoundError) as e:
        print(f"avatar-train: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:  # diverged (an lr far too high): the checkpoints before are kept
        print(f"avatar-train: error: training diverged ({e}); lower --lr, then --resume from the last "
              "checkpoint or start again", file=sys.stderr)
        return 1
    except OSError as e:  # disk full, permissions: the last complete checkpoint is kept
        where = f"{e.filename}: " if e.filename else ""
        print(f"avatar-train: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except distributed.RankLost as e:
        print(f"avatar-train: error: {e}", file=sys.stderr)
        return 1
    if distributed.ranks_from_env().main:
        print(f"run directory: {run_dir}")
    return 0


def cmd_prepare(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="avatar-train prepare",
                                description="Crop and align faces as the app does (MediaPipe + align).")
    p.add_argument("--input", nargs="+", action="extend", required=True, help="raw photo folder(s)")
    p.add_argument("--out", required=True, help="folder for the aligned crops (+ prepare_report.json)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--domain", choices=["photo", "cartoon"], default="photo",
                   help="photo: images without a face are skipped; cartoon (anime faces): they "
                        "are kept whole (centre square)")
    p.add_argument("--max-outside", type=float, default=None,
                   help="skip (and list) crops with more than this share outside the photo")
    p.add_argument("--overwrite", action="store_true", help="redo crops that already exist")
    args = p.parse_args(argv)
    from training.cli_errors import crop_out_problem
    from training.data import REPORT_NAME, DataError, prepare

    def fail(msg: str) -> int:
        print(f"avatar-train prepare: error: {msg}", file=sys.stderr)
        return 2

    problem = crop_out_problem(args.out, args.input, args.size,
                               "the crops would replace or mix with the photos")
    if problem:
        return fail(problem)
    try:
        rep = prepare(args.input, args.out, args.size, args.max_outside, args.overwrite,
                      domain=args.domain)
    except (FileNotFoundError, DataError) as e:
        return fail(str(e))
    except OSError as e:
        return fail(f"{e.filename or args.out}: {e.strerror}")
    except KeyboardInterrupt:
        print("avatar-train prepare: interrupted; the crops written so far are kept (run again to "
              "go on: existing crops are skipped)", file=sys.stderr)
        return 130
    if rep["written"] + rep["already_there"] == 0:
        return fail(f"no crops: none of the {len(rep['unreadable']) + len(rep['not_found'])} files in "
                    f"{', '.join(args.input)} gave one (report: {Path(args.out) / REPORT_NAME})")
    print(f"prepare: {rep['written']} crops written, {rep['already_there']} already there, "
          f"{rep['found']} faces found, {len(rep['not_found'])} without a face"
          f"{' (kept whole)' if args.domain == 'cartoon' else ''}, {len(rep['unreadable'])} unreadable, "
          f"{len(rep['not_an_image'])} not images, {len(rep['too_tight'])} too tight; "
          f"mean share outside the photo {rep['outside_mean']:.2f}; "
          f"report (lists every skipped file): {Path(args.out) / REPORT_NAME}")
    return 0


def cmd_macs(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="avatar-train macs", description="Params and MACs of every network.")
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args(argv)
    if args.size < 32 or args.size % 8:
        print(f"avatar-train macs: error: --size must be a multiple of 8 and >= 32 (got {args.size})",
              file=sys.stderr)
        return 2
    from training.macs import describe_all

    for line in describe_all(args.size):
        print(line)
    return 0


@one_line("avatar-train")
def main(argv: list[str] | None = None) -> int:
    from training.trainer import close_logging, setup_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": cmd_train, "prepare": cmd_prepare, "macs": cmd_macs}
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        _train_parser("avatar-train").print_help()
        return 0
    setup_logging(None)  # warnings on stderr; a run adds its train.log
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return cmd_train(argv)
    finally:  # nothing left attached: a caller in this process (a test, a notebook) logs as before
        close_logging()


if __name__ == "__main__":
    sys.exit(main())
