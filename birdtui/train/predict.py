"""`birdtui predict`: label a folder of images with a run's best checkpoint.

The CSV has a `path,class` header and one row per image, in the format of
Kaggle's bird-species submissions. `path` is the images folder's name and the
file name, so `DIR=.../test` containing `test/0/0001.jpg` gives `test/0001.jpg`;
with `--keep-subfolders` it keeps the path below the folder: `test/0/0001.jpg`.
`class` is the original class id of the predicted label: the class folder's
name, or its integer for integer-named class folders.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, TextIO

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from birdtui.config import ExperimentConfig, from_dict
from birdtui.errors import BirdtuiError, CheckpointError, DataError, RunError
from birdtui.train.checkpoint import BEST_NAME, CHECKPOINT_DIR, list_epoch_checkpoints, load_checkpoint
from birdtui.train.data import build_eval_transform, list_images
from birdtui.train.device import choose_precision, resolve_device
from birdtui.train.loop import move_batch, predict_labels
from birdtui.train.model import build_model

BATCH_SIZE = 64


class ImageFiles(Dataset):
    """Images from a list of files, transformed for evaluation, with their index."""

    def __init__(self, files: list[Path], transform: Any) -> None:
        self.files = files
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.files[index]
        try:
            with Image.open(path) as image:
                return self.transform(image.convert("RGB")), index
        except (OSError, UnidentifiedImageError) as error:
            raise DataError(f"cannot read image {path}: {error}\n  fix: remove or replace the file") from error


def resolve_run_dir(run: str, runs_dir: str | Path, experiment_names: Iterable[str] = ()) -> Path:
    """Accept a run folder path or a run id under `runs_dir`; `experiment_names` improves the not-found message."""
    as_path = Path(run)
    if (as_path / CHECKPOINT_DIR).is_dir() or (as_path / "config.json").is_file():
        return as_path
    under_runs = Path(runs_dir) / run
    if under_runs.is_dir():
        return under_runs
    if run in experiment_names:
        raise RunError(
            f"experiment {run!r} has no run in {runs_dir} yet\n"
            f"  fix: launch it with `birdtui launch {run}`, then predict once it has trained an epoch"
        )
    raise RunError(
        f"run {run!r} not found: neither {as_path} nor {under_runs} is a run folder\n"
        "  fix: pass a run folder, or the id of a launched run as `birdtui ls` lists it (pending experiments have no run yet)"
    )


def find_best_checkpoint(run_dir: Path) -> Path:
    """Return best.pt, or the newest epoch checkpoint for a run that has none."""
    folder = run_dir / CHECKPOINT_DIR
    best = folder / BEST_NAME
    if best.is_file():
        return best
    newest = list_epoch_checkpoints(folder)
    if newest:
        return newest[0]
    raise CheckpointError(f"run {run_dir} has no checkpoint in {folder}\n  fix: train the run for at least one epoch first")


def kaggle_paths(folder: Path, files: list[Path]) -> list[str]:
    """Return `<folder name>/<file name>` for each file; raise DataError when two names clash."""
    paths = [f"{folder.name}/{file.name}" for file in files]
    seen: dict[str, Path] = {}
    for path, file in zip(paths, files):
        if path in seen:
            raise DataError(
                f"two images would both be written as {path}: {seen[path]} and {file}\n"
                "  fix: pass --keep-subfolders to write each path with its subfolders, or give the test images unique file names"
            )
        seen[path] = file
    return paths


def subfolder_paths(folder: Path, files: list[Path]) -> list[str]:
    """Return `<folder name>/<path below folder>` for each file, which stays unique."""
    return [f"{folder.name}/{file.relative_to(folder).as_posix()}" for file in files]


def predict_run(
    run: str,
    images_dir: str,
    out: str,
    runs_dir: str | Path = "runs",
    device_name: str | None = None,
    progress: TextIO | None = sys.stderr,
    experiment_names: Iterable[str] = (),
    keep_subfolders: bool = False,
) -> int:
    """Write predictions for every image under `images_dir` to `out`; return the image count.

    `keep_subfolders` writes each path relative to the images folder's parent
    instead of the Kaggle `<folder name>/<file name>`.
    """
    check_output_folder(Path(out))
    run_dir = resolve_run_dir(run, runs_dir, experiment_names)
    checkpoint_path = find_best_checkpoint(run_dir)
    checkpoint = load_checkpoint_with_fix(checkpoint_path)
    config = from_dict(checkpoint["config"])

    folder = Path(images_dir)
    if not folder.is_dir():
        raise DataError(f"images folder not found: {folder}\n  fix: pass --images with a folder of .jpg files")
    files = list_images(str(folder))
    if not files:
        raise DataError(f"no image files found under {folder}\n  fix: pass --images with a folder that contains .jpg or .png files")
    paths = subfolder_paths(folder, files) if keep_subfolders else kaggle_paths(folder, files)

    device = resolve_device(device_name or config.device)
    precision = choose_precision(device, config.amp, config.channels_last)
    memory_format = torch.channels_last if precision.channels_last else torch.preserve_format
    model = load_model(checkpoint, config, checkpoint_path).to(device, memory_format=memory_format).eval()
    transform = build_eval_transform(config, config.data.root)
    loader = DataLoader(ImageFiles(files, transform), batch_size=BATCH_SIZE, num_workers=config.data.workers)

    class_ids = checkpoint["class_ids"]
    labels = run_predictions(model, loader, precision, progress)
    rows = [(path, class_ids[label]) for path, label in zip(paths, labels)]
    write_csv_atomic(Path(out), rows)
    return len(rows)


def check_output_folder(out: Path) -> None:
    """Raise before any work when `out` cannot be written: missing folders are not created."""
    if out.is_dir():
        raise BirdtuiError(f"cannot write {out}: it is a folder\n  fix: pass --out with a file name, such as {out / 'predictions.csv'}")
    if not out.parent.is_dir():
        raise BirdtuiError(f"cannot write {out}: folder {out.parent} not found\n  fix: create the folder first, or pass --out with a path in an existing folder")


def load_checkpoint_with_fix(path: Path) -> dict[str, Any]:
    """Load a checkpoint; on failure, raise a short CheckpointError with the cause's first line and a fix."""
    try:
        return load_checkpoint(path)
    except CheckpointError as error:
        cause = error.__cause__
        # torch's own text runs over many lines; its first line names the problem.
        reason = str(error) if cause is None else f"{type(cause).__name__}: {str(cause).strip().splitlines()[0][:160]}"
        raise CheckpointError(
            f"cannot read checkpoint {path} ({reason})\n"
            f"  fix: the file is damaged or was not written by birdtui; copy a readable "
            f"epoch-NNNN.pt from {path.parent} over it, or launch a new attempt of the experiment"
        ) from None


def load_model(checkpoint: dict[str, Any], config: ExperimentConfig, path: Path) -> torch.nn.Module:
    model = build_model(config.model, len(checkpoint["class_ids"]))
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not fit model {config.model}: {error}") from error
    return model


def run_predictions(model: torch.nn.Module, loader: DataLoader, precision: Any, progress: TextIO | None) -> list[int]:
    labels: list[int] = []
    total = len(loader.dataset)
    reporter = ProgressReporter(total, progress)
    for images, _ in loader:
        images, _ = move_batch(images, torch.zeros(0), precision)
        labels.extend(predict_labels(model, images, precision).tolist())
        reporter.update(len(labels))
    reporter.finish()
    return labels


class ProgressReporter:
    """A one-line text progress bar on a terminal, or a line every 10% in a log file."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.interactive = stream is not None and stream.isatty()
        self.next_percent = 10
        self.started = time.monotonic()

    def update(self, done: int) -> None:
        if self.stream is None:
            return
        percent = 100 * done // max(self.total, 1)
        if self.interactive:
            bar = "#" * (percent // 5)
            self.stream.write(f"\rpredict [{bar:<20}] {done}/{self.total} images")
            self.stream.flush()
        elif percent >= self.next_percent:
            self.stream.write(f"predict: {done}/{self.total} images ({percent}%)\n")
            self.next_percent = percent - percent % 10 + 10

    def finish(self) -> None:
        if self.stream is None:
            return
        if self.interactive:
            self.stream.write("\n")
        seconds = time.monotonic() - self.started
        self.stream.write(f"predict: {self.total} images in {seconds:.1f} s\n")
        self.stream.flush()


def write_csv_atomic(path: Path, rows: list[tuple[str, Any]]) -> None:
    """Write the CSV to a temp file beside `path`, then rename it into place."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "class"])
    writer.writerows(rows)

    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(buffer.getvalue(), encoding="utf-8")
        os.replace(temp, path)
    except OSError as error:
        raise BirdtuiError(f"cannot write {path}: {error.strerror}\n  fix: check the path, its permissions and the free disk space") from None
    finally:
        temp.unlink(missing_ok=True)
