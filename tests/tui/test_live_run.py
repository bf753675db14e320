"""Launching real runs by key: the worker trains on the tiny dataset while the app tails its log."""

from __future__ import annotations

import asyncio
import math
import shutil
from pathlib import Path

from birdtui.metrics import read_records
from birdtui.tui.columns import format_number
from birdtui.tui.widgets.loss_plot import LossPlot

# Long enough for a cold start of torch plus two epochs of 24 images on two
# busy CPU cores. A run normally finishes in a fraction of it.
RUN_TIMEOUT = 240.0

TINY_EXPERIMENTS = """\
[defaults]
model = "resnet18"
epochs = 2
device = "cpu"
log_every = 1

[defaults.data]
root = "{root}"
image_size = 32
batch_size = 8

[defaults.schedule]
type = "piecewise"
lr_by_epoch = {{ 0 = 0.05, 1 = 0.005 }}

[[experiments]]
name = "tiny-a"

[[experiments]]
name = "tiny-b"
epochs = 1
"""


def write_tiny_experiments(folder: Path, dataset: Path) -> Path:
    path = folder / "experiments.toml"
    path.write_text(TINY_EXPERIMENTS.format(root=dataset / "train"))
    return path


def test_launch_keys_train_real_runs(tmp_path, tiny_dataset, make_app, waits):
    config_path = write_tiny_experiments(tmp_path, tiny_dataset)
    runs_dir = tmp_path / "runs"
    app = make_app(config_path, runs_dir)

    def status_of(name: str) -> str:
        statuses = dict(zip(waits.column(app, "name"), waits.column(app, "status")))
        return statuses.get(name, "")

    async def scenario() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await waits.until(pilot, lambda: waits.column(app, "name") == ["tiny-a", "tiny-b"], what="two pending rows")
            table = app.query_one("#runs")
            table.move_cursor(row=table.get_row_index("tiny-a"))
            await pilot.press("l")
            await waits.until(pilot, lambda: status_of("tiny-a") == "✓ finished", timeout=RUN_TIMEOUT, what="tiny-a to finish")

            # The table shows the values of the log.
            records = read_records(runs_dir / "tiny-a" / "metrics.jsonl")
            epochs = [record for record in records if record["type"] == "epoch"]
            cells = dict(zip(waits.column(app, "name"), zip(waits.column(app, "epoch"), waits.column(app, "train_loss"), waits.column(app, "lr"))))
            assert len(epochs) == 2
            assert cells["tiny-a"][0] == "2/2"
            assert cells["tiny-a"][1] == format_number(epochs[-1]["train_loss"])
            assert cells["tiny-a"][2] == format_number(epochs[-1]["lr"], 3)

            # The plot draws the selected run's step losses.
            plot = app.query_one(LossPlot)
            steps = [record for record in records if record["type"] == "step"]
            await waits.until(pilot, lambda: plot.contents.lines_of("tiny-a") != [], what="tiny-a's curve")
            raw = plot.contents.lines_of("tiny-a")[0]
            assert len(raw.ys) > 0
            assert all(math.isfinite(y) for y in raw.ys)
            assert max(raw.xs) == steps[-1]["step"]
            assert plot.contents.markers_of("tiny-a", "lr") != []

            # The LR drop happened while the app watched, so it was announced.
            messages = [message for _, message in app.notified]
            assert "run tiny-a: LR 0.05 -> 0.005 at epoch 1 (schedule)" in messages

            # `a` launches only the experiment that has no run yet.
            await pilot.press("a")
            await waits.until(pilot, lambda: status_of("tiny-b") == "✓ finished", timeout=RUN_TIMEOUT, what="tiny-b to finish")
            assert sorted(path.name for path in runs_dir.iterdir() if (path / "state.json").exists()) == ["tiny-a", "tiny-b"]

    asyncio.run(scenario())


KILL_RESUME_EXPERIMENTS = """\
[defaults]
model = "resnet18"
epochs = 4
device = "cpu"
log_every = 1

[defaults.data]
root = "{root}"
image_size = 32
batch_size = 8

[[experiments]]
name = "tiny-long"
"""


def test_kill_and_resume_keys_on_real_run(tmp_path, tiny_dataset, make_app, waits):
    config_path = tmp_path / "experiments.toml"
    config_path.write_text(KILL_RESUME_EXPERIMENTS.format(root=tiny_dataset / "train"))
    runs_dir = tmp_path / "runs"
    app = make_app(config_path, runs_dir)

    def cells() -> tuple[str, str]:
        return waits.column(app, "status")[0], waits.column(app, "epoch")[0]

    def epochs_done() -> int:
        return int(cells()[1].split("/")[0])

    async def scenario() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await waits.until(pilot, lambda: waits.column(app, "name") == ["tiny-long"], what="the pending row")
            await pilot.press("l")
            await waits.until(pilot, lambda: cells()[0] == "▶ running" and epochs_done() >= 1, timeout=RUN_TIMEOUT, what="a finished epoch")

            await pilot.press("k", "y")
            await waits.until(pilot, lambda: cells()[0] == "■ killed", timeout=RUN_TIMEOUT, what="the kill")
            killed_at = epochs_done()
            assert killed_at < 4

            await pilot.press("r")
            await waits.until(pilot, lambda: cells()[0] == "✓ finished", timeout=RUN_TIMEOUT, what="the resumed run to finish")
            assert cells()[1] == "4/4"

            # The resumed worker started at the epoch after its last checkpoint, not at 0.
            starts = [record for record in read_records(runs_dir / "tiny-long" / "metrics.jsonl") if record["type"] == "start"]
            assert len(starts) == 2
            assert starts[1]["resumed_from"]["epoch"] >= 1

            # The details list the checkpoints the worker kept.
            await pilot.press("d")
            text = "\n".join(str(widget.render()) for widget in app.screen.query(".section"))
            assert "best.pt" in text
            assert "epoch-0003.pt" in text

    asyncio.run(scenario())


def test_launch_again_starts_attempt_two(four_runs, make_app, waits):
    """`l` on a finished run queues attempt 2; its worker fails at once on unreadable images, which the UI shows."""
    config_path, runs_dir = four_runs
    # Launch checks only that each class folder has an image file, so these get past it and fail in the worker.
    for name in ("a", "b"):
        folder = config_path.parent / "data" / "train" / name
        folder.mkdir(parents=True)
        (folder / "broken.jpg").write_bytes(b"not a JPEG")
    # The hand-written live run names this test process as its worker, and a
    # supervisor would keep its only CPU slot for it.
    shutil.rmtree(runs_dir / "r34-live")
    app = make_app(config_path, runs_dir)

    def status_of(name: str) -> str:
        return dict(zip(waits.column(app, "name"), waits.column(app, "status"))).get(name, "")

    async def scenario() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await waits.until(pilot, lambda: status_of("r18-base") == "✓ finished", what="the finished run")
            table = app.query_one("#runs")
            table.move_cursor(row=table.get_row_index("r18-base"))
            await pilot.press("l")
            await waits.until(pilot, lambda: status_of("r18-base@2") == "✗ failed", timeout=RUN_TIMEOUT, what="attempt 2 to fail")

            table.move_cursor(row=table.get_row_index("r18-base@2"))
            await pilot.pause()
            bar = str(app.query_one("#selection").render())
            assert bar.startswith("r18-base@2: failed")
            # The bar shows the cause, which names the unreadable image.
            assert "broken.jpg" in bar
            # The first attempt is untouched.
            assert status_of("r18-base") == "✓ finished"

    asyncio.run(scenario())


def test_launch_all_shows_one_summary(four_runs, make_app, waits):
    """`a` on four pending experiments, one with a missing data folder: one summary toast plus one error toast."""
    config_path, runs_dir = four_runs
    # Images that pass the launch check and fail in the worker at once, so the runs end quickly.
    for name in ("a", "b"):
        folder = config_path.parent / "data" / "train" / name
        folder.mkdir(parents=True)
        (folder / "broken.jpg").write_bytes(b"not a JPEG")
    text = config_path.read_text()
    text += '\n[[experiments]]\nname = "r50-more"\n\n[[experiments]]\nname = "r18-nodata"\ndata = { root = "data/missing" }\n'
    config_path.write_text(text)
    # The hand-written live run names this test process as its worker, and a
    # supervisor would keep its only CPU slot for it.
    shutil.rmtree(runs_dir / "r34-live")
    app = make_app(config_path, runs_dir)

    def status_of(name: str) -> str:
        return dict(zip(waits.column(app, "name"), waits.column(app, "status"))).get(name, "")

    def launch_toasts() -> list[str]:
        return [message for _, message in app.notified if message.startswith("Launched")]

    async def scenario() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            await waits.until(pilot, lambda: status_of("r18-nodata") != "", what="the pending rows")
            await pilot.press("a")
            await waits.until(pilot, lambda: launch_toasts() != [], timeout=RUN_TIMEOUT, what="the launch toast")

            assert launch_toasts() == ["Launched 3 runs: r34-live, r50-next, r50-more"]
            errors = [message for severity, message in app.notified if severity == "error"]
            assert len(errors) == 1
            assert "data/missing" in errors[0]

            # Wait for the workers to end, so that no process outlives the test.
            for name in ("r34-live", "r50-next", "r50-more"):
                await waits.until(pilot, lambda: status_of(name) == "✗ failed", timeout=RUN_TIMEOUT, what=f"{name} to fail")

    asyncio.run(scenario())
