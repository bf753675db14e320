"""RunSeries: folding metrics records into plot series."""

from __future__ import annotations

import math
from typing import Any

from birdtui.metrics import MetricsWriter, read_records
from birdtui.metrics.series import LrChange, RunSeries, format_lr_change

STEPS_PER_EPOCH = 4


def start(**fields: Any) -> dict[str, Any]:
    record = {"type": "start", "run": "r18", "epochs": 4, "steps_per_epoch": STEPS_PER_EPOCH, "resumed_from": None}
    return {**record, **fields}


def step(number: int, loss: float, lr: float = 0.1) -> dict[str, Any]:
    epoch = (number - 1) // STEPS_PER_EPOCH
    progress = number / STEPS_PER_EPOCH
    return {"type": "step", "epoch": epoch, "step": number, "epoch_progress": progress, "loss": loss, "lr": lr}


def epoch_end(epoch: int, val_loss: float = 1.0, val_acc: float = 0.5, train_loss: float = 1.1) -> dict[str, Any]:
    return {
        "type": "epoch", "epoch": epoch, "step": (epoch + 1) * STEPS_PER_EPOCH, "train_loss": train_loss,
        "train_acc": 0.4, "val_loss": val_loss, "val_acc": val_acc, "val_top5": 1.0, "lr": 0.1,
    }


def lr_change(epoch: int, old: float, new: float, reason: str = "schedule") -> dict[str, Any]:
    return {"type": "lr", "epoch": epoch, "step": epoch * STEPS_PER_EPOCH, "old": old, "new": new, "reason": reason}


def test_update_folds_steps_and_epochs() -> None:
    series = RunSeries("r18")

    changed, lr_changes = series.update([start(), step(1, 2.0), step(2, 1.5), epoch_end(0)])

    assert changed
    assert lr_changes == []
    x, y = series.step_loss("step")
    assert x.tolist() == [1.0, 2.0]
    assert y.tolist() == [2.0, 1.5]
    x, y = series.step_loss("epoch")
    assert x.tolist() == [0.25, 0.5]
    assert series.status == "running"


def test_update_without_records_unchanged() -> None:
    series = RunSeries("r18")
    series.update([start()])
    version = series.version

    changed, _ = series.update([])
    assert not changed
    assert series.version == version

    changed, _ = series.update([{"type": "checkpoint", "epoch": 0, "path": "x.pt", "best": True}])
    assert not changed


def test_update_reports_new_lr_changes_once() -> None:
    series = RunSeries("r18")

    _, first = series.update([start(), step(1, 2.0), lr_change(1, 0.1, 0.01)])
    _, second = series.update([step(5, 1.0, lr=0.01)])

    assert first == [LrChange(epoch=1, step=4, old=0.1, new=0.01, reason="schedule")]
    assert second == []
    assert series.lr_changes == first


def test_format_lr_change_text() -> None:
    change = LrChange(epoch=3, step=120, old=0.01, new=0.001, reason="plateau")

    assert format_lr_change("r18", change) == "r18: LR 0.01 -> 0.001 at epoch 3 (plateau)"


def test_nan_loss_stays_at_its_epoch() -> None:
    series = RunSeries("r18")
    records = [start(), step(1, 2.0), step(2, 1.9), step(5, math.nan), step(6, math.inf), step(7, 1.2), epoch_end(1, val_loss=math.nan)]

    series.update(records)

    x, y = series.step_loss("step")
    assert x.tolist() == [1.0, 2.0, 7.0]
    assert y.tolist() == [2.0, 1.9, 1.2]
    x, y = series.step_loss("epoch")
    assert x.tolist() == [0.25, 0.5, 1.75]
    # The raw series still counts the non-finite records.
    assert series.step_count == 5

    assert [(p.field, p.step, p.epoch) for p in series.non_finite] == [("loss", 5, 1), ("loss", 6, 1), ("val_loss", 8, 1)]
    assert math.isnan(series.non_finite[0].value)
    assert series.non_finite[1].value == math.inf
    assert series.non_finite_x(series.non_finite[0], "epoch") == 1.25
    assert series.diverged
    assert series.status == "diverged"


def test_missing_values_keep_their_epoch() -> None:
    series = RunSeries("r18")
    no_val = {"type": "epoch", "epoch": 0, "step": 4, "train_loss": 1.0}

    series.update([start(), no_val, epoch_end(1, val_loss=0.8), {"type": "step", "epoch": 2, "step": 9}])

    x, y = series.epoch_values("val_loss", "epoch")
    assert x.tolist() == [2.0]
    assert y.tolist() == [0.8]
    x, y = series.epoch_values("train_loss", "step")
    assert x.tolist() == [4.0, 8.0]
    # A missing value is not a divergence.
    assert series.non_finite == []
    assert series.step_loss()[0].size == 0


def test_epoch_progress_missing_uses_steps_per_epoch() -> None:
    series = RunSeries("r18")

    series.update([start(), {"type": "step", "epoch": 1, "step": 6, "loss": 1.0, "lr": 0.1}])

    x, _ = series.step_loss("epoch")
    assert x.tolist() == [1.5]


def test_resume_drops_replayed_epochs() -> None:
    series = RunSeries("r18")
    first_segment = [start(), *(step(n, 3.0 - n * 0.1) for n in range(1, 11)), epoch_end(0), epoch_end(1)]
    first_segment.insert(6, lr_change(1, 0.1, 0.05))
    first_segment.append(lr_change(2, 0.05, 0.01))
    first_segment.append({"type": "end", "status": "killed", "epoch": 2, "step": 10, "error": None, "best_val_acc": 0.5})
    series.update(first_segment)
    assert series.status == "killed"

    resumed = start(resumed_from={"checkpoint": "checkpoints/epoch-0000.pt", "epoch": 1})
    series.update([resumed, step(5, 0.7), step(6, 0.6)])

    x, y = series.step_loss("step")
    assert x.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert y.tolist()[4:] == [0.7, 0.6]
    assert [point.epoch for point in series.epochs()] == [0]
    assert [change.epoch for change in series.lr_changes] == []
    assert series.status == "running"
    assert series.end_status is None


def test_resume_in_same_batch_drops_reported_change() -> None:
    series = RunSeries("r18")
    resumed = start(resumed_from={"checkpoint": "c.pt", "epoch": 1})

    _, changes = series.update([start(), step(1, 1.0), lr_change(1, 0.1, 0.01), resumed, lr_change(2, 0.1, 0.02)])

    assert [change.new for change in changes] == [0.02]


def test_resume_drops_non_finite_of_replayed_epoch() -> None:
    series = RunSeries("r18")
    series.update([start(), step(1, 1.0), step(5, math.nan)])
    assert series.diverged

    series.update([start(resumed_from={"checkpoint": "c.pt", "epoch": 1}), step(5, 0.9)])

    assert series.non_finite == []
    assert not series.diverged


def test_planned_drops_from_start_record() -> None:
    series = RunSeries("r18")

    series.update([start(planned_lr_drops=[[3, 0.001], [2, 0.01]])])
    assert series.planned_lr_drops == [(2, 0.01), (3, 0.001)]
    assert series.planned_drop_x(2, "step") == 8.0
    assert series.planned_drop_x(2, "epoch") == 2.0

    series.update([lr_change(2, 0.1, 0.01)])
    assert series.planned_lr_drops == [(3, 0.001)]

    series.update([{"type": "end", "status": "finished", "epoch": 3, "step": 16, "error": None, "best_val_acc": 0.9}])
    assert series.planned_lr_drops == []


def test_planned_drops_from_piecewise_config() -> None:
    config = {"schedule": {"type": "piecewise", "lr_by_epoch": {"0": 0.1, "5": 0.001, "2": 0.01}}}
    series = RunSeries("r18")

    series.update([start(config=config)])

    assert series.planned_lr_drops == [(2, 0.01), (5, 0.001)]


def test_lr_change_x_on_both_axes() -> None:
    series = RunSeries("r18")
    series.update([start(), {"type": "lr", "epoch": 1, "step": 8, "old": 0.1, "new": 0.01, "reason": "plateau"}])
    change = series.lr_changes[0]

    assert series.lr_change_x(change, "step") == 8.0
    # A plateau drop decided after epoch 1 takes effect at 2.0 epochs, where its step is.
    assert series.lr_change_x(change, "epoch") == 2.0


def test_step_lr_series() -> None:
    series = RunSeries("r18")
    series.update([start(), step(1, 1.0, lr=0.1), step(2, 1.0, lr=0.01)])

    x, y = series.step_lr("step")

    assert x.tolist() == [1.0, 2.0]
    assert y.tolist() == [0.1, 0.01]


def test_clear_forgets_everything() -> None:
    series = RunSeries("r18")
    series.update([start(), step(1, 1.0), lr_change(1, 0.1, 0.01)])
    version = series.version

    series.clear()

    assert series.step_count == 0
    assert series.lr_changes == []
    assert series.status == "waiting"
    assert series.version > version


def test_series_from_written_log(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    with MetricsWriter(path) as writer:
        writer.write("start", **{k: v for k, v in start().items() if k != "type"})
        writer.write("step", epoch=0, step=1, epoch_progress=0.25, loss=math.nan, lr=0.1)
        writer.write("step", epoch=0, step=2, epoch_progress=0.5, loss=1.5, lr=0.1)
    series = RunSeries("r18")

    series.update(read_records(path))

    x, y = series.step_loss()
    assert x.tolist() == [2.0]
    assert y.tolist() == [1.5]
    assert series.non_finite[0].step == 1


def test_resume_keeps_plateau_drop_before_checkpoint() -> None:
    # The worker logs a plateau drop decided after epoch 0 with epoch 1, the
    # first epoch that uses it, and then writes epoch 0's checkpoint.
    plateau = {"type": "lr", "epoch": 1, "step": 4, "epoch_progress": 1.0, "old": 0.1, "new": 0.01, "reason": "plateau"}
    checkpoint = {"type": "checkpoint", "epoch": 0, "path": "checkpoints/epoch-0000.pt", "best": True}
    later = {"type": "lr", "epoch": 2, "step": 8, "epoch_progress": 2.0, "old": 0.01, "new": 0.001, "reason": "plateau"}
    series = RunSeries("r18")
    series.update([start(), step(4, 1.0), epoch_end(0), plateau, checkpoint, step(8, 0.9), epoch_end(1), later])

    series.update([start(resumed_from={"checkpoint": "checkpoints/epoch-0000.pt", "epoch": 1})])

    assert [change.new for change in series.lr_changes] == [0.01]
    assert series.lr_change_x(series.lr_changes[0], "epoch") == 1.0


def test_format_lr_change_plateau_names_next_epoch() -> None:
    # The worker logs a plateau drop with the epoch that decided it and the
    # epoch_progress where the new LR starts; the text names the latter.
    change = LrChange(epoch=2, step=96, old=0.01, new=0.001, reason="plateau", epoch_progress=3.0)

    assert format_lr_change("r18", change) == "r18: LR 0.01 -> 0.001 at epoch 3 (plateau)"
