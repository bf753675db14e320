"""`birdtui gpus`: the GPU table built from hand-made GPUs, and the command run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from birdtui.runs.gpu import GIB, GpuInfo, GpuReport, format_gpu_report, gpu_report

NO_NVML_LINE = "no GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)"


def run_gpus(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `birdtui gpus` in a new process, away from the repository's experiments.toml."""
    return subprocess.run(
        [sys.executable, "-m", "birdtui", "gpus", "--runs", str(tmp_path / "runs"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )


def test_format_two_gpus():
    busy = GpuInfo(0, "NVIDIA H100 80GB HBM3", memory_used=int(12.3 * GIB), memory_total=80 * GIB, utilization=87, runs=["r18-base", "r50@2"])
    idle = GpuInfo(1, "NVIDIA A10", memory_used=0, memory_total=24 * GIB, utilization=None)

    lines = format_gpu_report(GpuReport([busy, idle])).splitlines()

    assert lines == [
        "gpu  name                   memory GiB  util  runs",
        "  0  NVIDIA H100 80GB HBM3   12.3/80.0   87%  r18-base, r50@2",
        "  1  NVIDIA A10               0.0/24.0     -  -",
    ]


def test_format_aligns_wide_numbers():
    gpus = [
        GpuInfo(9, "GPU", memory_used=140 * GIB, memory_total=141 * GIB, utilization=100),
        GpuInfo(10, "GPU", memory_used=1 * GIB, memory_total=141 * GIB, utilization=5),
    ]

    lines = format_gpu_report(GpuReport(gpus)).splitlines()

    # Numbers are right-aligned, so every row ends its numbers in the header's columns.
    assert lines == [
        "gpu  name   memory GiB  util  runs",
        "  9  GPU   140.0/141.0  100%  -",
        " 10  GPU     1.0/141.0    5%  -",
    ]


def test_format_without_gpu_is_the_reason():
    reason = "no GPU: NVML is not available (NVML Shared Library Not Found); is an NVIDIA driver installed?"

    assert format_gpu_report(GpuReport([], reason)) == reason


def test_command_without_nvml_package(tmp_path):
    # A pynvml module that fails to import simulates a machine without nvidia-ml-py.
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "pynvml.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(hidden)}

    result = run_gpus(tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == NO_NVML_LINE + "\n"
    assert result.stderr == ""


def test_command_on_this_machine(tmp_path):
    expected = gpu_report()

    result = run_gpus(tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    if expected.gpus:
        # Memory and utilization change between two queries, but the GPU indices do not.
        assert lines[0].split() == ["gpu", "name", "memory", "GiB", "util", "runs"]
        assert [line.split()[0] for line in lines[1:]] == [str(gpu.index) for gpu in expected.gpus]
    else:
        assert lines == [expected.reason]
        assert lines[0].startswith("no GPU: ")


def test_command_help_names_options(tmp_path):
    result = run_gpus(tmp_path, "--help")

    assert result.returncode == 0
    assert "--config" in result.stdout
    assert "--runs" in result.stdout
