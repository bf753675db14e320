"""Start of one run's worker process, detached from the process that started the supervisor.

The worker command is `python -m birdtui.train RUN_DIR [--resume]`. Tests and
other trainers replace its first part with the environment variable
`BIRDTUI_WORKER_COMMAND`, a JSON list of arguments such as
`["python", "fake_trainer.py"]`. The run folder and `--resume` are appended to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from birdtui.errors import RunError
from birdtui.runs.outcome import STDERR_FILE, STDOUT_FILE

WORKER_COMMAND_ENV = "BIRDTUI_WORKER_COMMAND"
# Set next to CUDA_VISIBLE_DEVICES: the GPU index (PCI bus order) a run was placed on.
ASSIGNED_GPU_ENV = "BIRDTUI_ASSIGNED_GPU"


def base_worker_command() -> list[str]:
    """Return the worker command without the run folder, from the environment or the default."""
    text = os.environ.get(WORKER_COMMAND_ENV)
    if text is None:
        return [sys.executable, "-m", "birdtui.train"]

    try:
        command = json.loads(text)
    except ValueError as error:
        raise RunError(f"{WORKER_COMMAND_ENV}: invalid JSON ({error}); expected a list such as [\"python\", \"train.py\"]") from None
    if not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command):
        raise RunError(f"{WORKER_COMMAND_ENV}: expected a non-empty JSON list of strings, got {text!r}")
    return command


def worker_argv(base: list[str], run_dir: Path, resume: bool) -> list[str]:
    argv = [*base, str(run_dir)]
    if resume:
        argv.append("--resume")
    return argv


def start_worker(argv: list[str], run_dir: Path, gpu: str | None) -> subprocess.Popen:
    """Start a worker in its own session so that SIGHUP and the terminal closing miss it.

    Being a session leader also makes the worker the leader of a new process
    group, whose id is its pid; DataLoader workers it forks join that group,
    which is what `kill` signals.
    """
    env = os.environ.copy()
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
        # The worker maps a config's `cuda:N` onto the one GPU it can see.
        env[ASSIGNED_GPU_ENV] = gpu
        # CUDA numbers GPUs fastest first by default; NVML and --gpus use PCI bus order.
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"

    with open(Path(run_dir) / STDOUT_FILE, "ab") as stdout, open(Path(run_dir) / STDERR_FILE, "ab") as stderr:
        return subprocess.Popen(
            argv,
            cwd=run_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
        )
