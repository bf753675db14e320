"""The background data flow: poll the runs folder and the experiments file.

`RunsWatcher.poll` does one pass and returns the messages it found. The app
calls it from a thread worker about every half second, so file reads never
block the UI thread. The messages are handled on the UI thread.

A pass costs a few `stat` calls when nothing changed: state.json is read
only when its mtime or size moved, and each metrics.jsonl is tailed from the
last offset by `JsonlTailer`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from birdtui.config.load import load_experiments
from birdtui.errors import BirdtuiError, ConfigError, RunError
from birdtui.metrics import JsonlTailer
from birdtui.runs.state import read_state
from birdtui.runs.store import RunStore
from birdtui.tui.messages import (
    ExperimentsInvalid,
    ExperimentsLoaded,
    RunRecords,
    RunRemoved,
    RunStateChanged,
    RunUnreadable,
)

POLL_SECONDS = 0.5

# Polls between checks that a running run's process still exists.
PROCESS_CHECK_EVERY = 4


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """Return the (mtime, size, inode) signature of a file, or None when it is absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def read_json(path: Path) -> dict[str, Any] | None:
    """Read a JSON object, or None when the file is absent or not a complete object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class WatchedRun:
    tailer: JsonlTailer
    state_signature: tuple[int, int, int] | None = None
    config: dict[str, Any] | None = None
    backlog_read: bool = False
    status: str | None = None


class RunsWatcher:
    """The change detector for the experiments file and the runs folder, poll by poll."""

    def __init__(self, config_path: Path, runs_dir: Path, store: RunStore) -> None:
        self.config_path = Path(config_path)
        self.runs_dir = Path(runs_dir)
        self.store = store
        self._config_signature: tuple[int, int, int] | None | str = "unread"
        self._runs: dict[str, WatchedRun] = {}
        self._polls = 0

    def poll(self) -> list[Message]:
        self._polls += 1
        if self._polls % PROCESS_CHECK_EVERY == 0:
            self.check_running_processes()
        messages = self.poll_experiments()
        messages += self.poll_runs()
        return messages

    def check_running_processes(self) -> None:
        """Let the store settle running runs whose process is gone.

        The store rewrites state.json of such a run (to its end status or
        `lost`), and the state poll that follows reports the change.
        """
        for run_id, watched in list(self._runs.items()):
            if watched.status != "running":
                continue
            try:
                self.store.get(run_id)
            except BirdtuiError:
                # The folder vanished or its state is unreadable: the state poll reports that.
                continue

    def poll_experiments(self) -> list[Message]:
        signature = file_signature(self.config_path)
        if signature == self._config_signature:
            return []
        self._config_signature = signature
        if signature is None:
            error = ConfigError(
                "experiments file not found",
                path=str(self.config_path),
                fix="create it, or pass --config with the path of your experiments.toml",
            )
            return [ExperimentsInvalid(error)]
        try:
            experiments_file = load_experiments(self.config_path)
        except BirdtuiError as error:
            return [ExperimentsInvalid(error)]
        return [ExperimentsLoaded(list(experiments_file.experiments))]

    def poll_runs(self) -> list[Message]:
        messages: list[Message] = []
        present = set()
        for run_dir in self._run_dirs():
            run_id = run_dir.name
            present.add(run_id)
            watched = self._runs.get(run_id)
            if watched is None:
                watched = self._runs[run_id] = WatchedRun(JsonlTailer(run_dir / "metrics.jsonl"))
            messages += self._poll_state(run_id, run_dir, watched)
            messages += self._poll_metrics(run_id, watched)

        for run_id in sorted(set(self._runs) - present):
            del self._runs[run_id]
            messages.append(RunRemoved(run_id))
        return messages

    def _run_dirs(self) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.runs_dir), key=lambda entry: entry.name)
        except FileNotFoundError:
            return []
        # A folder counts as a run once the launcher wrote its state file.
        return [Path(entry.path) for entry in entries if entry.is_dir() and os.path.exists(os.path.join(entry.path, "state.json"))]

    def _poll_state(self, run_id: str, run_dir: Path, watched: WatchedRun) -> list[Message]:
        signature = file_signature(run_dir / "state.json")
        if signature == watched.state_signature:
            return []
        watched.state_signature = signature
        try:
            state = read_state(run_dir).to_dict()
        except RunError as error:
            # State files are replaced atomically, so an invalid one stays invalid until
            # someone fixes it; it is reported once per version of the file.
            return [RunUnreadable(run_id, error)]
        watched.status = state.get("status")
        if watched.config is None:
            watched.config = read_json(run_dir / "config.json")
        return [RunStateChanged(run_id, state, watched.config or {})]

    def _poll_metrics(self, run_id: str, watched: WatchedRun) -> list[Message]:
        result = watched.tailer.read_new()
        backlog = not watched.backlog_read
        watched.backlog_read = True
        if not (result.records or result.reset or result.bad_lines):
            return []
        return [RunRecords(run_id, result.records, reset=result.reset, backlog=backlog, bad_lines=result.bad_lines)]
