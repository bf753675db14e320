"""Export rows read from a runs folder: each run's config.json, state and metrics log."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from birdtui.errors import RunError
from birdtui.export.columns import Row, make_row
from birdtui.metrics import read_records
from birdtui.metrics.series import RunSeries
from birdtui.runs.store import RunInfo, RunStore

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"


def collect_rows(runs_dir: Path, run_ids: list[str] | None = None, experiment_order: list[str] | None = None) -> list[Row]:
    """Read the chosen runs (all when `run_ids` is empty) into export rows.

    Runs are ordered by `experiment_order` (the experiments file's order)
    where given, then by name, and attempts oldest first.
    """
    store = RunStore(runs_dir)
    if run_ids:
        infos = [store.get(run_id) for run_id in run_ids]
    else:
        infos = store.list_runs()
        if not infos:
            raise RunError(f"no runs in {store.root}: launch one with `birdtui launch NAME`, or pass --runs DIR")

    rank = {name: number for number, name in enumerate(experiment_order or [])}
    infos.sort(key=lambda info: (rank.get(info.experiment, len(rank)), info.experiment, info.attempt))
    return [make_row(info.run_id, read_config(info.path), summarize(info)) for info in infos]


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """Return a run's config.json as a dict, or None when it is missing or unreadable."""
    try:
        data = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_series(run_dir: Path) -> RunSeries:
    """Fold a run's metrics log, with resumed epochs replaced, into plot series."""
    series = RunSeries(run_dir.name)
    series.update(read_records(run_dir / METRICS_FILE))
    return series


def summarize(info: RunInfo) -> dict[str, Any]:
    """Reduce a run's state and metrics log to the values the results table shows."""
    records = read_records(info.path / METRICS_FILE)
    epochs, start = fold_epochs(records)
    last = epochs[-1] if epochs else {}
    train_losses = _finite(point.get("train_loss") for point in epochs)
    val_accs = _finite(point.get("val_acc") for point in epochs)

    state = info.state
    ended = state.ended if state.ended is not None else time.time()
    return {
        "status": info.status,
        "epoch": len(epochs),
        "epochs": (start or {}).get("epochs"),
        "last_train_loss": last.get("train_loss"),
        "best_train_loss": min(train_losses) if train_losses else None,
        "last_val_loss": last.get("val_loss"),
        "best_val_acc": max(val_accs) if val_accs else None,
        "lr": _last_lr(records),
        "images_per_sec": last.get("images_per_sec"),
        "elapsed": ended - state.started if state.started is not None else None,
    }


def fold_epochs(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Return the epoch records, one per epoch after resumes, and the last start record."""
    by_epoch: dict[int, dict[str, Any]] = {}
    start = None
    for record in records:
        kind = record.get("type")
        if kind == "start":
            start = record
            resumed = record.get("resumed_from") or {}
            # A resumed run replays from this epoch, so its earlier records of it are void.
            if isinstance(resumed.get("epoch"), int):
                by_epoch = {epoch: point for epoch, point in by_epoch.items() if epoch < resumed["epoch"]}
        elif kind == "epoch" and isinstance(record.get("epoch"), int):
            by_epoch[record["epoch"]] = record
    return [by_epoch[epoch] for epoch in sorted(by_epoch)], start


def _finite(values) -> list[float]:
    return [value for value in values if isinstance(value, (int, float)) and math.isfinite(value)]


def _last_lr(records: list[dict[str, Any]]) -> float | None:
    for record in reversed(records):
        value = record.get("new") if record.get("type") == "lr" else record.get("lr")
        if isinstance(value, (int, float)) and record.get("type") in ("step", "epoch", "lr", "start"):
            return float(value)
    return None
