"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from birdtui.demo_data import write_demo_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo dataset of real JPEGs, shared by every test of the session: treat it as read-only.

    Layout: `<root>/train/<species>/NNNN.jpg` with 3 classes x 10 images of 32 px,
    `<root>/test/0/NNNN.jpg` with 6 images, and `<root>/test_labels.csv`.
    The fixture returns `<root>`; a config's `data.root` is `<root> / "train"`.
    """
    root = tmp_path_factory.mktemp("tiny-dataset")
    return write_demo_dataset(root, classes=3, train_per_class=10, test_count=6, size=32, seed=0)
