"""`avatar-train` start-up checks: data folders (mesh pairs, duplicates, both domains, --out inside
one), option values, --resume errors, absolute paths in a run, Ctrl-C; each one line, exit 2 (130
for Ctrl-C), and a failed start leaves no half-made run folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training import cli, trainer  # noqa: E402
from training.testing import ctrl_c_at, make_image_folder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--size", "32", "--steps", "2", "--threads", "1", "--no-progress", "--val-count", "2",
        "--model", "cyclegan", "--generator", "light", "--set", "ndf=8", "--set", "gen_width=8"]


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    rc = cli.main(argv)
    return rc, capsys.readouterr().err


def _line(err: str, prefix: str = "avatar-train: error: ") -> str:
    """The one line the CLI prints for an error: no traceback, no second error line."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("avatar-train:")]
    assert len(lines) == 1 and lines[0].startswith(prefix), err
    return lines[0]


def _pairs(root: Path, n: int = 8) -> Path:
    """`mesh_pairs`-style output: ROOT/crops/b_00i.png and ROOT/meshes/b_00i.png."""
    crops = make_image_folder(root / "crops", n, 48, "B", 1)
    shutil.copytree(crops, root / "meshes")
    return crops


def _data(tmp_path: Path) -> tuple[Path, Path]:
    return make_image_folder(tmp_path / "A", 8, 48, "A"), make_image_folder(tmp_path / "B", 8, 48, "B", 1)


def test_mesh_training_refuses_cartoons_without_their_meshes(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    photos, plain = _data(tmp_path)
    crops = _pairs(tmp_path / "mp")
    (tmp_path / "mp" / "meshes" / "b_003.png").unlink()
    mesh = [*TINY, "--model", "mesh-conditioned", "--data-a", str(photos)]
    for cartoons, n in ((crops, 1), (plain, 6)):  # one mesh missing; a plain folder without meshes/
        out = tmp_path / f"run_{cartoons.name}"
        rc, err = _run([*mesh, "--data-b", str(cartoons), "--out", str(out)], capsys)
        line = _line(err)
        assert rc == 2 and "pairs each cartoon with its mesh drawing" in line, err
        assert f"{n} of 6 missing, e.g. " in line and "meshes/" in line, line
        assert not out.exists()  # nothing left that a rerun would trip on


def test_a_whole_mesh_pairs_folder_is_not_taken_as_cartoons(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    photos, _ = _data(tmp_path)
    _pairs(tmp_path / "mp")
    mesh = [*TINY, "--model", "mesh-conditioned", "--data-a", str(photos), "--out", str(tmp_path / "r")]
    rc, err = _run([*mesh, "--data-b", str(tmp_path / "mp")], capsys)
    assert rc == 2 and f"give {tmp_path / 'mp' / 'crops'}" in _line(err)
    rc, err = _run([*mesh, "--data-b", str(tmp_path / "mp" / "meshes")], capsys)
    assert rc == 2 and "are mesh drawings" in _line(err)
    assert not (tmp_path / "r").exists()


def test_a_folder_given_twice_or_nested_keeps_held_out_images_out_of_training(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photos, cartoons = _data(tmp_path)
    (photos / "sub").mkdir()
    shutil.copy(photos / "a_000.png", photos / "sub" / "a_000.png")
    rc, err = _run([*TINY, "--data-a", str(photos), str(photos), str(photos / "sub"), "--data-b",
                    str(cartoons), "--val-count", "4", "--out", str(tmp_path / "r")], capsys)
    assert rc == 0, err
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    listed = split["train_A"] + split["val_A"]
    assert len(listed) == len(set(listed)) == 9 and not set(split["val_A"]) & set(split["train_A"])
    assert "10 files listed more than once" in (tmp_path / "r" / "train.log").read_text()


def test_the_same_images_in_both_domains_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photos, _ = _data(tmp_path)
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(photos), "--out", str(tmp_path / "r")],
                   capsys)
    assert rc == 2 and "8 file(s) are in both domains" in _line(err)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("where", [".", "run"])
def test_out_in_a_data_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, where: str) -> None:
    photos, cartoons = _data(tmp_path)
    before = sorted(p.name for p in photos.iterdir())
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(photos / where)],
                   capsys)
    assert rc == 2 and "is the data folder" in _line(err)
    assert sorted(p.name for p in photos.iterdir()) == before


def test_resume_without_a_run_says_there_is_nothing_to_resume(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    rc, err = _run(["--resume"], capsys)
    assert rc == 2 and "--resume needs --out RUN_DIR" in _line(err)
    rc, err = _run(["--resume", "--out", str(tmp_path / "nonexist")], capsys)
    assert rc == 2
    missing = tmp_path / "nonexist" / "config.json"
    assert _line(err) == f"avatar-train: error: nothing to resume: {missing} not found"


BAD_VALUES = [
    (["--generator", "resnet9", "--set", "upsample=bogus"], "upsample must be transpose or resize"),
    (["--set", "beta1=5"], "beta1 is an Adam decay in [0, 1)"),
    (["--device", "cuda:x"], "--device must be auto, cpu, cuda, cuda:N or mps, not 'cuda:x'"),
    (["--set", "lambda_cycle=-10"], "lambda_cycle must be >= 0.0, not -10.0"),
    (["--seed", "-1"], "seed must be >= 0"),
    (["--set", "ndf=eight"], "--set ndf should be int, got 'eight'"),
    # a loss weight of nan or inf passed every >= check and stopped at step 0 as "diverged; lower --lr"
    (["--set", "lambda_cycle=nan"], "lambda_cycle must be a finite number, not nan"),
    (["--set", "lambda_identity=inf"], "lambda_identity must be a finite number, not inf"),
    (["--set", "=5"], "--set needs KEY=VALUE, got '=5'"),  # was "unknown option(s) " naming nothing
]


@pytest.mark.parametrize(("flags", "message"), BAD_VALUES, ids=[m.split()[0] for _, m in BAD_VALUES])
def test_bad_option_values_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str],
                                        message: str) -> None:
    photos, cartoons = _data(tmp_path)
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(tmp_path / "r"),
                    *flags], capsys)
    assert rc == 2 and message in _line(err)
    assert not (tmp_path / "r").exists()


def test_set_reads_a_value_as_its_options_type(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--set name=2024` was refused (`name should be str, got 2024`): a value that looked like a
    number was read as one whatever the option."""
    photos, cartoons = _data(tmp_path)
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(tmp_path / "r"),
                    "--set", "name=2024", "--set", "license_note=1.5", "--set", "flip=false",
                    "--set", "lambda_cycle=5", "--set", "steps=1"], capsys)
    assert rc == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["name"], saved["license_note"], saved["flip"]) == ("2024", "1.5", False)
    assert (saved["lambda_cycle"], saved["steps"]) == (5.0, 1)


def test_a_failed_start_leaves_nothing_that_blocks_a_rerun(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    photos, cartoons = _data(tmp_path)
    base = [*TINY, "--data-a", str(photos), "--data-b", str(cartoons)]
    for out in (tmp_path / "new", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        rc, err = _run([*base, "--out", str(out), "--set", f"teacher={tmp_path / 'nope'}"], capsys)
        assert rc == 2 and "nope" in _line(err)
        assert not (out / "config.json").exists() and not (out / "split.json").exists()
        rc, err = _run(["--resume", "--out", str(out)], capsys)  # not "no checkpoint to resume from"
        assert rc == 2 and "nothing to resume" in _line(err)
        assert _run([*base, "--out", str(out)], capsys)[0] == 0


def test_a_run_resumes_from_any_folder_and_from_a_moved_copy(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "first"
    first.mkdir()
    _data(first)
    monkeypatch.chdir(first)  # relative paths, as typed in a checkout
    rc, err = _run([*TINY, "--data-a", "A", "--data-b", "B", "--out", "runs/r"], capsys)
    assert rc == 0, err
    split = json.loads((first / "runs" / "r" / "split.json").read_text())
    assert all(Path(p).is_absolute() for p in split["train_A"] + split["val_B"])
    assert json.loads((first / "runs" / "r" / "config.json").read_text())["data_a"] == [str(first / "A")]
    # the same folders given again, relative: the same options
    rc, err = _run(["--resume", "--out", "runs/r", "--data-a", "A", "--data-b", "B", "--steps", "3",
                    "--no-progress"], capsys)
    assert rc == 0, err
    monkeypatch.chdir("/")
    rc, err = _run(["--resume", "--out", str(first / "runs" / "r"), "--steps", "4", "--no-progress"], capsys)
    assert rc == 0, err
    # the checkout moved (another machine): the same relative paths under the folder resumed from
    moved = tmp_path / "moved"
    first.rename(moved)
    monkeypatch.chdir(moved)
    rc, err = _run(["--resume", "--out", "runs/r", "--steps", "5", "--no-progress"], capsys)
    assert rc == 0, err


def test_an_old_split_with_relative_paths_says_what_they_are_relative_to(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    photos, cartoons = _data(tmp_path)
    run = tmp_path / "r"
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(run)], capsys)
    assert rc == 0, err
    split = json.loads((run / "split.json").read_text())  # as runs before absolute paths wrote it
    old = {k: [str(Path(p).relative_to(tmp_path)) for p in v] for k, v in split.items()
           if k.startswith(("train_", "val_"))}
    (run / "split.json").write_text(json.dumps({**old, "trained_on": split["trained_on"]}))
    monkeypatch.chdir("/")
    rc, err = _run(["--resume", "--out", str(run), "--steps", "3", "--no-progress"], capsys)
    line = _line(err)
    assert rc == 2 and "its paths are relative to the folder the run was started from, not to this one (/)" \
        in line
    monkeypatch.chdir(tmp_path)
    assert _run(["--resume", "--out", str(run), "--steps", "3", "--no-progress"], capsys)[0] == 0


def test_ctrl_c_while_starting_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    photos, cartoons = _data(tmp_path)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "create_model", interrupted)  # Ctrl-C while the model is built
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(tmp_path / "r")],
                   capsys)
    assert rc == 130
    assert _line(err, "avatar-train: interrupted") == \
        "avatar-train: interrupted; no checkpoint was saved (nothing to resume)"
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("save_every", [1000, 1])
def test_a_second_ctrl_c_while_training_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch, save_every: int) -> None:
    """The first Ctrl-C asks for a save after the step; a second one during that step (a hung step)
    stops at once: one line saying where the last checkpoint is, or that there is none."""
    photos, cartoons = _data(tmp_path)
    monkeypatch.setattr(trainer, "create_model", ctrl_c_at(trainer.create_model, 3, presses=2))
    out = tmp_path / "r"
    rc, err = _run([*TINY, "--data-a", str(photos), "--data-b", str(cartoons), "--out", str(out),
                    "--steps", "5", "--save-every", str(save_every)], capsys)
    assert rc == 130
    where = ("no checkpoint was saved (nothing to resume)" if save_every > 5 else
             f"the last checkpoint is step 2 in {out / 'checkpoints'}: --resume goes on from it")
    assert _line(err, "avatar-train: interrupted") == f"avatar-train: interrupted; {where}"
