"""The experiments file being loaded, and errors that point into it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from birdtui.config.positions import KeyPath, PositionIndex, format_key_path
from birdtui.errors import ConfigError


@dataclass
class SourceFile:
    """An experiments file's path and the positions of its keys."""

    path: Path
    index: PositionIndex

    def error(self, key_path: KeyPath, message: str, fix: str | None = None) -> ConfigError:
        """Build a ConfigError located at `key_path`, or at its nearest parent table."""
        line, column = self.index.locate(key_path)
        return ConfigError(
            message,
            path=str(self.path),
            line=line,
            column=column,
            key=format_key_path(key_path) or None,
            fix=fix,
        )
