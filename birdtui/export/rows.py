"""Export rows read from a runs folder: each run's config.json, state and metrics log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from birdtui.errors import RunError
from birdtui.export.columns import SUMMARY_FIELDS, Row, make_row
from birdtui.metrics import read_records
from birdtui.metrics.series import RunSeries
from birdtui.runs.store import RunInfo, RunStore
from birdtui.runs.summary import summarize_run

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
    summary = summarize_run(info.path)
    values = {name: getattr(summary, name, None) for name in SUMMARY_FIELDS}
    # The store has settled vanished runs as lost, which the log cannot know.
    values["status"] = info.status if info.status != "running" else summary.status or info.status

    # RunSummary's last_train_loss is the last step's loss, which is noisy; a
    # results table compares the final epoch's mean training loss instead.
    epochs = final_epoch_records(read_records(info.path / METRICS_FILE))
    losses = [record["train_loss"] for record in epochs if isinstance(record.get("train_loss"), (int, float))]
    values["last_train_loss"] = losses[-1] if losses else None
    return values


def final_epoch_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the epoch records in epoch order, keeping only the replayed ones after a resume."""
    by_epoch: dict[int, dict[str, Any]] = {}
    for record in records:
        kind = record.get("type")
        if kind == "start":
            resumed = record.get("resumed_from") or {}
            # A resumed run replays from this epoch, so its earlier records of it are void.
            if isinstance(resumed.get("epoch"), int):
                by_epoch = {epoch: point for epoch, point in by_epoch.items() if epoch < resumed["epoch"]}
        elif kind == "epoch" and isinstance(record.get("epoch"), int):
            # A second record of an epoch adds its values; one missing fields erases nothing.
            known = by_epoch.get(record["epoch"], {})
            by_epoch[record["epoch"]] = {**known, **{key: value for key, value in record.items() if value is not None}}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]
