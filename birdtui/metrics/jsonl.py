"""Strict JSON lines for metrics logs.

JSON has no NaN or Infinity, and Python's `json` writes them as bare `NaN`,
which other readers reject. Non-finite floats are therefore written as the
strings "NaN", "Infinity" and "-Infinity"; `decode_line` turns them back
into floats in the numeric fields listed in `NUMERIC_FIELDS`.
"""

from __future__ import annotations

import json
import math
from typing import Any

NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# Fields that hold numbers, so a string like "NaN" there is a non-finite float.
NUMERIC_FIELDS = frozenset(
    {
        "loss", "lr", "old", "new", "train_loss", "train_acc", "val_loss", "val_acc",
        "val_top5", "seconds", "images_per_sec", "best_val_acc", "best_metric", "value",
    }
)


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {key: _replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_non_finite(item) for item in value]
    return value


def encode_record(record: dict[str, Any]) -> str:
    """Serialize one record as a single strict-JSON line ending in a newline."""
    return json.dumps(_replace_non_finite(record), allow_nan=False, separators=(",", ":")) + "\n"


def decode_line(line: str) -> dict[str, Any]:
    """Parse one complete line; raise ValueError when it is not a JSON object."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError(f"metrics line is not a JSON object: {line[:80]!r}")
    for key in NUMERIC_FIELDS.intersection(record):
        value = record[key]
        if isinstance(value, str) and value in NON_FINITE_TEXT:
            record[key] = NON_FINITE_TEXT[value]
    return record
