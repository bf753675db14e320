"""SVG snapshots of the main screen and its dialogs, on the four hand-written runs.

The runs have fixed timestamps, and elapsed time and ETA come from them, so
the pictures are the same on every run. Update with `pytest --snapshot-update` only
after looking at the new pictures.
"""

from __future__ import annotations

from typing import Any

from birdtui.tui.widgets.loss_plot import LossPlot

RUN_NAMES = ["r18-base", "r18-hot", "r18-oom", "r34-live", "r50-next"]


def loaded(app: Any, waits: Any, *, select: str | None = None, overlay: str | None = None, keys: tuple[str, ...] = ()) -> Any:
    """Build a `run_before` that waits for every run's records, then selects, overlays and presses keys."""

    async def run_before(pilot: Any) -> None:
        await waits.until(pilot, lambda: waits.column(app, "name") == RUN_NAMES, what="the five rows")
        await waits.until(pilot, lambda: "2/4" in waits.column(app, "epoch"), what="the live run's records")
        table = app.query_one("#runs")
        for key in (overlay, select):
            if key is not None:
                table.move_cursor(row=table.get_row_index(key))
                await pilot.pause()
                if key == overlay:
                    await pilot.press("space")
        plot = app.query_one(LossPlot)
        await waits.until(pilot, lambda: plot.contents.lines or plot.contents.empty_message, what="the plot")
        # Plan the plot once more at the settled layout, so the picture does not
        # depend on whether the plot's own timer has run since the last resize.
        await pilot.pause()
        plot.replot()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_main_screen_80x24(four_runs, make_app, waits, snap_compare):
    """At 80x24: the table shows all five rows with status words (finished, diverged,
    failed, running, pending) and epochs 4/4, 2/4, 1/4, 2/4, -/4. The train loss,
    val loss and best val acc columns show without scrolling, then the live run's rank 2/2.
    Below it is the selected r18-base's train loss with an "LR 0.01" drop marker at
    step 12. The footer lists ? Help, l, k, r, s, v, d, e Export and q Quit."""
    app = make_app(*four_runs)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded(app, waits))


def test_main_screen_160x48(four_runs, make_app, waits, snap_compare):
    """At 160x48: every column up to GPU is visible. r34-live is selected (running,
    elapsed 2:00 and ETA 2:00 from the log times) and r18-base is marked "+" as an
    overlay. The plot draws both runs' train loss in two colours with a legend naming both."""
    app = make_app(*four_runs)
    assert snap_compare(app, terminal_size=(160, 48), run_before=loaded(app, waits, select="r34-live", overlay="r18-base"))


def test_diverged_run_selected(four_runs, make_app, waits, snap_compare):
    """At 80x24 with r18-hot selected: its row shows "! diverged" with NaN as last loss,
    the bar under the table reads "r18-hot: diverged", and the plot shows its loss up
    to the NaN with the divergence marked."""
    app = make_app(*four_runs)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded(app, waits, select="r18-hot"))


def test_kill_confirmation_dialog(four_runs, make_app, waits, snap_compare):
    """At 80x24 after `k` on r34-live: a dialog "Kill run r34-live?" that explains
    what kill does and that y kills while n or escape keeps it running."""
    app = make_app(*four_runs)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded(app, waits, select="r34-live", keys=("k",)))


def test_help_screen(four_runs, make_app, waits, snap_compare):
    """At 80x24 after `?`: a framed list of every key (?, l, a / L, k, r, space / o, s, S,
    v, x, [, ], m, d, e, g, q) with what each does. The list scrolls down to the table
    keys and a Columns section that explains +, best val acc and rank@ep, so at 24 rows
    it shows ? to m and a scrollbar."""
    app = make_app(*four_runs)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded(app, waits, keys=("question_mark",)))
