"""The plot pane: train loss, validation or LR curves of the selected run and its overlays."""

from __future__ import annotations

from rich.align import Align
from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from birdtui.metrics.series import RunSeries
from birdtui.tui.widgets.plot_views import (
    EMA_ALPHAS,
    MA_WINDOWS,
    SMOOTHING_KINDS,
    VIEWS,
    X_AXES,
    PlotContents,
    PlotRequest,
    Smoothing,
    paint,
    plan_plot,
)

# Room taken by the y-axis tick labels and the frame, in columns.
AXIS_COLUMNS = 12
MIN_BUCKETS = 20
# Rows plotext 5.3.2 takes from the widget's height for the title, the two
# x axes, the x tick labels and the row of axis labels.
FRAME_ROWS = 5


class LossPlot(PlotextPlot):
    """A plotext plot of one selected run plus overlay runs, redrawn when their data changes.

    Call `set_runs` when the selection changes and `data_changed` when new
    records arrive. A timer redraws at most once every `REPLOT_SECONDS`, and
    only when a shown run's data changed, because smoothing, reduction and the
    plotext build run on the UI thread. Planning a 10^6-step run took 0.13 s
    on 2 loaded CPU cores (benchmarks/bench_plot.py, docs/benchmarks.md). View, x-axis, smoothing and selection changes redraw
    at once.
    """

    REPLOT_SECONDS = 1.0

    view: reactive[str] = reactive("loss", init=False)
    x_axis: reactive[str] = reactive("step", init=False)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._selected: RunSeries | None = None
        self._overlays: list[RunSeries] = []
        self._smoothing = Smoothing()
        self._contents = PlotContents()
        self._dirty = True
        # The `RunSeries.version` of each run as last drawn, keyed by object id.
        self._drawn_versions: dict[int, int] = {}
        self._drawn_buckets = 0
        self._drawn_height = 0

    def on_mount(self) -> None:
        # Textual also runs PlotextPlot.on_mount (handlers are looked up along
        # the MRO), which registers the app theme with plotext.
        self.set_interval(self.REPLOT_SECONDS, self._replot_if_changed, name="loss-plot-replot")
        self.replot()

    # -- API for the app ------------------------------------------------------

    @property
    def contents(self) -> PlotContents:
        """What the last replot drew: lines, markers, title or the empty-state message."""
        return self._contents

    @property
    def smoothing(self) -> Smoothing:
        """The smoothing of the train loss, with the level the automatic choice picks for the shown runs."""
        longest = max((run.step_count for run in self._shown_runs()), default=0)
        return self._smoothing.resolve(longest, self._buckets())

    def set_runs(self, selected: RunSeries | None, overlays: list[RunSeries] | None = None) -> None:
        """Show `selected` and `overlays` (the selected run is left out of the overlays).

        A new selection redraws at once. Passing the runs already shown
        changes nothing, and their new data waits for the timer.
        """
        overlays = [run for run in overlays or [] if run is not selected]
        if selected is self._selected and _same_runs(overlays, self._overlays):
            return

        self._selected = selected
        self._overlays = overlays
        self.replot()

    def data_changed(self) -> None:
        """Mark the plot out of date; the timer redraws it within `REPLOT_SECONDS`."""
        self._dirty = True

    def next_view(self) -> str:
        """Switch to the next view (loss, val, lr) and return its name."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        return self.view

    def toggle_x_axis(self) -> str:
        """Switch the x axis between steps and epochs and return the new axis."""
        self.x_axis = "epoch" if self.x_axis == "step" else "step"
        return self.x_axis

    def change_smoothing(self, delta: int) -> Smoothing:
        """Smooth more (delta > 0) or less (delta < 0), within the available levels.

        The first change starts from the level the automatic choice picked and ends that choice.
        """
        current = self.smoothing
        assert current.level is not None
        levels = len(MA_WINDOWS) if current.kind == "ma" else len(EMA_ALPHAS)
        level = min(max(current.level + delta, 0), levels - 1)
        self._smoothing = Smoothing(current.kind, level)
        self.replot()
        return self._smoothing

    def cycle_smoothing_kind(self) -> Smoothing:
        """Switch smoothing between none, moving average and EMA, keeping the level or the automatic choice."""
        kind = SMOOTHING_KINDS[(SMOOTHING_KINDS.index(self._smoothing.kind) + 1) % len(SMOOTHING_KINDS)]
        self._smoothing = Smoothing(kind, self._smoothing.level)
        self.replot()
        return self.smoothing

    # -- drawing -----------------------------------------------------------------

    def validate_view(self, view: str) -> str:
        if view not in VIEWS:
            raise ValueError(f"plot view must be one of {', '.join(VIEWS)}, got {view!r}")
        return view

    def validate_x_axis(self, x_axis: str) -> str:
        if x_axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, got {x_axis!r}")
        return x_axis

    def watch_view(self) -> None:
        self.replot()

    def watch_x_axis(self) -> None:
        self.replot()

    def replot(self) -> None:
        """Redraw the current view from the runs' data now."""
        runs = self._shown_runs()
        request = PlotRequest(
            runs=runs,
            view=self.view,
            x_axis=self.x_axis,
            smoothing=self._smoothing,
            buckets=self._buckets(),
            rows=max(self.size.height - FRAME_ROWS, 0),
        )
        self._contents = plan_plot(request)
        self._drawn_versions = {id(run): run.version for run in runs}
        self._drawn_buckets = request.buckets
        self._drawn_height = self.size.height
        self._dirty = False
        self.refresh()

    def render(self) -> RenderResult:
        message = self._contents.empty_message
        if message is not None:
            return Align.center(Text(message, justify="center"), vertical="middle")
        paint(self.plt, self._contents)
        return super().render()

    def on_resize(self) -> None:
        # Series were reduced to the old width, and marker labels placed under
        # the legend for the old height. The timer redraws them, which keeps a
        # window drag from replotting at every step.
        if self._buckets() != self._drawn_buckets or self.size.height != self._drawn_height:
            self._dirty = True

    def _buckets(self) -> int:
        return max(self.size.width - AXIS_COLUMNS, MIN_BUCKETS)

    def _replot_if_changed(self) -> None:
        versions = {id(run): run.version for run in self._shown_runs()}
        if self._dirty or versions != self._drawn_versions:
            self.replot()

    def _shown_runs(self) -> list[RunSeries]:
        return ([self._selected] if self._selected else []) + self._overlays


def _same_runs(first: list[RunSeries], second: list[RunSeries]) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second))
