"""Checkpoint files: atomic writes, retention, RNG state and falling back past a broken file."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from birdtui.errors import CheckpointError, RunError
from birdtui.metrics import read_records
from birdtui.train.checkpoint import (
    capture_rng_state,
    list_epoch_checkpoints,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    write_atomic,
)
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def draw_random_numbers() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_checkpoint_rng_state_round_trip():
    state = capture_rng_state()
    first = draw_random_numbers()

    restore_rng_state(state)

    assert draw_random_numbers() == first


def test_checkpoint_write_atomic_leaves_no_temp(tmp_path):
    target = tmp_path / "epoch-0000.pt"
    write_atomic(target, {"value": torch.arange(4)})
    write_atomic(target, {"value": torch.arange(5)})

    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0000.pt"]
    assert torch.load(target, weights_only=True)["value"].tolist() == [0, 1, 2, 3, 4]


def test_checkpoint_load_rejects_broken_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)

    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="not a birdtui checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_retention_and_best(make_run):
    run_dir = make_run(epochs=3, keep_checkpoints=2)

    assert run_worker(run_dir, stop=StopFlag()) == 0

    folder = run_dir / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best.pt", "epoch-0001.pt", "epoch-0002.pt"]
    epochs = [r for r in read_records(run_dir / "metrics.jsonl") if r["type"] == "epoch"]
    best_epoch = max(epochs, key=lambda e: e["val_acc"])["epoch"]  # max returns the first of equals
    best = load_checkpoint(folder / "best.pt")
    assert best["epoch"] == best_epoch
    assert best["best_val_acc"] == epochs[best_epoch]["val_acc"]
    assert best["classes"] == ["Golden_Oriole", "Lemon_Dove", "Scarlet_Tanager"]
    newest = load_checkpoint(folder / "epoch-0002.pt")
    assert (newest["epoch"], newest["step"]) == (2, 9)


def test_checkpoint_truncated_falls_back(make_run, capsys):
    run_dir = make_run(epochs=3, keep_checkpoints=2)
    assert run_worker(run_dir, stop=StopFlag()) == 0
    newest = run_dir / "checkpoints" / "epoch-0002.pt"
    truncate(newest)

    assert run_worker(run_dir, resume=True, stop=StopFlag()) == 0

    stderr = capsys.readouterr().err
    assert "skipping checkpoint" in stderr
    assert "epoch-0002.pt" in stderr
    records = read_records(run_dir / "metrics.jsonl")
    resumed_start = [r for r in records if r["type"] == "start"][-1]
    assert resumed_start["resumed_from"] == {"checkpoint": "checkpoints/epoch-0001.pt", "epoch": 2}
    resumed = records[records.index(resumed_start):]
    assert [r["epoch"] for r in resumed if r["type"] == "epoch"] == [2]
    assert resumed[-1]["status"] == "finished"
    assert load_checkpoint(newest)["epoch"] == 2  # rewritten whole by the resumed run


def test_checkpoint_all_broken_fails_resume(make_run, capsys):
    run_dir = make_run(epochs=1)
    assert run_worker(run_dir, stop=StopFlag()) == 0
    for path in (run_dir / "checkpoints").iterdir():
        truncate(path)

    assert run_worker(run_dir, resume=True, stop=StopFlag()) == 1

    end = read_records(run_dir / "metrics.jsonl")[-1]
    assert end["status"] == "failed"
    assert "could be loaded" in end["error"]
    assert "launch a fresh run" in capsys.readouterr().err


def test_checkpoint_resume_without_any_starts_over(make_run, capsys):
    run_dir = make_run(epochs=1)

    assert run_worker(run_dir, resume=True, stop=StopFlag()) == 0

    records = read_records(run_dir / "metrics.jsonl")
    assert records[0]["type"] == "start"
    assert records[0]["resumed_from"] is None
    assert records[-1]["status"] == "finished"
    assert "no checkpoint" in capsys.readouterr().err
    assert [p.name for p in list_epoch_checkpoints(run_dir / "checkpoints")] == ["epoch-0000.pt"]


def test_checkpoint_keeps_deleted_folder_gone(tmp_path):
    run_dir = tmp_path / "runs" / "gone"

    with pytest.raises(RunError, match="was deleted; stopping without re-creating it"):
        save_checkpoint(run_dir / "checkpoints", 0, {"epoch": 0}, keep=2, is_best=True)

    assert not run_dir.exists()


def test_worker_stops_on_deleted_folder(make_run, workers):
    run_dir = make_run("doomed", epochs=40)
    process = workers.start(run_dir)
    workers.wait_for_record(run_dir, lambda record: record["type"] == "checkpoint")

    # The worker may add a file while the tree is removed, so remove until it is gone.
    deadline = time.monotonic() + 30
    while run_dir.exists() and time.monotonic() < deadline:
        shutil.rmtree(run_dir, ignore_errors=True)

    assert process.wait(timeout=60) == RunError.exit_code
    assert not run_dir.exists()
