"""One-file packs of prepared training folders: a zip archive that data paths read like folders.

    python -m training.pack OUT.zip NAME=DIR[:N] [NAME=DIR[:N] ...] [--exclude SPLIT.json ...] [--max-mb 60]

Each prepared folder DIR goes into the archive under NAME/, as it is on disk (a crops folder, or
`training.mesh_pairs` output with its crops/, meshes/ and landmarks/), limited to N images: a
fixed-seed sample of the file stems, so a crop keeps its mesh drawing and landmarks. `--exclude`
leaves out every image whose source name is held out in that split.json (every `val_*` list:
`val_A`/`val_B` of a run; runs/judge/split.json also holds out `val_flat`, the flat avatars
avatar-eval reports on), so the pack never trains on them. NAME is one folder name (no `/`,
`..`), each NAME once.
Members are stored, not deflated (JPEG and PNG are compressed already): reading one is a seek.
A pack over `--max-mb` is refused (nothing written).

A path through a pack reads like a folder path: `runs/pack.zip/dicebear/crops` as a data folder
of `avatar-train` lists the pack's members there (`training.data.scan_images`), and
`read_bytes` / `exists` serve every file the data loader reads (crops, mesh drawings,
landmarks). Each process opens its own handle (data loader workers fork).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.cli_errors import one_line

SUFFIX = ".zip"
_handles: dict[tuple[str, int], zipfile.ZipFile] = {}


def split_path(path: str | Path) -> tuple[Path, str] | None:
    """(pack file, member path inside it; "" for the pack itself) when `path` goes through a
    pack, else None."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if part.endswith(SUFFIX):
            pack = Path(*parts[: i + 1])
            if pack.is_file():
                return pack, "/".join(parts[i + 1:])
    return None


def _open(pack: Path) -> zipfile.ZipFile:
    key = (str(pack.resolve()), os.getpid())
    if key not in _handles:
        _handles[key] = zipfile.ZipFile(pack)
    return _handles[key]


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a file, or of a pack member when `path` goes through a pack."""
    where = split_path(path)
    if where is None or not where[1]:
        return Path(path).read_bytes()
    try:
        return _open(where[0]).read(where[1])
    except KeyError:
        raise FileNotFoundError(f"{path}: not in the pack {where[0]}") from None


def exists(path: str | Path) -> bool:
    """Whether `path` is a file (or a member of a pack)."""
    where = split_path(path)
    if where is None or not where[1]:
        return Path(path).is_file()
    return where[1] in _open(where[0]).NameToInfo


def list_files(folder: str | Path, pattern: str = "*") -> list[Path] | None:
    """The pack members under `folder` (recursively, sorted) whose names match `pattern`, as
    paths through the pack; None when `folder` is not inside a pack. A folder with no member is
    an error, as a missing folder is."""
    where = split_path(folder)
    if where is None:
        return None
    pack, member = where
    prefix = f"{member}/" if member else ""
    names = sorted(n for n in _open(pack).namelist() if n.startswith(prefix) and not n.endswith("/")
                   and fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern))
    if not names:
        raise FileNotFoundError(f"data folder not found: {folder} (no such folder in the pack {pack})")
    return [pack / n for n in names]


# -- building ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    """A prepared folder packed under `name`/, at most `limit` images (0: all)."""

    name: str
    folder: Path
    limit: int = 0

    @classmethod
    def parse(cls, text: str) -> Group:
        """`NAME=DIR` or `NAME=DIR:N`."""
        if "=" not in text:
            raise ValueError(f"{text!r}: expected NAME=DIR[:N]")
        name, rest = text.split("=", 1)
        folder, sep, n = rest.rpartition(":")
        if not (sep and n.isdigit()):
            folder, n = rest, "0"
        name = name.strip("/")
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"{text!r}: NAME must be one folder name (no '/', '..'), not {name!r}")
        return cls(name, Path(folder), int(n))


def source_name(stem: str) -> str:
    """The source image's name in a prepared file stem (`prepare` and `mesh_pairs` prefix the
    input folder's name with `__` when given several)."""
    return stem.rsplit("__", 1)[-1]


def split_names(split_file: str | Path) -> dict[str, set[str]]:
    """Every image list of a split.json (`train_A`, `val_B`, the judge's `val_flat`...) as the
    source names of its images, the names packs, fine-tunes and evaluations match by. ValueError
    (only why, for the caller's line) for a file that is missing, not JSON or not a split."""
    f = Path(split_file)
    if not f.is_file():
        raise ValueError("a folder" if f.is_dir() else "missing")
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as e:  # invalid JSON or not UTF-8
        raise ValueError(str(e)) from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object of image lists")
    return {k: {source_name(_stem(Path(str(p)))) for p in v} for k, v in doc.items()
            if isinstance(v, list) and k.startswith(("train_", "val_"))}


def held_out_names(split_files: Sequence[str | Path]) -> set[str]:
    """Source names of every held-out image (every `val_*` list: `val_A`, `val_B`, the judge's
    `val_flat`) in these split.json files. ValueError (one line) for a file that is not one."""
    names: set[str] = set()
    for f in split_files:
        try:
            held = [v for k, v in split_names(f).items() if k.startswith("val_")]
        except ValueError as e:
            raise ValueError(f"--exclude {f}: not a split.json file ({e})") from None
        if not held:
            raise ValueError(f"--exclude {f}: not a split.json file (no val_* lists of held-out images)")
        names = names.union(*held)
    return names


def _stem(p: Path) -> str:
    return p.name.split(".")[0]


def group_files(group: Group, exclude: set[str], seed: int = 0) -> list[Path]:
    """The files of `group` to pack: all files of the chosen stems (a seeded sample of `limit`),
    minus held-out sources and reports."""
    if not group.folder.is_dir():
        raise FileNotFoundError(f"{group.folder}: not a folder")
    files = sorted(p for p in group.folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".npy"})
    stems = [s for s in sorted({_stem(p) for p in files}) if source_name(s) not in exclude]
    if group.limit and len(stems) > group.limit:
        pick = np.random.default_rng(seed).permutation(len(stems))[: group.limit]
        stems = sorted(stems[i] for i in pick)
    keep = set(stems)
    return [p for p in files if _stem(p) in keep]


def build(out: str | Path, groups: Sequence[Group], exclude: Sequence[str | Path] = (),
          max_mb: float = 60.0, seed: int = 0) -> dict:
    """Write the pack (atomically); returns a report (files and MB per group, total MB).
    ValueError, with nothing written, when it would exceed `max_mb`."""
    out = Path(out)
    if out.suffix != SUFFIX:
        raise ValueError(f"{out}: a pack is a {SUFFIX} file")
    twice = sorted(name for name, n in Counter(g.name for g in groups).items() if n > 1)
    if twice:
        raise ValueError(f"NAME {', '.join(twice)} given twice: each group needs a name of its own")
    names = held_out_names(exclude)
    plan = [(g, group_files(g, names, seed)) for g in groups]
    report: dict = {"groups": {}, "excluded_sources": len(names), "max_mb": max_mb}
    total = 0
    for g, files in plan:
        size = sum(p.stat().st_size for p in files)
        images = len({_stem(p) for p in files})
        report["groups"][g.name] = {"folder": str(g.folder), "images": images, "files": len(files),
                                    "mb": round(size / 1e6, 2)}
        total += size
    report["mb"] = round(total / 1e6, 2)
    if total / 1e6 > max_mb:
        raise ValueError(f"the pack would hold {total / 1e6:.1f} MB, over --max-mb {max_mb:g}: "
                         "pack fewer images (NAME=DIR:N)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for g, files in plan:
                for p in files:
                    zf.write(p, f"{g.name}/{p.relative_to(g.folder).as_posix()}")
            zf.writestr("pack.json", json.dumps(report, indent=2))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    report["file_mb"] = round(out.stat().st_size / 1e6, 2)
    return report


@one_line("python -m training.pack")
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.pack", description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the pack to write (.zip)")
    ap.add_argument("groups", nargs="+", metavar="NAME=DIR[:N]",
                    help="a prepared folder and its name in the pack")
    ap.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="SPLIT.json",
                    help="leave out the held-out images of these runs' split.json")
    ap.add_argument("--max-mb", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        rep = build(args.out, [Group.parse(g) for g in args.groups], args.exclude, args.max_mb, args.seed)
    except (ValueError, FileNotFoundError) as e:
        print(f"python -m training.pack: error: {e}", file=sys.stderr)
        return 2
    for name, g in rep["groups"].items():
        print(f"{name}: {g['images']} images, {g['files']} files, {g['mb']} MB  ({g['folder']})")
    print(f"wrote {args.out}: {rep['file_mb']} MB ({rep['excluded_sources']} held-out sources excluded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
