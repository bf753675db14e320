"""Reading a run's config and restoring the training state of its newest good checkpoint."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from birdtui.config import ExperimentConfig, from_dict
from birdtui.errors import CheckpointError, RunError
from birdtui.train.checkpoint import CHECKPOINT_DIR, load_newest_checkpoint, restore_rng_state

if TYPE_CHECKING:
    from birdtui.train.loop import Progress
    from birdtui.train.worker import Session

CONFIG_NAME = "config.json"


@dataclass
class ResumePoint:
    """The checkpoint a resumed run continues from, as written in its start record."""

    checkpoint: str  # relative to the run folder
    epoch: int  # the first epoch the resumed run trains


def read_run_config(run_dir: Path) -> ExperimentConfig:
    """Read `RUN_DIR/config.json`; raise RunError when the folder is not a run folder."""
    path = run_dir / CONFIG_NAME
    if not path.is_file():
        raise RunError(
            f"{run_dir} is not a run folder: {CONFIG_NAME} not found\n"
            "  fix: launch the experiment with `birdtui launch NAME`, which writes the run folder"
        )
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise RunError(f"{path} is not a valid run config ({error})\n  fix: launch the experiment again to write a fresh run folder") from error


def restore_training_state(session: "Session", progress: "Progress") -> ResumePoint | None:
    """Load the newest loadable checkpoint into the session, or return None when there is none."""
    folder = session.run_dir / CHECKPOINT_DIR
    found = load_newest_checkpoint(folder)
    if found is None:
        print(f"birdtui: no checkpoint in {folder}; resuming from epoch 0", file=sys.stderr)
        return None
    path, checkpoint = found

    if list(checkpoint.get("classes", [])) != list(session.bundle.classes):
        raise CheckpointError(
            f"checkpoint {path} was trained on classes {checkpoint.get('classes')}, "
            f"but the dataset now has {session.bundle.classes}\n"
            "  fix: restore the dataset folder or launch a fresh run"
        )
    trainer = session.trainer
    try:
        session.model.load_state_dict(checkpoint["model"])
        trainer.optimizer.load_state_dict(checkpoint["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"checkpoint {path} does not fit this run's model or optimizer: {error}") from error
    trainer.controller.load_state_dict(checkpoint["schedule"])
    # A scaler that was off when the checkpoint was written (CPU, bf16) has an empty state.
    if checkpoint["scaler"]:
        trainer.scaler.load_state_dict(checkpoint["scaler"])
    restore_rng_state(checkpoint["rng"])

    progress.step = checkpoint["step"]
    progress.best_val_acc = checkpoint["best_val_acc"]
    session.start_epoch = checkpoint["epoch"] + 1
    relative = str(path.relative_to(session.run_dir))
    print(f"birdtui: resuming from {relative} (epoch {checkpoint['epoch']} done, next epoch {session.start_epoch})", file=sys.stderr)
    return ResumePoint(checkpoint=relative, epoch=session.start_epoch)
