"""A run's plot data, folded incrementally from its metrics records.

`RunSeries.update` takes the records a `JsonlTailer` returns and appends them
to per-step and per-epoch series. Each y value is stored next to its own x
(step, epoch progress or epoch), so a missing or non-finite value never moves
a later point to another epoch. Non-finite losses stay in the raw series and
are dropped only when a series is read for plotting. `non_finite` lists where
they happened, and the plot labels that place as the point of divergence.

On resume the worker appends a new start record whose `resumed_from.epoch`
is the first epoch it replays. The fold drops the earlier records of that
epoch and later ones before it takes the new ones.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from birdtui.metrics.reduce import finite_points


@dataclass(frozen=True)
class LrChange:
    """One learning-rate change, from an `lr` record."""

    epoch: int
    # Global optimizer step of the change, or None when the record has none.
    step: int | None
    old: float
    new: float
    reason: str
    # Epochs done when the new LR is first used; None in logs that lack it.
    epoch_progress: float | None = None


@dataclass(frozen=True)
class NonFinitePoint:
    """A loss value that was NaN or infinite, and where it was logged."""

    field: str
    value: float
    epoch: int
    # Global step of a step record, or the step an epoch record ended on.
    step: int | None
    epoch_progress: float


@dataclass
class EpochPoint:
    """The per-epoch values of one `epoch` record, with NaN for absent fields."""

    epoch: int
    step: int | None
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float


class SeriesUpdate(NamedTuple):
    """The outcome of one `RunSeries.update` call.

    Unpack it (`changed, lr_changes = series.update(records)`): as a tuple it
    is always truthy, whatever `changed` is.
    """

    changed: bool
    # LR changes found in this batch, in log order, for a notification each.
    lr_changes: list[LrChange]


@dataclass
class _StepColumns:
    """Parallel arrays of the step records: the i-th entry of each is one record."""

    step: array = field(default_factory=lambda: array("d"))
    epoch: array = field(default_factory=lambda: array("d"))
    progress: array = field(default_factory=lambda: array("d"))
    loss: array = field(default_factory=lambda: array("d"))
    lr: array = field(default_factory=lambda: array("d"))

    def __len__(self) -> int:
        return len(self.step)

    def truncate(self, size: int) -> None:
        for column in (self.step, self.epoch, self.progress, self.loss, self.lr):
            del column[size:]


def format_lr_change(run: str, change: LrChange) -> str:
    """Return the notification text for an LR change, such as 'r18: LR 0.01 -> 0.001 at epoch 3 (schedule)'.

    The epoch is the 0-based epoch that first trains with the new LR, as in a
    piecewise table. A plateau drop is logged at the end of the epoch that
    decided it, so its `epoch_progress` names the epoch it takes effect in.
    """
    epoch = change.epoch
    if change.epoch_progress is not None and math.isfinite(change.epoch_progress):
        epoch = math.floor(change.epoch_progress)
    return f"{run}: LR {change.old:g} -> {change.new:g} at epoch {epoch} ({change.reason})"


def _number(record: dict[str, Any], key: str) -> float:
    """Return a numeric field as a float; a missing or non-numeric field is NaN."""
    value = record.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _integer(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


class RunSeries:
    """The plot data of one run, kept up to date by `update`."""

    def __init__(self, run: str) -> None:
        self.run = run
        # Incremented by every update that changed the data, so a view can
        # tell whether it has drawn the latest data.
        self.version = 0
        self.clear()

    def clear(self) -> None:
        """Forget every record, for a log that was replaced or truncated."""
        self._steps = _StepColumns()
        self._epochs: dict[int, EpochPoint] = {}
        self.lr_changes: list[LrChange] = []
        # len(lr_changes) when each epoch's checkpoint record arrived, by epoch.
        self._lr_change_count_at_checkpoint: dict[int, int] = {}
        self.non_finite: list[NonFinitePoint] = []
        # Piecewise-schedule LR changes still to come, as (epoch, new LR).
        self.planned_lr_drops: list[tuple[int, float]] = []
        self.steps_per_epoch: int | None = None
        self.planned_epochs: int | None = None
        self.started = False
        # The end record's status (finished, killed, diverged, failed); None while running.
        self.end_status: str | None = None
        self.end_error: str | None = None
        self.version += 1

    # -- folding records -------------------------------------------------

    def update(self, records: Iterable[dict[str, Any]]) -> SeriesUpdate:
        """Fold new records into the series; return whether anything changed and the new LR changes."""
        changed = False
        new_lr_changes: list[LrChange] = []
        for record in records:
            kind = record.get("type")
            if kind == "step":
                self._add_step(record)
            elif kind == "epoch":
                self._add_epoch(record)
            elif kind == "lr":
                change = self._add_lr_change(record)
                new_lr_changes.append(change)
            elif kind == "start":
                self._start(record)
                # A resume can drop LR changes reported earlier in this batch.
                new_lr_changes = [change for change in new_lr_changes if change in self.lr_changes]
            elif kind == "end":
                self._end(record)
            elif kind == "checkpoint" and isinstance(record.get("epoch"), int):
                self._lr_change_count_at_checkpoint[record["epoch"]] = len(self.lr_changes)
                continue
            else:
                # Unknown record types carry nothing to plot.
                continue
            changed = True

        if changed:
            self.version += 1
        return SeriesUpdate(changed, new_lr_changes)

    def _add_step(self, record: dict[str, Any]) -> None:
        epoch = _number(record, "epoch")
        step = _number(record, "step")
        progress = _number(record, "epoch_progress")
        if math.isnan(progress):
            progress = self._progress_of(step, epoch)
        loss = _number(record, "loss")

        columns = self._steps
        columns.step.append(step)
        columns.epoch.append(epoch)
        columns.progress.append(progress)
        columns.loss.append(loss)
        columns.lr.append(_number(record, "lr"))

        if not math.isfinite(loss) and "loss" in record:
            self._mark_non_finite("loss", loss, epoch, _integer(record, "step"), progress)

    def _add_epoch(self, record: dict[str, Any]) -> None:
        epoch = _integer(record, "epoch")
        if epoch is None:
            return
        point = EpochPoint(
            epoch=epoch,
            step=_integer(record, "step"),
            train_loss=_number(record, "train_loss"),
            train_acc=_number(record, "train_acc"),
            val_loss=_number(record, "val_loss"),
            val_acc=_number(record, "val_acc"),
            lr=_number(record, "lr"),
        )
        self._epochs[epoch] = point

        for name in ("train_loss", "val_loss"):
            value = getattr(point, name)
            if not math.isfinite(value) and name in record:
                self._mark_non_finite(name, value, epoch, point.step, float(epoch + 1))

    def _add_lr_change(self, record: dict[str, Any]) -> LrChange:
        progress = _number(record, "epoch_progress")
        change = LrChange(
            epoch=_integer(record, "epoch") or 0,
            step=_integer(record, "step"),
            old=_number(record, "old"),
            new=_number(record, "new"),
            reason=str(record.get("reason", "unknown")),
            epoch_progress=progress if math.isfinite(progress) else None,
        )
        self.lr_changes.append(change)
        self.planned_lr_drops = [drop for drop in self.planned_lr_drops if drop[0] > change.epoch]
        return change

    def _start(self, record: dict[str, Any]) -> None:
        resumed_from = record.get("resumed_from")
        if isinstance(resumed_from, dict) and isinstance(resumed_from.get("epoch"), int):
            self._drop_from_epoch(resumed_from["epoch"])
            self._drop_lr_changes_from_epoch(resumed_from["epoch"])

        self.started = True
        self.end_status = None
        self.end_error = None
        self.steps_per_epoch = _integer(record, "steps_per_epoch") or self.steps_per_epoch
        self.planned_epochs = _integer(record, "epochs") or self.planned_epochs

        done = max(self._epochs, default=-1)
        ahead = [drop for drop in _planned_drops(record) if drop[0] > done]
        self.planned_lr_drops = ahead

    def _end(self, record: dict[str, Any]) -> None:
        self.end_status = str(record.get("status", "finished"))
        error = record.get("error")
        self.end_error = str(error) if error else None
        self.planned_lr_drops = []

    def _drop_from_epoch(self, epoch: int) -> None:
        """Drop the steps, epochs and non-finite marks of `epoch` and later, which the resumed run replays."""
        epochs = self._steps.epoch
        keep = len(epochs)
        while keep > 0 and epochs[keep - 1] >= epoch:
            keep -= 1
        self._steps.truncate(keep)

        self._epochs = {number: point for number, point in self._epochs.items() if number < epoch}
        self.non_finite = [point for point in self.non_finite if point.epoch < epoch]

    def _drop_lr_changes_from_epoch(self, epoch: int) -> None:
        """Keep the LR changes the resumed checkpoint already contains.

        A plateau drop decided at the end of epoch k - 1 is logged before epoch
        k - 1's checkpoint, with epoch k - 1 and epoch_progress k. The resumed
        run starts with that LR and does not log the drop again. So the count
        of changes at that checkpoint record is the cut, and logs without the
        checkpoint record fall back to the epoch field.
        """
        count = self._lr_change_count_at_checkpoint.get(epoch - 1)
        if count is None:
            self.lr_changes = [change for change in self.lr_changes if change.epoch < epoch]
        else:
            del self.lr_changes[count:]
        self._lr_change_count_at_checkpoint = {
            number: count for number, count in self._lr_change_count_at_checkpoint.items() if number < epoch
        }

    def _mark_non_finite(self, name: str, value: float, epoch: float, step: int | None, progress: float) -> None:
        epoch_number = int(epoch) if math.isfinite(epoch) else 0
        self.non_finite.append(NonFinitePoint(name, value, epoch_number, step, progress))

    def _progress_of(self, step: float, epoch: float) -> float:
        """Estimate epoch progress from the step when the record lacks `epoch_progress`."""
        if self.steps_per_epoch and math.isfinite(step):
            return step / self.steps_per_epoch
        return epoch

    # -- reading series for plotting ---------------------------------------

    @property
    def status(self) -> str:
        """Run status as the plot shows it: waiting (no start record yet), running, finished, killed, failed or diverged."""
        if self.end_status:
            return self.end_status
        if self.non_finite:
            return "diverged"
        return "running" if self.started else "waiting"

    @property
    def diverged(self) -> bool:
        return self.end_status == "diverged" or bool(self.non_finite)

    @property
    def step_count(self) -> int:
        """Number of step records held, finite or not."""
        return len(self._steps)

    def step_loss(self, x_axis: str = "step") -> tuple[np.ndarray, np.ndarray]:
        """Return the finite step losses against `x_axis`: 'step' or 'epoch' (epoch progress)."""
        return finite_points(self._step_x(x_axis), self._steps.loss)

    def step_lr(self, x_axis: str = "step") -> tuple[np.ndarray, np.ndarray]:
        """Return the finite LR of each step record against `x_axis`."""
        return finite_points(self._step_x(x_axis), self._steps.lr)

    def epochs(self) -> list[EpochPoint]:
        """Return the epoch records in epoch order, one per epoch."""
        return [self._epochs[number] for number in sorted(self._epochs)]

    def epoch_values(self, name: str, x_axis: str = "epoch") -> tuple[np.ndarray, np.ndarray]:
        """Return one EpochPoint field (such as 'val_loss') per epoch, finite values only.

        An epoch's values are measured when it ends, so x is the epoch record's
        step on the 'step' axis and epoch + 1 (epochs completed) on the 'epoch' axis.
        """
        points = self.epochs()
        xs = [self._epoch_end_x(point, x_axis) for point in points]
        return finite_points(xs, [getattr(point, name) for point in points])

    def _epoch_end_x(self, point: EpochPoint, x_axis: str) -> float:
        if x_axis == "epoch":
            return float(point.epoch + 1)
        if x_axis != "step":
            raise ValueError(f"x axis must be 'step' or 'epoch', got {x_axis!r}")
        if point.step is not None:
            return float(point.step)
        return float((point.epoch + 1) * self.steps_per_epoch) if self.steps_per_epoch else math.nan

    def lr_change_x(self, change: LrChange, x_axis: str = "step") -> float:
        """Return where an LR change sits on `x_axis`."""
        if x_axis == "step":
            if change.step is not None:
                return float(change.step)
            return float(change.epoch * self.steps_per_epoch) if self.steps_per_epoch else math.nan
        if change.epoch_progress is not None:
            return change.epoch_progress
        if change.step is not None and self.steps_per_epoch:
            return change.step / self.steps_per_epoch
        return float(change.epoch)

    def planned_drop_x(self, epoch: int, x_axis: str = "step") -> float:
        """Return where a planned drop at the start of `epoch` sits on `x_axis`."""
        if x_axis == "step":
            return float(epoch * self.steps_per_epoch) if self.steps_per_epoch else math.nan
        return float(epoch)

    def non_finite_x(self, point: NonFinitePoint, x_axis: str = "step") -> float:
        """Return where a non-finite value sits on `x_axis`."""
        if x_axis == "step":
            return float(point.step) if point.step is not None else math.nan
        return point.epoch_progress

    def _step_x(self, x_axis: str) -> array:
        if x_axis == "step":
            return self._steps.step
        if x_axis == "epoch":
            return self._steps.progress
        raise ValueError(f"x axis must be 'step' or 'epoch', got {x_axis!r}")


def _planned_drops(start: dict[str, Any]) -> list[tuple[int, float]]:
    """Read the start record's planned LR drops, or derive them from a piecewise schedule."""
    listed = start.get("planned_lr_drops")
    if isinstance(listed, list):
        drops = []
        for item in listed:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                drops.append((int(item[0]), float(item[1])))
        return sorted(drops)

    # Logs written before start records listed the drops: read the config.
    schedule = (start.get("config") or {}).get("schedule") or {}
    if schedule.get("type") != "piecewise":
        return []
    table = sorted((int(epoch), float(lr)) for epoch, lr in (schedule.get("lr_by_epoch") or {}).items())
    return table[1:]
