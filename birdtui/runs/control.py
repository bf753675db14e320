"""Starting the supervisor of a runs folder on demand, detached from the caller."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from filelock import FileLock, Timeout

from birdtui.runs.slots import SlotPlan
from birdtui.runs.state import QUEUED
from birdtui.runs.store import RunInfo, RunStore

log = logging.getLogger(__name__)

SUPERVISOR_LOCK_FILE = "supervisor.lock"
SUPERVISOR_LOG_FILE = "supervisor.log"
SUPERVISOR_INFO_FILE = "supervisor.json"

# Supervisors this process started. They are polled now and then so that one
# that exited does not stay a zombie for the life of a long-running UI.
_started: list[subprocess.Popen] = []


def supervisor_lock(runs_dir: Path) -> FileLock:
    """Return the lock that a supervisor of `runs_dir` holds for its whole life (non-blocking)."""
    return FileLock(Path(runs_dir) / SUPERVISOR_LOCK_FILE, timeout=0, preserve_lock_file=True)


def supervisor_running(runs_dir: Path) -> bool:
    """Return True when a supervisor holds the lock of `runs_dir`."""
    lock = supervisor_lock(runs_dir)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def ensure_supervisor(runs_dir: Path, plan: SlotPlan | None = None) -> bool:
    """Start a supervisor for `runs_dir` unless one is running; return True when one was started.

    Call it after queueing a run: the supervisor's exit check and this check
    are ordered so that a queued run always finds a supervisor. `plan` sets the
    GPU slots of a new supervisor; a running one keeps its own.
    """
    _reap_started()
    runs_dir = Path(runs_dir).resolve()
    if supervisor_running(runs_dir):
        return False

    argv = [sys.executable, "-m", "birdtui.runs.supervisor", str(runs_dir)]
    if plan is not None:
        argv += plan.to_args()
    with open(runs_dir / SUPERVISOR_LOG_FILE, "ab") as output:
        # Its own session, so SIGHUP from a closing terminal or a crash of
        # the caller does not reach it.
        process = subprocess.Popen(
            argv,
            cwd=runs_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            close_fds=True,
        )
    _started.append(process)
    log.info("started supervisor pid %d for %s", process.pid, runs_dir)
    return True


def _reap_started() -> None:
    for process in list(_started):
        if process.poll() is not None:
            _started.remove(process)


def adopt(store: RunStore) -> list[RunInfo]:
    """List the runs already in the folder and restart the supervisor if some wait in the queue.

    Listing settles runs whose process is gone (finished, failed or lost).
    The UI and `birdtui ls` call this on start, so a queue left behind by a
    supervisor that died is picked up again.
    """
    runs = store.list_runs()
    if any(info.status == QUEUED for info in runs):
        ensure_supervisor(store.root)
    return runs
