"""Checkpoint files: atomic writes, RNG state, retention and loading with fallback.

A run keeps `checkpoints/epoch-NNNN.pt` for the last `keep_checkpoints` epochs
(NNNN is the 0-based epoch the file ends) and `checkpoints/best.pt`, the epoch
with the best validation accuracy. Every file is written to a temp file in the
same folder, flushed to disk and renamed over the target, so a crash leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from birdtui.errors import CheckpointError, RunError

CHECKPOINT_DIR = "checkpoints"
BEST_NAME = "best.pt"
EPOCH_PATTERN = re.compile(r"^epoch-(\d+)\.pt$")
# Bumped when the checkpoint layout changes in a way older code cannot read.
FORMAT_VERSION = 1


def epoch_checkpoint_path(folder: Path, epoch: int) -> Path:
    return folder / f"epoch-{epoch:04d}.pt"


def capture_rng_state() -> dict[str, Any]:
    """Collect the Python, NumPy, torch and CUDA generator states.

    NumPy's state is stored as plain numbers and tensors so that the checkpoint
    loads with `weights_only=True`, which refuses arbitrary pickled objects.
    """
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    np.random.set_state((
        numpy_state["kind"],
        numpy_state["keys"].numpy().astype(np.uint32),
        numpy_state["position"],
        numpy_state["has_gauss"],
        numpy_state["cached_gaussian"],
    ))
    torch.set_rng_state(state["torch"])

    cuda_states = state["cuda"]
    if cuda_states and torch.cuda.is_available():
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            # A different GPU count: restore what matches so the run still resumes.
            print(
                f"birdtui: checkpoint has CUDA RNG state for {len(cuda_states)} GPU(s), "
                f"this machine has {torch.cuda.device_count()}; restoring the first ones only",
                file=sys.stderr,
            )
            for index, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(cuda_state, index)


def write_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Save `payload` to `path` through a temp file, fsync and rename."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry itself reaches the disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # Some filesystems do not support fsync on folders; the rename is still atomic.
    finally:
        os.close(fd)


def link_or_copy_atomic(source: Path, target: Path, payload: dict[str, Any]) -> None:
    """Make `target` hold the same checkpoint as `source`, with a hard link where possible."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.link")
    temp.unlink(missing_ok=True)
    try:
        os.link(source, temp)
    except OSError:
        write_atomic(target, payload)  # the filesystem has no hard links: write a second copy
        return
    os.replace(temp, target)
    sync_folder(target.parent)


def save_checkpoint(folder: Path, epoch: int, payload: dict[str, Any], keep: int, is_best: bool) -> Path:
    """Write the checkpoint of `epoch`, update best.pt, and delete epochs beyond the last `keep`.

    The run folder itself must exist: a run whose folder the user deleted
    must not bring it back holding only checkpoints.
    """
    try:
        folder.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise RunError(f"run folder {folder.parent} was deleted; stopping without re-creating it") from None
    path = epoch_checkpoint_path(folder, epoch)
    write_atomic(path, payload)
    if is_best:
        link_or_copy_atomic(path, folder / BEST_NAME, payload)
    prune_checkpoints(folder, keep)
    return path


def list_epoch_checkpoints(folder: Path) -> list[Path]:
    """Return the epoch checkpoints in `folder`, newest epoch first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = EPOCH_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found, reverse=True)]


def prune_checkpoints(folder: Path, keep: int) -> None:
    for path in list_epoch_checkpoints(folder)[keep:]:
        path.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load one checkpoint on the CPU; raise CheckpointError when it is unreadable or incomplete."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"checkpoint not found: {path}") from error
    except Exception as error:  # a truncated zip, a bad pickle or a foreign file raise different types
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(error).__name__}: {error})") from error

    required = ("format", "epoch", "model", "optimizer", "schedule", "scaler", "rng", "config")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in required):
        raise CheckpointError(f"checkpoint {path} is not a birdtui checkpoint (missing keys)")
    if checkpoint["format"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {checkpoint['format']}, this birdtui reads format {FORMAT_VERSION}")
    return checkpoint


def load_newest_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """Load the newest epoch checkpoint that reads, falling back past broken ones.

    Each skipped file is reported on stderr. best.pt is the last resort. Returns
    None when the folder has no checkpoint at all; raises CheckpointError when
    checkpoints exist but none of them loads.
    """
    candidates = list_epoch_checkpoints(folder)
    if (folder / BEST_NAME).is_file():
        candidates.append(folder / BEST_NAME)
    if not candidates:
        return None

    failures = []
    for path in candidates:
        try:
            return path, load_checkpoint(path)
        except CheckpointError as error:
            failures.append(str(error))
            print(f"birdtui: skipping {error}", file=sys.stderr)
    raise CheckpointError(
        "no checkpoint in " + str(folder) + " could be loaded:\n  " + "\n  ".join(failures)
        + "\n  fix: launch a fresh run of this experiment instead of resuming"
    )
