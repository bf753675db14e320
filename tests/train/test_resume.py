"""A run killed mid-way and resumed trains exactly like an uninterrupted one with the same seed."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from birdtui.metrics import read_records
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


def replayed_log(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply the readers' resume rule: a resumed start drops the records of its epoch and later ones."""
    surviving: list[dict[str, Any]] = []
    for record in records:
        resumed = record["type"] == "start" and record["resumed_from"]
        if resumed:
            first_epoch = record["resumed_from"]["epoch"]
            surviving = [r for r in surviving if r["type"] != "end" and r.get("epoch", -1) < first_epoch]
        surviving.append(record)
    return surviving


def trajectory(records: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """The values that must not depend on an interruption: losses, accuracies and every LR."""
    by_type: dict[str, list[tuple]] = {"step": [], "lr": [], "epoch": [], "end": []}
    for r in records:
        if r["type"] == "step":
            by_type["step"].append((r["epoch"], r["step"], r["loss"], r["lr"]))
        elif r["type"] == "lr":
            by_type["lr"].append((r["epoch"], r["step"], r["old"], r["new"], r["reason"]))
        elif r["type"] == "epoch":
            by_type["epoch"].append((r["epoch"], r["step"], r["train_loss"], r["train_acc"], r["val_loss"], r["val_acc"], r["lr"]))
        elif r["type"] == "end":
            by_type["end"].append((r["status"], r["epoch"], r["step"], r["best_val_acc"]))
    return by_type


def interrupt_resume_and_compare(interrupted: Path, uninterrupted: Path, workers, kill_after_epoch: int) -> list[dict[str, Any]]:
    """Kill a run after its checkpoint of `kill_after_epoch`, resume it, and compare it with an uninterrupted run.

    Returns the interrupted run's log.
    """
    process = workers.start(interrupted)
    workers.wait_for_record(interrupted, lambda r: r["type"] == "checkpoint" and r["epoch"] == kill_after_epoch)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143, workers.stderr(interrupted)
    assert read_records(interrupted / "metrics.jsonl")[-1]["status"] == "killed"

    # The uninterrupted run trains in this process while the resumed one runs beside it.
    resumed = workers.start(interrupted, "--resume")
    assert run_worker(uninterrupted, stop=StopFlag()) == 0
    assert resumed.wait(timeout=120) == 0, workers.stderr(interrupted)

    records = read_records(interrupted / "metrics.jsonl")
    expected = trajectory(read_records(uninterrupted / "metrics.jsonl"))
    actual = trajectory(replayed_log(records))
    assert actual["step"] == expected["step"]
    assert actual["lr"] == expected["lr"]
    assert actual["epoch"] == expected["epoch"]
    assert actual["end"] == expected["end"]
    return records


def test_resume_across_piecewise_boundary(make_run, workers):
    settings = {"epochs": 4, "schedule.type": "piecewise", "schedule.lr_by_epoch": {0: 0.05, 2: 0.005}}
    interrupted = make_run("interrupted", **settings)
    uninterrupted = make_run("uninterrupted", **settings)

    records = interrupt_resume_and_compare(interrupted, uninterrupted, workers, kill_after_epoch=0)

    resumed_start = [r for r in records if r["type"] == "start"][-1]
    first_epoch = resumed_start["resumed_from"]["epoch"]
    # The kill landed before the LR drop at epoch 2, so the resumed run had to make it.
    assert 1 <= first_epoch <= 2
    assert resumed_start["resumed_from"]["checkpoint"] == f"checkpoints/epoch-{first_epoch - 1:04d}.pt"
    drops = [r for r in records[records.index(resumed_start):] if r["type"] == "lr"]
    assert [(d["epoch"], d["old"], d["new"]) for d in drops] == [(2, 0.05, 0.005)]
    assert "resuming from checkpoints/epoch-" in workers.stderr(interrupted)


def test_resume_keeps_plateau_state(make_run, workers):
    # No epoch beats the best val_loss by 1e9, so with patience 1 the LR halves after epochs 2 and 4.
    settings = {
        "epochs": 5,
        "schedule.type": "plateau",
        "schedule.monitor": "val_loss",
        "schedule.patience": 1,
        "schedule.factor": 0.5,
        "schedule.threshold_mode": "abs",
        "schedule.threshold": 1e9,
    }
    interrupted = make_run("interrupted", **settings)
    uninterrupted = make_run("uninterrupted", **settings)

    records = interrupt_resume_and_compare(interrupted, uninterrupted, workers, kill_after_epoch=2)

    expected_drops = [r for r in read_records(uninterrupted / "metrics.jsonl") if r["type"] == "lr"]
    assert [(d["epoch"], d["epoch_progress"], d["new"], d["reason"]) for d in expected_drops] == [
        (2, 3.0, 0.025, "plateau"),
        (4, 5.0, 0.0125, "plateau"),
    ]
    resumed_start = [r for r in records if r["type"] == "start"][-1]
    # Resumed at epoch 3 or 4, the drop after epoch 2 comes from the killed run's log.
    # The drop after epoch 4 needs the best value and bad-epoch count from the checkpoint,
    # because a fresh plateau state would count epoch 3 as an improvement.
    assert resumed_start["resumed_from"]["epoch"] in (3, 4)
