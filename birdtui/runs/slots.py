"""GPU slots: how many runs the supervisor starts at once, and on which GPU each.

A slot is one place for a run: `per_gpu` slots on each listed GPU, or, with
no GPU, `per_gpu` CPU slots (one by default). The GPU list comes from the
`--gpus` option, else the `BIRDTUI_GPUS` environment variable, else the
indices in `CUDA_VISIBLE_DEVICES` when the caller set it, else every GPU that
NVML reports.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass

from birdtui.errors import RunError

log = logging.getLogger(__name__)

GPUS_ENV = "BIRDTUI_GPUS"
PER_GPU_ENV = "BIRDTUI_PER_GPU"

# Values of --gpus that mean "use no GPU".
CPU_ONLY_WORDS = ("", "cpu", "none")


@dataclass(frozen=True)
class SlotPlan:
    """The GPUs runs may use (empty: CPU only) and the runs allowed per GPU at once."""

    gpus: tuple[str, ...]
    per_gpu: int = 1

    def slot_gpus(self) -> list[str | None]:
        """Return one entry per slot: the GPU id for CUDA_VISIBLE_DEVICES, or None for a CPU slot."""
        if not self.gpus:
            return [None] * self.per_gpu
        return [gpu for gpu in self.gpus for _ in range(self.per_gpu)]

    def to_args(self) -> list[str]:
        """Return the supervisor command-line options that rebuild this plan."""
        return ["--gpus", ",".join(self.gpus) or "cpu", "--per-gpu", str(self.per_gpu)]


def parse_gpu_list(text: str, source: str = "--gpus") -> tuple[str, ...]:
    """Parse '0,1' into ('0', '1'); 'cpu', 'none' or '' mean no GPU."""
    if text.strip().lower() in CPU_ONLY_WORDS:
        return ()
    gpus = tuple(part.strip() for part in text.split(","))
    for gpu in gpus:
        if not gpu.isdigit():
            raise RunError(f"{source}: invalid GPU index {gpu!r} in {text!r}; use indices such as 0,1 or 'cpu'")
    if len(set(gpus)) != len(gpus):
        raise RunError(f"{source}: GPU listed twice in {text!r}; raise --per-gpu to run more per GPU")
    return gpus


def parse_per_gpu(text: str | int, source: str = "--per-gpu") -> int:
    try:
        value = int(text)
    except ValueError:
        raise RunError(f"{source}: invalid number of runs per GPU {text!r}; use a whole number >= 1") from None
    if value < 1:
        raise RunError(f"{source}: runs per GPU must be at least 1, got {value}")
    return value


def check_environment() -> None:
    """Raise RunError for an invalid BIRDTUI_GPUS or BIRDTUI_PER_GPU before a run is queued.

    The supervisor inherits the caller's environment; if it found the error
    instead, the run would wait in the queue with the reason only in supervisor.log.
    """
    if os.environ.get(GPUS_ENV) is not None:
        parse_gpu_list(os.environ[GPUS_ENV], source=GPUS_ENV)
    if os.environ.get(PER_GPU_ENV) is not None:
        parse_per_gpu(os.environ[PER_GPU_ENV], source=PER_GPU_ENV)


def resolve_plan(gpus: list[str] | tuple[str, ...] | str | None = None, per_gpu: int | str | None = None) -> SlotPlan:
    """Build the slot plan from explicit values, then the environment, then NVML."""
    if isinstance(gpus, str):
        gpu_list = parse_gpu_list(gpus)
    elif gpus is not None:
        gpu_list = parse_gpu_list(",".join(str(gpu) for gpu in gpus) or "cpu")
    elif os.environ.get(GPUS_ENV) is not None:
        gpu_list = parse_gpu_list(os.environ[GPUS_ENV], source=GPUS_ENV)
    else:
        gpu_list = _visible_device_indices()
    if gpu_list is None:
        # Imported here: NVML start-up is only worth paying when no list was given.
        from birdtui.runs.gpu import gpu_indices

        gpu_list = tuple(str(index) for index in gpu_indices())

    if per_gpu is not None:
        count = parse_per_gpu(per_gpu)
    elif os.environ.get(PER_GPU_ENV) is not None:
        count = parse_per_gpu(os.environ[PER_GPU_ENV], source=PER_GPU_ENV)
    else:
        count = 1
    return SlotPlan(gpu_list, count)


def _visible_device_indices() -> tuple[str, ...] | None:
    """Return the GPU indices of the caller's CUDA_VISIBLE_DEVICES, or None when it sets none.

    Each run gets its own CUDA_VISIBLE_DEVICES, which would otherwise override
    a restriction the user set for the whole session.
    """
    text = os.environ.get("CUDA_VISIBLE_DEVICES")
    if text is None:
        return None
    try:
        return parse_gpu_list(text, source="CUDA_VISIBLE_DEVICES")
    except RunError as error:
        # GPU UUIDs and MIG names are valid CUDA syntax that birdtui cannot map to NVML indices.
        log.warning("%s; using every GPU NVML reports (set %s to choose)", error, GPUS_ENV)
        return None


def add_slot_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --gpus and --per-gpu, which set the slots of a supervisor that the command starts."""
    parser.add_argument(
        "--gpus",
        help="GPU indices such as 0,1, or 'cpu', for a supervisor this command starts "
        f"(default: ${GPUS_ENV}, else $CUDA_VISIBLE_DEVICES, else every GPU NVML finds)",
    )
    parser.add_argument(
        "--per-gpu",
        help=f"runs at once per GPU, or CPU runs at once without a GPU (default: ${PER_GPU_ENV}, else 1)",
    )
