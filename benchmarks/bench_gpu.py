"""Measure the worker's training step on a GPU: AMP + channels_last against fp32, and loader against GPU-only input.

For ResNet18 and ResNet34 at 224 px it times birdtui's own `train_step` on
one synthetic batch that stays on the GPU. The first run is fp32 in the
default memory format. The second uses the precision the worker picks on
that GPU (bf16 autocast where supported, else fp16 with a grad scaler) and
channels_last. It then times the same AMP step fed by the worker's real data
loader (JPEG decoding and augmentation in DataLoader workers) against the
GPU-only input, which shows whether the loader keeps the GPU busy.

Run on a CUDA machine: `python benchmarks/bench_gpu.py`. On a machine without
CUDA it exits with status 2 unless `--device cpu` is given, which only checks
that the script runs (tiny sizes, numbers meaningless).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from birdtui.config import DataConfig, ExperimentConfig, OptimConfig
from birdtui.demo_data import write_demo_dataset
from birdtui.train.data import build_data, build_loaders
from birdtui.train.device import Precision, choose_precision
from birdtui.train.loop import move_batch, train_step
from birdtui.train.model import build_model, build_optimizer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a smoke run")
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet34"], help="torchvision model names")
    parser.add_argument("--size", type=int, default=224, help="input side in pixels")
    parser.add_argument("--batch", type=int, default=128, help="images per step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement (after 5 warm-up steps)")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader worker processes for the loader measurement")
    return parser.parse_args()


def make_step_state(model_name: str, classes: int, precision: Precision) -> SimpleNamespace:
    """Build the parts of a worker `Trainer` that `train_step` uses."""
    model = build_model(model_name, classes).to(precision.device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return SimpleNamespace(
        model=model,
        criterion=nn.CrossEntropyLoss(),
        optimizer=build_optimizer(model, OptimConfig()),
        scaler=precision.grad_scaler(),
        precision=precision,
    )


def time_steps(state: SimpleNamespace, batches, steps: int) -> float:
    """Run 5 warm-up steps and `steps` timed ones; return images per second."""
    device = state.precision.device
    state.model.train()
    images_seen = 0
    start = 0.0
    for index, (images, labels) in enumerate(batches):
        if index == 5:
            synchronize(device)
            start = time.perf_counter()
            images_seen = 0
        images, labels = move_batch(images, labels, state.precision)
        train_step(state, images, labels)
        images_seen += labels.shape[0]
        if index == 5 + steps - 1:
            break
    synchronize(device)
    return images_seen / (time.perf_counter() - start)


def synthetic_batches(batch: int, size: int, classes: int, device: torch.device):
    """Yield the same batch forever, already on `device`: input that costs nothing."""
    images = torch.randn(batch, 3, size, size, device=device)
    labels = torch.randint(0, classes, (batch,), device=device)
    while True:
        yield images, labels


def loader_batches(loader):
    """Yield training batches from the real loader, epoch after epoch."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_real_loader(args: argparse.Namespace, workdir: Path):
    """Write a demo dataset at the benchmark size and build the worker's training loader on it."""
    root = write_demo_dataset(workdir / "demo", classes=8, train_per_class=max(40, args.batch), size=args.size)
    config = ExperimentConfig(
        name="bench-gpu",
        device=args.device,
        data=DataConfig(root=str(root / "train"), batch_size=args.batch, image_size=args.size, workers=args.workers),
    )
    bundle = build_data(config)
    train_loader, _ = build_loaders(bundle, config)
    return train_loader, len(bundle.classes)


def main() -> int:
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: CUDA is not available on this machine; run it on a GPU machine", file=sys.stderr)
        return 2

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke run)"
    print(f"device: {name}, torch {torch.__version__}, {args.size} px, batch {args.batch}, {args.steps} timed steps")
    fp32 = choose_precision(device, amp=False, channels_last=False)
    amp = choose_precision(device, amp=True, channels_last=True)
    amp_name = amp.name + (" + channels_last" if amp.channels_last else "")
    classes = 8

    for model_name in args.models:
        base = time_steps(make_step_state(model_name, classes, fp32), synthetic_batches(args.batch, args.size, classes, device), args.steps)
        fast = time_steps(make_step_state(model_name, classes, amp), synthetic_batches(args.batch, args.size, classes, device), args.steps)
        print(f"{model_name}: fp32 {base:.0f} images/s, {amp_name} {fast:.0f} images/s, ratio {fast / base:.2f}")

    with tempfile.TemporaryDirectory() as workdir:
        loader, classes = build_real_loader(args, Path(workdir))
        model_name = args.models[0]
        gpu_only = time_steps(make_step_state(model_name, classes, amp), synthetic_batches(args.batch, args.size, classes, device), args.steps)
        fed = time_steps(make_step_state(model_name, classes, amp), loader_batches(loader), args.steps)
        print(
            f"{model_name} {amp_name}: GPU-only input {gpu_only:.0f} images/s, "
            f"data loader ({args.workers} workers) {fed:.0f} images/s, ratio {fed / gpu_only:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
