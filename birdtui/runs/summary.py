"""A run's metrics log folded into the numbers of one results-table row.

`summarize_run(run_dir)` reads the whole log. The UI tails logs instead and
feeds each batch of new records to `RunSummary.update`, which gives the same
result. A resumed run appends a new `start` record; the epochs from its
`resumed_from.epoch` on are dropped, because the resumed worker runs them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from birdtui.errors import RunError
from birdtui.metrics import read_records
from birdtui.metrics.jsonl import NUMERIC_FIELDS
from birdtui.runs.outcome import METRICS_FILE
from birdtui.runs.state import RUNNING, RunState, read_state, state_path


@dataclass
class RunSummary:
    """The latest numbers of a run; None where the log has no value yet."""

    # None before the start record, "running" after it, then the end record's status.
    status: str | None = None
    # Completed epochs.
    epoch: int = 0
    epochs: int | None = None
    # Global optimizer step of the last step record.
    steps: int = 0
    # Epoch plus the fraction of it done, from the last step record.
    epoch_progress: float = 0.0
    # Loss of the last logged step.
    last_train_loss: float | None = None
    # Mean training loss of the last completed epoch, the "train loss" of ls, the UI and the export.
    train_loss: float | None = None
    # Lowest mean training loss of a completed epoch.
    best_train_loss: float | None = None
    last_val_loss: float | None = None
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    lr: float | None = None
    images_per_sec: float | None = None
    # Seconds the worker ran, summed over resumed segments.
    elapsed: float = 0.0
    # Estimated seconds left while the run is running, else None.
    eta: float | None = None
    device: str | None = None
    gpu: str | None = None
    # The end record's error, or the last stderr lines the supervisor recorded.
    error: str | None = None
    # The last start record's warnings, such as a GPU placement that fell back to the CPU.
    warnings: list[str] = field(default_factory=list)

    _epoch_records: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    # Per epoch: (step, loss) of its last step record.
    _last_steps: dict[int, tuple[int, float]] = field(default_factory=dict, repr=False)
    _segment_start: float | None = field(default=None, repr=False)
    _segment_start_progress: float = field(default=0.0, repr=False)
    _elapsed_before: float = field(default=0.0, repr=False)
    _last_time: float | None = field(default=None, repr=False)

    def update(self, records: Iterable[dict[str, Any]]) -> None:
        """Fold new records, in log order, into the summary."""
        for record in records:
            handler = _HANDLERS.get(record.get("type"))
            if handler is not None:
                handler(self, record)
                self._note_time(record.get("time"))
        self._recompute()

    def merge_state(self, state: RunState) -> None:
        """Take the status, GPU and error from state.json where the log cannot know them.

        Queued, lost, killed-while-queued and failed-to-start runs have no end
        record, and a resumed run waiting in the queue still has the old one.
        """
        self.gpu = state.gpu
        if state.status != RUNNING:
            self.status = state.status
            self.eta = None
        if state.error and not self.error:
            self.error = state.error

    def _on_start(self, record: dict[str, Any]) -> None:
        self.status = RUNNING
        self.error = None
        self.device = record.get("device", self.device)
        self.epochs = record.get("epochs", self.epochs)
        self.lr = record.get("lr", self.lr)
        warnings = record.get("warnings")
        self.warnings = [str(text) for text in warnings] if isinstance(warnings, list) else []

        resumed = record.get("resumed_from") or {}
        first_epoch = int(resumed.get("epoch", 0))
        self._drop_from_epoch(first_epoch)

        if self._segment_start is not None and self._last_time is not None:
            self._elapsed_before += max(0.0, self._last_time - self._segment_start)
        self._segment_start = record.get("time")
        self._last_time = self._segment_start
        self._segment_start_progress = float(first_epoch)
        self.epoch_progress = float(first_epoch)

    def _on_step(self, record: dict[str, Any]) -> None:
        epoch, step, loss = record.get("epoch"), record.get("step"), record.get("loss")
        # A record without its position or loss carries no data, so it must not replace a real one.
        if not (_is_count(epoch) and _is_count(step) and _is_number(loss)):
            return
        self._last_steps[epoch] = (step, loss)
        self.epoch_progress = float(_number_or(record.get("epoch_progress"), epoch))
        self.lr = _number_or(record.get("lr"), self.lr)

    def _on_epoch(self, record: dict[str, Any]) -> None:
        epoch = record.get("epoch")
        # A record with one invalid value is dropped whole, so that no row mixes two epochs' values.
        if not _is_count(epoch) or has_invalid_number(record):
            return
        # A second record of the same epoch adds the values it has and keeps the others.
        known = self._epoch_records.get(epoch, {})
        self._epoch_records[epoch] = {**known, **{key: value for key, value in record.items() if value is not None}}
        self.epoch_progress = max(self.epoch_progress, epoch + 1.0)
        self.lr = _number_or(record.get("lr"), self.lr)

    def _on_lr(self, record: dict[str, Any]) -> None:
        self.lr = record.get("new", self.lr)

    def _on_end(self, record: dict[str, Any]) -> None:
        self.status = record.get("status", self.status)
        self.error = record.get("error")
        if record.get("best_val_acc") is not None and self.best_val_acc is None:
            self.best_val_acc = record["best_val_acc"]

    def _drop_from_epoch(self, first_epoch: int) -> None:
        for epoch in [e for e in self._epoch_records if e >= first_epoch]:
            del self._epoch_records[epoch]
        for epoch in [e for e in self._last_steps if e >= first_epoch]:
            del self._last_steps[epoch]

    def _note_time(self, value: Any) -> None:
        if isinstance(value, (int, float)):
            self._last_time = float(value)

    def _recompute(self) -> None:
        """Derive the epoch-level numbers from the kept epoch and step records."""
        epochs = [self._epoch_records[e] for e in sorted(self._epoch_records)]
        self.epoch = len(epochs)
        if self._last_steps:
            self.steps, self.last_train_loss = self._last_steps[max(self._last_steps)]
        elif epochs:
            self.steps, self.last_train_loss = int(epochs[-1].get("step", 0)), None

        if epochs:
            self.train_loss = _latest(epochs, "train_loss")
            self.last_val_loss = _latest(epochs, "val_loss")
            self.last_val_acc = _latest(epochs, "val_acc")
            self.images_per_sec = _latest(epochs, "images_per_sec")
            self.best_train_loss = _best(min, (e.get("train_loss") for e in epochs))
            self.best_val_acc = _best(max, (e.get("val_acc") for e in epochs))

        segment = 0.0
        if self._segment_start is not None and self._last_time is not None:
            segment = max(0.0, self._last_time - self._segment_start)
        self.elapsed = self._elapsed_before + segment
        self.eta = self._estimate_eta(epochs, segment)

    def _estimate_eta(self, epochs: list[dict[str, Any]], segment: float) -> float | None:
        if self.status != RUNNING or not self.epochs:
            return None
        # Wall time per epoch measured in this segment; it includes start-up
        # and validation, so early estimates run high.
        done = self.epoch_progress - self._segment_start_progress
        if done <= 0:
            return None
        return max(0.0, (self.epochs - self.epoch_progress) * segment / done)


def has_invalid_number(record: dict[str, Any]) -> bool:
    """Return True when a numeric field of `record` contains something other than a number or null.

    decode_line has already turned "NaN", "Infinity" and "-Infinity" into floats,
    so any string left, a bool, a list or an object is invalid.
    """
    return any(not (value is None or _is_number(value)) for key, value in record.items() if key in NUMERIC_FIELDS)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_or(value: Any, default: Any) -> Any:
    return value if _is_number(value) else default


def _latest(epochs: list[dict[str, Any]], key: str) -> Any:
    """Return the value of `key` from the last epoch record that has it."""
    return next((record[key] for record in reversed(epochs) if _is_number(record.get(key))), None)


def _best(choose, values: Iterable[Any]) -> float | None:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return choose(finite) if finite else None


_HANDLERS = {
    "start": RunSummary._on_start,
    "step": RunSummary._on_step,
    "epoch": RunSummary._on_epoch,
    "lr": RunSummary._on_lr,
    "end": RunSummary._on_end,
}


def summarize_run(run_dir: Path) -> RunSummary:
    """Fold a run's whole metrics.jsonl, then merge its state.json when the run has one."""
    run_dir = Path(run_dir)
    summary = RunSummary()
    summary.update(read_records(run_dir / METRICS_FILE))
    if state_path(run_dir).is_file():
        try:
            summary.merge_state(read_state(run_dir))
        except RunError as error:
            summary.error = str(error)
    return summary
