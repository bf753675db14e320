"""The UI's data for one table row: a run, or an experiment not launched yet.

`RunView` pairs a run's state.json and config.json with a `RunSummary`
that folds its metrics records incrementally. It also keeps each epoch's
validation accuracy, which the rank-at-equal-epoch column compares across
runs, and each epoch's mean train loss, which the export shows too. It contains no Textual objects, so it is tested without an app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from birdtui.runs import RunState, RunSummary

LIVE_STATUSES = frozenset({"queued", "running"})

# Statuses that `r` cannot resume: only a new attempt goes on from them.
ENDED_FOR_GOOD = frozenset({"finished", "diverged"})

# Status of a table row whose experiment has no run folder yet.
PENDING = "pending"


@dataclass
class RunView:
    """One table row: a run folder, or a pending experiment (no state, no records)."""

    key: str
    experiment: str
    config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary)
    val_acc_by_epoch: dict[int, float] = field(default_factory=dict)
    train_loss_by_epoch: dict[int, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The state file's status; the supervisor copies the end record's status there."""
        if not self.state:
            return PENDING
        return str(self.state.get("status") or "queued")

    @property
    def is_run(self) -> bool:
        return bool(self.state)

    def set_state(self, state: dict[str, Any]) -> None:
        self.state = state
        self.summary.merge_state(RunState.from_dict(state))

    def reset_records(self) -> None:
        """Forget every record, because the log was replaced and is read again."""
        self.summary = RunSummary()
        self.val_acc_by_epoch = {}
        self.train_loss_by_epoch = {}
        if self.state:
            self.summary.merge_state(RunState.from_dict(self.state))

    def update(self, records: list[dict[str, Any]]) -> None:
        """Fold new records in log order."""
        self.summary.update(records)
        for record in records:
            self._note_epoch(record)
        if self.state:
            # The records may have moved the summary's status past the status in state.json.
            self.summary.merge_state(RunState.from_dict(self.state))

    def _note_epoch(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "epoch" and isinstance(record.get("epoch"), int):
            self.val_acc_by_epoch[record["epoch"]] = record.get("val_acc")
            # A record without a train loss must not erase the one already known.
            if isinstance(record.get("train_loss"), (int, float)):
                self.train_loss_by_epoch[record["epoch"]] = record["train_loss"]
        elif kind == "start":
            # A resumed worker replays the epochs from `resumed_from.epoch` on.
            first_replayed = (record.get("resumed_from") or {}).get("epoch", 0)
            self.val_acc_by_epoch = {e: acc for e, acc in self.val_acc_by_epoch.items() if e < first_replayed}
            self.train_loss_by_epoch = {e: loss for e, loss in self.train_loss_by_epoch.items() if e < first_replayed}

    @property
    def epochs_total(self) -> int | None:
        total = self.summary.epochs or self.config.get("epochs")
        return total if isinstance(total, int) else None

    @property
    def train_loss(self) -> float | None:
        """The mean train loss of the last completed epoch, the number the export shows."""
        if not self.train_loss_by_epoch:
            return None
        return self.train_loss_by_epoch[max(self.train_loss_by_epoch)]

    def val_acc_at(self, epoch: int) -> float | None:
        value = self.val_acc_by_epoch.get(epoch)
        if isinstance(value, (int, float)) and not math.isnan(value):
            return value
        return None

    @property
    def elapsed(self) -> float | None:
        """Seconds the worker ran, from the log's timestamps; None before it started."""
        return self.summary.elapsed if self.summary.status is not None else None

    @property
    def eta(self) -> float | None:
        return self.summary.eta if self.status == "running" else None

    @property
    def gpu(self) -> str | None:
        return self.summary.gpu or self.summary.device


def rank_at_equal_epoch(views: list[RunView]) -> dict[str, tuple[int, int]]:
    """Rank each running run by val accuracy among all runs at its last finished epoch.

    Returns run key -> (rank, number of runs with a val accuracy at that
    epoch); rank 1 is the best. A run with no accuracy there is not ranked.
    """
    ranks = {}
    for view in views:
        if view.status != "running" or view.summary.epoch == 0:
            continue
        epoch = view.summary.epoch - 1
        mine = view.val_acc_at(epoch)
        if mine is None:
            continue
        scores = [score for score in (other.val_acc_at(epoch) for other in views) if score is not None]
        ranks[view.key] = (1 + sum(score > mine for score in scores), len(scores))
    return ranks
