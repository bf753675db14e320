"""What the UI knows about one table row: a run, or an experiment not launched yet.

`RunView` folds a run's state.json, config.json and metrics records into the
values the table shows. It holds no Textual objects, so the fold is tested
without an app. Times come from the records and state, never from the clock,
except where a caller passes `now` for a live run's elapsed time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

LIVE_STATUSES = frozenset({"queued", "running"})

# Status of a table row whose experiment has no run folder yet.
PENDING = "pending"


@dataclass
class RunView:
    """The fold of one run folder, or of a pending experiment (no state, no records)."""

    key: str
    experiment: str
    config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    epoch_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_step: dict[str, Any] | None = None
    lr: float | None = None
    first_time: float | None = None
    last_time: float | None = None

    @property
    def status(self) -> str:
        if not self.state:
            return PENDING
        return str(self.state.get("status") or "queued")

    @property
    def is_run(self) -> bool:
        return bool(self.state)

    def reset_records(self) -> None:
        """Forget every record, because the log was replaced and is read again."""
        self.start = self.end = self.last_step = None
        self.epoch_records = {}
        self.lr = self.first_time = self.last_time = None

    def update(self, records: list[dict[str, Any]]) -> None:
        """Fold new records in log order."""
        for record in records:
            self._fold(record)

    def _fold(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        time = record.get("time")
        if isinstance(time, (int, float)):
            self.first_time = time if self.first_time is None else self.first_time
            self.last_time = time

        if kind == "start":
            self._fold_start(record)
        elif kind == "step":
            self.last_step = record
            self.lr = record.get("lr", self.lr)
        elif kind == "epoch" and isinstance(record.get("epoch"), int):
            self.epoch_records[record["epoch"]] = record
            self.lr = record.get("lr", self.lr)
        elif kind == "lr":
            self.lr = record.get("new", self.lr)
        elif kind == "end":
            self.end = record

    def _fold_start(self, record: dict[str, Any]) -> None:
        self.start = record
        self.end = None
        self.lr = record.get("lr", self.lr)

        # A resumed worker replays the epochs from `resumed_from.epoch` on.
        resumed = record.get("resumed_from")
        if isinstance(resumed, dict) and isinstance(resumed.get("epoch"), int):
            first_replayed = resumed["epoch"]
            self.epoch_records = {e: r for e, r in self.epoch_records.items() if e < first_replayed}
            self.last_step = None

    # The values below feed the table; None means "not known yet".

    @property
    def epochs_total(self) -> int | None:
        total = (self.start or {}).get("epochs", self.config.get("epochs"))
        return total if isinstance(total, int) else None

    @property
    def epochs_done(self) -> int:
        return max(self.epoch_records) + 1 if self.epoch_records else 0

    def last_epoch_value(self, name: str) -> float | None:
        if not self.epoch_records:
            return None
        return self.epoch_records[max(self.epoch_records)].get(name)

    @property
    def last_train_loss(self) -> float | None:
        # The newest step loss is fresher than the epoch mean while an epoch runs.
        last_epoch = max(self.epoch_records) if self.epoch_records else -1
        if self.last_step is not None and self.last_step.get("epoch", -1) > last_epoch:
            return self.last_step.get("loss")
        return self.last_epoch_value("train_loss")

    @property
    def best_train_loss(self) -> float | None:
        return _best(self.epoch_records.values(), "train_loss", min)

    @property
    def best_val_acc(self) -> float | None:
        return _best(self.epoch_records.values(), "val_acc", max)

    def val_acc_at(self, epoch: int) -> float | None:
        value = self.epoch_records.get(epoch, {}).get("val_acc")
        return value if _is_number(value) else None

    def elapsed(self, now: float) -> float | None:
        """Seconds the run has been running; a live run counts up to `now`."""
        started = self.state.get("started") or (self.start or {}).get("time")
        if not _is_number(started):
            return None
        ended = self.state.get("ended") or (self.end or {}).get("time")
        if _is_number(ended):
            return max(0.0, ended - started)
        if self.status == "running":
            return max(0.0, now - started)
        return None

    @property
    def eta(self) -> float | None:
        """Estimated seconds left: mean epoch time times the epochs left."""
        total = self.epochs_total
        seconds = [r["seconds"] for r in self.epoch_records.values() if _is_number(r.get("seconds"))]
        if self.status != "running" or total is None or not seconds:
            return None
        progress = float(self.epochs_done)
        if self.last_step is not None and _is_number(self.last_step.get("epoch_progress")):
            progress = max(progress, self.last_step["epoch_progress"])
        return max(0.0, (total - progress) * sum(seconds) / len(seconds))

    @property
    def gpu(self) -> str | None:
        gpu = self.state.get("gpu")
        if isinstance(gpu, dict):
            gpu = gpu.get("name") or gpu.get("index")
        if gpu is None:
            gpu = (self.start or {}).get("device")
        return None if gpu is None else str(gpu)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _best(records: Any, name: str, pick: Any) -> float | None:
    values = [r[name] for r in records if _is_number(r.get(name)) and math.isfinite(r[name])]
    return pick(values) if values else None


def rank_at_equal_epoch(views: list[RunView]) -> dict[str, tuple[int, int]]:
    """Rank each running run by val accuracy among all runs at its last finished epoch.

    Returns run key -> (rank, number of runs that reached that epoch); rank 1 is
    the best. Runs without a val accuracy at that epoch are not ranked.
    """
    ranks = {}
    for view in views:
        if view.status != "running" or view.epochs_done == 0:
            continue
        epoch = view.epochs_done - 1
        mine = view.val_acc_at(epoch)
        if mine is None or math.isnan(mine):
            continue
        others = [other.val_acc_at(epoch) for other in views]
        scores = [value for value in others if value is not None and not math.isnan(value)]
        ranks[view.key] = (1 + sum(score > mine for score in scores), len(scores))
    return ranks
