"""GPU slot plans and the GPU view without NVIDIA hardware."""

from __future__ import annotations

import subprocess
import sys
import time
import types

import pytest

from birdtui.errors import RunError
from birdtui.runs import gpu_report, gpu_status, no_gpu_reason
from birdtui.runs.process import process_start_time
from birdtui.runs.slots import SlotPlan, parse_gpu_list, resolve_plan
from birdtui.runs.state import RunState, write_state


def test_slots_per_gpu():
    assert SlotPlan(("0", "1"), per_gpu=2).slot_gpus() == ["0", "0", "1", "1"]
    assert SlotPlan((), per_gpu=1).slot_gpus() == [None]
    assert SlotPlan(("3",), per_gpu=1).to_args() == ["--gpus", "3", "--per-gpu", "1"]
    assert SlotPlan((), per_gpu=2).to_args() == ["--gpus", "cpu", "--per-gpu", "2"]


@pytest.mark.parametrize("text, expected", [("0,1", ("0", "1")), (" 2 ", ("2",)), ("cpu", ()), ("none", ()), ("", ())])
def test_parse_gpu_list(text, expected):
    assert parse_gpu_list(text) == expected


@pytest.mark.parametrize("text, message", [("0,x", "invalid GPU index 'x'"), ("1,1", "GPU listed twice")])
def test_parse_gpu_list_invalid(text, message):
    with pytest.raises(RunError, match=message):
        parse_gpu_list(text)


def test_plan_from_environment(monkeypatch):
    monkeypatch.setenv("BIRDTUI_GPUS", "1,2")
    monkeypatch.setenv("BIRDTUI_PER_GPU", "3")
    assert resolve_plan() == SlotPlan(("1", "2"), 3)
    # Explicit values win over the environment.
    assert resolve_plan(["0"], 1) == SlotPlan(("0",), 1)


def test_plan_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.delenv("BIRDTUI_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert resolve_plan().gpus == ("2", "3")

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_plan().gpus == ()


def test_plan_environment_invalid(monkeypatch):
    monkeypatch.setenv("BIRDTUI_PER_GPU", "0")
    with pytest.raises(RunError, match="BIRDTUI_PER_GPU: runs per GPU must be at least 1"):
        resolve_plan(["0"])


def test_gpu_view_has_gpus_or_reason():
    report = gpu_report()
    if report.gpus:
        assert report.reason is None
        for gpu in report.gpus:
            assert 0 <= gpu.memory_used <= gpu.memory_total
    else:
        assert report.reason.startswith("no GPU: ")
        assert gpu_status() == []
        assert no_gpu_reason() == report.reason


def test_gpu_view_without_nvml_package(monkeypatch):
    # A None entry in sys.modules makes `import pynvml` raise ImportError.
    monkeypatch.setitem(sys.modules, "pynvml", None)

    report = gpu_report()

    assert report.gpus == []
    assert report.reason == "no GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)"


class FakeNvml(types.ModuleType):
    """An NVML stand-in with two GPUs, for machines without an NVIDIA driver.

    Only the calls birdtui makes are provided; GPU 1 runs one compute process.
    """

    class NVMLError(Exception):
        pass

    def __init__(self, process_pid: int) -> None:
        super().__init__("pynvml")
        self.process_pid = process_pid
        self.initialized = False

    def nvmlInit(self):
        self.initialized = True

    def nvmlShutdown(self):
        self.initialized = False

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H100" if handle == 0 else "NVIDIA H100"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(used=(handle + 1) * 2**30, total=80 * 2**30)

    def nvmlDeviceGetUtilizationRates(self, handle):
        if handle == 0:
            raise self.NVMLError("Not Supported")
        return types.SimpleNamespace(gpu=87)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [types.SimpleNamespace(pid=self.process_pid)] if handle == 1 else []


def test_gpu_view_names_runs(runs, monkeypatch):
    # A run recorded on GPU 0 by the supervisor, and one whose process NVML lists on GPU 1.
    on_slot = subprocess.Popen(["sleep", "30"], start_new_session=True)
    on_device = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        for name, process, gpu in (("slot-run", on_slot, "0"), ("device-run", on_device, None)):
            run_dir = runs.root / name
            run_dir.mkdir(parents=True)
            write_state(run_dir, RunState(
                run=name, experiment=name, attempt=1, status="running", created=time.time(),
                pid=process.pid, pid_start_time=process_start_time(process.pid), gpu=gpu,
            ))
        nvml = FakeNvml(process_pid=on_device.pid)
        monkeypatch.setitem(sys.modules, "pynvml", nvml)

        report = gpu_report(runs.store)
    finally:
        for process in (on_slot, on_device):
            process.kill()
            process.wait()

    assert report.reason is None
    first, second = report.gpus
    assert (first.index, first.name, first.utilization, first.runs) == (0, "NVIDIA H100", None, ["slot-run"])
    assert (second.utilization, second.pids, second.runs) == (87, [on_device.pid], ["device-run"])
    assert (second.memory_used, second.memory_total) == (2 * 2**30, 80 * 2**30)
    assert not nvml.initialized
