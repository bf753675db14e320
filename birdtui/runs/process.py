"""Process identity and process groups, through psutil.

A pid alone does not identify a run: after the run exits the kernel may give
the same pid to an unrelated process. A run is therefore recorded as its pid
plus the process start time, and both must match before birdtui treats a
process as the run or sends it a signal.
"""

from __future__ import annotations

import os

import psutil

# psutil derives start times from clock ticks since boot (10 ms on Linux), so
# two reads of the same process agree to well within this many seconds.
START_TIME_TOLERANCE = 0.1


def process_start_time(pid: int) -> float | None:
    """Return the start time of `pid` (Unix seconds), or None when no such process exists."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_same_process(pid: int | None, start_time: float | None) -> bool:
    """Return True when `pid` exists and started at `start_time`, so it is the recorded process.

    A zombie counts as alive: it is a run that exited but whose parent (the
    supervisor) has not yet collected its exit code, and the supervisor
    decides how such a run ended.
    """
    if pid is None or start_time is None:
        return False
    current = process_start_time(pid)
    return current is not None and abs(current - start_time) <= START_TIME_TOLERANCE


def group_members(pgid: int) -> list[int]:
    """Return the pids of the live processes in process group `pgid`; zombies are left out."""
    members = []
    for process in psutil.process_iter(["status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def signal_group(pgid: int, signal_number: int) -> bool:
    """Send a signal to every process of a group; return False when the group is gone."""
    try:
        os.killpg(pgid, signal_number)
    except ProcessLookupError:
        return False
    return True
