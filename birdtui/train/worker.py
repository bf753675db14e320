"""The training worker: set up a run, train it epoch by epoch, and end the log with the outcome.

The last metrics record is an `end` record whose status is how the run ended:
finished, killed (SIGTERM or SIGINT), diverged (non-finite training loss) or
failed (any error, with its text). The exception is a process that dies
without running Python code again: SIGKILL, a crash in native code, a power loss.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from birdtui.config import ExperimentConfig, to_dict
from birdtui.errors import BirdtuiError, ConfigError, RunError
from birdtui.metrics import MetricsWriter
from birdtui.train.checkpoint import CHECKPOINT_DIR, FORMAT_VERSION, capture_rng_state, save_checkpoint
from birdtui.train.data import DataBundle, EpochDataLoader, build_data, build_loaders
from birdtui.train.device import Precision, choose_precision, placement_warnings, resolve_device
from birdtui.train.loop import Progress, Trainer, evaluate, train_one_epoch, write_lr_changes
from birdtui.train.model import build_network, build_optimizer
from birdtui.train.resume import ResumePoint, read_run_config, restore_training_state
from birdtui.train.schedule import LRController
from birdtui.train.signals import StopFlag, StopRequested

METRICS_NAME = "metrics.jsonl"


@dataclass
class Session:
    """A run set up and ready to train."""

    config: ExperimentConfig
    run_dir: Path
    bundle: DataBundle
    train_loader: EpochDataLoader
    val_loader: DataLoader
    model: nn.Module
    trainer: Trainer
    start_epoch: int


def run_worker(run_dir: str | Path, resume: bool = False, stop: StopFlag | None = None) -> int:
    """Train the run in `run_dir` and return the process exit code."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)  # raises RunError before any log is written to a wrong folder
    stop = stop or StopFlag().install()
    progress = Progress()

    with MetricsWriter(run_dir / METRICS_NAME) as writer:
        stop.abandon = lambda signal_number: abandon_run(writer, progress, signal_number)
        status, error, exit_code = "finished", None, 0
        try:
            status = train_run(config, run_dir, resume, writer, stop, progress)
        except StopRequested:
            status, exit_code = "killed", 128 + (stop.signal_number or signal.SIGTERM)
        except Exception as caught:  # every failure must still end the log, then exit non-zero
            status, error, exit_code = describe_failure(caught, stop)
        stop.disarm()
        write_end_record(writer, progress, status, error)
    return exit_code


def write_end_record(writer: MetricsWriter, progress: Progress, status: str, error: str | None) -> None:
    writer.write("end", status=status, epoch=progress.epoch, step=progress.step, error=error, best_val_acc=progress.best_val_acc)


def abandon_run(writer: MetricsWriter, progress: Progress, signal_number: int) -> None:
    """End the log as killed and exit at once, without finishing the current step.

    Signal handlers run between Python bytecodes, so this never interrupts a
    half-written metrics record. A checkpoint being written is left as a
    temp file that resume ignores, while the previous checkpoints stay whole.
    """
    write_end_record(writer, progress, "killed", None)
    sys.stderr.flush()
    os._exit(128 + signal_number)


def describe_failure(error: Exception, stop: StopFlag) -> tuple[str, str | None, int]:
    """Return (status, error text, exit code) for an exception that ended training."""
    if stop.requested:
        # A stop signal also reaches DataLoader workers, whose death then surfaces as an error here.
        return "killed", None, 128 + (stop.signal_number or signal.SIGTERM)
    if isinstance(error, BirdtuiError):
        print(f"birdtui: {error}", file=sys.stderr)
        return "failed", str(error), error.exit_code
    traceback.print_exc(file=sys.stderr)
    return "failed", f"{type(error).__name__}: {error}", 1


def train_run(config: ExperimentConfig, run_dir: Path, resume: bool, writer: MetricsWriter, stop: StopFlag, progress: Progress) -> str:
    """Set up, log the start record and train the remaining epochs; return the end status."""
    stop.check()
    session = set_up(config, run_dir, writer, stop, progress)
    resume_point = restore_training_state(session, progress) if resume else None
    write_start_record(session, writer, resume_point)
    progress.epoch = session.start_epoch

    for epoch in range(session.start_epoch, config.epochs):
        progress.epoch = epoch
        check_run_folder(run_dir)
        if not train_and_checkpoint_epoch(session, epoch, progress):
            return "diverged"
    return "finished"


def check_run_folder(run_dir: Path) -> None:
    """Stop when the run folder was deleted: its log and state are gone, so the run is abandoned."""
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} was deleted; stopping without re-creating it")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_up(config: ExperimentConfig, run_dir: Path, writer: MetricsWriter, stop: StopFlag, progress: Progress) -> Session:
    """Build data, model, optimizer, LR controller and grad scaler for a fresh start at epoch 0."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    if device.type == "cuda":
        # Make cuda:N the current device, so that nothing allocates a context on GPU 0 by default.
        torch.cuda.set_device(device)
    precision = choose_precision(device, config.amp, config.channels_last)

    bundle = build_data(config)
    train_loader, val_loader = build_loaders(bundle, config)
    check_validation_available(config, bundle)
    stop.check()

    model = build_network(config, len(bundle.classes))
    memory_format = torch.channels_last if precision.channels_last else torch.preserve_format
    model = model.to(device, memory_format=memory_format)
    optimizer = build_optimizer(model, config.optim)
    steps_per_epoch = len(train_loader)
    controller = LRController(optimizer, config, steps_per_epoch)

    trainer = Trainer(
        model=compile_if_requested(model, config, device),
        criterion=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        scaler=precision.grad_scaler(),
        precision=precision,
        controller=controller,
        writer=writer,
        stop=stop,
        log_every=config.log_every,
        steps_per_epoch=steps_per_epoch,
        progress=progress,
    )
    return Session(config, run_dir, bundle, train_loader, val_loader, model, trainer, start_epoch=0)


def check_validation_available(config: ExperimentConfig, bundle: DataBundle) -> None:
    monitor = config.schedule.monitor
    if config.schedule.type == "plateau" and monitor.startswith("val_") and len(bundle.val) == 0:
        raise ConfigError(
            f"the plateau schedule watches {monitor}, but there are no validation images",
            key="schedule.monitor",
            fix="set data.val_fraction above 0, set data.val_root, or monitor train_loss",
        )


def compile_if_requested(model: nn.Module, config: ExperimentConfig, device: torch.device) -> nn.Module:
    if not config.compile:
        return model
    if device.type != "cuda":
        print("birdtui: compile = true applies on CUDA only; training uncompiled on the CPU", file=sys.stderr)
        return model
    # The compiled wrapper shares parameters with `model`, whose state dict the checkpoints save.
    return torch.compile(model)


def write_start_record(session: Session, writer: MetricsWriter, resume_point: ResumePoint | None) -> None:
    trainer = session.trainer
    warnings = placement_warnings()
    for warning in warnings:
        print(f"birdtui: warning: {warning}", file=sys.stderr, flush=True)
    writer.write(
        "start",
        run=session.run_dir.name,
        config=to_dict(session.config),
        classes=list(session.bundle.classes),
        class_ids=list(session.bundle.class_ids),
        num_classes=len(session.bundle.classes),
        train_size=len(session.bundle.train),
        val_size=len(session.bundle.val),
        device=str(trainer.precision.device),
        precision=trainer.precision.name,
        epochs=session.config.epochs,
        steps_per_epoch=trainer.steps_per_epoch,
        lr=trainer.controller.lr,
        planned_lr_drops=[[epoch, lr] for epoch, lr in trainer.controller.planned_drops()],
        resumed_from=None if resume_point is None else {"checkpoint": resume_point.checkpoint, "epoch": resume_point.epoch},
        warnings=warnings,
    )


def train_and_checkpoint_epoch(session: Session, epoch: int, progress: Progress) -> bool:
    """Train and evaluate one epoch, then checkpoint it; return False when the loss diverged."""
    trainer, writer = session.trainer, session.trainer.writer
    epoch_started = time.perf_counter()

    write_lr_changes(writer, trainer.controller.begin_epoch(epoch), epoch, progress.step, float(epoch))
    # The shuffle order depends on seed and epoch only, so a resumed run trains on the same batches.
    session.train_loader.set_epoch(epoch)
    result = train_one_epoch(trainer, session.train_loader, epoch)
    if result.diverged:
        print(f"birdtui: training loss became {result.train_loss} at step {progress.step}; stopping", file=sys.stderr)
        return False

    evaluation = evaluate(trainer.model, trainer.criterion, session.val_loader, trainer.precision, trainer.stop)
    writer.write(
        "epoch", epoch=epoch, step=progress.step,
        train_loss=result.train_loss, train_acc=result.train_acc,
        val_loss=evaluation.loss, val_acc=evaluation.acc, val_top5=evaluation.top5,
        lr=result.last_lr,
        seconds=time.perf_counter() - epoch_started,
        images_per_sec=result.images / result.seconds if result.seconds > 0 else None,
    )

    metrics = {"train_loss": result.train_loss, "train_acc": result.train_acc}
    if evaluation.loss is not None:
        metrics.update(val_loss=evaluation.loss, val_acc=evaluation.acc)
    # An LR decided at the end of this epoch is first used in the next one. The record keeps this
    # epoch's number because the checkpoint below contains the decision: a run resumed from it does
    # not make the decision again, so readers must not drop the record with the replayed epochs.
    write_lr_changes(writer, trainer.controller.end_epoch(epoch, metrics), epoch, progress.step, float(epoch + 1))

    is_best = evaluation.acc is None or progress.best_val_acc is None or evaluation.acc > progress.best_val_acc
    if is_best and evaluation.acc is not None:
        progress.best_val_acc = evaluation.acc
    checkpoint_epoch(session, epoch, progress, is_best)
    return True


def checkpoint_epoch(session: Session, epoch: int, progress: Progress, is_best: bool) -> None:
    trainer = session.trainer
    payload: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "epoch": epoch,
        "step": progress.step,
        "best_val_acc": progress.best_val_acc,
        "model": session.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "schedule": trainer.controller.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "rng": capture_rng_state(),
        "config": to_dict(session.config),
        "classes": list(session.bundle.classes),
        "class_ids": list(session.bundle.class_ids),
    }
    folder = session.run_dir / CHECKPOINT_DIR
    path = save_checkpoint(folder, epoch, payload, session.config.keep_checkpoints, is_best)
    trainer.writer.write("checkpoint", epoch=epoch, path=str(path.relative_to(session.run_dir)), best=is_best)
