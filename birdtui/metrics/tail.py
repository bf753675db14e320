"""Incremental reading of a metrics log that another process is still writing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from birdtui.metrics.jsonl import decode_line


@dataclass
class TailResult:
    """Records and problems found by one `read_new` call."""

    records: list[dict[str, Any]] = field(default_factory=list)
    # Complete lines that were not valid JSON objects, as (line number, text).
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    # True when the file shrank or was replaced, so earlier records are void.
    reset: bool = False


class JsonlTailer:
    """Reads the records appended to a JSON-lines file since the last call.

    A last line without its newline is kept back until the writer finishes it,
    so a half-written record is never parsed. A file that shrinks or is
    replaced (new inode) is read again from the start and flagged as reset.
    """

    def __init__(self, path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> None:
        self.path = Path(path)
        self.chunk_size = chunk_size
        self._offset = 0
        self._inode: int | None = None
        self._pending = b""
        self._line_number = 0

    def read_new(self) -> TailResult:
        result = TailResult()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return result

        if self._inode is not None and (stat.st_ino != self._inode or stat.st_size < self._offset):
            self._offset, self._pending, self._line_number = 0, b"", 0
            result.reset = True
        self._inode = stat.st_ino
        if stat.st_size == self._offset:
            return result

        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            while chunk := handle.read(self.chunk_size):
                self._offset += len(chunk)
                self._consume(self._pending + chunk, result)
        return result

    def _consume(self, data: bytes, result: TailResult) -> None:
        lines = data.split(b"\n")
        # The last piece has no newline yet: keep it for the next read.
        self._pending = lines.pop()
        for raw in lines:
            self._line_number += 1
            if not raw.strip():
                continue
            text = raw.decode("utf-8", errors="replace")
            try:
                result.records.append(decode_line(text))
            except ValueError:
                result.bad_lines.append((self._line_number, text))


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read every complete record of a metrics log (an absent file has none)."""
    return JsonlTailer(path).read_new().records
