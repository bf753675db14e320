"""A run whose training loss stops being finite ends as diverged."""

from __future__ import annotations

import math

from birdtui.metrics import read_records
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


def test_divergence_huge_lr_ends_run(make_run, capsys):
    # SGD at LR 1e12 overflows the weights within a few steps.
    run_dir = make_run(epochs=3, **{"optim.lr": 1e12})

    exit_code = run_worker(run_dir, stop=StopFlag())

    assert exit_code == 0
    text = (run_dir / "metrics.jsonl").read_text(encoding="utf-8")
    assert "NaN" in text or "Infinity" in text
    records = read_records(run_dir / "metrics.jsonl")
    steps = [r for r in records if r["type"] == "step"]
    assert not math.isfinite(steps[-1]["loss"])
    assert all(math.isfinite(s["loss"]) for s in steps[:-1])

    end = records[-1]
    assert end["type"] == "end"
    assert end["status"] == "diverged"
    assert end["step"] == steps[-1]["step"]
    assert end["epoch"] == steps[-1]["epoch"]
    assert end["error"] is None

    # The diverged epoch is never checkpointed or reported as finished.
    diverged_epoch = steps[-1]["epoch"]
    assert not [r for r in records if r["type"] in ("epoch", "checkpoint") and r["epoch"] == diverged_epoch]
    assert not (run_dir / "checkpoints" / f"epoch-{diverged_epoch:04d}.pt").exists()
    assert "training loss became" in capsys.readouterr().err
