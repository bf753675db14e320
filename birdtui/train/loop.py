"""The training step, one training epoch and evaluation.

Losses and correct counts stay on the device and are read back only every
`log_every` steps and at the end of an epoch, because each read waits for the
GPU to finish all queued work.

Each step record covers a window of up to `log_every` steps: `step` is the
last optimizer step of the window, `loss` the mean training loss over the
window's steps and `lr` the learning rate of that last step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
import torch
from torch import nn
from torch.utils.data import DataLoader

from birdtui.metrics import MetricsWriter
from birdtui.train.device import Precision
from birdtui.train.schedule import LRChange, LRController
from birdtui.train.signals import StopFlag


@dataclass
class Progress:
    """The run's current epoch, step and best validation accuracy, updated after every step for the end record."""

    epoch: int = 0
    step: int = 0
    best_val_acc: float | None = None


@dataclass
class Trainer:
    """Everything a training step touches."""

    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    precision: Precision
    controller: LRController
    writer: MetricsWriter
    stop: StopFlag
    log_every: int
    steps_per_epoch: int
    progress: Progress


@dataclass
class EpochTrainResult:
    train_loss: float
    train_acc: float
    images: int
    seconds: float
    diverged: bool
    last_lr: float  # the LR of the epoch's last step, because per-step schedules have already moved on


@dataclass
class EvalResult:
    loss: float | None
    acc: float | None
    top5: float | None


def move_batch(images: torch.Tensor, labels: torch.Tensor, precision: Precision) -> tuple[torch.Tensor, torch.Tensor]:
    memory_format = torch.channels_last if precision.channels_last else torch.contiguous_format
    images = images.to(precision.device, non_blocking=True, memory_format=memory_format)
    labels = labels.to(precision.device, non_blocking=True)
    return images, labels


def train_step(trainer: Trainer, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run one optimizer step; return the loss and the top-1 correct count, both still on the device.

    The same code serves fp32, bf16 and fp16: autocast and the grad scaler are
    no-ops when the precision disables them.
    """
    with trainer.precision.autocast():
        logits = trainer.model(images)
        loss = trainer.criterion(logits, labels)

    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.scaler.scale(loss).backward()
    trainer.scaler.step(trainer.optimizer)
    trainer.scaler.update()

    correct = (logits.detach().argmax(dim=1) == labels).sum()
    return loss.detach().float(), correct


def write_lr_changes(
    writer: MetricsWriter, changes: list[LRChange], epoch: int, steps_done: int, epoch_progress: float
) -> None:
    """Log LR changes at `epoch_progress`, where the new LR is first used, after `steps_done` steps."""
    for change in changes:
        writer.write(
            "lr", epoch=epoch, step=steps_done, epoch_progress=epoch_progress,
            old=change.old, new=change.new, reason=change.reason,
        )


def train_one_epoch(trainer: Trainer, loader: DataLoader, epoch: int) -> EpochTrainResult:
    """Train over `loader` once, writing step records and per-step LR changes as they happen.

    `trainer.progress.step` counts each optimizer step as it completes.
    """
    trainer.model.train()
    device = trainer.precision.device
    window_loss = torch.zeros((), device=device)
    window_steps = 0
    epoch_loss = torch.zeros((), device=device)
    epoch_correct = torch.zeros((), dtype=torch.long, device=device)
    images_seen = 0
    progress = trainer.progress
    lr = trainer.controller.lr
    started = time.perf_counter()

    for index, (images, labels) in enumerate(loader):
        trainer.stop.check()
        images, labels = move_batch(images, labels, trainer.precision)
        lr = trainer.controller.lr
        loss, correct = train_step(trainer, images, labels)
        progress.step += 1
        step = progress.step

        batch_size = labels.shape[0]
        window_loss += loss
        window_steps += 1
        epoch_loss += loss * batch_size
        epoch_correct += correct
        images_seen += batch_size

        epoch_progress = epoch + (index + 1) / trainer.steps_per_epoch
        write_lr_changes(trainer.writer, trainer.controller.after_step(), epoch, step, epoch_progress)

        last_of_epoch = index + 1 == trainer.steps_per_epoch
        if window_steps == trainer.log_every or last_of_epoch:
            mean_loss = (window_loss / window_steps).item()  # the only host-device sync of the window
            trainer.writer.write("step", epoch=epoch, step=step, epoch_progress=epoch_progress, loss=mean_loss, lr=lr)
            window_loss.zero_()
            window_steps = 0
            if not math.isfinite(mean_loss):
                # NOTE: with fp16 AMP a forward overflow in one step also ends the run here, although
                # GradScaler would skip that step. This path has not run on a GPU.
                return EpochTrainResult(mean_loss, math.nan, images_seen, time.perf_counter() - started, True, lr)

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    train_loss = epoch_loss.item() / max(images_seen, 1)
    train_acc = epoch_correct.item() / max(images_seen, 1)
    return EpochTrainResult(train_loss, train_acc, images_seen, seconds, not math.isfinite(train_loss), lr)


@torch.inference_mode()
def evaluate(model: nn.Module, criterion: nn.Module, loader: DataLoader, precision: Precision, stop: StopFlag | None = None) -> EvalResult:
    """Return the mean loss, top-1 and top-5 accuracy over `loader` (None for each when it is empty)."""
    model.eval()
    device = precision.device
    total_loss = torch.zeros((), device=device)
    top1 = torch.zeros((), dtype=torch.long, device=device)
    top5 = torch.zeros((), dtype=torch.long, device=device)
    count = 0

    for images, labels in loader:
        if stop is not None:
            stop.check()
        images, labels = move_batch(images, labels, precision)
        with precision.autocast():
            logits = model(images)
            loss = criterion(logits, labels)
        total_loss += loss.float() * labels.shape[0]
        correct_1, correct_5 = count_correct(logits, labels)
        top1 += correct_1
        top5 += correct_5
        count += labels.shape[0]

    if count == 0:
        return EvalResult(None, None, None)
    return EvalResult(total_loss.item() / count, top1.item() / count, top5.item() / count)


def count_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Count top-1 and top-5 hits; with fewer than 5 classes top-5 is top-k over all classes."""
    k = min(5, logits.shape[1])
    best = logits.topk(k, dim=1).indices
    hits = best == labels.unsqueeze(1)
    return hits[:, 0].sum(), hits.any(dim=1).sum()


def predict_labels(model: nn.Module, images: torch.Tensor, precision: Precision) -> torch.Tensor:
    """Return the top-1 label index of each image in a batch."""
    with torch.inference_mode(), precision.autocast():
        return model(images).argmax(dim=1)
