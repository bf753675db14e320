"""Every key binding of the main view, driven with Pilot on hand-written runs."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.widgets import Static

from birdtui.metrics import encode_record
from birdtui.tui.app import BirdtuiApp
from birdtui.tui.screens.details import DetailsScreen
from birdtui.tui.commands import newest_checkpoint_name
from birdtui.tui.screens.export import ExportScreen, OverwriteScreen
from birdtui.tui.screens.help import KEY_NAMES, HelpScreen
from birdtui.tui.screens.kill import KillScreen
from birdtui.tui.widgets.loss_plot import LossPlot

RUN_NAMES = ["r18-base", "r18-hot", "r18-oom", "r34-live", "r50-next"]

# The hand-written runs' first timestamp, as in conftest.py.
T0 = 1796126400.0


def drive(app: BirdtuiApp, waits: Any, scenario: Callable[[Any], Awaitable[None]], size: tuple[int, int] = (160, 40)) -> None:
    """Open the app, wait until the hand-written runs are in the table, then run `scenario(pilot)`."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await waits.until(pilot, lambda: waits.column(app, "name") == RUN_NAMES, what="the five rows")
            await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="the live run's records")
            await scenario(pilot)

    asyncio.run(main())


async def select_row(pilot: Any, app: BirdtuiApp, key: str) -> None:
    table = app.query_one("#runs")
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


def test_sort_keys_cycle_and_reverse(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-oom")
        table = app.query_one("#runs")
        while table.sort_key != "train_loss":
            await pilot.press("s")

        # Last epoch's train loss: base 0.4, live 0.7, oom 1.2; hot's NaN and pending's none go last.
        assert waits.column(app, "name") == ["r18-base", "r34-live", "r18-oom", "r18-hot", "r50-next"]
        assert table.selected_key == "r18-oom"

        await pilot.press("S")
        assert waits.column(app, "name") == ["r18-oom", "r34-live", "r18-base", "r18-hot", "r50-next"]
        assert table.selected_key == "r18-oom"
        assert "train loss ▼" in str(table.columns["train_loss"].label)

    drive(app, waits, scenario)


def test_sort_by_val_loss_nan_last(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        table = app.query_one("#runs")
        while table.sort_key != "val_loss":
            await pilot.press("s")
        # Last val loss: base 0.5, live 0.8, oom 1.3; hot's last is NaN and pending has none.
        ascending = waits.column(app, "name")
        await pilot.press("S")
        descending = waits.column(app, "name")

        assert ascending[:3] == ["r18-base", "r34-live", "r18-oom"]
        assert sorted(ascending[3:]) == ["r18-hot", "r50-next"]
        assert descending[:3] == ["r18-oom", "r34-live", "r18-base"]
        assert sorted(descending[3:]) == ["r18-hot", "r50-next"]

    drive(app, waits, scenario)


def test_overlay_key_marks_and_plots(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-base")
        await pilot.press("space")
        await select_row(pilot, app, "r34-live")
        await pilot.press("o")
        await waits.until(pilot, lambda: waits.column(app, "mark").count("+") == 2, what="two overlay marks")

        plot = app.query_one(LossPlot)
        await waits.until(pilot, lambda: plot.contents.lines_of("r18-base") != [], what="the overlay's curve")
        assert plot.contents.lines_of("r34-live") != []
        assert app.overlays == {"r18-base", "r34-live"}

        await pilot.press("space")
        assert app.overlays == {"r18-base"}

    drive(app, waits, scenario)


def test_plot_keys_view_axis_smoothing(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        plot = app.query_one(LossPlot)
        views = []
        for _ in range(3):
            await pilot.press("v")
            views.append(plot.view)
        assert views == ["val", "lr", "loss"]

        await pilot.press("x")
        assert plot.x_axis == "epoch"
        await pilot.press("x")
        assert plot.x_axis == "step"

        level = plot.smoothing.level
        await pilot.press("]")
        assert plot.smoothing.level == level + 1
        await pilot.press("[", "[")
        assert plot.smoothing.level == level - 1

        kind = plot.smoothing.kind
        await pilot.press("m")
        assert plot.smoothing.kind != kind

    drive(app, waits, scenario)


def test_details_key_shows_traceback_and_diff(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-base")
        await pilot.press("space")
        await select_row(pilot, app, "r18-oom")
        await pilot.press("d")
        assert isinstance(app.screen, DetailsScreen)

        text = "\n".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "RuntimeError: CUDA out of memory" in text
        assert "Traceback (most recent call last)" in text
        assert "Diff: r18-oom -> r18-base" in text
        assert "optim.lr = 0.01" in text
        # The config reads as in experiments.toml, not as Python values.
        assert 'optim.name = "sgd"' in text
        assert "amp = true" in text
        assert "pretrained = null" in text
        for python_word in ["None", "True", "'sgd'"]:
            assert python_word not in text

        # c moves the diff to the next row; r18-hot differs from r18-oom in its LR.
        await pilot.press("c")
        diff_title = str(app.screen.query_one("#diff-title", Static).render())
        diff = str(app.screen.query_one("#diff", Static).render())
        assert diff_title == "Diff: r18-oom -> r18-hot"
        assert "optim.lr: 0.01 -> 5.0" in diff

        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)

    drive(app, waits, scenario)


def test_help_key_lists_every_binding(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)

        table = app.screen.query_one("#help-keys", Static).content
        keys_column, actions_column = table.columns
        listed_keys = {key for cell in keys_column.cells for key in str(cell).split(" / ")}
        for binding in BirdtuiApp.BINDINGS:
            assert KEY_NAMES.get(binding.key, binding.key) in listed_keys, binding.key
            if binding.tooltip:
                assert binding.tooltip in list(actions_column.cells), binding.key
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(app, waits, scenario)


def write_queued_run(runs_dir: Path, run_id: str) -> None:
    run_dir = runs_dir / run_id
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"name": run_id, "model": "resnet18", "epochs": 4}))
    state = {"run": run_id, "experiment": run_id, "attempt": 1, "status": "queued", "resume": False, "created": 1.0}
    (run_dir / "state.json").write_text(json.dumps(state))


def test_kill_needs_confirmation(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    # A queued run has no process yet, so killing it only rewrites its state.
    write_queued_run(runs_dir, "r50-next")
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await waits.until(pilot, lambda: "… queued" in waits.column(app, "status"), what="the queued run")
        await select_row(pilot, app, "r50-next")

        await pilot.press("k")
        assert isinstance(app.screen, KillScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, KillScreen)
        assert json.loads((runs_dir / "r50-next" / "state.json").read_text())["status"] == "queued"

        await pilot.press("k", "y")
        await waits.until(pilot, lambda: "■ killed" in waits.column(app, "status"), what="the killed status")
        assert json.loads((runs_dir / "r50-next" / "state.json").read_text())["status"] == "killed"

    drive(app, waits, scenario)


def test_kill_of_ended_run_is_rejected(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-base")
        await pilot.press("k")
        assert not isinstance(app.screen, KillScreen)
        assert any("can be killed" in message for _, message in app.notified)

    drive(app, waits, scenario)


def test_resume_finished_run_suggests_l(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-base")
        await pilot.press("r")
        await waits.until(
            pilot,
            lambda: any(severity == "warning" and "r18-base" in message for severity, message in app.notified),
            what="the resume warning",
        )
        message = app.notified[-1][1]
        assert "`l` starts a new attempt" in message
        assert "birdtui launch" not in message
        assert json.loads((runs_dir / "r18-base" / "state.json").read_text())["status"] == "finished"

    drive(app, waits, scenario)


def test_newest_checkpoint_name(tmp_path):
    folder = tmp_path / "checkpoints"
    assert newest_checkpoint_name(tmp_path) is None
    folder.mkdir()
    assert newest_checkpoint_name(tmp_path) is None

    (folder / "best.pt").write_bytes(b"x")
    assert newest_checkpoint_name(tmp_path) == "best.pt"

    for epoch in (2, 10, 9):
        (folder / f"epoch-{epoch:04d}.pt").write_bytes(b"x")
    assert newest_checkpoint_name(tmp_path) == "epoch-0010.pt"


def test_failed_bar_shows_cause(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    state_path = runs_dir / "r18-oom" / "state.json"
    state = json.loads(state_path.read_text())
    state["error"] = "unknown model 'resnet19'\n  fix: use one of resnet18, resnet34, resnet50"
    state_path.write_text(json.dumps(state))
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-oom")
        bar = str(app.query_one("#selection", Static).render())
        assert bar.startswith("r18-oom: failed  unknown model 'resnet19'  fix: use one of")

    drive(app, waits, scenario)


def test_invalid_experiments_file_shows_error(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        config_path.write_text(config_path.read_text() + "\n[[experiments]]\nname = \"r18-typo\"\nmodle = \"resnet18\"\n")
        panel = app.query_one("#config-error")
        await waits.until(pilot, lambda: panel.has_class("-visible"), what="the error panel")
        assert "modle" in str(panel.render())
        assert "the table shows the last valid file" in str(panel.render())
        # The table keeps the last valid experiments.
        assert "r50-next" in waits.column(app, "name")

        config_path.write_text(config_path.read_text().replace("modle", "model"))
        await waits.until(pilot, lambda: "r18-typo" in waits.column(app, "name"), what="the new experiment")
        assert not panel.has_class("-visible")

    drive(app, waits, scenario)


def test_quit_says_runs_continue(four_runs, make_app, waits, capfd):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await pilot.press("q")

    drive(app, waits, scenario)
    # Textual prints the exit message to stderr once the app has left the screen.
    output = capfd.readouterr().err.replace("\n", " ")
    assert app.return_code == 0
    assert "keep running in the background" in output
    assert "r34-live" in output


def test_export_key_writes_results(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await pilot.press("e")
        results = config_path.parent / "results.md"
        await waits.until(pilot, lambda: isinstance(app.screen, ExportScreen), what="the export screen")

        text = results.read_text()
        for run_id in ["r18-base", "r34-live", "r18-oom", "r18-hot"]:
            assert run_id in text
        assert text.startswith("|")
        assert any(str(results) in message for _, message in app.notified)

        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)

    drive(app, waits, scenario)


def test_export_asks_before_replacing_notes(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    results = config_path.parent / "results.md"
    notes = "# My notes\n\nr18-base looked best.\n"
    results.write_text(notes)
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await pilot.press("e")
        assert isinstance(app.screen, OverwriteScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, OverwriteScreen)
        assert results.read_text() == notes
        assert any("Export cancelled" in message for _, message in app.notified)

        await pilot.press("e")
        assert isinstance(app.screen, OverwriteScreen)
        await pilot.press("y")
        await waits.until(pilot, lambda: isinstance(app.screen, ExportScreen), what="the export screen")
        assert results.read_text().startswith("| run ")
        await pilot.press("escape")

        # A file the export wrote is replaced without a question.
        await pilot.press("e")
        assert not isinstance(app.screen, OverwriteScreen)
        await waits.until(pilot, lambda: isinstance(app.screen, ExportScreen), what="the second export screen")

    drive(app, waits, scenario)


def test_live_records_update_rows_in_place(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-oom")
        table = app.query_one("#runs")
        row_keys = {key.value: key for key in table.rows}

        # The live run finishes epoch 2 and its schedule drops the LR while the app watches.
        records = [
            {"type": "epoch", "time": T0 + 480, "epoch": 2, "step": 12, "train_loss": 0.5, "train_acc": 0.6, "val_loss": 0.6,
             "val_acc": 0.65, "val_top5": 1.0, "lr": 0.1, "seconds": 60.0, "images_per_sec": 125.0},
            {"type": "lr", "time": T0 + 481, "epoch": 3, "step": 12, "old": 0.1, "new": 0.01, "reason": "schedule"},
        ]
        with open(runs_dir / "r34-live" / "metrics.jsonl", "a") as handle:
            handle.writelines(encode_record(record) for record in records)

        await waits.until(pilot, lambda: "3/4" in waits.column(app, "epoch"), what="the new epoch")
        cells = dict(zip(waits.column(app, "name"), zip(waits.column(app, "lr"), waits.column(app, "rank"))))
        # At epoch 2 the live run's 65% beats r18-base's 60%; no other run reached epoch 2.
        assert cells["r34-live"] == ("0.01", "1/2")
        assert table.selected_key == "r18-oom"
        assert waits.column(app, "name") == RUN_NAMES
        # The same row keys: the rows were updated cell by cell, not removed and added.
        assert all(row_keys[key.value] is key for key in table.rows)
        assert ("information", "run r34-live: LR 0.1 -> 0.01 at epoch 3 (schedule)") in app.notified

    drive(app, waits, scenario)


def test_missing_experiments_file_shows_error(tmp_path, make_app):
    app = make_app(tmp_path / "nowhere.toml")

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            panel = app.query_one("#config-error")
            while not panel.has_class("-visible"):
                await pilot.pause(0.05)
            text = str(panel.render())
            assert "nowhere.toml" in text
            assert "experiments file not found" in text
            # No valid file was ever read, so the banner must not speak of one.
            assert "last valid file" not in text
            assert "no experiments loaded yet" in text
            assert app.query_one("#runs").row_count == 0

            # Keys that need a row explain that instead of failing.
            await pilot.press("l", "k", "d")
            assert any("Nothing to launch" in message for _, message in app.notified)

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_invalid_log_line_is_reported(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        with open(runs_dir / "r34-live" / "metrics.jsonl", "a") as handle:
            handle.write("{not json\n")
        await waits.until(
            pilot,
            lambda: any(severity == "warning" and "r34-live" in message for severity, message in app.notified),
            what="the warning",
        )
        warning = next(message for _, message in app.notified if "r34-live" in message)
        assert "skipped 1 invalid line(s) of metrics.jsonl" in warning
        assert "2/4" in waits.column(app, "epoch")

    drive(app, waits, scenario)


def test_invalid_state_file_is_reported(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    broken = runs_dir / "r60-broken"
    broken.mkdir()
    (broken / "state.json").write_text('{"status": "exploded"}')
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await waits.until(pilot, lambda: any("r60-broken" in message for _, message in app.notified), what="the warning")
        warning = next(message for _, message in app.notified if "r60-broken" in message)
        assert "invalid run state" in warning
        assert "r60-broken" not in waits.column(app, "name")

    drive(app, waits, scenario)


def test_error_text_with_brackets_shown_literally(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    # Markup would drop "[defaults]" and raise on "[/]".
    state_path = runs_dir / "r18-oom" / "state.json"
    state = json.loads(state_path.read_text())
    state["error"] = "ValueError: section [defaults] ended by [/]"
    state_path.write_text(json.dumps(state))
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        await select_row(pilot, app, "r18-oom")
        bar = app.query_one("#selection")
        assert "section [defaults] ended by [/]" in str(bar.render())

        config_path.write_text(config_path.read_text() + "\n[[experiments]]\nname = \"x\"\nmodle = \"resnet18\"\n")
        panel = app.query_one("#config-error")
        await waits.until(pilot, lambda: panel.has_class("-visible"), what="the error panel")
        assert "experiments[5].modle" in str(panel.render())
        errors = [message for severity, message in app.notified if severity == "error"]
        assert "experiments[5].modle" in errors[-1]

    drive(app, waits, scenario)


def test_removed_experiment_and_run_folder(four_runs, make_app, waits):
    config_path, runs_dir = four_runs
    app = make_app(config_path, runs_dir)

    async def scenario(pilot):
        # r18-base leaves the experiments file; its run stays in the table but cannot launch again.
        config_path.write_text(config_path.read_text().replace('name = "r18-base"', 'name = "r18-renamed"'))
        await waits.until(pilot, lambda: "r18-renamed" in waits.column(app, "name"), what="the renamed experiment")
        await select_row(pilot, app, "r18-base")
        await pilot.press("l")
        errors = [message for severity, message in app.notified if severity == "error"]
        assert any("r18-base is not in the experiments file any more" in message for message in errors)
        assert not (runs_dir / "r18-base@2").exists()

        # A deleted run folder leaves the table; its experiment shows as pending again.
        shutil.rmtree(runs_dir / "r18-oom")
        await waits.until(pilot, lambda: "· pending" in dict(zip(waits.column(app, "name"), waits.column(app, "status"))).get("r18-oom", ""), what="r18-oom pending")

    drive(app, waits, scenario)


def test_help_explains_rank_column(four_runs, make_app, waits):
    app = make_app(*four_runs)

    async def scenario(pilot):
        await pilot.press("question_mark")

        table = app.screen.query_one("#help-columns", Static).content
        names_column, descriptions_column = table.columns
        names = [str(cell) for cell in names_column.cells]
        assert "rank@ep" in names
        rank_help = str(list(descriptions_column.cells)[names.index("rank@ep")])
        assert "val accuracy" in rank_help
        assert "last finished epoch" in rank_help

    drive(app, waits, scenario)
