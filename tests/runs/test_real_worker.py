"""The supervisor and kill with the real training worker, `python -m birdtui.train`."""

from __future__ import annotations

from birdtui.config.schema import DataConfig, ExperimentConfig
from birdtui.metrics import read_records
from birdtui.runs import kill, launch
from birdtui.runs.process import group_members


def test_kill_real_worker_with_dataloader_workers(runs, tiny_dataset, monkeypatch):
    monkeypatch.delenv("BIRDTUI_WORKER_COMMAND")
    config = ExperimentConfig(
        name="real",
        epochs=50,
        device="cpu",
        log_every=1,
        data=DataConfig(root=str(tiny_dataset / "train"), batch_size=8, image_size=32, workers=2),
    )
    launch(runs.store, config)
    metrics = runs.root / "real" / "metrics.jsonl"

    runs.wait_for(
        lambda: any(record["type"] == "step" for record in read_records(metrics)),
        timeout=90,
        description="the first step record of the real worker",
    )
    pgid = runs.store.get("real").state.pid
    # The trainer and its two DataLoader workers share the trainer's process group.
    runs.wait_for(lambda: len(group_members(pgid)) >= 3, description="DataLoader workers")

    kill(runs.store, "real", grace=10.0)

    assert group_members(pgid) == []
    assert runs.status("real") == "killed"
    assert read_records(metrics)[-1]["type"] == "end"
    assert read_records(metrics)[-1]["status"] == "killed"
