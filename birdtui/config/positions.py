"""Source positions of keys in a TOML document.

`tomllib` returns plain dicts with no line numbers, so error messages would
only name a key path. This module scans the source text once more and records
where each key, table header and array element starts, so an error message
can point at `experiments.toml:14:1`. The scanner assumes the text already parsed with
`tomllib`; on text it does not follow it stops early and returns what it found.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass, field

KeyPath = tuple["str | int", ...]

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Characters that end a scalar such as a number, a boolean or a date.
SCALAR_END = ",]}\n#"


def format_key_path(path: KeyPath) -> str:
    """Write a key path as `experiments[2].optim.lr`, quoting keys that are not bare."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key_text = part if BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        text += f".{key_text}" if text else key_text
    return text


@dataclass
class PositionIndex:
    """Maps key paths to 1-based (line, column) pairs in the source text."""

    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def scan(cls, text: str) -> "PositionIndex":
        scanner = _Scanner(text)
        try:
            scanner.scan_document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            pass  # Keep the positions found so far; errors fall back to no line.
        return cls(scanner.positions)

    def locate(self, path: KeyPath) -> tuple[int | None, int | None]:
        """Return the position of `path`, or of its nearest recorded parent."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return None, None

    def line_of(self, path: KeyPath) -> int | None:
        return self.locate(path)[0]


class _Scanner:
    """A structural walk over valid TOML that records where keys start."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.positions: dict[KeyPath, tuple[int, int]] = {}
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        # How many `[[name]]` headers each array-of-tables path has had so far.
        self._array_counts: dict[KeyPath, int] = {}

    def scan_document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text[self.pos] == "[":
                table = self._read_header()
            else:
                self._read_key_value(table)

    def _read_header(self) -> KeyPath:
        start = self.pos
        is_array = self.text.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        parts = self._read_key()
        self.pos += 2 if is_array else 1

        path = self._resolve_arrays(parts, last_is_array=is_array)
        if is_array:
            count = self._array_counts.get(path, 0)
            self._array_counts[path] = count + 1
            path = path + (count,)
        # `[a.b]` also marks where `a` is first seen, if nothing earlier did.
        for end in range(1, len(path) + 1):
            self._record(path[:end], start)
        return path

    def _resolve_arrays(self, parts: list[str], last_is_array: bool) -> KeyPath:
        # `[fruits.physical]` after `[[fruits]]` names a table inside the last fruit.
        path: KeyPath = ()
        for number, part in enumerate(parts):
            path = path + (part,)
            is_last = number == len(parts) - 1
            if path in self._array_counts and not (is_last and last_is_array):
                path = path + (self._array_counts[path] - 1,)
        return path

    def _read_key_value(self, table: KeyPath) -> None:
        start = self.pos
        parts = self._read_key()
        path = table + tuple(parts)
        for end in range(len(table) + 1, len(path) + 1):
            self.positions.setdefault(path[:end], self._position(start))
        self._skip_blank()
        self.pos += 1  # the "="
        self._read_value(path)

    def _read_key(self) -> list[str]:
        parts = []
        while True:
            self._skip_blank()
            parts.append(self._read_key_part())
            self._skip_blank()
            if self.text[self.pos] != ".":
                return parts
            self.pos += 1

    def _read_key_part(self) -> str:
        char = self.text[self.pos]
        if char in "\"'":
            raw = self._skip_string()
            # Let tomllib decode the escapes so the key matches the parsed dict.
            return tomllib.loads(f"k = {raw}")["k"]
        match = BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise ValueError(f"no key at offset {self.pos}")
        self.pos = match.end()
        return match.group()

    def _read_value(self, path: KeyPath) -> None:
        self._skip_blank()
        char = self.text[self.pos]
        if char == "{":
            self._read_inline_table(path)
        elif char == "[":
            self._read_array(path)
        elif char in "\"'":
            self._skip_string()
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in SCALAR_END:
                self.pos += 1

    def _read_inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self._skip_blank(newlines=True)
            if self.text[self.pos] == "}":
                self.pos += 1
                return
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            self._read_key_value(path)

    def _read_array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self.text[self.pos] == "]":
                self.pos += 1
                return
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            self._record(path + (index,), self.pos)
            self._read_value(path + (index,))
            index += 1

    def _skip_string(self) -> str:
        start = self.pos
        quote = self.text[self.pos]
        delimiter = quote * 3 if self.text.startswith(quote * 3, self.pos) else quote
        self.pos += len(delimiter)
        while not self.text.startswith(delimiter, self.pos):
            if quote == '"' and self.text[self.pos] == "\\":
                self.pos += 1
            if self.pos >= len(self.text):
                raise ValueError("unterminated string")
            self.pos += 1
        self.pos += len(delimiter)
        # A multi-line string may end with up to two extra quotes, as in """a"""".
        while len(delimiter) == 3 and self.text.startswith(quote, self.pos):
            self.pos += 1
        return self.text[start:self.pos]

    def _skip_blank(self, newlines: bool = False) -> None:
        blank = " \t\r\n" if newlines else " \t"
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in blank:
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def _record(self, path: KeyPath, offset: int) -> None:
        self.positions.setdefault(path, self._position(offset))

    def _position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1
