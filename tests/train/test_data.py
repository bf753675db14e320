"""Class discovery, integer class ids, the validation split, dataset errors and the loaders."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image

from birdtui.config import ExperimentConfig
from birdtui.demo_data import class_names
from birdtui.errors import DataError
from birdtui.train.data import (
    build_data,
    build_eval_transform,
    build_loaders,
    find_classes,
    list_images,
    split_by_class,
)


def _config(root: Path, **data: object) -> ExperimentConfig:
    config = ExperimentConfig(name="data-test", device="cpu")
    config.data.root = str(root)
    config.data.image_size = 16
    config.data.batch_size = 4
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


def _write_jpeg(path: Path, colour: tuple[int, int, int] = (120, 60, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), colour).save(path, format="JPEG")
    return path


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        for index in range(count):
            _write_jpeg(root / name / f"{index}.jpg", (index * 20 % 256, 40, 80))
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIRDTUI_CACHE_DIR", str(tmp_path / "cache"))


def test_integer_folders_keep_numeric_ids(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"0": 2, "1": 2, "2": 2, "10": 2})
    _write_jpeg(root / ".ipynb_checkpoints" / "0-checkpoint.jpg")

    bundle = build_data(_config(root, val_fraction=0.0))

    assert bundle.classes == ["0", "1", "2", "10"]
    assert bundle.class_ids == [0, 1, 2, 10]
    assert all(isinstance(class_id, int) for class_id in bundle.class_ids)
    labels_by_folder = {path.parent.name: label for path, label in bundle.train.samples}
    assert labels_by_folder == {"0": 0, "1": 1, "2": 2, "10": 3}


def test_named_folders_use_names_as_ids(tiny_dataset: Path) -> None:
    bundle = build_data(_config(tiny_dataset / "train"))

    assert bundle.classes == sorted(class_names(3))
    assert bundle.class_ids == bundle.classes


def test_hidden_folder_is_never_a_class(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})
    _write_jpeg(root / ".ipynb_checkpoints" / "x.jpg")
    _write_jpeg(root / ".trash" / "y.jpg")

    assert [folder.name for folder in find_classes(root)] == ["Robin", "Wren"]


def test_list_images_skips_hidden_and_non_images(tmp_path: Path) -> None:
    folder = tmp_path / "Robin"
    _write_jpeg(folder / "b.jpg")
    _write_jpeg(folder / "a.JPG")
    _write_jpeg(folder / "nested" / "c.jpeg")
    _write_jpeg(folder / "._b.jpg")
    _write_jpeg(folder / ".ipynb_checkpoints" / "b-checkpoint.jpg")
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")

    found = list_images(folder)

    assert [path.relative_to(folder).as_posix() for path in found] == ["a.JPG", "b.jpg", "nested/c.jpeg"]


def test_missing_root_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"

    with pytest.raises(DataError) as raised:
        build_data(_config(missing))

    assert str(missing) in str(raised.value)
    assert "data.root" in str(raised.value)
    assert "birdtui demo-data" in str(raised.value)


def test_root_that_is_a_file_rejected(tmp_path: Path) -> None:
    root = tmp_path / "train.zip"
    root.write_bytes(b"zip")

    with pytest.raises(DataError, match="is a file, not a folder"):
        build_data(_config(root))


def test_root_of_loose_images_rejected(tmp_path: Path) -> None:
    _write_jpeg(tmp_path / "train" / "0001.jpg")

    with pytest.raises(DataError, match="contains images directly, not in class folders"):
        build_data(_config(tmp_path / "train"))


def test_root_without_class_folders_rejected(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("no class folders here", encoding="utf-8")

    with pytest.raises(DataError, match="no class folders in"):
        build_data(_config(tmp_path / "train"))


def test_one_class_dataset_rejected(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"Robin": 3})

    with pytest.raises(DataError, match="needs at least two classes") as raised:
        build_data(_config(root))

    cause, fix = str(raised.value).split("\n")
    assert cause.startswith(f"data.root: {root} has one class folder ('Robin')")
    assert fix.startswith("  fix: add a folder of images for each other class")


def test_one_class_val_root_rejected(tmp_path: Path) -> None:
    train = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})
    val = _image_folder(tmp_path / "val", {"Robin": 1})

    with pytest.raises(DataError, match="data.val_root: .* needs at least two classes"):
        build_data(_config(train, val_root=str(val)))


def test_empty_class_names_the_folder(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"Robin": 2})
    (root / "Wren").mkdir()
    (root / "Wren" / "readme.txt").write_text("no images here", encoding="utf-8")

    with pytest.raises(DataError) as raised:
        build_data(_config(root))

    assert str(root / "Wren") in str(raised.value)
    assert "contains no images" in str(raised.value)


def test_non_ascii_digit_folder_is_a_name(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"2": 1, "²": 1})

    assert [folder.class_id for folder in find_classes(root)] == [2, "²"]


def test_clashing_integer_folders_rejected(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"7": 1, "007": 1})

    with pytest.raises(DataError, match="both mean class 7"):
        build_data(_config(root))


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})
    broken = root / "Wren" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not really a jpeg")
    bundle = build_data(_config(root, val_fraction=0.0))
    index = next(i for i, (path, _) in enumerate(bundle.train.samples) if path == broken)

    with pytest.raises(DataError) as raised:
        bundle.train[index]

    assert str(broken) in str(raised.value)


def test_split_is_stratified_and_seeded() -> None:
    labels = [0] * 10 + [1] * 20 + [2] * 5

    train, val = split_by_class(labels, 0.2, seed=3)

    assert sorted(train + val) == list(range(len(labels)))
    assert Counter(labels[i] for i in val) == {0: 2, 1: 4, 2: 1}
    assert split_by_class(labels, 0.2, seed=3) == (train, val)
    assert split_by_class(labels, 0.2, seed=4) != (train, val)


def test_split_keeps_one_training_image_per_class() -> None:
    labels = [0, 1, 1, 2, 2, 2]

    train, val = split_by_class(labels, 0.9, seed=0)

    assert Counter(labels[i] for i in train) == {0: 1, 1: 1, 2: 1}
    assert Counter(labels[i] for i in val) == {1: 1, 2: 2}


def test_split_with_zero_fraction_has_no_val() -> None:
    train, val = split_by_class([0, 0, 1, 1], 0.0, seed=0)

    assert train == [0, 1, 2, 3]
    assert val == []


def test_build_data_splits_tiny_dataset(tiny_dataset: Path) -> None:
    bundle = build_data(_config(tiny_dataset / "train", val_fraction=0.2))

    assert len(bundle.train) == 24
    assert len(bundle.val) == 6
    train_paths = {path for path, _ in bundle.train.samples}
    val_paths = {path for path, _ in bundle.val.samples}
    assert not train_paths & val_paths
    image, label = bundle.train[0]
    assert image.shape == (3, 16, 16)
    assert image.dtype == torch.float32
    assert 0 <= label < 3


@pytest.mark.parametrize("normalize", ["imagenet", "dataset", "none"])
def test_train_and_val_share_preprocessing(tiny_dataset: Path, normalize: str) -> None:
    # With every augmentation off, an image must reach the network the same way in
    # training and validation: the same resize and the same normalization.
    config = _config(tiny_dataset / "train", val_fraction=0.2)
    config.augment.hflip = 0.0
    config.augment.normalize = normalize
    bundle = build_data(config)
    image = Image.new("RGB", (40, 24), (200, 90, 30))
    image.paste((20, 160, 220), (5, 4, 30, 20))

    train_input = bundle.train.transform(image)
    val_input = bundle.val.transform(image)

    assert train_input.shape == (3, 16, 16)
    assert torch.equal(train_input, val_input)


def test_val_root_labels_follow_train_root(tmp_path: Path) -> None:
    train = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})
    val = _image_folder(tmp_path / "val", {"Wren": 1, "Robin": 3})

    bundle = build_data(_config(train, val_root=str(val)))

    assert len(bundle.train) == 4
    assert Counter(label for _, label in bundle.val.samples) == {0: 3, 1: 1}
    assert all(bundle.classes[label] == path.parent.name for path, label in bundle.val.samples)


def test_val_root_with_other_classes_rejected(tmp_path: Path) -> None:
    train = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})
    val = _image_folder(tmp_path / "val", {"Robin": 1, "Finch": 1})

    with pytest.raises(DataError) as raised:
        build_data(_config(train, val_root=str(val)))

    message = str(raised.value)
    assert "data.val_root" in message
    assert "'Wren'" in message
    assert "'Finch'" in message


def test_missing_val_root_rejected(tmp_path: Path) -> None:
    train = _image_folder(tmp_path / "train", {"Robin": 2, "Wren": 2})

    with pytest.raises(DataError, match="data.val_root: folder not found"):
        build_data(_config(train, val_root=str(tmp_path / "val")))


def _epoch_order(loader, epoch: int) -> list[int]:
    loader.set_epoch(epoch)
    return list(loader.sampler)


def test_shuffle_order_depends_on_seed_and_epoch(tiny_dataset: Path) -> None:
    config = _config(tiny_dataset / "train")
    bundle = build_data(config)
    loader, _ = build_loaders(bundle, config)
    resumed, _ = build_loaders(bundle, config)

    epoch_one = _epoch_order(loader, 1)

    assert sorted(epoch_one) == list(range(len(bundle.train)))
    assert _epoch_order(loader, 2) != epoch_one
    assert _epoch_order(resumed, 1) == epoch_one
    config.seed = 5
    assert _epoch_order(build_loaders(bundle, config)[0], 1) != epoch_one


def test_loader_batches_follow_sampler(tiny_dataset: Path) -> None:
    config = _config(tiny_dataset / "train", batch_size=5)
    config.augment.hflip = 0.0
    bundle = build_data(config)
    train_loader, val_loader = build_loaders(bundle, config)

    order = _epoch_order(train_loader, 0)
    labels = torch.cat([batch_labels for _, batch_labels in train_loader]).tolist()

    assert labels == [bundle.train.samples[i][1] for i in order]
    assert len(train_loader) == 5
    assert sum(len(batch_labels) for _, batch_labels in val_loader) == len(bundle.val)


def test_lone_last_image_is_dropped(tmp_path: Path) -> None:
    # BatchNorm rejects a training batch of one image, so 9 images in batches of 4 give 2 batches.
    root = _image_folder(tmp_path / "train", {"Robin": 5, "Wren": 4})
    config = _config(root, val_fraction=0.0, batch_size=4)
    train_loader, _ = build_loaders(build_data(config), config)

    sizes = [len(labels) for _, labels in train_loader]

    assert sizes == [4, 4]


def test_worker_augmentation_repeats_per_epoch(tiny_dataset: Path) -> None:
    config = _config(tiny_dataset / "train", workers=2, batch_size=8)
    config.augment.hflip = 0.5
    config.augment.jitter = 0.5
    bundle = build_data(config)
    loader, _ = build_loaders(bundle, config)
    resumed, _ = build_loaders(bundle, config)

    def epoch_batches(epoch_loader, epoch: int) -> list[torch.Tensor]:
        epoch_loader.set_epoch(epoch)
        return [images for images, _ in epoch_loader]

    first = epoch_batches(loader, 1)
    epoch_batches(loader, 2)
    again = epoch_batches(loader, 1)
    in_resumed_run = epoch_batches(resumed, 1)

    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(first, in_resumed_run, strict=True))


def test_eval_transform_matches_val_transform(tiny_dataset: Path) -> None:
    config = _config(tiny_dataset / "train")
    config.augment.normalize = "dataset"
    bundle = build_data(config)
    path, _ = bundle.val.samples[0]

    transform = build_eval_transform(config, config.data.root)

    assert torch.equal(transform(Image.open(path).convert("RGB")), bundle.val[0][0])


def test_eval_transform_without_training_images(tmp_path: Path) -> None:
    config = _config(tmp_path / "moved-away")
    config.augment.normalize = "dataset"

    with pytest.raises(DataError) as raised:
        build_eval_transform(config, config.data.root)

    assert str(tmp_path / "moved-away") in str(raised.value)
    assert "augment.normalize" in str(raised.value)


def test_real_bird_photos_load() -> None:
    # Real photographs (a Caltech-UCSD Birds subset) exist on some machines only; .ci/run sets the variable.
    real = os.environ.get("BIRDTUI_REAL_BIRDS")
    if not real:
        pytest.skip("BIRDTUI_REAL_BIRDS is not set, so there are no real bird photos to load")
    config = _config(Path(real) / "train", val_fraction=0.2)
    config.data.image_size = 64

    bundle = build_data(config)
    image, label = bundle.val[0]

    assert len(bundle.classes) == len([p for p in (Path(real) / "train").iterdir() if p.is_dir()])
    assert bundle.class_ids == bundle.classes
    assert len(bundle.train) + len(bundle.val) == len(list_images(Path(real) / "train"))
    assert image.shape == (3, 64, 64)
    assert bundle.classes[label] == bundle.val.samples[0][0].parent.name
