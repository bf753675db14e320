"""Image transforms: training augmentation, evaluation resizing and input normalization.

Every random transform draws from the torch RNG: the global one when the
loader has no worker processes, and each worker's own seed otherwise.

The normalization statistics are either ImageNet's, the dataset's own or none.
Dataset statistics are computed once from the training images and cached as a
JSON file under the user cache folder (`$BIRDTUI_CACHE_DIR`, else
`$XDG_CACHE_HOME/birdtui`, else `~/.cache/birdtui`), keyed by the folder, the
image size and every file's name, size and modification time. Changing any
image therefore computes them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms as T

from birdtui.config import AugmentConfig
from birdtui.errors import DataError

log = logging.getLogger(__name__)

# The statistics torchvision's ImageNet weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Dataset statistics read at most this many images, evenly spread over the
# sorted file list: enough for a stable mean and standard deviation, and a
# bounded first-run cost on a 50,000-image training folder.
STATS_MAX_IMAGES = 2000


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel mean and standard deviation of RGB values scaled to [0, 1]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def build_train_transform(augment: AugmentConfig, image_size: int, stats: ChannelStats | None) -> Callable:
    """Build the training pipeline: resize, then each augmentation with its probability, then normalize."""
    steps: list[Callable] = [T.Resize((image_size, image_size))]

    if augment.crop_padding > 0:
        # Edge padding repeats the border pixels, so the shifted image has no black frame.
        steps.append(T.RandomCrop(image_size, padding=augment.crop_padding, padding_mode="edge"))
    if augment.hflip > 0:
        steps.append(T.RandomHorizontalFlip(augment.hflip))
    if augment.vflip > 0:
        steps.append(T.RandomVerticalFlip(augment.vflip))
    if augment.jitter > 0 and augment.jitter_strength > 0:
        strength = augment.jitter_strength
        jitter = T.ColorJitter(brightness=strength, contrast=strength, saturation=strength)
        steps.append(T.RandomApply([jitter], p=augment.jitter))
    if augment.invert > 0:
        steps.append(T.RandomInvert(augment.invert))

    steps.extend(_to_tensor_steps(stats))
    return T.Compose(steps)


def build_eval_transform_from_stats(image_size: int, stats: ChannelStats | None) -> Callable:
    """Build the evaluation pipeline: resize, convert to a tensor and normalize, with nothing random."""
    return T.Compose([T.Resize((image_size, image_size)), *_to_tensor_steps(stats)])


def _to_tensor_steps(stats: ChannelStats | None) -> list[Callable]:
    steps: list[Callable] = [T.ToTensor()]
    if stats is not None:
        steps.append(T.Normalize(stats.mean, stats.std))
    return steps


def normalization_stats(normalize: str, files: Sequence[Path], image_size: int) -> ChannelStats | None:
    """Return the statistics that `augment.normalize` names: ImageNet's, the files' own, or None for "none"."""
    if normalize == "imagenet":
        return ChannelStats(IMAGENET_MEAN, IMAGENET_STD)
    if normalize == "none":
        return None
    if normalize == "dataset":
        return cached_dataset_stats(files, image_size)
    raise DataError(f"augment.normalize: unknown value {normalize!r}; fix: use imagenet, dataset or none")


def cached_dataset_stats(files: Sequence[Path], image_size: int) -> ChannelStats:
    """Return the files' channel statistics, from the cache when it has an entry for exactly these files."""
    cache_file = stats_cache_dir() / f"{_cache_key(files, image_size)}.json"
    cached = _read_cached_stats(cache_file)
    if cached is not None:
        return cached

    stats = compute_channel_stats(files, image_size)
    _write_cached_stats(cache_file, stats)
    return stats


def stats_cache_dir() -> Path:
    """Return the folder of cached dataset statistics (not created here)."""
    if os.environ.get("BIRDTUI_CACHE_DIR"):
        return Path(os.environ["BIRDTUI_CACHE_DIR"]) / "stats"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "birdtui" / "stats"


def compute_channel_stats(files: Sequence[Path], image_size: int) -> ChannelStats:
    """Compute per-channel mean and standard deviation over the images resized to the input size."""
    if not files:
        raise DataError("cannot compute dataset statistics of an empty file list; fix: add images or set augment.normalize")

    sample = _evenly_spaced(files, STATS_MAX_IMAGES)
    to_tensor = T.Compose([T.Resize((image_size, image_size)), T.ToTensor()])
    total = torch.zeros(3, dtype=torch.float64)
    total_squares = torch.zeros(3, dtype=torch.float64)
    pixel_count = 0

    for path in sample:
        pixels = to_tensor(load_rgb(path)).to(torch.float64).flatten(1)
        total += pixels.sum(dim=1)
        total_squares += (pixels * pixels).sum(dim=1)
        pixel_count += pixels.shape[1]

    mean = total / pixel_count
    variance = (total_squares / pixel_count - mean * mean).clamp(min=0.0)
    # A channel with one value everywhere would divide by zero; 1.0 leaves it centred but unscaled.
    std = [math.sqrt(v) if v > 1e-12 else 1.0 for v in variance.tolist()]
    return ChannelStats(tuple(mean.tolist()), tuple(std))


def load_rgb(path: Path) -> Image.Image:
    """Open an image file as RGB, raising DataError that names a file Pillow cannot read."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read image {path}: {error}; fix: replace or delete the file") from error


def _evenly_spaced(files: Sequence[Path], limit: int) -> list[Path]:
    if len(files) <= limit:
        return list(files)
    step = len(files) / limit
    return [files[int(i * step)] for i in range(limit)]


def _cache_key(files: Sequence[Path], image_size: int) -> str:
    digest = hashlib.sha256(f"image_size={image_size}\n".encode())
    for path in files:
        status = path.stat()
        digest.update(f"{path.resolve()}\t{status.st_size}\t{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_cached_stats(cache_file: Path) -> ChannelStats | None:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
        return ChannelStats(tuple(data["mean"]), tuple(data["std"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring unreadable dataset statistics cache %s: %s", cache_file, error)
        return None


def _write_cached_stats(cache_file: Path, stats: ChannelStats) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=cache_file.parent, prefix=".stats-", suffix=".tmp")
    except OSError as error:
        log.warning("cannot cache dataset statistics in %s: %s; they will be computed again next time", cache_file, error)
        return

    # A temp file plus os.replace, so that a reader never sees half a file.
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp_file:
            json.dump({"mean": list(stats.mean), "std": list(stats.std)}, temp_file)
        os.replace(temp_name, cache_file)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        log.warning("cannot cache dataset statistics in %s: %s; they will be computed again next time", cache_file, error)
