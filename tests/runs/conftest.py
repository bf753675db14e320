"""Fixtures for the runs tests: a runs folder driven by the fake trainer, and cleanup.

Every test here starts real supervisors and worker processes. The `runs`
fixture kills whatever of them is still alive when the test ends, found
through the pids recorded in the test's own state files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from birdtui.config.schema import ExperimentConfig
from birdtui.errors import RunError
from birdtui.runs.process import group_members, is_same_process
from birdtui.runs.state import RunState, read_state, write_state
from birdtui.runs.store import RunStore

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, description: str = "condition") -> Any:
    """Poll `condition` until it returns a truthy value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {description}")
        time.sleep(0.05)


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Return the fake trainer's start/end events of one run folder."""
    path = Path(run_dir) / "fake-events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class RunsFolder:
    """A runs folder under tmp_path whose worker is the fake trainer."""

    root: Path
    plan_path: Path
    env: dict[str, str]

    @property
    def store(self) -> RunStore:
        return RunStore(self.root)

    def plan(self, **behaviour: dict[str, Any]) -> None:
        """Set the fake trainer's behaviour per experiment name (see fake_trainer.py)."""
        self.plan_path.write_text(json.dumps(behaviour))

    def config(self, name: str, epochs: int = 2) -> ExperimentConfig:
        return ExperimentConfig(name=name, epochs=epochs)

    def queue_without_supervisor(self, name: str, epochs: int = 2) -> Path:
        """Write a queued run folder by hand, as a launcher whose supervisor died would leave it."""
        run_dir = self.root / name
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps({"name": name, "epochs": epochs}))
        now = time.time()
        write_state(run_dir, RunState(run=name, experiment=name, attempt=1, created=now, queued_at=now))
        return run_dir

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return read_events(self.root / run_id)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0, description: str = "condition") -> Any:
        return wait_for(condition, timeout, description)

    def status(self, run_id: str) -> str:
        return self.store.get(run_id).status

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 15.0) -> str:
        return wait_for(
            lambda: self.status(run_id) if self.status(run_id) in statuses else None,
            timeout,
            f"run {run_id} to be {' or '.join(statuses)}",
        )

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run `birdtui ARGS` in a new process, as a second terminal would."""
        return subprocess.run(
            [sys.executable, "-m", "birdtui", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            # Away from the repository, whose experiments.toml `ls` would list.
            cwd=self.root.parent,
        )


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_dataset: Path):
    # Launch checks that data.root has class folders with images. The default
    # root, data/demo-birds/train, is relative, so the tests run from tmp_path,
    # where a link to the tiny dataset has that path.
    demo = tmp_path / "data" / "demo-birds" / "train"
    demo.parent.mkdir(parents=True)
    demo.symlink_to(tiny_dataset / "train", target_is_directory=True)
    monkeypatch.chdir(tmp_path)

    plan_path = tmp_path / "fake-plan.json"
    plan_path.write_text("{}")
    settings = {
        "BIRDTUI_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_TRAINER)]),
        "FAKE_TRAINER_PLAN": str(plan_path),
        # One CPU slot unless a test sets others, so NVML is not queried.
        "BIRDTUI_GPUS": "cpu",
        "BIRDTUI_PER_GPU": "1",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)

    folder = RunsFolder(tmp_path / "runs", plan_path, dict(os.environ))
    yield folder
    _kill_leftovers(folder.root)


def _kill_leftovers(root: Path) -> None:
    """Stop the supervisor and the run process groups this test left running."""
    info_path = root / "supervisor.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if is_same_process(info["pid"], info["pid_start_time"]):
            os.kill(info["pid"], signal.SIGKILL)

    for state_file in root.glob("*/state.json"):
        try:
            state = read_state(state_file.parent)
        except RunError:
            continue
        if state.pid is None or not group_members(state.pid):
            continue
        # The group is the run's while its leader lives, or once the leader
        # is gone (a pid cannot be reused while its group has members).
        if is_same_process(state.pid, state.pid_start_time) or not psutil.pid_exists(state.pid):
            os.killpg(state.pid, signal.SIGKILL)
