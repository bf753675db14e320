"""Fixtures for the training worker tests: run folders and worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from birdtui.config import ExperimentConfig, from_dict, to_dict
from birdtui.metrics import read_records

# Small enough for two CPU cores: 32 px images, batches of 8, one log record per step.
TEST_DEFAULTS: dict[str, Any] = {
    "epochs": 1,
    "device": "cpu",
    "log_every": 1,
    "data.image_size": 32,
    "data.batch_size": 8,
    "data.val_fraction": 0.2,
    "optim.lr": 0.05,
}


def build_config(name: str, root: Path, overrides: dict[str, Any]) -> ExperimentConfig:
    """Build a config from TEST_DEFAULTS and `overrides`, whose keys may be dotted ("data.batch_size")."""
    data = to_dict(ExperimentConfig(name=name))
    data["data"]["root"] = str(root)
    for key, value in {**TEST_DEFAULTS, **overrides}.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return from_dict(data)


@pytest.fixture
def make_run(tmp_path: Path, tiny_dataset: Path) -> Callable[..., Path]:
    """Return a function that writes `runs/<name>/config.json` under tmp_path and returns the run folder."""

    def make(name: str = "run", root: Path | None = None, **overrides: Any) -> Path:
        config = build_config(name, root or tiny_dataset / "train", overrides)
        run_dir = tmp_path / "runs" / name
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps(to_dict(config), indent=2), encoding="utf-8")
        return run_dir

    return make


class WorkerProcesses:
    """Starts `python -m birdtui.train` processes and kills any that a test leaves running."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def start(self, run_dir: Path, *args: str, new_session: bool = False) -> subprocess.Popen:
        """Start a worker; `new_session` gives it its own process group, as the supervisor does."""
        # The child keeps its own copies of the log file descriptors, so ours can close at once.
        with open(run_dir / "stdout.log", "ab") as stdout, open(run_dir / "stderr.log", "ab") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "birdtui.train", str(run_dir), *args],
                stdout=stdout, stderr=stderr, start_new_session=new_session,
            )
        self.processes.append(process)
        return process

    def run(self, run_dir: Path, *args: str, timeout: float = 120) -> int:
        """Run a worker to completion and return its exit code."""
        return self.start(run_dir, *args).wait(timeout=timeout)

    def wait_for_record(self, run_dir: Path, predicate: Callable[[dict], bool], timeout: float = 60) -> dict:
        """Poll the run's metrics log until a record matches `predicate`; fail the test at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in read_records(run_dir / "metrics.jsonl"):
                if predicate(record):
                    return record
            time.sleep(0.02)
        pytest.fail(f"no matching record in {run_dir / 'metrics.jsonl'} within {timeout} s; stderr:\n{self.stderr(run_dir)}")

    @staticmethod
    def stderr(run_dir: Path) -> str:
        path = run_dir / "stderr.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def workers() -> WorkerProcesses:
    processes = WorkerProcesses()
    yield processes
    processes.stop_all()
