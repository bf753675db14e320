"""A run's state.json: its status, process identity and GPU, replaced atomically.

Several processes change state files: the launcher writes `queued`, the
supervisor writes `running` and the exit, `kill` writes `killed`, and any
reader may turn a vanished `running` run into `lost`. Each read-modify-write
happens under the runs folder's state lock (`state_lock`), and each write is a
temp file plus `os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from birdtui.errors import RunError

STATE_FILE = "state.json"
STATE_LOCK_FILE = ".state.lock"

QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
KILLED = "killed"
DIVERGED = "diverged"
LOST = "lost"

STATUSES = (QUEUED, RUNNING, FINISHED, FAILED, KILLED, DIVERGED, LOST)
ENDED_STATUSES = frozenset({FINISHED, FAILED, KILLED, DIVERGED, LOST})

# Interrupted runs continue from their last checkpoint. A diverged run would
# diverge again with the same config, and a finished one has nothing left.
RESUMABLE_STATUSES = frozenset({FAILED, KILLED, LOST})


@dataclass
class RunState:
    """The content of one state.json."""

    run: str
    experiment: str
    attempt: int
    status: str = QUEUED
    # True when the next start continues from the last checkpoint (`--resume`).
    resume: bool = False
    created: float | None = None
    # When the run last entered the queue; the supervisor starts the oldest first.
    queued_at: float | None = None
    started: float | None = None
    ended: float | None = None
    pid: int | None = None
    # psutil's create_time of `pid`, so that a reused pid is not taken for the run.
    pid_start_time: float | None = None
    exit_code: int | None = None
    gpu: str | None = None
    # Why the run failed or was lost: the end record's error or the last stderr lines.
    error: str | None = None
    # Time at which `kill` sent SIGTERM; a worker that dies of it ended as killed.
    kill_requested: float | None = None

    @property
    def ended_already(self) -> bool:
        return self.status in ENDED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunState":
        # Unknown keys come from newer versions of birdtui; they are dropped, not fatal.
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def state_path(run_dir: Path) -> Path:
    return Path(run_dir) / STATE_FILE


def read_state(run_dir: Path) -> RunState:
    """Read a run's state.json; raise RunError when it is missing or invalid."""
    path = state_path(run_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: state file not found; the folder is not a birdtui run") from None
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: cannot read the run state ({error}); delete the run folder or fix the file") from None

    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        raise RunError(f"{path}: invalid run state (status must be one of {', '.join(STATUSES)})")
    try:
        return RunState.from_dict(data)
    except TypeError as error:
        raise RunError(f"{path}: invalid run state ({error})") from None


def write_state(run_dir: Path, state: RunState) -> None:
    """Replace state.json atomically so that readers see the old or the new file."""
    write_json_atomic(state_path(run_dir), state.to_dict())


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def state_lock(runs_dir: Path) -> FileLock:
    """Return the lock that serializes read-modify-write of the state files in `runs_dir`."""
    # The lock file stays in place: deleting it on release would let a waiter
    # and a newcomer lock two different inodes of the same path.
    return FileLock(Path(runs_dir) / STATE_LOCK_FILE, preserve_lock_file=True)
