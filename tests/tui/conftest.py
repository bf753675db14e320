"""Runs folders written by hand, and helpers to wait on the app.

The hand-written runs have fixed timestamps, and elapsed time and ETA come
from them, so snapshots and cell texts do not depend on when the tests run. The live run
records the test process itself as its worker, so the store does not settle
it as lost while the test runs.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from birdtui.config.schema import ExperimentConfig, to_dict
from birdtui.metrics import encode_record
from birdtui.tui.app import BirdtuiApp

# 2026-12-01 12:00 UTC: every hand-written record is stamped from here.
T0 = 1796126400.0

EXPERIMENTS_TOML = """\
[defaults]
model = "resnet18"
epochs = 4
device = "cpu"

[defaults.data]
root = "data/train"
image_size = 32
batch_size = 8

[defaults.schedule]
type = "piecewise"
lr_by_epoch = {{ 0 = 0.1, 3 = 0.01 }}

{experiments}
"""


def experiments_toml(names: list[str], extra: str = "") -> str:
    entries = "\n".join(f'[[experiments]]\nname = "{name}"\n' for name in names)
    return EXPERIMENTS_TOML.format(experiments=entries + extra)


def run_config(name: str, **changes: Any) -> dict[str, Any]:
    config = to_dict(ExperimentConfig(name=name, epochs=4, device="cpu"))
    config["schedule"].update(type="piecewise", lr_by_epoch={"0": 0.1, "3": 0.01})
    config["data"].update(image_size=32, batch_size=8)
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        if key:
            config[section][key] = value
        else:
            config[section] = value
    return config


def epoch_records(epochs: int, *, start_time: float, losses: list[float], accs: list[float], steps_per_epoch: int = 4) -> list[dict[str, Any]]:
    """Write step, lr and epoch records of `epochs` epochs, 60 s each."""
    records: list[dict[str, Any]] = []
    step = 0
    lr = 0.1
    for epoch in range(epochs):
        if epoch == 3:
            records.append({"type": "lr", "time": start_time + 60 * epoch, "epoch": 3, "step": step, "old": 0.1, "new": 0.01, "reason": "schedule"})
            lr = 0.01
        for index in range(steps_per_epoch):
            step += 1
            loss = losses[epoch] + 0.05 * (steps_per_epoch - index)
            records.append(
                {"type": "step", "time": start_time + 60 * epoch + 15 * index, "epoch": epoch, "step": step,
                 "epoch_progress": epoch + (index + 1) / steps_per_epoch, "loss": loss, "lr": lr}
            )
        records.append(
            {"type": "epoch", "time": start_time + 60 * (epoch + 1), "epoch": epoch, "step": step,
             "train_loss": losses[epoch], "train_acc": 0.5, "val_loss": losses[epoch] + 0.1, "val_acc": accs[epoch],
             "val_top5": 1.0, "lr": lr, "seconds": 60.0, "images_per_sec": 120.0 + epoch}
        )
    return records


def start_record(name: str, start_time: float, config: dict[str, Any]) -> dict[str, Any]:
    return {"type": "start", "time": start_time, "run": name, "config": config, "classes": ["a", "b", "c"],
            "class_ids": [0, 1, 2], "num_classes": 3, "train_size": 24, "val_size": 6, "device": "cpu",
            "epochs": 4, "steps_per_epoch": 4, "lr": 0.1, "resumed_from": None}


def write_run(runs_dir: Path, run_id: str, status: str, records: list[dict[str, Any]], config: dict[str, Any], **state: Any) -> Path:
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(config))
    experiment, _, attempt = run_id.partition("@")
    full_state = {"run": run_id, "experiment": experiment, "attempt": int(attempt or 1), "status": status,
                  "resume": False, "created": T0, "started": T0, "ended": None, "pid": None,
                  "pid_start_time": None, "exit_code": None, "gpu": None, **state}
    (run_dir / "state.json").write_text(json.dumps(full_state))
    with open(run_dir / "metrics.jsonl", "w") as handle:
        for record in records:
            handle.write(encode_record(record))
    return run_dir


def write_four_runs(root: Path) -> tuple[Path, Path]:
    """Write an experiments file and runs: live, finished, failed, diverged, plus one pending experiment."""
    names = ["r18-base", "r34-live", "r18-oom", "r18-hot", "r50-next"]
    (root / "experiments.toml").write_text(experiments_toml(names))
    runs_dir = root / "runs"

    finished = run_config("r18-base")
    write_run(runs_dir, "r18-base", "finished",
              [start_record("r18-base", T0, finished)]
              + epoch_records(4, start_time=T0, losses=[1.1, 0.8, 0.6, 0.4], accs=[0.4, 0.55, 0.6, 0.7])
              + [{"type": "end", "time": T0 + 240, "status": "finished", "epoch": 3, "step": 16, "error": None, "best_val_acc": 0.7}],
              finished, ended=T0 + 241, exit_code=0)

    live = run_config("r34-live", model="resnet34", augment__jitter=0.5)
    me = psutil.Process()
    write_run(runs_dir, "r34-live", "running",
              [start_record("r34-live", T0 + 300, live)]
              + epoch_records(2, start_time=T0 + 300, losses=[1.0, 0.7], accs=[0.45, 0.5]),
              live, started=T0 + 300, pid=os.getpid(), pid_start_time=me.create_time())

    failed = run_config("r18-oom")
    error = "RuntimeError: CUDA out of memory"
    run_dir = write_run(runs_dir, "r18-oom", "failed",
                        [start_record("r18-oom", T0 + 60, failed)]
                        + epoch_records(1, start_time=T0 + 60, losses=[1.2], accs=[0.35])
                        + [{"type": "end", "time": T0 + 130, "status": "failed", "epoch": 1, "step": 4, "error": error, "best_val_acc": 0.35}],
                        failed, started=T0 + 60, ended=T0 + 131, exit_code=1, error=error)
    (run_dir / "stderr.log").write_text("Traceback (most recent call last):\n  File \"train.py\", line 1, in <module>\n" + error + "\n")

    hot = run_config("r18-hot", optim__lr=5.0)
    write_run(runs_dir, "r18-hot", "diverged",
              [start_record("r18-hot", T0 + 120, hot)]
              + epoch_records(2, start_time=T0 + 120, losses=[3.0, math.nan], accs=[0.3, math.nan])
              + [{"type": "end", "time": T0 + 245, "status": "diverged", "epoch": 1, "step": 8, "error": "loss is NaN at step 8", "best_val_acc": 0.3}],
              hot, started=T0 + 120, ended=T0 + 246)
    return root / "experiments.toml", runs_dir


@pytest.fixture
def four_runs(tmp_path: Path) -> tuple[Path, Path]:
    return write_four_runs(tmp_path)


class RecordingApp(BirdtuiApp):
    """The real app that also keeps every notification, because Textual drops them after a timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notified: list[tuple[str, str]] = []

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.notified.append((kwargs.get("severity", "information"), message))
        super().notify(message, *args, **kwargs)


@pytest.fixture
def make_app() -> Callable[..., RecordingApp]:
    """Build the app with a short poll interval."""

    def make(config_path: Path, runs_dir: Path | None = None, **options: Any) -> RecordingApp:
        options.setdefault("poll_seconds", 0.1)
        return RecordingApp(config_path, runs_dir, **options)

    return make


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until `condition()` is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


def table_column(app: BirdtuiApp, column_key: str) -> list[str]:
    """Return the text of one column, top to bottom."""
    table = app.query_one("#runs")
    return [str(table.get_cell_at((row, table.get_column_index(column_key)))) for row in range(table.row_count)]


@pytest.fixture
def waits() -> Any:
    """The waiting helpers, as a fixture because test folders are not packages."""

    class Waits:
        until = staticmethod(wait_until)
        column = staticmethod(table_column)

    return Waits
