"""Learning-rate schedules driven by the training loop, with every change reported.

The training loop calls, in this order:

    controller = LRController(optimizer, config, steps_per_epoch)   # epoch-0 LR
    for epoch in range(first_epoch, config.epochs):
        log(controller.begin_epoch(epoch))
        for batch in loader:
            ... optimizer.step()
            log(controller.after_step())
        log(controller.end_epoch(epoch, {"train_loss": ..., "val_loss": ..., ...}))

`schedule.type` picks the LR of each epoch or step:

- constant: `optim.lr` throughout.
- piecewise: `lr_by_epoch` maps a 0-based epoch to the LR from that epoch on;
  before its first key the LR is `optim.lr`.
- step: `optim.lr * gamma ** (epoch // step_size)`.
- cosine: per epoch, not per step. It falls from `optim.lr` towards `min_lr`
  along a half cosine over the epochs after the warmup, as torch's
  CosineAnnealingLR with T_max = those epochs: the last epoch's LR is still
  a little above `min_lr`.
- plateau: the rules of torch's ReduceLROnPlateau, applied once per epoch to
  the epoch's `monitor` metric. It starts watching after the warmup.
- onecycle: per step, torch's OneCycleLR with cosine annealing (`max_lr` peak,
  start at max_lr / 25, end at max_lr / 25 / 1e4). Unlike torch's version it
  leaves momentum alone.

Warmup (`warmup_epochs > 0`) scales the LR linearly per step from
`warmup_start_factor` to 1 over the first `warmup_epochs` epochs.

A change is reported when an epoch's LR differs from the last one ("schedule"
or "plateau") and once when the warmup ends ("warmup", old = the first warmup
LR, new = the LR reached). The per-step LRs of warmup and onecycle are not
reported one by one, because the step records already carry them.

All parameter groups of the optimizer get the same LR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from birdtui.config import ExperimentConfig, ScheduleConfig
from birdtui.errors import CheckpointError, ConfigError

STATE_VERSION = 1

# OneCycleLR's defaults in torch: the start LR is max_lr / 25 and the final LR is that / 1e4.
ONECYCLE_DIV_FACTOR = 25.0
ONECYCLE_FINAL_DIV_FACTOR = 1e4

# torch's ReduceLROnPlateau ignores drops smaller than this.
PLATEAU_EPS = 1e-8


@dataclass
class LRChange:
    """One reported learning-rate change and its cause: "schedule", "plateau" or "warmup"."""

    old: float
    new: float
    reason: str


def parse_lr_table(table: dict[Any, Any]) -> list[tuple[int, float]]:
    """Return a piecewise table as (epoch, lr) pairs in numeric epoch order, raising ConfigError for a bad entry.

    Keys may be ints or strings of digits such as "10", the form JSON and TOML files give them.
    """
    key = "schedule.lr_by_epoch"
    if not table:
        raise ConfigError("the piecewise schedule needs at least one entry", key=key, fix="add an entry such as { 0 = 0.01 }")

    entries = {}
    for raw_epoch, raw_lr in table.items():
        epoch = _parse_epoch(raw_epoch)
        if epoch is None:
            raise ConfigError(f"invalid epoch {raw_epoch!r}", key=key, fix="use whole numbers 0 or more as keys, such as { 0 = 0.01, 8 = 0.001 }")
        if epoch in entries:
            raise ConfigError(f"epoch {epoch} appears twice", key=key, fix="keep one entry per epoch")
        lr = _parse_lr(raw_lr)
        if lr is None:
            raise ConfigError(f"invalid learning rate {raw_lr!r} for epoch {epoch}", key=key, fix="use a number greater than 0")
        entries[epoch] = lr
    return sorted(entries.items())


def _parse_epoch(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _parse_lr(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    value = float(raw)
    return value if math.isfinite(value) and value > 0 else None


def _cosine_between(start: float, end: float, fraction: float) -> float:
    """Return the point `fraction` (0 to 1) along a half cosine from `start` to `end`."""
    return end + (start - end) * (1.0 + math.cos(math.pi * fraction)) / 2.0


class LRController:
    """The learning rate of one run: sets it on the optimizer and reports each change.

    `state_dict()` after any call and `load_state_dict()` into a new controller
    built from the same config continue with identical LRs.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: ExperimentConfig, steps_per_epoch: int) -> None:
        self.optimizer = optimizer
        self.schedule: ScheduleConfig = config.schedule
        self.base_lr = config.optim.lr
        self.epochs = config.epochs
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.warmup_steps = self.schedule.warmup_epochs * self.steps_per_epoch
        self._check_config()
        self.table = parse_lr_table(self.schedule.lr_by_epoch) if self.schedule.type == "piecewise" else []

        self.epoch = 0
        self.steps_done = 0
        self.epoch_lr = self._scheduled_epoch_lr(0)
        self.plateau_best: float | None = None
        self.plateau_bad_epochs = 0
        self.plateau_cooldown_left = 0
        self.warmup_reported = self.warmup_steps == 0
        self._apply(self._current_lr())

    def _check_config(self) -> None:
        if self.schedule.type == "onecycle" and self.schedule.warmup_epochs > 0:
            raise ConfigError(
                "onecycle has its own warmup phase and cannot be combined with warmup_epochs",
                key="schedule.warmup_epochs",
                fix="set warmup_epochs = 0 and use schedule.pct_start for the rising phase",
            )
        if self.schedule.type == "cosine" and self.schedule.min_lr > self.base_lr:
            raise ConfigError(
                f"min_lr {self.schedule.min_lr} is above optim.lr {self.base_lr}",
                key="schedule.min_lr",
                fix="set schedule.min_lr below optim.lr",
            )

    @property
    def lr(self) -> float:
        """The learning rate the next optimizer step uses."""
        return self.optimizer.param_groups[0]["lr"]

    # The epoch LR before warmup and onecycle factors.

    def _scheduled_epoch_lr(self, epoch: int) -> float:
        kind = self.schedule.type
        if kind == "piecewise":
            lr = self.base_lr
            for start_epoch, table_lr in self.table:
                if start_epoch <= epoch:
                    lr = table_lr
            return lr
        if kind == "step":
            return self.base_lr * self.schedule.gamma ** (epoch // self.schedule.step_size)
        if kind == "cosine":
            return self._cosine_lr(epoch)
        if kind == "onecycle":
            return self.schedule.max_lr or self.base_lr
        # constant; plateau starts here and changes only in end_epoch.
        return self.base_lr

    def _cosine_lr(self, epoch: int) -> float:
        first = self.schedule.warmup_epochs
        if epoch <= first:
            return self.base_lr
        fraction = min(1.0, (epoch - first) / max(1, self.epochs - first))
        return _cosine_between(self.base_lr, self.schedule.min_lr, fraction)

    # The factor on the epoch LR for the next step.

    def _current_lr(self) -> float:
        if self.schedule.type == "onecycle":
            return self._onecycle_lr(self.steps_done)
        if self.steps_done < self.warmup_steps:
            start = self.schedule.warmup_start_factor
            return self.epoch_lr * (start + (1.0 - start) * self.steps_done / self.warmup_steps)
        return self.epoch_lr

    def _onecycle_lr(self, step: int) -> float:
        peak = self.epoch_lr
        initial = peak / ONECYCLE_DIV_FACTOR
        final = initial / ONECYCLE_FINAL_DIV_FACTOR
        total = self.epochs * self.steps_per_epoch

        # The same phase boundaries as torch's OneCycleLR: the peak is at step pct_start * total - 1.
        peak_step = float(self.schedule.pct_start * total) - 1.0
        last_step = float(total) - 1.0
        step = min(step, total - 1)
        if step <= peak_step:
            return _cosine_between(initial, peak, step / peak_step if peak_step > 0 else 1.0)
        return _cosine_between(peak, final, (step - peak_step) / max(last_step - peak_step, 1e-12))

    def _apply(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _change_to(self, lr: float, reason: str) -> list[LRChange]:
        old = self.lr
        self._apply(lr)
        return [LRChange(old, lr, reason)] if lr != old else []

    # The training loop's calls.

    def begin_epoch(self, epoch: int) -> list[LRChange]:
        """Set the LR of `epoch` and return the change, if any."""
        self.epoch = epoch
        if self.schedule.type != "plateau":
            self.epoch_lr = self._scheduled_epoch_lr(epoch)
        return self._change_to(self._current_lr(), "schedule")

    def after_step(self) -> list[LRChange]:
        """Count one optimizer step and set the LR of the next; return the warmup's end when it happens."""
        self.steps_done += 1
        lr = self._current_lr()
        if self.warmup_reported or self.steps_done < self.warmup_steps:
            self._apply(lr)
            return []

        self.warmup_reported = True
        start_lr = self._warmup_start_lr()
        self._apply(lr)
        return [LRChange(start_lr, lr, "warmup")]

    def _warmup_start_lr(self) -> float:
        return self._scheduled_epoch_lr(0) * self.schedule.warmup_start_factor

    def end_epoch(self, epoch: int, metrics: dict[str, float]) -> list[LRChange]:
        """Let the plateau schedule judge the epoch's `monitor` metric; return the drop, if any."""
        if self.schedule.type != "plateau" or epoch < self.schedule.warmup_epochs:
            return []

        value = self._monitored_value(metrics)
        if not self._plateau_reached(value):
            return []

        # As in torch, the counters restart even when min_lr leaves no room for a drop.
        self.plateau_cooldown_left = self.schedule.cooldown
        self.plateau_bad_epochs = 0
        new_epoch_lr = max(self.epoch_lr * self.schedule.factor, self.schedule.min_lr)
        if self.epoch_lr - new_epoch_lr <= PLATEAU_EPS:
            return []
        self.epoch_lr = new_epoch_lr
        return self._change_to(self._current_lr(), "plateau")

    def _monitored_value(self, metrics: dict[str, float]) -> float:
        monitor = self.schedule.monitor
        if monitor not in metrics or metrics[monitor] is None:
            raise ConfigError(
                f"the plateau schedule watches {monitor}, but the epoch metrics have no value for it "
                f"(they have {sorted(k for k, v in metrics.items() if v is not None)})",
                key="schedule.monitor",
                fix="watch train_loss or train_acc, or give the run a validation set with data.val_fraction or data.val_root",
            )
        return float(metrics[monitor])

    def _plateau_reached(self, value: float) -> bool:
        """Update the plateau counters with one epoch's value; return True when the LR must drop."""
        if self._improves(value):
            self.plateau_best = value
            self.plateau_bad_epochs = 0
        else:
            self.plateau_bad_epochs += 1

        if self.plateau_cooldown_left > 0:
            self.plateau_cooldown_left -= 1
            self.plateau_bad_epochs = 0
        return self.plateau_bad_epochs > self.schedule.patience

    def _improves(self, value: float) -> bool:
        # NaN compares False everywhere, so a NaN epoch never counts as an improvement.
        best = self.plateau_best
        if best is None:
            return not math.isnan(value)
        threshold = self.schedule.threshold
        relative = self.schedule.threshold_mode == "rel"
        if self.schedule.mode == "min":
            return value < (best * (1.0 - threshold) if relative else best - threshold)
        return value > (best * (1.0 + threshold) if relative else best + threshold)

    def planned_drops(self) -> list[tuple[int, float]]:
        """Return the (epoch, lr) changes known before training: piecewise and step schedules; [] for others."""
        if self.schedule.type not in ("piecewise", "step"):
            return []
        drops = []
        previous = self._scheduled_epoch_lr(0)
        for epoch in range(1, self.epochs):
            lr = self._scheduled_epoch_lr(epoch)
            if lr != previous:
                drops.append((epoch, lr))
            previous = lr
        return drops

    # Checkpoints.

    def state_dict(self) -> dict[str, Any]:
        """Return the controller's state as plain JSON-ready data."""
        return {
            "version": STATE_VERSION,
            "type": self.schedule.type,
            "epoch": self.epoch,
            "steps_done": self.steps_done,
            "epoch_lr": self.epoch_lr,
            "lr": self.lr,
            "plateau_best": self.plateau_best,
            "plateau_bad_epochs": self.plateau_bad_epochs,
            "plateau_cooldown_left": self.plateau_cooldown_left,
            "warmup_reported": self.warmup_reported,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from `state_dict()` and set its LR on the optimizer."""
        if state.get("version") != STATE_VERSION or state.get("type") != self.schedule.type:
            raise CheckpointError(
                f"the checkpoint's LR schedule state (type {state.get('type')!r}, version {state.get('version')!r}) "
                f"does not match this run's schedule (type {self.schedule.type!r}, version {STATE_VERSION}); "
                "fix: resume with the config the run was started with, or start a fresh run"
            )
        self.epoch = state["epoch"]
        self.steps_done = state["steps_done"]
        self.epoch_lr = state["epoch_lr"]
        self.plateau_best = state["plateau_best"]
        self.plateau_bad_epochs = state["plateau_bad_epochs"]
        self.plateau_cooldown_left = state["plateau_cooldown_left"]
        self.warmup_reported = state["warmup_reported"]
        self._apply(state["lr"])
