"""The columns of the exported results table, and which of them to show.

A row is a dict with these keys:

- `run`: the run id, such as `r18-baseline@2`;
- `config`: the dict of `birdtui.config.to_dict` (a run's config.json), or None;
- `summary`: a dict with the fields of `SUMMARY_FIELDS`, None where unknown;
- `plot` (optional): a markdown link to the run's PNG loss plot.

`make_row` builds one from a RunSummary or a dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from birdtui.config.schema import SECTIONS, ExperimentConfig
from birdtui.export.formats import (
    MISSING,
    describe_schedule,
    format_duration,
    format_loss,
    format_number,
    format_percent,
    format_rate,
    format_scientific,
)

Row = dict[str, Any]

SUMMARY_FIELDS = (
    "status",
    "epoch",
    "epochs",
    "last_train_loss",
    "best_train_loss",
    "last_val_loss",
    "best_val_acc",
    "lr",
    "images_per_sec",
    "elapsed",
)

# Config fields written in scientific form because they span orders of magnitude.
SCIENTIFIC_FIELDS = {"optim.lr", "optim.weight_decay", "schedule.min_lr", "schedule.max_lr", "schedule.threshold"}


@dataclass(frozen=True)
class Column:
    """One table column: `value` gives the raw cell value (CSV), `text` the shown one."""

    key: str
    title: str
    value: Callable[[Row], Any]
    text: Callable[[Any], str] = format_number
    numeric: bool = False
    # False when `text` already returns markdown, such as a link.
    escape: bool = True

    def cell(self, row: Row) -> str:
        return self.text(self.value(row))


def make_row(run: str, config: Mapping[str, Any] | None, summary: Any, plot: str | None = None) -> Row:
    """Build an export row from a run id, its config dict and a summary (a RunSummary, a dict or None)."""
    if isinstance(summary, Mapping):
        values = {name: summary.get(name) for name in SUMMARY_FIELDS}
    else:
        values = {name: getattr(summary, name, None) for name in SUMMARY_FIELDS}
    row: Row = {"run": run, "config": dict(config) if config else None, "summary": values}
    if plot is not None:
        row["plot"] = plot
    return row


def _summary_getter(name: str) -> Callable[[Row], Any]:
    return lambda row: (row.get("summary") or {}).get(name)


def _config_getter(dotted: str) -> Callable[[Row], Any]:
    section, _, name = dotted.rpartition(".")

    def get(row: Row) -> Any:
        config = row.get("config") or {}
        if section:
            config = config.get(section) or {}
        return config.get(name)

    return get


def _schedule_value(row: Row) -> str | None:
    return describe_schedule((row.get("config") or {}).get("schedule"))


def _status_text(row: Row) -> str:
    summary = row.get("summary") or {}
    status = summary.get("status") or MISSING
    # A run that never completed an epoch shows its bare status, not "killed 0".
    if status in ("finished", MISSING) or not summary.get("epoch"):
        return status
    done = summary["epoch"]
    total = summary.get("epochs") or (row.get("config") or {}).get("epochs")
    return f"{status}, {done}/{total} epochs done" if total else f"{status}, {done} epochs done"


RUN = Column("run", "run", lambda row: row["run"], str)
STATUS = Column("status", "status", _status_text, str)
PLOT = Column("plot", "loss plot", lambda row: row.get("plot"), lambda link: link or MISSING, escape=False)

DEFAULT_METRICS = (
    Column("last_train_loss", "train loss", _summary_getter("last_train_loss"), format_loss, numeric=True),
    Column("last_val_loss", "val loss", _summary_getter("last_val_loss"), format_loss, numeric=True),
    Column("best_val_acc", "best val acc", _summary_getter("best_val_acc"), format_percent, numeric=True),
)

EXTRA_METRICS = (
    Column("epoch", "epochs done", _summary_getter("epoch"), format_number, numeric=True),
    Column("best_train_loss", "best train loss", _summary_getter("best_train_loss"), format_loss, numeric=True),
    Column("lr", "last LR", _summary_getter("lr"), format_scientific, numeric=True),
    Column("images_per_sec", "speed", _summary_getter("images_per_sec"), format_rate, numeric=True),
    Column("elapsed", "time", _summary_getter("elapsed"), format_duration, numeric=True),
)


def config_columns() -> list[Column]:
    """Return a column per config field in schema order; the schedule is one column."""
    columns = []
    for item in dataclasses.fields(ExperimentConfig):
        if item.name == "name":
            continue
        if item.name == "schedule":
            columns.append(Column("schedule", "schedule", _schedule_value, lambda text: text or MISSING))
        elif item.name in SECTIONS:
            columns += [_config_column(f"{item.name}.{sub.name}") for sub in dataclasses.fields(SECTIONS[item.name])]
        else:
            columns.append(_config_column(item.name))
    return columns


def _config_column(dotted: str) -> Column:
    text = format_scientific if dotted in SCIENTIFIC_FIELDS else format_number
    return Column(dotted, dotted, _config_getter(dotted), text, numeric=dotted in SCIENTIFIC_FIELDS)


def _aligned(column: Column, rows: list[Row]) -> Column:
    # Right-align a config column whose values are all numbers, as numbers read best.
    values = [column.value(row) for row in rows]
    present = [value for value in values if value is not None]
    numbers = present and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in present)
    return dataclasses.replace(column, numeric=True) if numbers else column


def choose_columns(rows: list[Row], all_columns: bool = False) -> list[Column]:
    """Pick the columns to export: the run, the config fields that differ, and the results.

    With `all_columns`, every config field and every summary value is shown.
    The status column appears when some run has not finished, so that its
    numbers are not mistaken for final ones.
    """
    columns = [RUN]
    statuses = {(row.get("summary") or {}).get("status") for row in rows}
    if all_columns or statuses - {"finished"}:
        columns.append(STATUS)

    for column in config_columns():
        distinct_cells = {column.cell(row) for row in rows}
        if all_columns or len(distinct_cells) > 1:
            columns.append(_aligned(column, rows))

    columns += DEFAULT_METRICS
    if all_columns:
        columns += EXTRA_METRICS
    if any(row.get("plot") for row in rows):
        columns.append(PLOT)
    return columns
