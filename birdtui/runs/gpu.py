"""Per-GPU memory and utilization through NVML, with the runs that use each GPU.

NVML comes from the `nvidia-ml-py` package, a dependency of birdtui.
Without it, or without an NVIDIA driver, the report lists no GPU and gives the reason.
`format_gpu_report` turns a report into the text that `birdtui gpus` and the UI show.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from birdtui.runs.state import RUNNING

if TYPE_CHECKING:
    from birdtui.runs.store import RunStore

GPU_COLUMNS = ("gpu", "name", "memory GiB", "util", "runs")
GIB = 1024**3


@dataclass
class GpuInfo:
    """One GPU as NVML reports it; memory in bytes, utilization in percent."""

    index: int
    name: str
    memory_used: int
    memory_total: int
    utilization: int | None
    # Pids of the compute processes on this GPU (may be empty inside containers).
    pids: list[int] = field(default_factory=list)
    # Ids of the birdtui runs placed on this GPU or owning one of `pids`.
    runs: list[str] = field(default_factory=list)


@dataclass
class GpuReport:
    """The GPUs found, or the reason why there are none."""

    gpus: list[GpuInfo]
    reason: str | None = None


def gpu_report(store: RunStore | None = None) -> GpuReport:
    """Query every GPU once; with a store, name the running runs on each GPU."""
    try:
        import pynvml
    except ImportError:
        return GpuReport([], "no GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)")

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return GpuReport([], f"no GPU: NVML is not available ({error}); is an NVIDIA driver installed?")

    try:
        gpus = [_query_gpu(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as error:
        return GpuReport([], f"no GPU: NVML query failed ({error})")
    finally:
        pynvml.nvmlShutdown()

    if not gpus:
        return GpuReport([], "no GPU: NVML found no devices")
    if store is not None:
        _attach_runs(gpus, store)
    return GpuReport(gpus)


def gpu_status(store: RunStore | None = None) -> list[GpuInfo]:
    """Return the GPUs (empty without NVML or a GPU; `gpu_report` gives the reason)."""
    return gpu_report(store).gpus


def no_gpu_reason() -> str | None:
    """Return why no GPU is listed, or None when NVML finds at least one."""
    return gpu_report().reason


def gpu_indices() -> list[int]:
    """Return the NVML indices of all GPUs ([] when there are none or NVML is missing)."""
    return [gpu.index for gpu in gpu_report().gpus]


def format_gpu_report(report: GpuReport) -> str:
    """Return one aligned line per GPU under a header, or the reason when there is no GPU."""
    if not report.gpus:
        return report.reason or "no GPU: NVML found no devices"

    table = [list(GPU_COLUMNS), *(gpu_row(gpu) for gpu in report.gpus)]
    widths = [max(len(row[column]) for row in table) for column in range(len(GPU_COLUMNS))]
    # Names and run ids are left-aligned, and the numbers right-aligned.
    left_aligned = {1, 4}
    lines = []
    for row in table:
        cells = [
            cell.ljust(width) if column in left_aligned else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def gpu_row(gpu: GpuInfo) -> list[str]:
    """Return the cells of one GPU: index, name, used/total memory in GiB, utilization, runs."""
    memory = f"{gpu.memory_used / GIB:.1f}/{gpu.memory_total / GIB:.1f}"
    utilization = "-" if gpu.utilization is None else f"{gpu.utilization}%"
    runs = ", ".join(gpu.runs) or "-"
    return [str(gpu.index), gpu.name, memory, utilization, runs]


def _query_gpu(pynvml, index: int) -> GpuInfo:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = pynvml.nvmlDeviceGetName(handle)
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)

    try:
        utilization = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except pynvml.NVMLError:
        # Some GPUs (and MIG instances) do not report utilization.
        utilization = None
    try:
        pids = [process.pid for process in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)]
    except pynvml.NVMLError:
        pids = []

    return GpuInfo(
        index=index,
        name=name,
        memory_used=int(memory.used),
        memory_total=int(memory.total),
        utilization=utilization,
        pids=pids,
    )


def _attach_runs(gpus: list[GpuInfo], store: RunStore) -> None:
    running = [info for info in store.list_runs() if info.status == RUNNING]
    for gpu in gpus:
        for info in running:
            # A run's worker leads its own process group, so its DataLoader
            # workers on the GPU share the worker's pid as their group id.
            on_slot = info.state.gpu == str(gpu.index)
            owns_process = info.state.pid is not None and any(
                _process_group(pid) == info.state.pid for pid in gpu.pids
            )
            if on_slot or owns_process:
                gpu.runs.append(info.run_id)


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None
