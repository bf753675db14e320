"""SIGTERM and SIGINT stop a training worker promptly with a `killed` end record."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from birdtui.metrics import read_records

# Far more epochs than a test waits for, so only the signal can end the run.
ENDLESS_EPOCHS = 1000


@pytest.mark.parametrize(("signal_number", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_training_ends_killed(make_run, workers, signal_number, exit_code):
    run_dir = make_run(epochs=ENDLESS_EPOCHS)
    process = workers.start(run_dir)
    workers.wait_for_record(run_dir, lambda r: r["type"] == "step" and r["step"] >= 2)

    process.send_signal(signal_number)

    assert process.wait(timeout=10) == exit_code, workers.stderr(run_dir)
    records = read_records(run_dir / "metrics.jsonl")
    end = records[-1]
    assert end["type"] == "end"
    assert end["status"] == "killed"
    assert end["error"] is None
    last_step = [r for r in records if r["type"] == "step"][-1]
    assert end["step"] == last_step["step"]  # log_every = 1: every finished step has its record
    assert end["epoch"] >= last_step["epoch"]
    assert "Traceback" not in workers.stderr(run_dir)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the signal mask from /proc, which only Linux has")
def test_signal_during_startup_ends_killed(make_run, workers):
    run_dir = make_run(epochs=ENDLESS_EPOCHS)
    process = workers.start(run_dir)
    # The worker installs its handlers before importing torch, which takes seconds.
    wait_until_catching(process.pid, signal.SIGTERM)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 143, workers.stderr(run_dir)
    records = read_records(run_dir / "metrics.jsonl")
    assert [r["type"] for r in records] == ["end"]
    assert records[0]["status"] == "killed"
    assert (records[0]["epoch"], records[0]["step"]) == (0, 0)


def wait_until_catching(pid: int, signal_number: int, timeout: float = 30) -> None:
    """Poll the process's caught-signal mask in /proc (Linux) until it has a handler for the signal."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in status.read_text().splitlines():
            if line.startswith("SigCgt:") and int(line.split()[1], 16) & (1 << (signal_number - 1)):
                return
        time.sleep(0.005)
    pytest.fail(f"process {pid} installed no handler for signal {signal_number} within {timeout} s")


def test_signal_to_group_with_loader_workers(make_run, workers):
    # A kill of the whole process group also reaches the DataLoader worker processes.
    run_dir = make_run(epochs=ENDLESS_EPOCHS, **{"data.workers": 1})
    process = workers.start(run_dir, new_session=True)
    workers.wait_for_record(run_dir, lambda r: r["type"] == "step" and r["step"] >= 2)

    os.killpg(process.pid, signal.SIGTERM)

    assert process.wait(timeout=10) == 143, workers.stderr(run_dir)
    end = read_records(run_dir / "metrics.jsonl")[-1]
    assert end["type"] == "end"
    assert end["status"] == "killed"


def test_signal_abandons_slow_step(make_run, workers, monkeypatch):
    # Steps of a few hundred ms against a 1 ms grace period: the worker cannot finish the step in time.
    monkeypatch.setenv("BIRDTUI_STOP_GRACE_SECONDS", "0.001")
    run_dir = make_run(epochs=ENDLESS_EPOCHS, **{"data.image_size": 128, "data.batch_size": 16})
    process = workers.start(run_dir)
    workers.wait_for_record(run_dir, lambda r: r["type"] == "step" and r["step"] >= 1)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 143, workers.stderr(run_dir)
    records = read_records(run_dir / "metrics.jsonl")
    end = records[-1]
    assert end["type"] == "end"
    assert end["status"] == "killed"
    assert [r["type"] for r in records].count("end") == 1
    assert "abandoning the step" in workers.stderr(run_dir)
