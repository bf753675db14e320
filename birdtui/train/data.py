"""Datasets and loaders for ImageFolder-style training data.

`data.root` contains one folder per class. Hidden folders (such as
`.ipynb_checkpoints`) and hidden files are never read. A root needs at least
two class folders. When every class folder is named by an integer, as in the
555-species Kaggle set (`train/0` ... `train/554`), the labels follow the numeric order and the class ids written in
predictions are those integers, where ImageFolder would sort the names as
strings ("0", "1", "10", "100").

The validation set is either `data.val_root`, which must have the same class
folders, or a stratified seeded split of `data.root`: each class gives
`round(n * val_fraction)` of its images, at least one when `val_fraction > 0`,
and always keeps one for training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from birdtui.config import ExperimentConfig
from birdtui.errors import DataError
from birdtui.train.transforms import (
    build_eval_transform_from_stats,
    build_train_transform,
    load_rgb,
    normalization_stats,
)

# The extensions torchvision's ImageFolder accepts, compared case-insensitively.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class DataBundle:
    """The training and validation datasets of one experiment and their label mapping."""

    train: Dataset
    val: Dataset
    classes: list[str]
    class_ids: list[int | str]


@dataclass(frozen=True)
class ClassFolder:
    """One class: its folder name, the id predictions use for it, and its path."""

    name: str
    class_id: int | str
    path: Path


class ImageListDataset(Dataset):
    """Labelled image files, each decoded to RGB and passed through `transform`."""

    def __init__(self, samples: list[tuple[Path, int]], transform: Callable) -> None:
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return self.transform(load_rgb(path)), label


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: str | Path) -> list[Path]:
    """Return the image files under `folder`, recursively and sorted, skipping hidden files and folders."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        # Pruning in place stops os.walk from entering hidden folders.
        subdirectories[:] = [name for name in subdirectories if not _is_hidden(name)]
        found.extend(Path(directory) / name for name in files if not _is_hidden(name) and _is_image(name))
    return sorted(found)


def _is_integer_name(name: str) -> bool:
    # isascii() keeps out digits such as "²" that isdigit() accepts but int() rejects.
    return name.isascii() and name.isdigit()


def _class_sort_key(name: str) -> tuple[int, int, str]:
    # Integer names first, in numeric order, then the other names in string order.
    if _is_integer_name(name):
        return (0, int(name), name)
    return (1, 0, name)


def find_classes(root: str | Path, *, setting: str = "data.root") -> list[ClassFolder]:
    """Return the class folders of an ImageFolder root in label order; `setting` names the option in errors."""
    root = Path(root)
    if not root.exists():
        raise DataError(
            f"{setting}: folder not found: {root}; fix: run `birdtui demo-data DIR` for a demo dataset, "
            f"or set {setting} in the experiments file to a folder with one subfolder per class"
        )
    if not root.is_dir():
        raise DataError(f"{setting}: {root} is a file, not a folder; fix: point {setting} at the folder of class folders")

    names = sorted((entry.name for entry in root.iterdir() if entry.is_dir() and not _is_hidden(entry.name)), key=_class_sort_key)
    if not names:
        loose_images = any(_is_image(entry.name) for entry in root.iterdir())
        detail = " (it contains images directly, not in class folders)" if loose_images else ""
        raise DataError(
            f"{setting}: no class folders in {root}{detail}; "
            "fix: use the folder that contains one subfolder of images per class, such as .../train"
        )

    if len(names) < 2:
        # A single class reaches 100% accuracy at once, so the run would measure nothing about the model.
        raise DataError(
            f"{setting}: {root} has one class folder ({names[0]!r}), but classification needs at least two classes\n"
            f"  fix: add a folder of images for each other class beside {names[0]!r}, or point {setting} at the folder that contains all the class folders"
        )

    classes = [ClassFolder(name, int(name) if _is_integer_name(name) else name, root / name) for name in names]
    _check_unique_ids(classes, root, setting)
    return classes


def _check_unique_ids(classes: list[ClassFolder], root: Path, setting: str) -> None:
    # "7" and "007" would both become class id 7.
    seen: dict[int | str, str] = {}
    for folder in classes:
        if folder.class_id in seen:
            raise DataError(
                f"{setting}: class folders {seen[folder.class_id]!r} and {folder.name!r} in {root} "
                f"both mean class {folder.class_id}; fix: merge or rename one of them"
            )
        seen[folder.class_id] = folder.name


def collect_samples(classes: list[ClassFolder], *, setting: str = "data.root") -> list[tuple[Path, int]]:
    """Return (image path, label index) for every image of every class; raise DataError for an empty class."""
    samples = []
    for label, folder in enumerate(classes):
        images = list_images(folder.path)
        if not images:
            raise DataError(
                f"{setting}: class folder {folder.path} contains no images ({', '.join(IMAGE_EXTENSIONS)}); "
                "fix: add images to it or remove the folder"
            )
        samples.extend((path, label) for path in images)
    return samples


def split_by_class(labels: list[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split sample indices into (train, val), the same fraction from each class, shuffled by `seed`."""
    if val_fraction <= 0:
        return list(range(len(labels))), []

    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)

    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(by_class):
        indices = by_class[label]
        order = rng.permutation(len(indices))
        val_count = min(max(round(len(indices) * val_fraction), 1), len(indices) - 1)
        val.extend(indices[i] for i in order[:val_count])
        train.extend(indices[i] for i in order[val_count:])
    return sorted(train), sorted(val)


def _val_samples_from_root(config: ExperimentConfig, classes: list[ClassFolder]) -> list[tuple[Path, int]]:
    val_classes = find_classes(config.data.val_root, setting="data.val_root")
    names = [folder.name for folder in classes]
    val_names = [folder.name for folder in val_classes]
    if sorted(val_names) != sorted(names):
        missing = sorted(set(names) - set(val_names))
        extra = sorted(set(val_names) - set(names))
        raise DataError(
            f"data.val_root: the class folders of {config.data.val_root} differ from those of {config.data.root} "
            f"(missing from val_root: {missing or 'none'}; only in val_root: {extra or 'none'}); "
            "fix: give both folders the same class subfolders"
        )

    # Labels come from data.root, so the same folder name gets the same label in both sets.
    label_by_name = {name: label for label, name in enumerate(names)}
    samples = collect_samples(val_classes, setting="data.val_root")
    return [(path, label_by_name[val_classes[label].name]) for path, label in samples]


def build_data(config: ExperimentConfig) -> DataBundle:
    """Build the training and validation datasets of an experiment, raising DataError for a bad folder."""
    classes = find_classes(config.data.root)
    samples = collect_samples(classes)

    if config.data.val_root:
        train_samples = samples
        val_samples = _val_samples_from_root(config, classes)
    else:
        train_indices, val_indices = split_by_class([label for _, label in samples], config.data.val_fraction, config.seed)
        train_samples = [samples[i] for i in train_indices]
        val_samples = [samples[i] for i in val_indices]

    # Statistics for augment.normalize = "dataset" come from every image under
    # data.root, the validation part included, so that build_eval_transform can
    # reproduce them from the root alone for predictions.
    size = config.data.image_size
    stats = normalization_stats(config.augment.normalize, [path for path, _ in samples], size)
    return DataBundle(
        train=ImageListDataset(train_samples, build_train_transform(config.augment, size, stats)),
        val=ImageListDataset(val_samples, build_eval_transform_from_stats(size, stats)),
        classes=[folder.name for folder in classes],
        class_ids=[folder.class_id for folder in classes],
    )


def build_eval_transform(config: ExperimentConfig, root: str) -> Callable:
    """Build the evaluation transform of an experiment whose training images are under `root`.

    `root` is the training root (normally `config.data.root`), whatever images
    the transform is then used on, because dataset statistics come from it.
    """
    files = []
    if config.augment.normalize == "dataset":
        # NOTE: the statistics are recomputed from the folder as it is now, so
        # images added or changed since training shift them a little.
        files = list_images(root)
        if not files:
            raise DataError(
                f"data.root: no images under {root}, which augment.normalize = \"dataset\" needs for its statistics; "
                "fix: restore the training folder or point data.root at it"
            )
    stats = normalization_stats(config.augment.normalize, files, config.data.image_size)
    return build_eval_transform_from_stats(config.data.image_size, stats)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


class EpochShuffleSampler(Sampler[int]):
    """A random order of the dataset that depends only on the seed and the epoch set with `set_epoch`."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
        return iter(torch.randperm(self.size, generator=generator).tolist())


class EpochDataLoader(DataLoader):
    """A training DataLoader whose order and worker seeds are a function of the seed and the epoch.

    Call `set_epoch(epoch)` before iterating each epoch. With `data.workers = 0`
    the augmentation draws from the global torch RNG, which a checkpoint must
    save for an exact resume. With worker processes each epoch's worker seeds
    come from `set_epoch` alone.
    """

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.generator.manual_seed(_epoch_seed(self.sampler.seed + 1, epoch))


def build_loaders(bundle: DataBundle, config: ExperimentConfig) -> tuple[EpochDataLoader, DataLoader]:
    """Build the training and validation loaders; call `train_loader.set_epoch(epoch)` before each epoch."""
    data = config.data
    workers = data.workers
    pin_memory = config.device != "cpu" and torch.cuda.is_available()
    train_size = len(bundle.train)

    # BatchNorm cannot train on a batch of one image, so a lone last image is
    # dropped; any other partial batch is kept.
    drop_last = train_size > 1 and train_size % data.batch_size == 1

    # Workers are started again each epoch (no persistent_workers), so that
    # set_epoch decides their seeds.
    train_loader = EpochDataLoader(
        bundle.train,
        batch_size=data.batch_size,
        sampler=EpochShuffleSampler(train_size, config.seed),
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        generator=torch.Generator(),
    )
    train_loader.set_epoch(0)
    val_loader = DataLoader(bundle.val, batch_size=data.batch_size, shuffle=False, num_workers=workers, pin_memory=pin_memory)
    return train_loader, val_loader
