"""Append-only writer of a run's metrics.jsonl."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from birdtui.metrics.jsonl import encode_record


class MetricsWriter:
    """Appends records to a metrics log, one whole line per `os.write`.

    The file is opened with O_APPEND and each record goes out in a single
    write, so a reader never sees two records interleaved and a crash leaves
    at most one half-written last line, which readers skip until it completes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record_type: str, **fields: Any) -> dict[str, Any]:
        """Append a record of `record_type` stamped with the current time."""
        record = {"type": record_type, "time": time.time(), **fields}
        os.write(self._fd, encode_record(record).encode("utf-8"))
        return record

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "MetricsWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
