"""The results table: cells of hand-written runs, and sort order with mixed values."""

from __future__ import annotations

import asyncio
import math

from textual.widgets._footer import FooterKey

from birdtui.export import collect_rows
from birdtui.tui.columns import COLUMN_KEYS, RowContext, format_number, sort_order
from birdtui.tui.model import RunView, rank_at_equal_epoch
from birdtui.tui.widgets.runs_table import NAME_WIDTH, shorten_name


def view_with(key: str, loss: float | None) -> RunView:
    view = RunView(key=key, experiment=key)
    view.set_state({"run": key, "experiment": key, "attempt": 1, "status": "finished"})
    if loss is not None:
        view.update([{"type": "epoch", "time": 1.0, "epoch": 0, "train_loss": loss, "val_acc": 0.5}])
    return view


MIXED = [view_with("int3", 3), view_with("nan", math.nan), view_with("f0.5", 0.5), view_with("none", None), view_with("int1", 1), view_with("f2.5", 2.5)]


def test_sort_numbers_ascending_missing_last():
    order = sort_order(MIXED, "train_loss", False, RowContext(ranks={}))

    assert order[:4] == ["f0.5", "int1", "f2.5", "int3"]
    assert sorted(order[4:]) == ["nan", "none"]


def test_sort_numbers_descending_missing_last():
    order = sort_order(MIXED, "train_loss", True, RowContext(ranks={}))

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
        cells = {name: dict(zip(["epoch", "train_loss", "val_acc", "rank", "elapsed", "model"],
                                [waits.column(app, key)[i] for key in ["epoch", "train_loss", "val_acc", "rank", "elapsed", "model"]]))
                 for i, name in enumerate(names)}
        assert cells["r18-base"]["epoch"] == "4/4"
        assert cells["r18-base"]["train_loss"] == "0.4"
        assert cells["r18-base"]["val_acc"] == "70.0%"
        assert cells["r18-base"]["elapsed"] == "4:00"
        # At epoch 1 the live run has 50% against 55% for r18-base; r18-hot's NaN does not count.
        assert cells["r34-live"]["rank"] == "2/2"
        assert cells["r34-live"]["elapsed"] == "2:00"
        assert cells["r34-live"]["model"] == "resnet34"
        assert cells["r50-next"]["epoch"] == "-/4"


def test_train_loss_matches_export(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)
    asyncio.run(check_train_loss_matches_export(app, waits, runs_dir))


async def check_train_loss_matches_export(app, waits, runs_dir):
    async with app.run_test(size=(200, 40)) as pilot:
        await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="live epochs")
        shown = dict(zip(waits.column(app, "name"), waits.column(app, "train_loss")))
        label = app.query_one("#runs").columns["train_loss"].label.plain

    assert label == "train loss"
    # The export's train loss is the final epoch's mean, not the last step's loss (0.45 for r18-base).
    assert shown["r18-base"] == "0.4"
    for row in collect_rows(runs_dir):
        assert shown[row["run"]] == format_number(row["summary"]["last_train_loss"]), row["run"]


def test_sort_arrow_fits_every_column(four_runs, make_app, waits):
    app = make_app(*four_runs)
    asyncio.run(check_sort_arrows(app, waits))


async def check_sort_arrows(app, waits):
    async with app.run_test(size=(200, 40)) as pilot:
        await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="live epochs")
        table = app.query_one("#runs")
        for _ in COLUMN_KEYS:
            await pilot.press("s")
            await pilot.pause()
            column = table.columns[table.sort_key]
            shown_width = column.get_render_width(table) - 2 * table.cell_padding
            assert shown_width >= column.label.cell_len, f"the arrow of {column.label.plain!r} is cut off"


def test_80_columns_show_main_columns(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    config_path.write_text(config_path.read_text() + '\n[[experiments]]\nname = "r50-a-very-long-experiment-name"\n')
    app = make_app(config_path, runs_dir)
    asyncio.run(check_80_columns(app, waits))


async def check_80_columns(app, waits):
    async with app.run_test(size=(80, 24)) as pilot:
        await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="live epochs")
        table = app.query_one("#runs")
        # Sorted by the widest main column, so its arrow counts too.
        app.sort_table("val_acc", reverse=True)
        await pilot.pause()

        main = ["mark", "name", "status", "epoch", "train_loss", "val_loss", "val_acc"]
        width = sum(table.columns[key].get_render_width(table) for key in main)
        assert width <= table.scrollable_content_region.width
        # The long name is cut in the middle, keeping its distinctive end.
        assert "r50-a…iment-name" in waits.column(app, "name")
        assert table.columns["name"].width == NAME_WIDTH

        footer_keys = {key.key: key for key in app.query(FooterKey)}
        for key in ["question_mark", "l", "k", "e", "q"]:
            assert key in footer_keys, key
            assert footer_keys[key].region.right <= 80, key


def test_shorten_name_keeps_sweep_ends_apart():
    names = [
        "r18-mw-momentum0.8-wd0.0001",
        "r18-mw-momentum0.8-wd0.001",
        "r18-mw-momentum0.9-wd0.0001",
        "r18-mw-momentum0.9-wd0.001",
    ]
    shown = [shorten_name(name) for name in names]

    assert len(set(shown)) == len(names), shown
    assert all(len(text) == NAME_WIDTH for text in shown), shown
    assert shorten_name("r18-baseline") == "r18-baseline"


def test_sort_places_shortened_names(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    long_name = "a0-a-very-long-experiment-name"
    config_path.write_text(config_path.read_text() + f'\n[[experiments]]\nname = "{long_name}"\n')
    app = make_app(config_path, runs_dir)
    asyncio.run(check_shortened_name_sorts_first(app, waits, long_name))


async def check_shortened_name_sorts_first(app, waits, long_name):
    async with app.run_test(size=(120, 30)) as pilot:
        await waits.until(pilot, lambda: shorten_name(long_name) in waits.column(app, "name"), what="the long name")
        app.sort_table("name", reverse=False)
        await pilot.pause()

        # The row is sorted by its whole name, although its cell shows a shortened one.
        assert waits.column(app, "name")[0] == shorten_name(long_name)
