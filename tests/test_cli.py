"""The `birdtui` entry point as a shell runs it."""

from __future__ import annotations

import subprocess
import sys


def test_closed_pipe_exits_quietly(tmp_path):
    # Many experiments, so that `ls` has output to write into the closed pipe.
    experiments = "".join(f'[[experiments]]\nname = "exp-{index}"\n' for index in range(200))
    (tmp_path / "experiments.toml").write_text(f'[defaults.data]\nroot = "data"\n{experiments}')

    process = subprocess.Popen(
        [sys.executable, "-m", "birdtui", "ls"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Closed before the command writes, as `head` does once it has its lines.
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=60)

    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert process.returncode == 141
