"""A live metrics log, tailed into RunSeries and drawn by the real LossPlot in a running app.

The test app does what the birdtui app does with a run's log: poll it with
`JsonlTailer`, fold the records into a `RunSeries`, tell the plot that data
changed, and notify each new LR change with `format_lr_change`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from birdtui.metrics import JsonlTailer, MetricsWriter, encode_record
from birdtui.metrics.series import RunSeries, format_lr_change
from birdtui.tui.widgets.loss_plot import LossPlot

RUN = "r18-live"
STEPS_PER_EPOCH = 5
POLL_SECONDS = 0.1


class LiveLogApp(App[None]):
    def __init__(self, log_path: Path) -> None:
        super().__init__()
        self.tailer = JsonlTailer(log_path)
        self.series = RunSeries(RUN)
        self.notified: list[str] = []
        self.bad_lines: list[tuple[int, str]] = []

    def compose(self) -> ComposeResult:
        yield LossPlot()

    def on_mount(self) -> None:
        self.query_one(LossPlot).set_runs(self.series, [])
        self.set_interval(POLL_SECONDS, self.poll_log)

    def poll_log(self) -> None:
        result = self.tailer.read_new()
        self.bad_lines.extend(result.bad_lines)
        if result.reset:
            self.series.clear()
        changed, lr_changes = self.series.update(result.records)
        for change in lr_changes:
            message = format_lr_change(RUN, change)
            self.notified.append(message)
            self.notify(message, title="LR change", markup=False)
        if changed:
            self.query_one(LossPlot).data_changed()


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await pilot.pause(0.05)


def write_steps(writer: MetricsWriter, steps: range, lr: float, nan_step: int | None = None) -> None:
    for step in steps:
        epoch = (step - 1) // STEPS_PER_EPOCH
        loss = math.nan if step == nan_step else 3.0 - 0.1 * step
        writer.write("step", epoch=epoch, step=step, epoch_progress=step / STEPS_PER_EPOCH, loss=loss, lr=lr)


def plotted_steps(plot: LossPlot) -> tuple[float, ...]:
    lines = plot.contents.lines
    return lines[0].xs if lines else ()


def test_live_log_plot_and_notification(tmp_path: Path) -> None:
    log_path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(log_path)
    writer.write("start", run=RUN, epochs=3, steps_per_epoch=STEPS_PER_EPOCH, lr=0.1,
                 planned_lr_drops=[[1, 0.01], [2, 0.001]], resumed_from=None)
    write_steps(writer, range(1, 6), lr=0.1)
    writer.write("epoch", epoch=0, step=5, train_loss=2.7, train_acc=0.3, val_loss=2.8, val_acc=0.25,
                 val_top5=1.0, lr=0.1, seconds=1.0, images_per_sec=10.0)

    async def main() -> None:
        app = LiveLogApp(log_path)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            plot = app.query_one(LossPlot)

            # Epoch 0 is drawn at its steps, with both planned drops ahead.
            await wait_until(pilot, lambda: plotted_steps(plot) == (1.0, 2.0, 3.0, 4.0, 5.0))
            assert plot.contents.lines[0].ys[0] == 2.9
            planned = [(marker.x, marker.label) for marker in plot.contents.markers_of(RUN, "planned")]
            assert planned == [(5.0, "planned LR 0.01"), (10.0, "planned LR 0.001")]
            assert app.notified == []

            # The schedule drops the LR at the start of epoch 1.
            writer.write("lr", epoch=1, step=5, epoch_progress=1.0, old=0.1, new=0.01, reason="schedule")
            write_steps(writer, range(6, 8), lr=0.01)
            # Step 8 is half written: the reader must hold it back.
            step_8 = encode_record({"type": "step", "time": time.time(), "epoch": 1, "step": 8,
                                    "epoch_progress": 1.6, "loss": 2.2, "lr": 0.01})
            with open(log_path, "ab") as handle:
                handle.write(step_8[:30].encode())

            await wait_until(pilot, lambda: plotted_steps(plot) == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0))
            assert app.notified == [f"{RUN}: LR 0.1 -> 0.01 at epoch 1 (schedule)"]
            await wait_until(pilot, lambda: any(f"{RUN}: LR 0.1 -> 0.01" in toast.render().plain for toast in app.screen.query(Toast)))
            drops = [(marker.x, marker.label) for marker in plot.contents.markers_of(RUN, "lr")]
            assert drops == [(5.0, "LR 0.01")]
            # The planned drop that happened is now drawn as a real one.
            planned = [(marker.x, marker.label) for marker in plot.contents.markers_of(RUN, "planned")]
            assert planned == [(10.0, "planned LR 0.001")]
            assert "LR 0.01" in plot.render().plain

            # The rest of step 8 arrives, then a NaN loss at step 9.
            with open(log_path, "ab") as handle:
                handle.write(step_8[30:].encode())
            write_steps(writer, range(9, 11), lr=0.01, nan_step=9)

            await wait_until(pilot, lambda: plotted_steps(plot)[-1:] == (10.0,))
            assert plotted_steps(plot) == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)
            assert plot.contents.lines[0].ys[7] == 2.2
            non_finite = plot.contents.markers_of(RUN, "non-finite")
            assert [(marker.x, marker.label) for marker in non_finite] == [(9.0, "loss nan")]
            assert f"{RUN} DIVERGED at step 9 (epoch 1)" in plot.contents.title
            assert app.bad_lines == []
            assert len(app.notified) == 1

            # On the epoch axis the same points sit at their epoch progress.
            plot.toggle_x_axis()
            assert plotted_steps(plot)[-2:] == (1.6, 2.0)
            assert [marker.x for marker in plot.contents.markers_of(RUN, "lr")] == [1.0]
            assert [marker.x for marker in plot.contents.markers_of(RUN, "non-finite")] == [1.8]

    try:
        asyncio.run(main())
    finally:
        writer.close()
