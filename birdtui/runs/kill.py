"""Killing a run: its whole process group, politely first, then for sure.

The worker leads its own process group, and the DataLoader workers it forks
belong to that group even after the worker itself has died, so signals go
to the group. A run is marked killed only once no live process of the group
is left.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from pathlib import Path

from birdtui.errors import RunError
from birdtui.runs.outcome import settle
from birdtui.runs.process import group_members, is_same_process, signal_group
from birdtui.runs.state import KILLED, QUEUED, RUNNING, read_state, state_lock, write_state
from birdtui.runs.store import RunStore

log = logging.getLogger(__name__)

# Time allowed for the group to vanish after SIGKILL, which cannot be ignored.
SIGKILL_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


def kill(store: RunStore, run_id: str, *, grace: float = 10.0) -> None:
    """Cancel a queued run, or stop a running one: SIGTERM, `grace` seconds, then SIGKILL.

    This blocks until no process of the run's group is left (up to `grace`
    plus 10 seconds), so the UI calls it from a worker thread.
    Raises RunError when the run has already ended, or when processes of its
    group survive SIGKILL (for example processes in uninterruptible sleep).
    """
    if not math.isfinite(grace) or grace < 0:
        raise RunError(f"invalid --grace {grace:g}: the seconds between SIGTERM and SIGKILL must be 0 or more\n  fix: pass --grace 10, or 0 to kill at once")
    info = store.get(run_id)

    with state_lock(store.root):
        state = read_state(info.path)
        if state.status == QUEUED:
            state.status = KILLED
            state.ended = time.time()
            write_state(info.path, state)
            log.info("run %s: cancelled before it started, status killed", run_id)
            return
        if state.status != RUNNING:
            raise RunError(f"run {run_id} is {state.status}, not queued or running; there is nothing to kill")
        # The store refreshed the state a moment ago. Check the process identity
        # again right before signalling, because a reused pid must never receive it.
        if not is_same_process(state.pid, state.pid_start_time):
            raise RunError(f"run {run_id}: process {state.pid} is no longer the run's; run `birdtui ls` to see how it ended")
        state.kill_requested = time.time()
        write_state(info.path, state)

    pgid = state.pid
    log.info("run %s: sending SIGTERM to process group %d", run_id, pgid)
    signal_group(pgid, signal.SIGTERM)
    survivors = _wait_for_group_exit(pgid, grace)

    if survivors:
        log.info("run %s: %d processes still alive after %.1f s; sending SIGKILL", run_id, len(survivors), grace)
        signal_group(pgid, signal.SIGKILL)
        survivors = _wait_for_group_exit(pgid, SIGKILL_WAIT_SECONDS)
    if survivors:
        raise RunError(
            f"run {run_id}: processes {survivors} of group {pgid} survived SIGKILL; "
            f"check them with `ps -o pid,stat,cmd -g {pgid}`"
        )

    _record_killed(store, info.path, run_id)


def _wait_for_group_exit(pgid: int, timeout: float) -> list[int]:
    """Wait until no live process of the group is left; return the survivors at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        members = group_members(pgid)
        if not members or time.monotonic() >= deadline:
            return members
        time.sleep(POLL_SECONDS)


def _record_killed(store: RunStore, run_dir: Path, run_id: str) -> None:
    with state_lock(store.root):
        state = read_state(run_dir)
        # The supervisor may have recorded the exit already, from the worker's
        # end record; that record is the authority.
        if state.status == RUNNING:
            settle(state, run_dir, exit_code=None)
            write_state(run_dir, state)
    log.info("run %s: no process of its group is left, status %s", run_id, state.status)
