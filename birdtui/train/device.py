"""Device choice and the precision settings that follow from it."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from birdtui.errors import ConfigError


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
        index_text = name.partition(":")[2] or "0"
        if not index_text.isdigit() or int(index_text) >= torch.cuda.device_count():
            raise ConfigError(
                f"invalid CUDA device {name!r}; this machine has {torch.cuda.device_count()} GPU(s)",
                key="device",
                fix=f'use cuda:0 ... cuda:{torch.cuda.device_count() - 1}, "cuda" or "auto"',
            )
        return torch.device("cuda", int(index_text))

    raise ConfigError(f"invalid device {name!r}", key="device", fix='use "auto", "cpu", "cuda" or "cuda:N"')


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
