"""Training throughput of the worker's loop against a plain PyTorch loop.

Both loops train the same model from the same initial weights on the same
batches, alternating round by round so that machine noise hits both alike.
The plain loop has no logging, no LR controller and no stop checks. The
worker's loop is `birdtui.train.loop.train_one_epoch`, which writes step
records to a metrics log every `--log-every` steps.

The images are decoded and augmented once before timing, so the figures
measure the training loops, not JPEG decoding. The verdict compares the best
round of each loop: other processes on the machine can only slow a round
down, so the fastest round is the closest to what the code itself costs.

    .venv/bin/python benchmarks/bench_worker.py            # CPU, resnet18, 32 px
    .venv/bin/python benchmarks/bench_worker.py --device cuda --amp

Exit status 1 when the worker reaches less than --min-ratio of the plain loop's images/s.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from birdtui.config import DataConfig, ExperimentConfig
from birdtui.demo_data import write_demo_dataset
from birdtui.metrics import MetricsWriter
from birdtui.train.data import build_data
from birdtui.train.device import Precision, choose_precision, resolve_device
from birdtui.train.loop import Progress, Trainer, move_batch, train_one_epoch
from birdtui.train.model import build_model, build_optimizer
from birdtui.train.schedule import LRController
from birdtui.train.signals import StopFlag

CLASSES = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18", help="torchvision model name")
    parser.add_argument("--image-size", type=int, default=32, help="input side in pixels")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step")
    parser.add_argument("--images", type=int, default=320, help="training images per epoch")
    parser.add_argument("--rounds", type=int, default=20, help="timed epochs of each loop, alternating")
    parser.add_argument("--log-every", type=int, default=5, help="the worker's steps between loss reads")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--amp", action="store_true", help="use AMP on CUDA in both loops")
    parser.add_argument("--min-ratio", type=float, default=0.98, help="lowest accepted worker / plain images/s")
    return parser.parse_args()


def build_batches(config: ExperimentConfig, image_count: int, workdir: Path) -> DataLoader:
    """Decode and augment the demo images once and serve them as fixed in-memory batches."""
    per_class = max(1, image_count // CLASSES)
    root = write_demo_dataset(workdir / "data", classes=CLASSES, train_per_class=per_class, test_count=0, size=config.data.image_size)
    config.data.root = str(root / "train")
    bundle = build_data(config)
    images, labels = zip(*(bundle.train[index] for index in range(len(bundle.train))))
    dataset = TensorDataset(torch.stack(images), torch.tensor(labels))
    return DataLoader(dataset, batch_size=config.data.batch_size, shuffle=False, drop_last=True)


def plain_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, precision: Precision) -> float:
    """Train one epoch the textbook way; return the seconds it took."""
    criterion = nn.CrossEntropyLoss()
    scaler = precision.grad_scaler()
    model.train()
    synchronize(precision.device)
    started = time.perf_counter()
    for images, labels in loader:
        images, labels = move_batch(images, labels, precision)
        with precision.autocast():
            loss = criterion(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    synchronize(precision.device)
    return time.perf_counter() - started


def worker_epoch(trainer: Trainer, loader: DataLoader, epoch: int) -> float:
    """Train one epoch with the worker's loop; return the seconds it took."""
    synchronize(trainer.precision.device)
    started = time.perf_counter()
    train_one_epoch(trainer, loader, epoch)
    synchronize(trainer.precision.device)
    return time.perf_counter() - started


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    precision = choose_precision(device, amp=args.amp, channels_last=True)
    config = ExperimentConfig(
        name="bench",
        model=args.model,
        device=args.device,
        log_every=args.log_every,
        epochs=args.rounds + 1,
        data=DataConfig(image_size=args.image_size, batch_size=args.batch_size, val_fraction=0.0),
    )

    with tempfile.TemporaryDirectory(prefix="bench-worker-") as temp:
        workdir = Path(temp)
        loader = build_batches(config, args.images, workdir)
        images_per_epoch = len(loader) * args.batch_size

        torch.manual_seed(0)
        memory_format = torch.channels_last if precision.channels_last else torch.preserve_format
        initial = build_model(args.model, CLASSES).to(device, memory_format=memory_format)
        plain_model = copy.deepcopy(initial)
        plain_optimizer = build_optimizer(plain_model, config.optim)
        worker_model = copy.deepcopy(initial)
        worker_optimizer = build_optimizer(worker_model, config.optim)

        with MetricsWriter(workdir / "metrics.jsonl") as writer:
            trainer = Trainer(
                model=worker_model,
                criterion=nn.CrossEntropyLoss(),
                optimizer=worker_optimizer,
                scaler=precision.grad_scaler(),
                precision=precision,
                controller=LRController(worker_optimizer, config, len(loader)),
                writer=writer,
                stop=StopFlag(),
                log_every=args.log_every,
                steps_per_epoch=len(loader),
                progress=Progress(),
            )
            # One untimed epoch each: allocator warm-up, cuDNN autotuning, lazy init.
            plain_epoch(plain_model, plain_optimizer, loader, precision)
            worker_epoch(trainer, loader, 0)

            plain_rates, worker_rates = [], []
            for round_index in range(args.rounds):
                # Alternate which loop goes first, so a slow stretch of the machine hits both.
                if round_index % 2 == 0:
                    plain_rates.append(images_per_epoch / plain_epoch(plain_model, plain_optimizer, loader, precision))
                    worker_rates.append(images_per_epoch / worker_epoch(trainer, loader, round_index + 1))
                else:
                    worker_rates.append(images_per_epoch / worker_epoch(trainer, loader, round_index + 1))
                    plain_rates.append(images_per_epoch / plain_epoch(plain_model, plain_optimizer, loader, precision))

    plain, worker = max(plain_rates), max(worker_rates)
    ratio = worker / plain
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or platform.platform()}")
    print(f"torch {torch.__version__}, device {device}, precision {precision.name}")
    print(f"{args.model}, {args.image_size} px, batch {args.batch_size}, {images_per_epoch} images per epoch, {args.rounds} rounds, log_every {args.log_every}")
    for name, rates in (("plain loop ", plain_rates), ("worker loop", worker_rates)):
        print(f"{name} images/s per round: {', '.join(f'{r:.1f}' for r in rates)}")
        print(f"{name} best {max(rates):.1f}, median {statistics.median(rates):.1f}")
    print(f"worker / plain, best rounds: {ratio:.3f} (required >= {args.min_ratio})")
    print(f"worker / plain, medians: {statistics.median(worker_rates) / statistics.median(plain_rates):.3f}")
    return 0 if ratio >= args.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
