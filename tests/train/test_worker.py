"""The training worker process and the metrics log it writes."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from birdtui.train.command import register
from birdtui.errors import RunError
from birdtui.metrics import read_records
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


def reject_constant(name: str) -> None:
    raise AssertionError(f"metrics line holds the bare JSON constant {name}")


def test_worker_two_epochs_log(make_run, workers):
    run_dir = make_run(epochs=2, **{"schedule.type": "piecewise", "schedule.lr_by_epoch": {0: 0.05, 1: 0.005}})

    assert workers.run(run_dir) == 0, workers.stderr(run_dir)

    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        json.loads(line, parse_constant=reject_constant)
    records = read_records(run_dir / "metrics.jsonl")
    assert [r["type"] for r in records] == [
        "start", "step", "step", "step", "epoch", "checkpoint",
        "lr", "step", "step", "step", "epoch", "checkpoint", "end",
    ]

    start = records[0]
    assert start["run"] == "run"
    assert start["classes"] == ["Golden_Oriole", "Lemon_Dove", "Scarlet_Tanager"]
    assert start["class_ids"] == start["classes"]
    assert start["num_classes"] == 3
    assert (start["train_size"], start["val_size"]) == (24, 6)
    assert start["steps_per_epoch"] == 3
    assert start["device"] == "cpu"
    assert start["epochs"] == 2
    assert start["lr"] == 0.05
    assert start["planned_lr_drops"] == [[1, 0.005]]
    assert start["resumed_from"] is None
    assert start["warnings"] == []
    assert start["config"]["schedule"]["lr_by_epoch"] == {"0": 0.05, "1": 0.005}

    steps = [r for r in records if r["type"] == "step"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert [s["epoch"] for s in steps] == [0, 0, 0, 1, 1, 1]
    assert [s["epoch_progress"] for s in steps] == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert [s["lr"] for s in steps] == [0.05, 0.05, 0.05, 0.005, 0.005, 0.005]
    assert all(math.isfinite(s["loss"]) and s["loss"] > 0 for s in steps)

    lr_change = records[6]
    assert (lr_change["epoch"], lr_change["step"], lr_change["epoch_progress"]) == (1, 3, 1.0)
    assert (lr_change["old"], lr_change["new"], lr_change["reason"]) == (0.05, 0.005, "schedule")

    epochs = [r for r in records if r["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert [e["step"] for e in epochs] == [3, 6]
    assert [e["lr"] for e in epochs] == [0.05, 0.005]
    for epoch in epochs:
        assert 0.0 <= epoch["val_acc"] <= 1.0
        assert epoch["val_top5"] == 1.0  # three classes: every label is within the top 5
        assert 0.0 <= epoch["train_acc"] <= 1.0
        assert math.isfinite(epoch["train_loss"])
        assert math.isfinite(epoch["val_loss"])
        assert epoch["images_per_sec"] > 0
        assert epoch["seconds"] > 0

    checkpoints = [r for r in records if r["type"] == "checkpoint"]
    assert [c["path"] for c in checkpoints] == ["checkpoints/epoch-0000.pt", "checkpoints/epoch-0001.pt"]
    assert checkpoints[0]["best"] is True
    assert (run_dir / "checkpoints" / "epoch-0000.pt").is_file()
    assert (run_dir / "checkpoints" / "epoch-0001.pt").is_file()
    assert (run_dir / "checkpoints" / "best.pt").is_file()

    end = records[-1]
    assert end["status"] == "finished"
    assert (end["epoch"], end["step"]) == (1, 6)
    assert end["error"] is None
    assert end["best_val_acc"] == max(e["val_acc"] for e in epochs)


def test_worker_step_record_window_mean(make_run):
    every_step = make_run("every-step", log_every=1)
    windowed = make_run("windowed", log_every=2)

    assert run_worker(every_step, stop=StopFlag()) == 0
    assert run_worker(windowed, stop=StopFlag()) == 0

    single = {r["step"]: r["loss"] for r in read_records(every_step / "metrics.jsonl") if r["type"] == "step"}
    windows = [r for r in read_records(windowed / "metrics.jsonl") if r["type"] == "step"]
    # Three steps per epoch: one window of two steps, then the epoch's last step alone.
    assert [r["step"] for r in windows] == [2, 3]
    assert windows[0]["loss"] == pytest.approx((single[1] + single[2]) / 2, rel=1e-6)
    assert windows[1]["loss"] == pytest.approx(single[3], rel=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_worker_on_gpu_without_cuda_warns(make_run, workers, monkeypatch):
    run_dir = make_run(epochs=1)
    # The supervisor sets this when it places a run on GPU 0.
    monkeypatch.setenv("BIRDTUI_ASSIGNED_GPU", "0")

    assert workers.run(run_dir) == 0, workers.stderr(run_dir)

    start = read_records(run_dir / "metrics.jsonl")[0]
    assert start["device"] == "cpu"
    assert len(start["warnings"]) == 1
    assert start["warnings"][0].startswith("the supervisor placed this run on GPU 0, but CUDA is not available")
    assert "birdtui: warning: the supervisor placed this run on GPU 0" in workers.stderr(run_dir)


def test_worker_missing_dataset_fails(make_run, tmp_path, capsys):
    run_dir = make_run(root=tmp_path / "no-such-folder")

    exit_code = run_worker(run_dir, stop=StopFlag())

    assert exit_code == 1
    records = read_records(run_dir / "metrics.jsonl")
    assert [r["type"] for r in records] == ["end"]
    assert records[0]["status"] == "failed"
    assert "no-such-folder" in records[0]["error"]
    stderr = capsys.readouterr().err
    assert "no-such-folder" in stderr
    assert "Traceback" not in stderr


def test_worker_unexpected_error_fails(make_run, capsys):
    run_dir = make_run()
    # A file where the checkpoints folder belongs makes the first save raise FileExistsError.
    (run_dir / "checkpoints").write_text("not a folder", encoding="utf-8")

    exit_code = run_worker(run_dir, stop=StopFlag())

    assert exit_code == 1
    end = read_records(run_dir / "metrics.jsonl")[-1]
    assert end["type"] == "end"
    assert end["status"] == "failed"
    assert end["error"].startswith("FileExistsError")
    assert (end["epoch"], end["step"]) == (0, 3)
    assert "Traceback" in capsys.readouterr().err


def test_worker_rejects_folder_without_config(tmp_path):
    with pytest.raises(RunError, match="config.json not found"):
        run_worker(tmp_path, stop=StopFlag())
    assert not (tmp_path / "metrics.jsonl").exists()


def test_train_command_parses_resume(tmp_path: Path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train", str(tmp_path), "--resume"])
    assert args.run_dir == str(tmp_path)
    assert args.resume is True
    assert args.func.__name__ == "run_train"
