"""A real terminal for the UI: tmux on a private socket, read back with capture-pane.

Every test gets its own tmux server (`tmux -L birdtui-test-<random>`), which
is killed at the end together with any run the test left running, so no
process outlives the test.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from birdtui.runs import RunStore, kill

# Deadlines for screen and run changes. Runs share two CPU cores with the
# rest of the suite, so they are generous; a passing test waits far less.
SCREEN_TIMEOUT = 30.0
RUN_TIMEOUT = 240.0

EXPERIMENTS = """\
[defaults]
model = "resnet18"
epochs = 2
device = "cpu"
log_every = 1

[defaults.data]
root = "{root}"
image_size = 32
batch_size = 8

[defaults.schedule]
type = "piecewise"
lr_by_epoch = {{ 0 = 0.05, 1 = 0.005 }}

[[experiments]]
name = "quick"

[[experiments]]
name = "slow-a"
epochs = 40

[[experiments]]
name = "slow-b"
epochs = 40
"""


def row_of(screen: str, run: str) -> str:
    """Return the table line of `run`, or '' when the screen shows none."""
    for line in screen.splitlines():
        # The name is the first word, or the second after the overlay mark "+".
        words = line.split()
        if words[:1] == [run] or (words[:1] == ["+"] and words[1:2] == [run]):
            return line
    return ""


class Tmux:
    """One private tmux server and the sessions a test opens on it."""

    def __init__(self, workdir: Path, environment: dict[str, str]) -> None:
        self.socket = f"birdtui-test-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.environment = environment

    def command(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def open_ui(self, session: str, config: Path, width: int = 80, height: int = 24, **environment: str) -> None:
        """Start `birdtui --config CONFIG` in a new detached session of the given size.

        The shell around it prints a marker and stays open after the UI exits,
        so the exit message can still be read from the pane.
        """
        variables = {**self.environment, **environment}
        ui = " ".join(shlex.quote(part) for part in [sys.executable, "-m", "birdtui", "--config", str(config)])
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
        script = f"env {exports} {ui}; echo '[ui exited]'; exec sleep 600"
        self.command("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), "-c", str(self.workdir), "sh", "-c", script)

    def press(self, session: str, *keys: str) -> None:
        for key in keys:
            self.command("send-keys", "-t", session, key)

    def screen(self, session: str, escapes: bool = False) -> str:
        return self.command("capture-pane", "-p", *(["-e"] if escapes else []), "-t", session)

    def wait_for(self, session: str, condition: Callable[[str], bool], what: str, timeout: float = SCREEN_TIMEOUT) -> str:
        """Poll the pane until `condition(text)` holds; fail with the last screen after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(session)
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; the screen was:\n{text}")
            time.sleep(0.2)

    def wait_for_text(self, session: str, needle: str, timeout: float = SCREEN_TIMEOUT) -> str:
        return self.wait_for(session, lambda text: needle in text, repr(needle), timeout)

    def kill_session(self, session: str) -> None:
        self.command("kill-session", "-t", session)

    row_of = staticmethod(row_of)

    def kill_server(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


class RunsFolder:
    """The state files of the runs folder beside the experiments file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def status(self, run: str) -> str | None:
        try:
            return json.loads((self.path / run / "state.json").read_text())["status"]
        except (FileNotFoundError, ValueError):
            return None

    def wait_for_status(self, run: str, statuses: set[str], timeout: float = RUN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.status(run) not in statuses:
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run} is {self.status(run)} after {timeout} s, expected one of {sorted(statuses)}")
            time.sleep(0.2)


def stop_runs(runs_dir: Path) -> None:
    """Kill every queued or running run, so that no worker outlives its test."""
    store = RunStore(runs_dir)
    for info in store.list_runs():
        if info.status in ("queued", "running"):
            kill(store, info.run_id, grace=5.0)


@pytest.fixture
def experiments(tmp_path: Path, tiny_dataset: Path) -> Iterator[Path]:
    """An experiments file with a two-epoch run (quick) and two forty-epoch runs (slow-a, slow-b); their runs are killed at the end."""
    path = tmp_path / "experiments.toml"
    path.write_text(EXPERIMENTS.format(root=tiny_dataset / "train"))
    yield path
    stop_runs(tmp_path / "runs")


@pytest.fixture
def runs_folder(experiments: Path) -> RunsFolder:
    return RunsFolder(experiments.parent / "runs")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed; these tests drive the UI in a real terminal")
    # Two CPU slots, so that the supervisor runs two runs at once.
    server = Tmux(tmp_path, {"TERM": "xterm-256color", "BIRDTUI_PER_GPU": "2", "PATH": os.environ.get("PATH", "")})
    yield server
    server.kill_server()
