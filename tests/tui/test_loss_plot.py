"""LossPlot: the views, markers, axis and smoothing controls, and the replot timer."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from birdtui.metrics.series import RunSeries
from birdtui.tui.widgets.loss_plot import LossPlot
from birdtui.tui.widgets.plot_views import RUN_MARKERS, Smoothing

STEPS_PER_EPOCH = 10


class PlotApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LossPlot(id="plot")


def run_with_plot(check: Callable[[Pilot[None], LossPlot], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    async def main() -> None:
        app = PlotApp()
        async with app.run_test(size=size) as pilot:
            await check(pilot, app.query_one(LossPlot))

    asyncio.run(main())


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await pilot.pause(0.05)


def records(run: str, steps: int = 30, drop_at_epoch: int = 2, nan_step: int | None = None) -> list[dict[str, Any]]:
    """A piecewise run: LR 0.1, then 0.01 from `drop_at_epoch`, and a planned drop to 0.001 at epoch 3."""
    result: list[dict[str, Any]] = [
        {"type": "start", "run": run, "epochs": 4, "steps_per_epoch": STEPS_PER_EPOCH,
         "planned_lr_drops": [[drop_at_epoch, 0.01], [3, 0.001]], "resumed_from": None},
    ]
    lr = 0.1
    for step in range(1, steps + 1):
        epoch = (step - 1) // STEPS_PER_EPOCH
        if step == drop_at_epoch * STEPS_PER_EPOCH + 1:
            result.append({"type": "lr", "epoch": epoch, "step": step - 1, "epoch_progress": float(epoch),
                           "old": 0.1, "new": 0.01, "reason": "schedule"})
            lr = 0.01
        loss = math.nan if step == nan_step else 2.0 / (1.0 + 0.1 * step)
        result.append({"type": "step", "epoch": epoch, "step": step, "epoch_progress": step / STEPS_PER_EPOCH,
                       "loss": loss, "lr": lr})
        if step % STEPS_PER_EPOCH == 0:
            result.append({"type": "epoch", "epoch": epoch, "step": step, "train_loss": 1.0 - 0.1 * epoch,
                           "train_acc": 0.5, "val_loss": 1.2 - 0.1 * epoch, "val_acc": 0.4 + 0.1 * epoch, "lr": lr})
    return result


def series_of(run: str, **options: Any) -> RunSeries:
    series = RunSeries(run)
    series.update(records(run, **options))
    return series


def test_no_run_shows_empty_message() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        assert plot.contents.empty_message is not None
        assert "No run selected" in str(plot.render())

    run_with_plot(check)


def test_run_without_steps_shows_empty_message() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        waiting = RunSeries("r18-new")
        waiting.update([{"type": "start", "run": "r18-new", "steps_per_epoch": 5}])

        plot.set_runs(waiting, [])

        assert plot.contents.lines == []
        assert "r18-new: no training steps logged yet" in str(plot.render())
        plot.next_view()
        assert "no validation results yet" in str(plot.render())

    run_with_plot(check)


def test_loss_view_lines_and_markers() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])

        labels = [line.label for line in plot.contents.lines]
        assert labels == ["r18 loss", "r18 EMA 0.2"]
        raw = plot.contents.lines[0]
        assert raw.xs == tuple(float(step) for step in range(1, 31))
        assert raw.ys[0] == pytest.approx(2.0 / 1.1)

        drops = plot.contents.markers_of("r18", "lr")
        assert [(marker.x, marker.label) for marker in drops] == [(20.0, "LR 0.01")]
        planned = plot.contents.markers_of("r18", "planned")
        assert [(marker.x, marker.label) for marker in planned] == [(30.0, "planned LR 0.001")]

        text = plot.render().plain
        assert "LR 0.01" in text
        assert "planned LR 0.001" in text
        assert "r18 EMA 0.2" in text

    run_with_plot(check)


def test_overlays_have_own_colour_and_marker() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        selected, other = series_of("r18"), series_of("r34", drop_at_epoch=1)

        plot.set_runs(selected, [other, selected])

        smoothed = [line for line in plot.contents.lines if "EMA" in line.label]
        assert [line.run for line in smoothed] == ["r18", "r34"]
        assert smoothed[0].color != smoothed[1].color
        assert smoothed[0].marker != smoothed[1].marker
        assert {marker.label for marker in plot.contents.markers_of("r34", "lr")} == {"r34: LR 0.01"}
        assert plot.contents.markers_of("r34", "lr")[0].x == 10.0
        assert plot.contents.title.startswith("r18, r34:")

    run_with_plot(check)


def test_epoch_axis_moves_points_and_markers() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])

        assert plot.toggle_x_axis() == "epoch"

        raw = plot.contents.lines[0]
        assert raw.xs[:2] == (0.1, 0.2)
        assert raw.xs[-1] == 3.0
        assert [marker.x for marker in plot.contents.markers_of("r18", "lr")] == [2.0]
        assert [marker.x for marker in plot.contents.markers_of("r18", "planned")] == [3.0]
        assert plot.toggle_x_axis() == "step"

    run_with_plot(check)


def test_views_cycle_and_render_twice() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])

        assert plot.next_view() == "val"
        labels = [line.label for line in plot.contents.lines]
        assert labels == ["r18 val loss", "r18 train loss", "r18 val acc"]
        val_loss = plot.contents.lines[0]
        assert val_loss.xs == (10.0, 20.0, 30.0)
        assert val_loss.ys == pytest.approx((1.2, 1.1, 1.0))
        assert plot.contents.lines[2].yside == "right"

        assert plot.next_view() == "lr"
        lr_line = plot.contents.lines[0]
        assert set(lr_line.ys) == {0.1, 0.01}
        assert plot.contents.log_y
        # plotext 5.3 rescales stored data in place; a second build must still work.
        first = plot.render().plain
        second = plot.render().plain
        assert "LR 0.01" in first
        assert first == second

        assert plot.next_view() == "loss"

    run_with_plot(check)


def test_invalid_view_rejected() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        with pytest.raises(ValueError, match="plot view must be one of loss, val, lr"):
            plot.view = "accuracy"
        with pytest.raises(ValueError, match="x axis"):
            plot.x_axis = "time"

    run_with_plot(check)


def test_smoothing_controls() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])
        assert plot.smoothing.label == "EMA 0.2, auto"
        assert plot.contents.title == "r18: train loss (EMA 0.2, auto)"

        # The first change starts from the automatic level and ends the automatic choice.
        assert plot.change_smoothing(+1).label == "EMA 0.1"
        assert plot.contents.lines[1].label == "r18 EMA 0.1"
        for _ in range(20):
            plot.change_smoothing(+1)
        assert plot.smoothing.label == "EMA 0.001"
        for _ in range(20):
            plot.change_smoothing(-1)
        assert plot.smoothing.label == "EMA 0.5"

        assert plot.cycle_smoothing_kind().kind == "none"
        assert [line.label for line in plot.contents.lines] == ["r18 loss"]
        assert plot.cycle_smoothing_kind().label == "MA 3"
        smoothed = plot.contents.lines[1]
        raw = plot.contents.lines[0]
        assert smoothed.ys[1] == pytest.approx((raw.ys[0] + raw.ys[1]) / 2)
        assert plot.cycle_smoothing_kind().kind == "ema"

    run_with_plot(check)


def test_long_series_reduced_to_width() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("long")
        steps = [{"type": "step", "epoch": 0, "step": n, "epoch_progress": n / 100_000, "loss": 1.0} for n in range(1, 100_001)]
        steps[70_000]["loss"] = 25.0
        series.update([{"type": "start", "run": "long", "steps_per_epoch": 100_000}, *steps])

        plot.set_runs(series, [])

        raw = plot.contents.lines[0]
        assert len(raw.xs) <= 2 * plot.size.width
        assert 25.0 in raw.ys
        assert raw.xs[raw.ys.index(25.0)] == 70_001.0
        # About 3 columns' worth of points: 3 * 10^5 / 108 columns is nearest to an MA of 2000.
        assert plot.smoothing.label == "EMA 0.001, auto"

    run_with_plot(check)


def test_diverged_run_titled_and_marked() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18", nan_step=25), [])

        assert "r18 DIVERGED at step 25 (epoch 2)" in plot.contents.title
        marker = plot.contents.markers_of("r18", "non-finite")[0]
        assert marker.x == 25.0
        assert marker.label == "loss nan"
        raw = plot.contents.lines[0]
        assert 25.0 not in raw.xs
        assert 26.0 in raw.xs
        assert "DIVERGED" in plot.render().plain

    run_with_plot(check)


def test_timer_replots_only_on_change() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("r18")
        all_records = records("r18")
        series.update(all_records[:5])
        plot.set_runs(series, [])
        drawn = plot.contents
        assert len(drawn.lines[0].xs) == 4

        # Nothing changed: the timer keeps the drawn contents.
        await pilot.pause(plot.REPLOT_SECONDS * 1.5)
        assert plot.contents is drawn

        series.update(all_records[5:])
        await wait_until(pilot, lambda: plot.contents is not drawn)
        assert len(plot.contents.lines[0].xs) == 30

        refreshed = plot.contents
        plot.data_changed()
        await wait_until(pilot, lambda: plot.contents is not refreshed)

    run_with_plot(check)


def test_no_color_labels_tell_markers_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [series_of("r34", drop_at_epoch=1)])

        text = plot.render().plain
        assert "r18: LR 0.01" in text
        assert "r18: planned LR 0.001" in text
        assert "r34: LR 0.01" in text
        markers = {line.marker for line in plot.contents.lines if "EMA" in line.label}
        assert markers == set(RUN_MARKERS[:2])

    run_with_plot(check, size=(160, 40))


def test_set_runs_same_selection_waits_for_timer() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("r18")
        all_records = records("r18")
        series.update(all_records[:5])
        plot.set_runs(series, [])
        drawn = plot.contents

        series.update(all_records[5:])
        plot.set_runs(series, [])
        assert plot.contents is drawn

        other = series_of("r34")
        plot.set_runs(series, [other])
        assert plot.contents is not drawn
        assert [line.run for line in plot.contents.lines] == ["r18", "r18", "r34", "r34"]

    run_with_plot(check)


def test_resize_reduces_to_new_width() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("long")
        steps = [{"type": "step", "epoch": 0, "step": n, "epoch_progress": n / 10_000, "loss": (n * 7919) % 13 / 13}
                 for n in range(1, 10_001)]
        series.update([{"type": "start", "run": "long", "steps_per_epoch": 10_000}, *steps])
        plot.set_runs(series, [])
        narrow = len(plot.contents.lines[0].xs)
        assert narrow <= 2 * 60

        await pilot.resize_terminal(160, 36)
        await wait_until(pilot, lambda: len(plot.contents.lines[0].xs) > narrow)
        assert len(plot.contents.lines[0].xs) <= 2 * 160

    run_with_plot(check, size=(60, 30))


def sparse_lr_records(run: str) -> list[dict[str, Any]]:
    """Step records every 8 steps (logged at 8, 16, 24, 32), with an LR drop from 0.05 to 0.005 at step 20."""
    result: list[dict[str, Any]] = [{"type": "start", "run": run, "epochs": 4, "steps_per_epoch": STEPS_PER_EPOCH}]
    for step in (8, 16, 24, 32):
        if step == 24:
            result.append({"type": "lr", "epoch": 2, "step": 20, "epoch_progress": 2.0,
                           "old": 0.05, "new": 0.005, "reason": "plateau"})
        lr = 0.05 if step < 20 else 0.005
        result.append({"type": "step", "epoch": (step - 1) // STEPS_PER_EPOCH, "step": step,
                       "epoch_progress": step / STEPS_PER_EPOCH, "loss": 1.0, "lr": lr})
    return result


def test_lr_drop_drawn_as_step() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("r18")
        series.update(sparse_lr_records("r18"))
        plot.set_runs(series, [])

        plot.view = "lr"

        line = plot.contents.lines[0]
        points = list(zip(line.xs, line.ys))
        assert points == [(8.0, 0.05), (16.0, 0.05), (20.0, 0.05), (20.0, 0.005), (24.0, 0.005), (32.0, 0.005)]

        plot.x_axis = "epoch"
        line = plot.contents.lines[0]
        assert list(zip(line.xs, line.ys))[2:4] == [(2.0, 0.05), (2.0, 0.005)]

    run_with_plot(check)


def test_lr_slope_without_change_record_kept() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        # A warmup or cosine schedule changes the LR with no lr record: no steps are invented.
        series = RunSeries("r18")
        series.update([{"type": "step", "epoch": 0, "step": step, "loss": 1.0, "lr": 0.01 * step} for step in (1, 2, 3)])
        plot.set_runs(series, [])

        plot.view = "lr"

        assert plot.contents.lines[0].xs == (1.0, 2.0, 3.0)

    run_with_plot(check)


def legend_rows(text: str, count: int) -> list[str]:
    """Return the first `count` canvas rows of a rendered plot, where plotext puts the legend."""
    canvas = [row for row in text.splitlines() if "┤" in row or "│" in row]
    return canvas[:count]


def canvas_part(row: str) -> str:
    """Return a rendered row without its y tick label and the frame left of the canvas."""
    frame = min(row.index(edge) for edge in "┤│" if edge in row)
    return row[frame + 1 :]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pytest.mark.parametrize("view", ["loss", "val", "lr"])
def test_marker_labels_leave_legend_intact(view: str, size: tuple[int, int]) -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        # A drop at epoch 1 sits at the left edge of the val view, under the legend.
        plot.set_runs(series_of("r18-plateau", drop_at_epoch=1), [series_of("r18-baseline", drop_at_epoch=1)])
        plot.view = view

        text = plot.render().plain
        rows = legend_rows(text, len(plot.contents.lines))

        for row, line in zip(rows, plot.contents.lines):
            assert f" {line.label} " in row + " "
        for marker in plot.contents.markers:
            assert marker.label in text

    run_with_plot(check, size=size)


def test_step_axis_ticks_are_whole() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("r18")
        series.update([{"type": "step", "epoch": 0, "step": step, "loss": 1.0 / step, "lr": 0.1}
                       for step in range(75_001, 75_023)])
        plot.set_runs(series, [])

        ticks = plot.contents.x_ticks
        assert len(ticks) >= 3
        assert all(tick.is_integer() for tick in ticks)
        tick_row = plot.render().plain.splitlines()[-2]
        assert "." not in tick_row
        assert "75010" in tick_row

        plot.x_axis = "epoch"
        assert plot.contents.x_ticks
        assert plot.contents.x_ticks[0] >= plot.contents.x_range[0]

    run_with_plot(check)


def test_single_step_gets_an_axis() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        series = RunSeries("r18")
        series.update([{"type": "step", "epoch": 0, "step": 7, "loss": 1.0, "lr": 0.1}])
        plot.set_runs(series, [])

        assert plot.contents.x_range == (6.0, 8.0)
        assert plot.contents.x_ticks == (6.0, 7.0, 8.0)
        assert "7" in plot.render().plain.splitlines()[-2]

    run_with_plot(check)


@pytest.mark.parametrize("view", ["loss", "val", "lr"])
def test_no_color_every_line_has_own_marker(view: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [series_of("r34"), series_of("r50")])
        plot.view = view

        lines = plot.contents.lines
        assert len({line.marker for line in lines}) == len(lines)

        # The legend shows each line's marker glyphs before its label.
        rows = legend_rows(plot.render().plain, len(lines))
        glyphs = [canvas_part(row).split(line.label)[0].strip() for row, line in zip(rows, lines)]
        assert all(glyphs)
        assert len(set(glyphs)) == len(lines)

    run_with_plot(check, size=(160, 48))


def test_automatic_smoothing_follows_short_run() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])

        raw, smoothed = plot.contents.lines
        assert smoothed.ys[0] == pytest.approx(raw.ys[0])
        # Loss falls from 1.82 to 0.5 over 30 steps; the smoothed line ends close to it.
        assert smoothed.ys[-1] < raw.ys[-1] * 1.15

    run_with_plot(check)


def test_smoothing_resolve_picks_level() -> None:
    assert Smoothing().resolve(30, 100).label == "EMA 0.2, auto"
    assert Smoothing().resolve(100_000, 100).label == "EMA 0.001, auto"
    assert Smoothing("ma").resolve(10_000, 100).label == "MA 200, auto"
    assert Smoothing("ema", 3).resolve(100_000, 100).label == "EMA 0.1"


def test_val_view_huge_early_loss_gets_log_axis() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        # BatchNorm lag: the first validation losses are hundreds of times the later ones.
        lagging = records("r18-lag")
        val_losses = iter((421.8, 139.6, 0.64))
        for record in lagging:
            if record["type"] == "epoch":
                record["val_loss"] = next(val_losses)
        series = RunSeries("r18-lag")
        series.update(lagging)
        plot.set_runs(series, [])

        plot.view = "val"

        assert plot.contents.log_y
        assert plot.contents.ylabels == {"left": "loss (log)", "right": "accuracy"}
        val_acc = plot.contents.lines_of("r18-lag")[2]
        assert val_acc.yside == "right"
        assert val_acc.ys == pytest.approx((0.4, 0.5, 0.6))
        text = plot.render().plain
        assert "loss (log)" in text
        assert text == plot.render().plain

    run_with_plot(check)


def test_val_view_narrow_loss_stays_linear() -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        plot.set_runs(series_of("r18"), [])

        plot.view = "val"

        assert not plot.contents.log_y
        assert plot.contents.ylabels["left"] == "loss"

    run_with_plot(check)


@pytest.mark.parametrize("view", ["loss", "lr"])
def test_marker_labels_at_one_x_stay_apart(view: str) -> None:
    async def check(pilot: Pilot[None], plot: LossPlot) -> None:
        # Four runs drop their LR at the same step, so four labels start in one column.
        names = ["r18-a", "r18-b", "r18-c", "r18-d"]
        runs = [series_of(name, drop_at_epoch=1) for name in names]
        plot.set_runs(runs[0], runs[1:])
        plot.view = view

        text = plot.render().plain

        drops = [marker for marker in plot.contents.markers if marker.kind == "lr"]
        assert len(drops) == 4
        assert len({marker.label_y for marker in drops}) == 4
        for marker in plot.contents.markers:
            assert marker.label in text

    run_with_plot(check)
