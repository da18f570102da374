"""The training command-line tools on bad input: the pack (`training.pack`), the mesh pairs
(`training.mesh_pairs`) and the one-shot GPU recipe (`training.gpu_recipe`). Each bad input is
one error line and exit 2, never a traceback, never a silent wrong result."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from training import gpu_recipe, mesh_pairs, pack  # noqa: E402
from training.testing import make_image_folder  # noqa: E402


def _one_error(capsys: pytest.CaptureFixture, prefix: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"{prefix}: error: "), err
    return err


# -- the pack --------------------------------------------------------------------------------------

def test_the_pack_leaves_out_every_held_out_list_of_the_judge(tmp_path: Path) -> None:
    """runs/judge/split.json holds out the flat avatars as `val_flat`: they were packed."""
    flat = make_image_folder(tmp_path / "dicebear", 4, 32, "B", 0)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"val_A": [], "val_B": [], "val_flat": ["/elsewhere/dicebear/b_001.png"],
                                 "seed": 0}))
    out = tmp_path / "p.zip"
    assert pack.main([str(out), f"flat={flat}", "--exclude", str(split)]) == 0
    members = zipfile.ZipFile(out).namelist()
    assert "flat/b_001.png" not in members and "flat/b_000.png" in members


@pytest.mark.parametrize("case", ["folder", "not json", "no lists"])
def test_an_exclude_that_is_not_a_split_is_one_line(case: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """--exclude FOLDER ended in an IsADirectoryError traceback."""
    folder = make_image_folder(tmp_path / "crops", 2, 32)
    exclude = tmp_path / "judge" / "split.json"
    exclude.parent.mkdir()
    exclude.write_text({"not json": "{nope", "no lists": "[1, 2]", "folder": "{}"}[case])
    target = exclude.parent if case == "folder" else exclude
    assert pack.main([str(tmp_path / "p.zip"), f"a={folder}", "--exclude", str(target)]) == 2
    assert "not a split.json file" in _one_error(capsys, "python -m training.pack")
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(("groups", "message"), [
    (["a={d}", "a={d}"], "NAME a given twice"),
    (["../evil={d}:1"], "NAME must be one folder name"),
    (["a/b={d}"], "NAME must be one folder name"),
    (["={d}"], "NAME must be one folder name"),
])
def test_group_names_are_one_folder_name_each(groups: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    """`a=DIR a=DIR` wrote every member twice; `../evil=DIR` stored `../evil/...` members."""
    d = make_image_folder(tmp_path / "crops", 2, 32)
    assert pack.main([str(tmp_path / "p.zip"), *(g.format(d=d) for g in groups)]) == 2
    assert message in _one_error(capsys, "python -m training.pack")
    assert not (tmp_path / "p.zip").exists()


# -- mesh pairs ------------------------------------------------------------------------------------

def test_mesh_pairs_of_no_image_or_of_junk_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An empty folder or one of junk said "0 of 0 images paired" and exit 0 (prepare errors)."""
    empty, junk = tmp_path / "empty", tmp_path / "junk"
    empty.mkdir()
    junk.mkdir()
    (junk / "notes.txt").write_text("no pictures")
    for folder in (empty, junk):
        assert mesh_pairs.main([str(folder), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
        assert "no images in" in _one_error(capsys, "python -m training.mesh_pairs")
    assert not (tmp_path / "out").exists()  # nothing written
    (junk / "broken.png").write_bytes(b"not a png")
    assert mesh_pairs.main([str(junk), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "no pairs: none of the 1 images" in _one_error(capsys, "python -m training.mesh_pairs")
    assert json.loads((tmp_path / "out" / "mesh_pairs.json").read_text())["unreadable"]


@pytest.mark.parametrize(("option", "message"), [
    (["--size", "10"], "--size must be at least 32 (got 10)"),
    (["--limit", "-3"], "--limit must be 0 (all) or more (got -3)"),
    (["--out", "{src}/pairs"], "is the input"),
    (["--out", "{src}/.."], "is the input"),
])
def test_mesh_pairs_options_are_checked_before_anything_runs(option: list[str], message: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    """--size 10 and --limit -3 were taken; an --out inside the input was read back as input by the
    next run."""
    src = make_image_folder(tmp_path / "in" / "photos", 2, 48)
    argv = [str(src), "--out", str(tmp_path / "out"), "--no-progress"] + [o.format(src=src) for o in option]
    assert mesh_pairs.main(argv) == 2
    assert message in _one_error(capsys, "python -m training.mesh_pairs")
    assert sorted(p.name for p in src.iterdir()) == ["a_000.png", "a_001.png"]


def test_mesh_pairs_reports_an_unwritable_out_in_one_line(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """An OSError (here: --out under a file) was a traceback."""
    src = make_image_folder(tmp_path / "in", 2, 48)
    (tmp_path / "file").write_text("a file")
    assert mesh_pairs.main([str(src), "--out", str(tmp_path / "file" / "out"), "--no-progress"]) == 2
    assert "file" in _one_error(capsys, "python -m training.mesh_pairs")


# -- the GPU recipe --------------------------------------------------------------------------------

@pytest.mark.parametrize(("option", "message"), [
    (["--minutes", "0"], "--minutes must be a positive number"),
    (["--minutes", "-2"], "--minutes must be a positive number"),
    (["--clips", "{tmp}/clip.mp4"], "needs --holdout"),
    (["--eval-limit", "5"], "needs --holdout"),
    (["--holdout", "{tmp}/judge", "--clips", "{tmp}/nope.mp4"], "no such clip: "),
    (["--holdout", "{tmp}/judge", "--eval-limit", "0"], "--eval-limit must be at least 1"),
    (["--holdout", "{tmp}/nowhere"], "no split.json there"),
])
def test_gpu_recipe_options_are_checked_before_training(option: list[str], message: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """--minutes 0 ran every arm's full recipe (no budget); --clips and --eval-limit were dropped
    without --holdout, and a missing clip was not noticed."""
    (tmp_path / "p.zip").write_bytes(b"")
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "judge").mkdir()
    (tmp_path / "judge" / "split.json").write_text('{"val_A": []}')
    monkeypatch.setattr(gpu_recipe, "run", lambda *a: pytest.fail("trained despite a bad option"))
    options = [o.format(tmp=tmp_path) for o in option]
    assert gpu_recipe.main([str(tmp_path / "out"), "--pack", str(tmp_path / "p.zip"), *options]) == 2
    assert message in _one_error(capsys, "gpu_recipe")


def test_an_arm_that_never_saved_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    """Running again into an OUT where an arm stopped before its first checkpoint failed the whole
    invocation ("no checkpoint to resume from"): config.json alone decided to resume."""
    import training.trainer

    calls: dict[str, bool] = {}

    def train(cfg: Any, resume: bool = False) -> Path:
        calls[Path(cfg.out).name] = resume
        return Path(cfg.out)

    monkeypatch.setattr(training.trainer, "train", train)
    monkeypatch.setattr(gpu_recipe, "finish_arm", lambda *a: {})
    (tmp_path / "p.zip").write_bytes(b"")
    out = tmp_path / "out"
    for arm in ("flat-mesh", "cyclegan-light"):
        (out / "runs" / arm).mkdir(parents=True)
        (out / "runs" / arm / "config.json").write_text("{}")
    ckpt = out / "runs" / "cyclegan-light" / "checkpoints"
    ckpt.mkdir()
    (ckpt / "latest.json").write_text("{}")
    gpu_recipe.run(out, tmp_path / "p.zip", ["flat-mesh", "cyclegan-light"], 1.0, {}, [])
    assert calls == {"flat-mesh": False, "cyclegan-light": True}
    assert "flat-mesh: " in capsys.readouterr().err
