"""The results table's columns: what each shows, how it is written and how it sorts.

Each column turns a `RunView` into a raw value (a number, a string or None)
and the raw value into cell text. Sorting uses the raw values, so numbers sort
as numbers, and missing values and NaN go last in both directions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from birdtui.export.formats import describe_schedule
from birdtui.tui.model import RunView

# Symbol and word for each status; the word alone must carry it without colour.
STATUS_LABELS = {
    "pending": "· pending",
    "queued": "… queued",
    "running": "▶ running",
    "finished": "✓ finished",
    "failed": "✗ failed",
    "killed": "■ killed",
    "diverged": "! diverged",
    "lost": "? lost",
}

STATUS_STYLES = {
    "running": "bold green",
    "finished": "cyan",
    "failed": "bold red",
    "diverged": "bold magenta",
    "killed": "yellow",
    "lost": "yellow",
}


@dataclass
class RowContext:
    """The data of one table sync that cells need besides their own row."""

    # Run key -> (rank, runs compared) at equal epoch, from `rank_at_equal_epoch`.
    ranks: dict[str, tuple[int, int]]
    # Runs marked for overlay on the plot.
    overlays: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Column:
    """One table column: `value` gives the raw value used for sorting, `text` writes it.

    `render` replaces `text` where the cell shows more than the sort value,
    such as the epoch `3/8` that sorts by 3.
    """

    key: str
    label: str
    value: Callable[[RunView, RowContext], Any]
    text: Callable[[Any], str] = str
    render: Callable[[RunView, RowContext], str] | None = None
    # Numbers are right-aligned so that their digits line up.
    numeric: bool = False


def format_number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def format_percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return format_number(value)
    return f"{100 * value:.1f}%"


def format_duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


# Short names of the augmentation options that are on, such as `hflip.5 jit.5`.
AUGMENT_NAMES = (("hflip", "hflip"), ("vflip", "vflip"), ("jitter", "jit"), ("invert", "inv"))


def describe_augment(config: dict[str, Any]) -> str | None:
    augment = config.get("augment")
    if augment is None:
        return None
    parts = [f"{short}{augment[name]:g}".replace("0.", ".") for name, short in AUGMENT_NAMES if augment.get(name)]
    if augment.get("crop_padding"):
        parts.append(f"crop{augment['crop_padding']}")
    return " ".join(parts) or "none"


def _epoch_value(view: RunView, context: RowContext) -> int | None:
    return view.summary.epoch if view.is_run else None


def _rank_value(view: RunView, context: RowContext) -> float | None:
    rank = context.ranks.get(view.key)
    return None if rank is None else rank[0]


# The columns that matter while runs train come first, so they fit in 80 columns.
COLUMNS: tuple[Column, ...] = (
    Column("mark", "+", lambda view, context: int(view.key in context.overlays), lambda marked: "+" if marked else " "),
    Column("name", "run", lambda view, _: view.key, str),
    Column("status", "status", lambda view, _: view.status, lambda value: STATUS_LABELS.get(value, value)),
    Column("epoch", "epoch", _epoch_value, render=lambda view, _: _format_epoch(view), numeric=True),
    # The labels match the export's, and so do the values: the last epoch's mean train loss, not a step's.
    Column("train_loss", "train loss", lambda view, _: view.train_loss, format_number, numeric=True),
    Column("val_loss", "val loss", lambda view, _: view.summary.last_val_loss, format_number, numeric=True),
    Column("val_acc", "best val acc", lambda view, _: view.summary.best_val_acc, format_percent, numeric=True),
    Column("rank", "rank@ep", _rank_value, render=lambda view, context: _format_rank(view, context), numeric=True),
    Column("lr", "lr", lambda view, _: view.summary.lr, lambda value: format_number(value, 3), numeric=True),
    Column("eta", "eta", lambda view, _: view.eta, format_duration, numeric=True),
    Column("elapsed", "elapsed", lambda view, _: view.elapsed, format_duration, numeric=True),
    Column("speed", "img/s", lambda view, _: view.summary.images_per_sec, lambda value: format_number(value, 3), numeric=True),
    Column("model", "model", lambda view, _: view.config.get("model"), lambda value: value or "-"),
    Column("schedule", "schedule", lambda view, _: describe_schedule(view.config.get("schedule")), lambda value: value or "-"),
    Column("augment", "augment", lambda view, _: describe_augment(view.config), lambda value: value or "-"),
    Column("gpu", "gpu", lambda view, _: view.gpu, lambda value: value or "-"),
)

COLUMN_KEYS = tuple(column.key for column in COLUMNS)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}


def cell_texts(view: RunView, context: RowContext) -> dict[str, str]:
    """Return the text of every cell of one row, by column key."""
    texts = {}
    for column in COLUMNS:
        if column.render is not None:
            texts[column.key] = column.render(view, context)
        else:
            texts[column.key] = column.text(column.value(view, context))
    return texts


def _format_epoch(view: RunView) -> str:
    total = view.epochs_total
    if not view.is_run:
        return f"-/{total}" if total else "-"
    return f"{view.summary.epoch}/{total if total is not None else '?'}"


def _format_rank(view: RunView, context: RowContext) -> str:
    rank = context.ranks.get(view.key)
    return f"{rank[0]}/{rank[1]}" if rank else "-"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def sort_order(views: list[RunView], column_key: str, reverse: bool, context: RowContext) -> list[str]:
    """Return row keys sorted by one column; missing values and NaN come last either way."""
    column = COLUMNS_BY_KEY[column_key]
    present, missing = [], []
    for view in views:
        value = column.value(view, context)
        (missing if is_missing(value) else present).append((_comparable(value), view.key))

    # Ties keep the run-name order whichever way the column sorts.
    present.sort(key=lambda item: item[1])
    present.sort(key=lambda item: item[0], reverse=reverse)
    missing.sort(key=lambda item: item[1])
    return [key for _, key in present + missing]


def _comparable(value: Any) -> tuple[int, Any]:
    # Numbers before text, so a column that mixes them still sorts.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))
