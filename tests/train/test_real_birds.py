"""Training on real bird photographs, when a folder of them is available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from birdtui.metrics import read_records

REAL_BIRDS = os.environ.get("BIRDTUI_REAL_BIRDS")


@pytest.mark.skipif(
    not REAL_BIRDS,
    reason="BIRDTUI_REAL_BIRDS is unset; set it to an ImageFolder root with train/ and test/ (.ci/run does)",
)
def test_real_birds_one_epoch_reports_val_acc(make_run, workers):
    root = Path(REAL_BIRDS)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir() and not p.name.startswith("."))
    # Every training photo, 32 px, one epoch: a few seconds of compute on two CPU cores.
    run_dir = make_run(root=root / "train", epochs=1, log_every=5, **{"data.batch_size": 32, "data.val_fraction": 0.2})

    assert workers.run(run_dir, timeout=300) == 0, workers.stderr(run_dir)

    records = read_records(run_dir / "metrics.jsonl")
    start = records[0]
    assert start["classes"] == classes
    assert start["num_classes"] == len(classes)
    assert start["val_size"] > 0
    epoch = [r for r in records if r["type"] == "epoch"][0]
    assert 0.0 <= epoch["val_acc"] <= 1.0
    assert epoch["val_top5"] >= epoch["val_acc"]
    assert records[-1]["status"] == "finished"
