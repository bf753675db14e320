"""The results table as CSV, with raw values for spreadsheets and scripts.

Named tables_csv so that it cannot shadow the standard library's csv module.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from birdtui.export.columns import Column, Row


def render_csv(rows: list[Row], columns: list[Column]) -> str:
    """Write rows as CSV: full-precision numbers, empty cells for missing values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.title for column in columns])
    for row in rows:
        writer.writerow([_raw_text(column.value(row)) for column in columns])
    return buffer.getvalue()


def _raw_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)
