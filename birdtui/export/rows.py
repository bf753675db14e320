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

    # RunSummary's last_train_loss is the last step's loss, which is noisy. A
    # results table compares the final epoch's mean training loss instead.
    # RunSummary folds it from the same valid epoch records as the other columns.
    values["last_train_loss"] = summary.train_loss
    return values
