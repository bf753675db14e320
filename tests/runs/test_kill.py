"""Killing runs: whole process groups, queued runs, and pids that are no longer the run's."""

from __future__ import annotations

import os
import subprocess
import time

import psutil
import pytest

from birdtui.errors import RunError
from birdtui.runs import kill, launch
from birdtui.runs.process import group_members, process_start_time
from birdtui.runs.state import RUNNING, RunState, write_state


def running_pid(runs, run_id: str) -> int:
    runs.wait_status(run_id, RUNNING)
    # Wait for the workers too: the trainer forks them right after it starts.
    return runs.wait_for(lambda: runs.events(run_id) and runs.store.get(run_id).state.pid, description="trainer start")


def test_kill_stops_group_that_ignores_sigterm(runs):
    runs.plan(stubborn={"seconds": 60, "workers": 2, "ignore_term": True})
    launch(runs.store, runs.config("stubborn"))
    pgid = running_pid(runs, "stubborn")
    runs.wait_for(lambda: len(group_members(pgid)) == 3, description="trainer and 2 workers in the group")

    started = time.monotonic()
    kill(runs.store, "stubborn", grace=0.5)

    assert group_members(pgid) == []
    assert runs.status("stubborn") == "killed"
    # SIGTERM was ignored, so the group only went away after the grace period.
    assert time.monotonic() - started >= 0.5
    assert [event["event"] for event in runs.events("stubborn")] == ["start"]


def test_kill_records_exit_code_after_sigterm(runs):
    runs.plan(polite={"seconds": 60, "workers": 1})
    launch(runs.store, runs.config("polite"))
    pgid = running_pid(runs, "polite")

    kill(runs.store, "polite", grace=10.0)

    assert group_members(pgid) == []
    state = runs.wait_for(lambda: (s := runs.store.get("polite").state).exit_code is not None and s, description="exit code")
    assert state.status == "killed"
    # The fake trainer exits with 143 from its SIGTERM handler.
    assert state.exit_code == 143
    assert state.kill_requested is not None


def test_kill_queued_run_removes_it_from_queue(runs):
    runs.plan(first={"seconds": 60}, second={"seconds": 0.2})
    launch(runs.store, runs.config("first"))
    launch(runs.store, runs.config("second"))
    running_pid(runs, "first")
    assert runs.status("second") == "queued"

    kill(runs.store, "second")
    assert runs.status("second") == "killed"

    kill(runs.store, "first", grace=2.0)
    runs.wait_status("first", "killed")
    # With the only slot free again, the cancelled run must still not start.
    time.sleep(0.5)
    assert runs.events("second") == []
    assert runs.status("second") == "killed"


def test_kill_finished_run_raises(runs):
    launch(runs.store, runs.config("short"))
    runs.wait_status("short", "finished")

    with pytest.raises(RunError, match="short is finished"):
        kill(runs.store, "short")


def test_kill_never_signals_reused_pid(runs):
    # An unrelated process now has the pid that the state file recorded.
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        run_dir = runs.root / "old"
        run_dir.mkdir(parents=True)
        write_state(
            run_dir,
            RunState(
                run="old", experiment="old", attempt=1, status=RUNNING, created=time.time(),
                pid=bystander.pid, pid_start_time=process_start_time(bystander.pid) - 50.0,
            ),
        )

        with pytest.raises(RunError, match="old is lost"):
            kill(runs.store, "old", grace=0.1)

        assert bystander.poll() is None
        assert psutil.Process(bystander.pid).status() != psutil.STATUS_ZOMBIE
        assert os.getpgid(bystander.pid) == os.getpgid(0)
    finally:
        bystander.kill()
        bystander.wait()
