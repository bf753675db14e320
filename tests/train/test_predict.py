"""`birdtui predict`: a Kaggle submission CSV from a run's best checkpoint."""

from __future__ import annotations

import argparse
import csv
import io

import pytest

from birdtui.demo_data import write_demo_dataset
from birdtui.errors import BirdtuiError, CheckpointError, ConfigError, DataError, RunError
from birdtui.train.command import register
from birdtui.train.predict import kaggle_paths, predict_run
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_predict_writes_kaggle_csv(make_run, tiny_dataset, tmp_path):
    run_dir = make_run(epochs=1)
    assert run_worker(run_dir, stop=StopFlag()) == 0
    out = tmp_path / "out" / "predictions.csv"
    out.parent.mkdir()
    progress = io.StringIO()

    count = predict_run(str(run_dir), str(tiny_dataset / "test"), str(out), progress=progress)

    rows = read_rows(out)
    assert count == 6
    assert rows[0] == ["path", "class"]
    assert [row[0] for row in rows[1:]] == [f"test/{index:04d}.jpg" for index in range(6)]
    assert {row[1] for row in rows[1:]} <= {"Golden_Oriole", "Lemon_Dove", "Scarlet_Tanager"}
    assert "predict: 6/6 images (100%)" in progress.getvalue()
    assert [p.name for p in out.parent.iterdir()] == ["predictions.csv"]


def test_predict_command_finds_run_by_name(make_run, tiny_dataset, tmp_path, monkeypatch):
    # Integer-named class folders, as in the 555-species Kaggle set, keep their ids in predictions.
    numbered = write_demo_dataset(tmp_path / "numbered", classes=2, train_per_class=5, test_count=3, size=32, numbered=True)
    run_dir = make_run("numbered-run", root=numbered / "train")
    assert run_worker(run_dir, stop=StopFlag()) == 0
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "predictions.csv"
    monkeypatch.chdir(tmp_path)  # the default --runs is runs/ beside ./experiments.toml

    args = parser.parse_args(["predict", "numbered-run", "--images", str(numbered / "test"), "--out", str(out)])
    assert args.func(args) == 0

    rows = read_rows(out)
    assert len(rows) == 4
    assert {row[1] for row in rows[1:]} <= {"0", "1"}


def test_predict_errors(make_run, tiny_dataset, tmp_path):
    untrained = make_run("untrained")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "predictions.csv")

    with pytest.raises(RunError, match="run 'no-such-run' not found"):
        predict_run("no-such-run", str(tiny_dataset / "test"), out, runs_dir=str(tmp_path / "runs"))
    with pytest.raises(CheckpointError, match="has no checkpoint"):
        predict_run(str(untrained), str(tiny_dataset / "test"), out)

    trained = make_run("trained")
    assert run_worker(trained, stop=StopFlag()) == 0
    with pytest.raises(DataError, match="no image files found"):
        predict_run(str(trained), str(empty), out, progress=None)
    with pytest.raises(DataError, match="images folder not found"):
        predict_run(str(trained), str(tmp_path / "missing"), out, progress=None)


def test_predict_duplicate_file_names_rejected(tmp_path):
    folder = tmp_path / "test"
    files = [folder / "a" / "0001.jpg", folder / "b" / "0001.jpg"]

    with pytest.raises(DataError, match="both be written as test/0001.jpg") as caught:
        kaggle_paths(folder, files)
    assert "fix: pass --keep-subfolders" in str(caught.value)


def test_predict_keep_subfolders_same_names(make_run, tiny_dataset, tmp_path, monkeypatch):
    # The train folder repeats 0000.jpg in every class folder.
    run_dir = make_run("trained")
    assert run_worker(run_dir, stop=StopFlag()) == 0
    out = tmp_path / "predictions.csv"
    monkeypatch.chdir(tmp_path)
    images = str(tiny_dataset / "train")

    with pytest.raises(DataError, match="--keep-subfolders"):
        args = parse_predict("trained", "--images", images, "--out", str(out))
        args.func(args)
    args = parse_predict("trained", "--images", images, "--out", str(out), "--keep-subfolders")
    assert args.func(args) == 0

    paths = [row[0] for row in read_rows(out)[1:]]
    assert len(paths) == 30
    assert len(set(paths)) == 30
    assert "train/Golden_Oriole/0000.jpg" in paths


def parse_predict(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["predict", *argv])


def test_predict_finds_runs_beside_config(make_run, tiny_dataset, tmp_path, monkeypatch):
    run_dir = make_run("trained")
    assert run_worker(run_dir, stop=StopFlag()) == 0
    config = tmp_path / "experiments.toml"
    config.write_text('[[experiments]]\nname = "trained"\n\n[[experiments]]\nname = "never"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = elsewhere / "predictions.csv"

    args = parse_predict("trained", "--config", str(config), "--images", str(tiny_dataset / "test"), "--out", str(out))
    assert args.func(args) == 0
    assert len(read_rows(out)) == 7

    never = parse_predict("never", "--config", str(config), "--images", str(tiny_dataset / "test"), "--out", str(out))
    with pytest.raises(RunError, match="experiment 'never' has no run in .* yet\n  fix: launch it with `birdtui launch never`"):
        never.func(never)

    missing = parse_predict("trained", "--config", str(tmp_path / "nonexist.toml"), "--images", str(tiny_dataset / "test"), "--out", str(out))
    with pytest.raises(ConfigError, match="experiments file not found"):
        missing.func(missing)


def test_predict_damaged_best_checkpoint_has_fix(make_run, tiny_dataset, tmp_path):
    run_dir = make_run("damaged")
    assert run_worker(run_dir, stop=StopFlag()) == 0
    best = run_dir / "checkpoints" / "best.pt"
    data = best.read_bytes()
    # best.pt may be a hard link of an epoch checkpoint, which must stay whole.
    best.unlink()
    best.write_bytes(data[: len(data) // 2])

    with pytest.raises(CheckpointError) as caught:
        predict_run(str(run_dir), str(tiny_dataset / "test"), str(tmp_path / "p.csv"), progress=None)

    reason, fix = str(caught.value).split("\n")
    assert reason.startswith(f"cannot read checkpoint {best} (")
    assert "PytorchStreamReader" in reason
    assert fix.startswith("  fix: the file is damaged")


def test_predict_never_creates_output_folders(make_run, tiny_dataset, tmp_path):
    run_dir = make_run("untrained")
    out = tmp_path / "nonexist" / "dir" / "p.csv"

    with pytest.raises(BirdtuiError, match="folder .*nonexist/dir not found\n  fix: create the folder first"):
        predict_run(str(run_dir), str(tiny_dataset / "test"), str(out), progress=None)

    assert not (tmp_path / "nonexist").exists()
