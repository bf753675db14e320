"""Each augmentation's effect on a known image, and the normalization statistics."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from birdtui.config import AugmentConfig
from birdtui.train import transforms
from birdtui.train.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ChannelStats,
    build_eval_transform_from_stats,
    build_train_transform,
    cached_dataset_stats,
    compute_channel_stats,
    normalization_stats,
)

SIZE = 8
NO_AUGMENT = dict(hflip=0.0, vflip=0.0, jitter=0.0, invert=0.0, crop_padding=0, normalize="none")


def _known_pixels() -> np.ndarray:
    """An 8x8 image whose every pixel differs: red grows to the right, green downwards."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    return np.stack([xs * 30 + 10, ys * 30 + 5, np.full_like(xs, 100)], axis=-1).astype(np.uint8)


def _as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 255.0


def _train(**augment: object) -> object:
    return build_train_transform(AugmentConfig(**{**NO_AUGMENT, **augment}), SIZE, None)


@pytest.fixture
def known_image() -> Image.Image:
    return Image.fromarray(_known_pixels(), mode="RGB")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("BIRDTUI_CACHE_DIR", str(cache))
    return cache


def test_no_augmentation_keeps_pixels(known_image: Image.Image) -> None:
    output = _train()(known_image)

    assert output.shape == (3, SIZE, SIZE)
    assert torch.equal(output, _as_tensor(_known_pixels()))


def test_hflip_mirrors_columns(known_image: Image.Image) -> None:
    output = _train(hflip=1.0)(known_image)

    assert torch.equal(output, _as_tensor(_known_pixels()[:, ::-1].copy()))
    # The left column now has the right column's red value: 7 * 30 + 10.
    assert output[0, 0, 0].item() == pytest.approx(220 / 255)


def test_vflip_mirrors_rows(known_image: Image.Image) -> None:
    output = _train(vflip=1.0)(known_image)

    assert torch.equal(output, _as_tensor(_known_pixels()[::-1].copy()))
    assert output[1, 0, 0].item() == pytest.approx((7 * 30 + 5) / 255)


def test_invert_complements_pixels(known_image: Image.Image) -> None:
    output = _train(invert=1.0)(known_image)

    assert torch.equal(output, _as_tensor(255 - _known_pixels()))
    assert output[2, 3, 3].item() == pytest.approx(155 / 255)


def test_flip_probability_half_flips_some(known_image: Image.Image) -> None:
    transform = _train(hflip=0.5)
    original = _as_tensor(_known_pixels())
    torch.manual_seed(0)

    flipped = sum(not torch.equal(transform(known_image), original) for _ in range(200))

    assert 60 < flipped < 140


def test_zero_probabilities_leave_out_steps() -> None:
    names = [type(step).__name__ for step in _train(jitter_strength=0.5).transforms]

    assert names == ["Resize", "ToTensor"]


def test_crop_padding_uses_edge_pixels(known_image: Image.Image) -> None:
    padding = 2
    transform = _train(crop_padding=padding)
    padded = np.pad(_known_pixels(), ((padding, padding), (padding, padding), (0, 0)), mode="edge")
    windows = {
        (top, left): _as_tensor(padded[top : top + SIZE, left : left + SIZE].copy())
        for top in range(2 * padding + 1)
        for left in range(2 * padding + 1)
    }
    torch.manual_seed(1)

    offsets = set()
    for _ in range(60):
        output = transform(known_image)
        matches = [offset for offset, window in windows.items() if torch.equal(output, window)]
        assert len(matches) == 1, "the crop is not a window of the edge-padded image"
        offsets.add(matches[0])

    assert len(offsets) > 5


def test_crop_padding_never_adds_black(known_image: Image.Image) -> None:
    transform = _train(crop_padding=3)
    torch.manual_seed(2)

    for _ in range(30):
        assert transform(known_image).min().item() >= 5 / 255


def test_jitter_changes_colours(known_image: Image.Image) -> None:
    transform = _train(jitter=1.0, jitter_strength=0.8)
    original = _as_tensor(_known_pixels())
    torch.manual_seed(3)

    outputs = [transform(known_image) for _ in range(10)]

    assert all(not torch.equal(output, original) for output in outputs)
    assert all(output.shape == original.shape for output in outputs)


def test_jitter_repeats_with_same_seed(known_image: Image.Image) -> None:
    transform = _train(jitter=0.5, jitter_strength=0.5, hflip=0.5, crop_padding=1)

    torch.manual_seed(4)
    first = [transform(known_image) for _ in range(5)]
    torch.manual_seed(4)
    second = [transform(known_image) for _ in range(5)]

    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_resize_gives_input_size() -> None:
    image = Image.new("RGB", (40, 30), (10, 20, 30))

    output = build_eval_transform_from_stats(16, None)(image)

    assert output.shape == (3, 16, 16)


def test_imagenet_normalization_values(known_image: Image.Image) -> None:
    stats = normalization_stats("imagenet", [], SIZE)

    output = build_eval_transform_from_stats(SIZE, stats)(known_image)

    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(output, (_as_tensor(_known_pixels()) - mean) / std, atol=1e-6)


def test_none_normalization_is_none() -> None:
    assert normalization_stats("none", [], SIZE) is None


def _solid_images(folder: Path, colours: list[tuple[int, int, int]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, colour in enumerate(colours):
        path = folder / f"{index}.png"
        Image.new("RGB", (SIZE, SIZE), colour).save(path)
        paths.append(path)
    return paths


def test_dataset_stats_of_known_images(tmp_path: Path) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 51), (0, 0, 51)])

    stats = compute_channel_stats(files, SIZE)

    assert stats.mean == pytest.approx((0.5, 0.0, 0.2))
    # Red is 0 or 1 in equal parts; green and blue never vary, so their std is the 1.0 stand-in.
    assert stats.std == pytest.approx((0.5, 1.0, 1.0))


def test_dataset_normalization_centres_data(tmp_path: Path) -> None:
    files = _solid_images(tmp_path / "images", [(200, 40, 0), (100, 60, 0), (0, 80, 0)])
    transform = build_eval_transform_from_stats(SIZE, normalization_stats("dataset", files, SIZE))

    outputs = torch.stack([transform(Image.open(path)) for path in files])

    assert outputs[:, :2].mean(dim=(0, 2, 3)).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    assert outputs[:, :2].std(dim=(0, 2, 3), unbiased=False).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)


def test_dataset_stats_cached_in_json(tmp_path: Path, private_cache: Path) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0), (0, 0, 0)])
    first = cached_dataset_stats(files, SIZE)
    cache_files = list((private_cache / "stats").glob("*.json"))
    assert len(cache_files) == 1

    # A planted value proves the second call reads the cache instead of the images.
    cache_files[0].write_text(json.dumps({"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}), encoding="utf-8")
    second = cached_dataset_stats(files, SIZE)

    assert first.mean == pytest.approx((0.5, 0.0, 0.0))
    assert second == ChannelStats((0.1, 0.2, 0.3), (0.4, 0.5, 0.6))


def test_changed_file_recomputes_stats(tmp_path: Path, private_cache: Path) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0), (0, 0, 0)])
    cached_dataset_stats(files, SIZE)

    _solid_images(tmp_path / "images", [(255, 0, 0), (255, 255, 255)])
    stats = cached_dataset_stats(files, SIZE)

    assert stats.mean == pytest.approx((1.0, 0.5, 0.5))
    assert len(list((private_cache / "stats").glob("*.json"))) == 2


def test_other_image_size_has_own_entry(tmp_path: Path, private_cache: Path) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0)])

    cached_dataset_stats(files, SIZE)
    cached_dataset_stats(files, SIZE * 2)

    assert len(list((private_cache / "stats").glob("*.json"))) == 2


def test_corrupt_cache_is_recomputed(tmp_path: Path, private_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0), (0, 0, 0)])
    cached_dataset_stats(files, SIZE)
    cache_file = next((private_cache / "stats").glob("*.json"))
    cache_file.write_text("{not json", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger=transforms.__name__):
        stats = cached_dataset_stats(files, SIZE)

    assert stats.mean == pytest.approx((0.5, 0.0, 0.0))
    assert "unreadable dataset statistics cache" in caplog.text
    assert json.loads(cache_file.read_text(encoding="utf-8"))["mean"] == pytest.approx([0.5, 0.0, 0.0])


def test_unwritable_cache_still_returns_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0), (0, 0, 0)])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("BIRDTUI_CACHE_DIR", str(blocker))

    with caplog.at_level(logging.WARNING, logger=transforms.__name__):
        stats = cached_dataset_stats(files, SIZE)

    assert stats.mean == pytest.approx((0.5, 0.0, 0.0))
    assert "cannot cache dataset statistics" in caplog.text


def test_stats_sample_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _solid_images(tmp_path / "images", [(255, 0, 0)] * 3 + [(0, 0, 0)] * 3)
    monkeypatch.setattr(transforms, "STATS_MAX_IMAGES", 2)

    # Evenly spaced: the first image and the fourth, one of each colour.
    stats = compute_channel_stats(files, SIZE)

    assert stats.mean == pytest.approx((0.5, 0.0, 0.0))
