"""Device choice and the precision settings that follow from it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from birdtui.errors import ConfigError
from birdtui.runs.worker import ASSIGNED_GPU_ENV


@dataclass
class Precision:
    """Autocast dtype, loss scaling and memory format of the training step on one device."""

    device: torch.device
    # None runs in fp32 with autocast disabled.
    autocast_dtype: torch.dtype | None
    # fp16 needs loss scaling to keep small gradients from underflowing, but bf16 and fp32 do not.
    use_grad_scaler: bool
    channels_last: bool

    @property
    def name(self) -> str:
        if self.autocast_dtype is None:
            return "fp32"
        return "bf16" if self.autocast_dtype == torch.bfloat16 else "fp16"

    def autocast(self) -> torch.autocast:
        return torch.autocast(
            device_type=self.device.type,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.use_grad_scaler)


def visible_cuda_index(name: str, assigned_gpu: str | None) -> str:
    """Return the CUDA index, as text, that a `cuda` or `cuda:N` device name means in this process.

    Under the supervisor, CUDA_VISIBLE_DEVICES lists only the assigned GPU,
    so it is index 0 and `cuda:N` naming that GPU becomes `0`. Naming another
    GPU raises ConfigError, because the supervisor chooses where a run goes.
    """
    index_text = name.partition(":")[2] or "0"
    if assigned_gpu is None or name == "cuda":
        return index_text
    if index_text == assigned_gpu:
        return "0"
    raise ConfigError(
        f"device {name!r} was requested, but the supervisor placed this run on GPU {assigned_gpu}",
        key="device",
        fix=f'set device = "cuda" or "auto", and choose GPUs with `birdtui launch --gpus {index_text}`',
    )


def resolve_device(name: str) -> torch.device:
    """Turn the config's `device` value (auto, cpu, cuda, cuda:N) into a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")

    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {name!r} was requested but CUDA is not available on this machine",
                key="device",
                fix='set device = "auto" or "cpu"',
            )
        index_text = visible_cuda_index(name, os.environ.get(ASSIGNED_GPU_ENV))
        if not index_text.isdigit() or int(index_text) >= torch.cuda.device_count():
            raise ConfigError(
                f"invalid CUDA device {name!r}; this machine has {torch.cuda.device_count()} GPU(s)",
                key="device",
                fix=f'use cuda:0 ... cuda:{torch.cuda.device_count() - 1}, "cuda" or "auto"',
            )
        return torch.device("cuda", int(index_text))

    raise ConfigError(f"invalid device {name!r}", key="device", fix='use "auto", "cpu", "cuda" or "cuda:N"')


def placement_warnings() -> list[str]:
    """Return the warnings about where this run trains, for stderr and the start record."""
    assigned_gpu = os.environ.get(ASSIGNED_GPU_ENV)
    if assigned_gpu is None or torch.cuda.is_available():
        return []
    # The run still trains, on the CPU, because failing would waste a queue of runs on a driver problem.
    return [
        f"the supervisor placed this run on GPU {assigned_gpu}, but CUDA is not available, so it trains on the CPU; "
        "fix: check `nvidia-smi` and that torch is a CUDA build, or launch with --gpus cpu"
    ]


def has_native_bf16(device: torch.device) -> bool:
    """Return whether the GPU computes in bf16 natively rather than by slower emulation."""
    if torch.version.hip:
        return True  # torch.cuda.is_bf16_supported (torch 2.14) treats every ROCm GPU as bf16-capable
    # Native bf16 arrived with Ampere, compute capability 8.0, as torch.cuda.is_bf16_supported also checks.
    return torch.cuda.get_device_capability(device)[0] >= 8


def choose_precision(device: torch.device, amp: bool, channels_last: bool) -> Precision:
    """Pick AMP on CUDA only: bf16 where the GPU supports it, else fp16 with a grad scaler."""
    if device.type != "cuda":
        return Precision(device, None, use_grad_scaler=False, channels_last=False)

    if not amp:
        return Precision(device, None, use_grad_scaler=False, channels_last=channels_last)
    if has_native_bf16(device):
        return Precision(device, torch.bfloat16, use_grad_scaler=False, channels_last=channels_last)
    return Precision(device, torch.float16, use_grad_scaler=True, channels_last=channels_last)
