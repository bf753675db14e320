"""The results table: cells of hand-written runs, and sort order with mixed values."""

from __future__ import annotations

import asyncio
import math

from birdtui.tui.columns import RowContext, sort_order
from birdtui.tui.model import RunView, rank_at_equal_epoch


def view_with(key: str, loss: float | None) -> RunView:
    view = RunView(key=key, experiment=key)
    view.set_state({"run": key, "experiment": key, "attempt": 1, "status": "finished"})
    if loss is not None:
        view.update([{"type": "epoch", "time": 1.0, "epoch": 0, "train_loss": loss, "val_acc": 0.5}])
    return view


MIXED = [view_with("int3", 3), view_with("nan", math.nan), view_with("f0.5", 0.5), view_with("none", None), view_with("int1", 1), view_with("f2.5", 2.5)]


def test_sort_numbers_ascending_missing_last():
    order = sort_order(MIXED, "best_loss", False, RowContext(ranks={}))

    assert order[:4] == ["f0.5", "int1", "f2.5", "int3"]
    assert sorted(order[4:]) == ["nan", "none"]


def test_sort_numbers_descending_missing_last():
    order = sort_order(MIXED, "best_loss", True, RowContext(ranks={}))

    assert order[:4] == ["int3", "f2.5", "int1", "f0.5"]
    assert sorted(order[4:]) == ["nan", "none"]


def test_resume_drops_replayed_accuracies():
    view = view_with("run", 2.0)
    view.update([{"type": "epoch", "time": 2.0, "epoch": 1, "train_loss": 1.0, "val_acc": 0.6}])
    view.update([{"type": "start", "time": 3.0, "epochs": 4, "resumed_from": {"checkpoint": "x.pt", "epoch": 1}}])

    assert view.val_acc_at(0) == 0.5
    assert view.val_acc_at(1) is None


def running_view(key: str, accs: list[float]) -> RunView:
    view = RunView(key=key, experiment=key)
    view.set_state({"run": key, "experiment": key, "attempt": 1, "status": "running"})
    view.update([{"type": "epoch", "time": 1.0 + epoch, "epoch": epoch, "val_acc": acc} for epoch, acc in enumerate(accs)])
    return view


def test_rank_compares_at_equal_epoch():
    finished = view_with("done", 1.0)
    finished.update([{"type": "epoch", "time": 2.0, "epoch": 1, "val_acc": 0.9}, {"type": "epoch", "time": 3.0, "epoch": 2, "val_acc": 0.95}])
    early = running_view("early", [0.6])
    later = running_view("later", [0.4, 0.7])
    broken = running_view("broken", [math.nan])

    ranks = rank_at_equal_epoch([finished, early, later, broken])

    # At epoch 0: early 0.6, done 0.5, later 0.4; broken's NaN is not ranked.
    assert ranks["early"] == (1, 3)
    # At epoch 1: done 0.9 beats later 0.7; early has not reached epoch 1.
    assert ranks["later"] == (2, 2)
    assert "broken" not in ranks
    assert "done" not in ranks


def test_table_shows_hand_written_runs(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)
    asyncio.run(check_table_cells(app, waits))


async def check_table_cells(app, waits):
    async with app.run_test(size=(200, 40)) as pilot:
        await waits.until(pilot, lambda: app.query_one("#runs").row_count == 5, what="5 rows")
        await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="live epochs")

        names = waits.column(app, "name")
        statuses = dict(zip(names, waits.column(app, "status")))
        assert names == sorted(names)
        assert statuses == {
            "r18-base": "✓ finished",
            "r18-hot": "! diverged",
            "r18-oom": "✗ failed",
            "r34-live": "▶ running",
            "r50-next": "· pending",
        }
        cells = {name: dict(zip(["epoch", "best_loss", "val_acc", "rank", "elapsed", "model"],
                                [waits.column(app, key)[i] for key in ["epoch", "best_loss", "val_acc", "rank", "elapsed", "model"]]))
                 for i, name in enumerate(names)}
        assert cells["r18-base"]["epoch"] == "4/4"
        assert cells["r18-base"]["best_loss"] == "0.4"
        assert cells["r18-base"]["val_acc"] == "70.0%"
        assert cells["r18-base"]["elapsed"] == "4:00"
        # At epoch 1 the live run has 50% against 55% for r18-base; r18-hot's NaN does not count.
        assert cells["r34-live"]["rank"] == "2/2"
        assert cells["r34-live"]["elapsed"] == "2:00"
        assert cells["r34-live"]["model"] == "resnet34"
        assert cells["r50-next"]["epoch"] == "-/4"
