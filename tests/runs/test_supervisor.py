"""The supervisor: GPU slots, one supervisor per folder, exit codes, adoption of what is there."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import psutil

from birdtui.runs import launch
from birdtui.runs.process import group_members
from birdtui.runs.state import RUNNING


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Return the largest number of intervals open at one time."""
    points = sorted(itertools.chain(((start, 1) for start, _ in intervals), ((end, -1) for _, end in intervals)), key=lambda p: (p[0], p[1]))
    current = peak = 0
    for _, change in points:
        current += change
        peak = max(peak, current)
    return peak


def test_queue_of_four_uses_two_slots(runs, monkeypatch):
    monkeypatch.setenv("BIRDTUI_GPUS", "0,1")
    names = ["q1", "q2", "q3", "q4"]
    runs.plan(**{name: {"seconds": 1.0} for name in names})
    launcher = textwrap.dedent(
        f"""
        from pathlib import Path
        from birdtui.config.schema import ExperimentConfig
        from birdtui.runs import RunStore, launch
        store = RunStore(Path({str(runs.root)!r}))
        for name in {names!r}:
            launch(store, ExperimentConfig(name=name, epochs=2))
        """
    )
    # The launching process exits at once; the supervisor finishes the queue alone.
    subprocess.run([sys.executable, "-c", launcher], check=True, timeout=60)

    for name in names:
        runs.wait_status(name, "finished", timeout=30)

    intervals = []
    for name in names:
        events = {event["event"]: event for event in runs.events(name)}
        assert set(events) == {"start", "end"}, name
        intervals.append((events["start"]["time"], events["end"]["time"]))
        # The trainer saw the GPU the supervisor recorded for the run.
        assert events["start"]["gpu"] == runs.store.get(name).state.gpu
        assert events["start"]["assigned_gpu"] == runs.store.get(name).state.gpu
    assert max_overlap(intervals) == 2
    assert {runs.store.get(name).state.gpu for name in names} == {"0", "1"}


def test_second_supervisor_exits_on_lock(runs):
    runs.plan(held={"seconds": 2.0})
    runs.queue_without_supervisor("held")
    command = [sys.executable, "-m", "birdtui.runs.supervisor", str(runs.root)]

    first = subprocess.Popen(command)
    second = subprocess.Popen(command)
    runs.wait_for(lambda: first.poll() is not None or second.poll() is not None, description="one supervisor to exit")

    # One exited at once because of the lock while the other still runs the 2 s run.
    survivor = second if first.poll() is not None else first
    quitter = first if survivor is second else second
    assert quitter.returncode == 0
    assert survivor.poll() is None
    assert "is taken by another supervisor" in (runs.root / "supervisor.log").read_text()

    assert survivor.wait(timeout=30) == 0
    assert runs.status("held") == "finished"
    assert [event["event"] for event in runs.events("held")] == ["start", "end"]


def test_failed_run_keeps_exit_code_and_stderr(runs):
    runs.plan(broken={"seconds": 0.2, "exit_code": 3})
    launch(runs.store, runs.config("broken"))

    runs.wait_status("broken", "failed")
    state = runs.store.get("broken").state
    assert state.exit_code == 3
    assert "exited with code 3" in state.error
    assert "fake trainer: scripted failure" in state.error


def test_end_record_decides_status(runs):
    runs.plan(nan={"seconds": 0.2, "end_status": "diverged"})
    launch(runs.store, runs.config("nan"))

    runs.wait_status("nan", "diverged")
    assert runs.store.get("nan").state.exit_code == 0


def test_missing_worker_program_fails_run(runs, monkeypatch):
    monkeypatch.setenv("BIRDTUI_WORKER_COMMAND", '["/nonexistent/trainer"]')
    launch(runs.store, runs.config("nowhere"))

    runs.wait_status("nowhere", "failed")
    assert "cannot start the worker '/nonexistent/trainer'" in runs.store.get("nowhere").state.error


def test_ls_restarts_supervisor_for_queue(runs):
    runs.plan(left={"seconds": 1.5})
    runs.queue_without_supervisor("left")

    listing = runs.cli("ls", "--runs", str(runs.root))
    assert listing.returncode == 0, listing.stderr
    assert "queued" in listing.stdout

    runs.wait_status("left", RUNNING)
    runs.wait_status("left", "finished")
    listing = runs.cli("ls", "--runs", str(runs.root))
    assert "left  finished" in listing.stdout


def is_dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_new_supervisor_adopts_orphaned_run(runs):
    runs.plan(orphan={"seconds": 2.0}, waiting={"seconds": 0.3})
    launch(runs.store, runs.config("orphan"))
    runs.wait_for(lambda: runs.events("orphan"), description="trainer start")
    old = json.loads((runs.root / "supervisor.json").read_text())
    os.kill(old["pid"], signal.SIGKILL)
    # This test process started the supervisor, so it stays a zombie until reaped.
    runs.wait_for(lambda: is_dead(old["pid"]), description="old supervisor to die")

    # This launch starts a new supervisor, which finds the orphan in the only slot.
    launch(runs.store, runs.config("waiting"))
    runs.wait_status("waiting", "finished", timeout=20)

    orphan_end = runs.events("orphan")[-1]
    assert orphan_end["event"] == "end"
    assert runs.events("waiting")[0]["time"] >= orphan_end["time"]
    state = runs.store.get("orphan").state
    assert state.status == "finished"
    # The orphan's parent died, so no process received its exit code.
    assert state.exit_code is None
    assert "adopted running pid" in (runs.root / "supervisor.log").read_text()


def test_unreadable_folder_logged_once(runs):
    broken = runs.root / "broken"
    broken.mkdir(parents=True)
    (broken / "state.json").write_text("[]")
    runs.plan(slow={"seconds": 1.0})
    launch(runs.store, runs.config("slow"))

    runs.wait_status("slow", "finished")
    runs.wait_for(lambda: "supervisor exiting" in (runs.root / "supervisor.log").read_text(), description="supervisor exit")
    log_text = (runs.root / "supervisor.log").read_text()
    assert log_text.count("skipping run folder") == 1
    assert f"{broken}/state.json: invalid run state" in log_text


def test_deleted_run_folder_is_dropped(runs):
    runs.plan(doomed={"seconds": 60}, after={"seconds": 0.2})
    launch(runs.store, runs.config("doomed"))
    launch(runs.store, runs.config("after"))
    runs.wait_for(lambda: runs.events("doomed"), description="trainer start")
    pid = runs.store.get("doomed").state.pid

    shutil.rmtree(runs.root / "doomed")

    # One slot: the queued run starts only once the deleted run's worker is gone.
    runs.wait_status("after", "finished")
    assert not group_members(pid)
    assert not (runs.root / "doomed").exists()
    log = (runs.root / "supervisor.log").read_text()
    assert "run doomed: its folder" in log
    assert "was deleted; stopping its worker and dropping the run" in log
    assert "state file not found" not in log
