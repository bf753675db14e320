"""Folding a metrics log into a run summary, whole or incrementally, across resumes."""

from __future__ import annotations

import math

import pytest

from birdtui.metrics import encode_record
from birdtui.runs import RunSummary, summarize_run
from birdtui.runs.state import RunState, write_state


def start(time, epochs=3, resumed_epoch=None):
    resumed = None if resumed_epoch is None else {"checkpoint": "epoch-0001.pt", "epoch": resumed_epoch}
    return {"type": "start", "time": time, "device": "cuda:0", "epochs": epochs, "lr": 0.1, "resumed_from": resumed}


def step(time, epoch, step_number, loss, lr=0.1):
    return {"type": "step", "time": time, "epoch": epoch, "step": step_number, "epoch_progress": epoch + 0.5, "loss": loss, "lr": lr}


def epoch_end(time, epoch, step_number, train_loss, val_acc, val_loss=1.0):
    return {
        "type": "epoch", "time": time, "epoch": epoch, "step": step_number, "train_loss": train_loss,
        "train_acc": 0.5, "val_loss": val_loss, "val_acc": val_acc, "val_top5": 1.0, "lr": 0.1,
        "seconds": 9.0, "images_per_sec": 120.0 + epoch,
    }


TWO_EPOCHS = [
    start(100.0),
    step(105.0, 0, 5, 2.0),
    epoch_end(110.0, 0, 10, 1.8, 0.40, val_loss=1.6),
    step(115.0, 1, 15, 1.2),
    {"type": "lr", "time": 118.0, "epoch": 1, "step": 18, "old": 0.1, "new": 0.01, "reason": "plateau"},
    epoch_end(120.0, 1, 20, 1.1, 0.35, val_loss=1.4),
]


def test_fold_of_two_epochs():
    summary = RunSummary()
    summary.update(TWO_EPOCHS)

    assert summary.status == "running"
    assert (summary.epoch, summary.epochs, summary.steps) == (2, 3, 15)
    assert summary.last_train_loss == 1.2
    assert summary.train_loss == 1.1
    assert summary.best_train_loss == 1.1
    assert summary.best_val_acc == 0.40
    assert summary.last_val_acc == 0.35
    assert summary.last_val_loss == 1.4
    assert summary.lr == 0.1
    assert summary.images_per_sec == 121.0
    assert summary.elapsed == 20.0
    assert summary.device == "cuda:0"
    # 2 of 3 epochs took 20 s, so about 10 s are left.
    assert summary.eta == pytest.approx(10.0)


def test_lr_record_sets_current_lr():
    summary = RunSummary()
    summary.update(TWO_EPOCHS[:5])
    assert summary.lr == 0.01


def test_incremental_matches_whole():
    whole = RunSummary()
    whole.update(TWO_EPOCHS)

    pieces = RunSummary()
    for record in TWO_EPOCHS:
        pieces.update([record])

    assert pieces == whole


def test_end_record_sets_status_and_error():
    summary = RunSummary()
    summary.update([*TWO_EPOCHS, {"type": "end", "time": 121.0, "status": "diverged", "epoch": 1, "step": 20, "error": "loss is NaN", "best_val_acc": 0.4}])

    assert summary.status == "diverged"
    assert summary.error == "loss is NaN"
    assert summary.eta is None


def test_resume_drops_replayed_epochs():
    summary = RunSummary()
    summary.update(TWO_EPOCHS)
    summary.update([{"type": "end", "time": 121.0, "status": "killed", "epoch": 1, "step": 20, "error": None, "best_val_acc": 0.4}])
    # The checkpoint contains epoch 0 only, so epoch 1 runs again.
    summary.update([start(200.0, resumed_epoch=1)])

    assert summary.status == "running"
    assert (summary.epoch, summary.steps) == (1, 5)
    assert summary.last_train_loss == 2.0
    assert summary.last_val_acc == 0.40

    summary.update([step(205.0, 1, 15, 0.9), epoch_end(210.0, 1, 20, 0.8, 0.5)])
    assert (summary.epoch, summary.best_train_loss, summary.best_val_acc) == (2, 0.8, 0.5)
    # 21 s before the resume and 10 s after it.
    assert summary.elapsed == 31.0


def test_non_finite_loss_is_not_best():
    summary = RunSummary()
    summary.update([start(0.0), epoch_end(1.0, 0, 4, 0.9, 0.2), epoch_end(2.0, 1, 8, math.nan, 0.1)])

    assert summary.best_train_loss == 0.9


def test_summarize_run_reads_log_and_state(tmp_path):
    with open(tmp_path / "metrics.jsonl", "w") as handle:
        handle.writelines(encode_record(record) for record in TWO_EPOCHS)
        # A record cut off by a crash has no newline; it must be ignored.
        handle.write('{"type": "step", "ti')
    write_state(tmp_path, RunState(run="r", experiment="r", attempt=1, status="lost", gpu="1", error="gone"))

    summary = summarize_run(tmp_path)

    assert summary.epoch == 2
    assert summary.status == "lost"
    assert summary.gpu == "1"
    assert summary.error == "gone"
    assert summary.eta is None


def test_summarize_run_without_log(tmp_path):
    summary = summarize_run(tmp_path)

    assert summary.status is None
    assert (summary.epoch, summary.steps, summary.best_val_acc) == (0, 0, None)


@pytest.mark.parametrize(
    "bad_record",
    [
        {"type": "epoch"},
        {"type": "epoch", "epoch": 1},
        {"type": "epoch", "epoch": "1", "val_loss": None},
        {"type": "step"},
        {"type": "step", "epoch": 1, "step": 19},
    ],
)
def test_record_missing_fields_keeps_earlier_values(bad_record):
    summary = RunSummary()
    summary.update([*TWO_EPOCHS, bad_record])

    assert summary.epoch == 2
    assert summary.last_val_loss == 1.4
    assert summary.best_val_acc == 0.40
    assert summary.images_per_sec == 121.0
    assert summary.last_train_loss == 1.2
    assert summary.steps == 15


def test_epoch_record_with_text_number_is_ignored():
    summary = RunSummary()
    bad = {"type": "epoch", "time": 121.0, "epoch": 2, "step": 30, "train_loss": 0.2, "val_loss": "abc", "val_acc": 0.9}
    summary.update([*TWO_EPOCHS, bad])

    assert summary.epoch == 2
    assert summary.train_loss == 1.1
    assert summary.last_val_loss == 1.4
    assert summary.best_val_acc == 0.40


def test_start_record_warnings_kept():
    summary = RunSummary()
    summary.update([{**start(100.0), "warnings": ["placed on GPU 0, trains on the CPU"]}])

    assert summary.warnings == ["placed on GPU 0, trains on the CPU"]


def test_start_without_warnings_clears_them():
    summary = RunSummary()
    summary.update([{**start(100.0), "warnings": ["old"]}, start(200.0, resumed_epoch=0)])

    assert summary.warnings == []
