"""Messages that the background watcher posts to the app.

The watcher runs in a thread and never touches widgets; everything it finds
reaches the UI thread as one of these messages.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from birdtui.errors import BirdtuiError


class ExperimentsLoaded(Message):
    """The experiments file was read (at start or after an edit)."""

    def __init__(self, experiments: list[Any]) -> None:
        super().__init__()
        self.experiments = experiments


class ExperimentsInvalid(Message):
    """The experiments file could not be read; the error names the place and the fix."""

    def __init__(self, error: BirdtuiError) -> None:
        super().__init__()
        self.error = error


class RunStateChanged(Message):
    """A run folder appeared or its state.json changed."""

    def __init__(self, run_id: str, state: dict[str, Any], config: dict[str, Any]) -> None:
        super().__init__()
        self.run_id = run_id
        self.state = state
        self.config = config


class RunUnreadable(Message):
    """A run folder whose state.json is invalid; the error names the file and the fix."""

    def __init__(self, run_id: str, error: BirdtuiError) -> None:
        super().__init__()
        self.run_id = run_id
        self.error = error


class RunRemoved(Message):
    """A run folder disappeared."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class RunRecords(Message):
    """New metrics records of one run.

    `reset` is True when the log was replaced, so earlier records are void.
    `backlog` marks the first read of a log, which contains history rather than news.
    """

    def __init__(
        self,
        run_id: str,
        records: list[dict[str, Any]],
        *,
        reset: bool,
        backlog: bool,
        bad_lines: list[tuple[int, str]],
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.records = records
        self.reset = reset
        self.backlog = backlog
        self.bad_lines = bad_lines
