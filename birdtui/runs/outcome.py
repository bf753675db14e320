"""The final status of a run, decided from its metrics log, its exit code and a kill request.

The worker's `end` record is the authority. Without one, a run that `kill`
signalled was killed, a run whose exit code is known failed, and a run whose
process vanished with no exit code (its supervisor was gone too) is lost.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from birdtui.metrics import read_records
from birdtui.runs.state import FAILED, KILLED, LOST, RunState

METRICS_FILE = "metrics.jsonl"
STDERR_FILE = "stderr.log"
STDOUT_FILE = "stdout.log"

STDERR_TAIL_LINES = 20
STDERR_TAIL_BYTES = 8192


def last_end_record(run_dir: Path) -> dict[str, Any] | None:
    """Return the `end` record of the latest start of the run, or None while it has none."""
    end = None
    for record in read_records(Path(run_dir) / METRICS_FILE):
        kind = record.get("type")
        # A resumed run appends a new start after the end of the killed attempt.
        if kind == "start":
            end = None
        elif kind == "end":
            end = record
    return end


def stderr_tail(run_dir: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """Return the last lines of the run's stderr.log ('' when there is none)."""
    path = Path(run_dir) / STDERR_FILE
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - STDERR_TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def settle(state: RunState, run_dir: Path, exit_code: int | None) -> RunState:
    """Fill in the status, error and end time of a run whose process is gone."""
    state.exit_code = exit_code
    state.ended = state.ended or time.time()
    end = last_end_record(run_dir)

    if end is not None and end.get("status") in ("finished", "killed", "diverged", "failed"):
        state.status = end["status"]
        state.error = end.get("error")
        if state.status == FAILED and not state.error:
            state.error = stderr_tail(run_dir) or None
    elif state.kill_requested is not None:
        state.status = KILLED
    elif exit_code is not None:
        state.status = FAILED
        tail = stderr_tail(run_dir)
        reason = f"worker exited with code {exit_code} without an end record"
        state.error = f"{reason}\n{tail}" if tail else reason
    else:
        state.status = LOST
        tail = stderr_tail(run_dir)
        reason = "the worker process is gone without an end record and its exit code is unknown"
        state.error = f"{reason}\n{tail}" if tail else reason
    return state
