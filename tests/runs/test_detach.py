"""Runs outlive the terminal that launched them, and a new CLI adopts them."""

from __future__ import annotations

import json
import os
import pty
import signal
import sys
import textwrap

from birdtui.runs.process import is_same_process
from birdtui.runs.state import RUNNING


def read_until(fd: int, marker: bytes, runs) -> bytes:
    output = b""

    def marker_seen() -> bool:
        nonlocal output
        output += os.read(fd, 1024)
        return marker in output

    runs.wait_for(marker_seen, description=f"{marker!r} on the pty")
    return output


def ls_row(runs, run_id: str) -> list[str]:
    """Run `ls` in a new process and return the cells of one run's row."""
    listing = runs.cli("ls", "--runs", str(runs.root))
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    return next(row for row in rows if row[0] == run_id)


def test_runs_survive_sighup_and_pty_close(runs):
    runs.plan(steady={"seconds": 2.5, "workers": 1})
    launcher = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from birdtui.config.schema import ExperimentConfig
        from birdtui.runs import RunStore, launch
        launch(RunStore(Path({str(runs.root)!r})), ExperimentConfig(name="steady", epochs=2))
        print("launched", flush=True)
        time.sleep(60)
        """
    )

    # The child leads a new session whose controlling terminal is the pty,
    # like a shell in an SSH session.
    child, master = pty.fork()
    if child == 0:
        os.execve(sys.executable, [sys.executable, "-c", launcher], runs.env)

    read_until(master, b"launched", runs)
    runs.wait_status("steady", RUNNING)
    worker_pid = runs.store.get("steady").state.pid

    # Hang up the launcher's whole process group and close the terminal.
    os.killpg(child, signal.SIGHUP)
    os.close(master)
    _, wait_status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(wait_status)
    assert os.WTERMSIG(wait_status) == signal.SIGHUP

    # The run and the supervisor live in sessions of their own, not the terminal's.
    assert os.getsid(worker_pid) != child
    supervisor = json.loads((runs.root / "supervisor.json").read_text())
    assert is_same_process(supervisor["pid"], supervisor["pid_start_time"])
    assert os.getsid(supervisor["pid"]) != child
    assert ls_row(runs, "steady")[1] == "running"

    runs.wait_status("steady", "finished", timeout=20)
    assert [event["event"] for event in runs.events("steady")] == ["start", "end"]
    # Only the supervisor, the worker's parent, receives the exit code.
    assert runs.store.get("steady").state.exit_code == 0
    assert ls_row(runs, "steady") == ["steady", "finished", "2/2", "0.25", "60.0%", "100"]
