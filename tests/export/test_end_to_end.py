"""One real training run, launched and exported through the birdtui CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from birdtui.runs.process import is_same_process

EXPERIMENTS = """
[defaults]
model = "resnet18"
epochs = 1
device = "cpu"
log_every = 1

[defaults.data]
root = "{root}"
batch_size = 8
image_size = 32

[[experiments]]
name = "tiny"
"""


def birdtui(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "birdtui", *argv], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def wait_for_status(run_dir: Path, statuses: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            status = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))["status"]
        except (OSError, ValueError, KeyError):
            status = None
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_dir.name} still {status!r} after {timeout} s; stderr: {(run_dir / 'stderr.log').read_text(errors='replace') if (run_dir / 'stderr.log').exists() else ''}")


@pytest.fixture
def project(tmp_path: Path, tiny_dataset: Path):
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS.format(root=tiny_dataset / "train"), encoding="utf-8")
    yield tmp_path
    # Stop the supervisor this test started, if a failure left it running.
    info_path = tmp_path / "runs" / "supervisor.json"
    if info_path.exists():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if is_same_process(info["pid"], info["pid_start_time"]):
            os.kill(info["pid"], signal.SIGKILL)


def test_launch_train_and_export(project: Path) -> None:
    env = {**os.environ, "BIRDTUI_GPUS": "cpu", "BIRDTUI_PER_GPU": "1"}

    launched = birdtui("launch", "tiny", cwd=project, env=env)
    assert launched.returncode == 0, launched.stderr
    status = wait_for_status(project / "runs" / "tiny", {"finished", "failed", "diverged", "lost"}, timeout=180)
    assert status == "finished"

    exported = birdtui("export", "--all-columns", "--csv", "results.csv", cwd=project, env=env)

    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.strip().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    values = dict(zip(header, [cell.strip() for cell in lines[2].strip("|").split("|")]))
    assert len(lines) == 3
    assert values["run"] == "tiny"
    assert values["status"] == "finished"
    assert values["epochs done"] == "1"
    assert values["model"] == "resnet18"
    assert values["data.image_size"] == "32"
    assert values["best val acc"].endswith("%")
    assert 0.0 <= float(values["best val acc"].rstrip("%")) <= 100.0
    assert float(values["train loss"]) > 0
    assert float(values["val loss"]) > 0
    assert (project / "results.csv").read_text(encoding="utf-8").startswith("run,status,")
