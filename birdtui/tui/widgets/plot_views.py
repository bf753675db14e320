"""The three plot views (loss, val, lr): what to draw, then drawing it on a plotext figure.

`plan_plot` turns runs and view settings into a `PlotContents`, plain data
that tests and the app read instead of parsing the rendered canvas. Every
series goes through `minmax_reduce` there, because plotext's build time
grows with the point count.

`paint` issues the plotext calls for a `PlotContents`. The widget repaints
before each build, because plotext 5.3.2 applies a log scale to its stored
data in place, so a second `build()` of the same figure would take the log
of a log and fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from textual_plotext.plot import Plot

from birdtui.metrics.reduce import minmax_reduce
from birdtui.metrics.series import RunSeries
from birdtui.metrics.smooth import ema, moving_average

# One colour per run, and one marker per run and kind of line, so that every
# line of a view with up to six runs has its own marker. The markers tell the
# lines apart when NO_COLOR strips the colours.
RUN_COLORS = ("cyan+", "orange+", "green+", "magenta+", "blue+", "red+")
# Smoothed train loss, validation loss and LR.
RUN_MARKERS = ("hd", "x", "o", "+", "*", "#")
# Raw train loss (step records or epoch means).
RAW_MARKERS = ("dot", "·", ".", ":", "'", ",")
# Validation accuracy.
ACCURACY_MARKERS = ("sd", "=", "~", "^", "%", "@")
LR_DROP_COLOR = "red+"
PLANNED_COLOR = "gray"

VIEWS = ("loss", "val", "lr")
X_AXES = ("step", "epoch")
SMOOTHING_KINDS = ("none", "ma", "ema")
# Smoothing levels from light to heavy: MA windows in points, EMA alphas.
# An EMA with alpha a averages over about 2 / a - 1 points, so the two lists
# smooth about equally at each level.
MA_WINDOWS = (3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
EMA_ALPHAS = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
# The automatic level averages over about 3 plot columns' worth of points, and
# over at least 8 points, so a run of a few dozen points still gets smoothed.
AUTO_SPAN_COLUMNS = 3
AUTO_MIN_SPAN = 8
# The val view puts loss on a log axis once its largest value is this many
# times its smallest, as when BatchNorm statistics lag in the first epochs
# and a validation loss of several hundred would flatten every later point.
VAL_LOG_RATIO = 10.0
# Rows under the legend that marker labels may use, so that up to six labels
# at one x each get their own row.
LABEL_ROWS = 6


@dataclass(frozen=True)
class Smoothing:
    """The smoothing applied to train loss: kind 'none', 'ma' or 'ema' at a level index.

    A level of None picks the level from the number of points with `resolve`.
    """

    kind: str = "ema"
    level: int | None = None
    # Whether `resolve` picked the level.
    automatic: bool = False

    @property
    def label(self) -> str:
        level = self._level()
        if self.kind == "ma":
            text = f"MA {MA_WINDOWS[level]}"
        elif self.kind == "ema":
            text = f"EMA {EMA_ALPHAS[level]:g}"
        else:
            return "no smoothing"
        return f"{text}, auto" if self.automatic else text

    @property
    def line_label(self) -> str:
        """The label without ', auto', for the legend."""
        return replace(self, automatic=False).label

    def resolve(self, points: int, buckets: int) -> Smoothing:
        """Return this smoothing with a level, picked for `points` points on `buckets` columns if it has none."""
        if self.level is not None:
            return self
        span = max(AUTO_MIN_SPAN, AUTO_SPAN_COLUMNS * points / max(buckets, 1))
        distances = [abs(math.log(window / span)) for window in MA_WINDOWS]
        return Smoothing(self.kind, distances.index(min(distances)), automatic=True)

    def apply(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "ma":
            return moving_average(values, MA_WINDOWS[self._level()])
        if self.kind == "ema":
            return ema(values, EMA_ALPHAS[self._level()])
        return values

    def _level(self) -> int:
        if self.level is None:
            raise ValueError("smoothing has no level yet: call resolve first")
        return self.level


@dataclass(frozen=True)
class DrawnLine:
    """A series as it was handed to plotext, after reduction."""

    run: str
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    color: str
    marker: str
    yside: str = "left"


@dataclass(frozen=True)
class DrawnMarker:
    """A vertical marker line: an LR change ('lr'), a planned drop ('planned') or a non-finite value ('non-finite')."""

    run: str
    kind: str
    x: float
    label: str
    color: str = LR_DROP_COLOR
    # Height of the label in data units, set once all lines are known.
    label_y: float = math.nan
    # Which side of the line the label extends to: 'left' or 'right'.
    label_side: str = "right"


@dataclass
class PlotContents:
    """The lines, markers and labels of one replot, or the message shown instead of an empty plot."""

    title: str = ""
    lines: list[DrawnLine] = field(default_factory=list)
    markers: list[DrawnMarker] = field(default_factory=list)
    empty_message: str | None = None
    xlabel: str = ""
    ylabels: dict[str, str] = field(default_factory=dict)
    # Whether the left y axis is logarithmic. The right one (accuracy) stays linear.
    log_y: bool = False
    x_range: tuple[float, float] | None = None
    # Tick positions on the x axis, whole numbers on the step axis.
    x_ticks: tuple[float, ...] = ()
    # The smoothing of the loss view, with its level resolved.
    smoothing: Smoothing | None = None

    def lines_of(self, run: str) -> list[DrawnLine]:
        return [line for line in self.lines if line.run == run]

    def markers_of(self, run: str, kind: str | None = None) -> list[DrawnMarker]:
        return [marker for marker in self.markers if marker.run == run and kind in (None, marker.kind)]


@dataclass(frozen=True)
class PlotRequest:
    """Everything a view needs besides the figure."""

    runs: list[RunSeries]
    view: str
    x_axis: str
    smoothing: Smoothing
    # Target number of points per series, about the plot's width in columns.
    buckets: int
    # Rows of the plot's canvas, where lines, legend and marker labels go, or 0 when unknown.
    rows: int = 0


def plan_plot(request: PlotRequest) -> PlotContents:
    """Work out the lines, markers and labels of the requested view."""
    if not request.runs:
        return PlotContents(empty_message="No run selected. Select a run in the table to see its curves.")

    contents = PlotContents()
    if request.view == "loss":
        _plan_loss(request, contents)
    elif request.view == "val":
        _plan_validation(request, contents)
    elif request.view == "lr":
        _plan_lr(request, contents)
    else:
        raise ValueError(f"plot view must be one of {', '.join(VIEWS)}, got {request.view!r}")

    if not contents.lines:
        contents.empty_message = _empty_message(request)
        return contents

    _plan_markers(request, contents)
    _plan_x_axis(request, contents)
    contents.title = _title(request, contents)
    contents.xlabel = "step" if request.x_axis == "step" else "epochs completed"
    return contents


def paint(plot: Plot, contents: PlotContents) -> None:
    """Clear `plot` and draw `contents` on it."""
    plot.clear_figure()
    for line in contents.lines:
        plot.plot(line.xs, line.ys, color=line.color, marker=line.marker, label=line.label, yside=line.yside)
    if contents.log_y:
        # Only the left axis: the val view keeps accuracy linear on the right.
        plot.yscale("log", yside="left")
    if contents.x_range is not None:
        plot.xlim(*contents.x_range)
    if contents.x_ticks:
        plot.xticks(list(contents.x_ticks), [_tick_label(tick) for tick in contents.x_ticks])

    for marker in contents.markers:
        plot.vline(marker.x, color=marker.color)
        style = "dim" if marker.kind == "planned" else "bold"
        alignment = "left" if marker.label_side == "right" else "right"
        plot.text(marker.label, marker.x, marker.label_y, color=marker.color, style=style, alignment=alignment)

    plot.title(contents.title)
    plot.xlabel(contents.xlabel)
    for side, label in contents.ylabels.items():
        plot.ylabel(label, yside=side)


def _plan_loss(request: PlotRequest, contents: PlotContents) -> None:
    longest = max(run.step_count for run in request.runs)
    smoothing = request.smoothing.resolve(longest, request.buckets)
    contents.smoothing = smoothing

    for index, run in enumerate(request.runs):
        x, y = run.step_loss(request.x_axis)
        if not x.size:
            continue
        color = RUN_COLORS[index % len(RUN_COLORS)]
        raw_marker = RAW_MARKERS[index % len(RAW_MARKERS)]
        _add_line(contents, run.run, f"{run.run} loss", x, y, request.buckets, color=color, marker=raw_marker)
        if smoothing.kind != "none":
            label = f"{run.run} {smoothing.line_label}"
            marker = RUN_MARKERS[index % len(RUN_MARKERS)]
            _add_line(contents, run.run, label, x, smoothing.apply(y), request.buckets, color=color, marker=marker)
    contents.ylabels = {"left": "train loss"}


def _plan_validation(request: PlotRequest, contents: PlotContents) -> None:
    for index, run in enumerate(request.runs):
        color = RUN_COLORS[index % len(RUN_COLORS)]
        for name, label, yside, markers in (
            ("val_loss", "val loss", "left", RUN_MARKERS),
            ("train_loss", "train loss", "left", RAW_MARKERS),
            ("val_acc", "val acc", "right", ACCURACY_MARKERS),
        ):
            x, y = run.epoch_values(name, request.x_axis)
            if x.size:
                _add_line(contents, run.run, f"{run.run} {label}", x, y, request.buckets,
                          color=color, marker=markers[index % len(markers)], yside=yside)

    contents.log_y = _loss_spans_decades(contents)
    if contents.log_y:
        # A log axis has no place for a zero or negative loss.
        contents.lines = [_positive_part(line) if line.yside == "left" else line for line in contents.lines]
        contents.lines = [line for line in contents.lines if line.xs]
    contents.ylabels = {"left": "loss (log)" if contents.log_y else "loss", "right": "accuracy"}


def _loss_spans_decades(contents: PlotContents) -> bool:
    """Return whether the loss values of the val view span a factor of `VAL_LOG_RATIO` or more."""
    ys = [y for line in contents.lines if line.yside == "left" for y in line.ys if y > 0 and math.isfinite(y)]
    return bool(ys) and max(ys) >= VAL_LOG_RATIO * min(ys)


def _positive_part(line: DrawnLine) -> DrawnLine:
    """Return `line` without its points at or below zero."""
    points = [(x, y) for x, y in zip(line.xs, line.ys) if y > 0]
    return replace(line, xs=tuple(x for x, _ in points), ys=tuple(y for _, y in points))


def _plan_lr(request: PlotRequest, contents: PlotContents) -> None:
    for index, run in enumerate(request.runs):
        x, y = run.step_lr(request.x_axis)
        if not x.size:
            x, y = run.epoch_values("lr", request.x_axis)
        # A log axis has no place for a zero or negative LR.
        positive = y > 0
        if not positive.any():
            continue
        color = RUN_COLORS[index % len(RUN_COLORS)]
        marker = RUN_MARKERS[index % len(RUN_MARKERS)]
        changes = [run.lr_change_x(change, request.x_axis) for change in run.lr_changes]
        _add_line(contents, run.run, f"{run.run} LR", x[positive], y[positive], request.buckets,
                  color=color, marker=marker, steps_at=changes)
    contents.log_y = True
    contents.ylabels = {"left": "learning rate (log)"}


def _add_line(
    contents: PlotContents,
    run: str,
    label: str,
    x: np.ndarray,
    y: np.ndarray,
    buckets: int,
    *,
    color: str,
    marker: str,
    yside: str = "left",
    steps_at: list[float] | None = None,
) -> None:
    """Reduce a series and add it as a line, with a vertical step at each x in `steps_at` (the LR changes)."""
    rx, ry = minmax_reduce(x, y, buckets)
    if steps_at:
        rx, ry = _add_steps(rx, ry, steps_at)
    if rx.size:
        contents.lines.append(DrawnLine(run, label, tuple(rx.tolist()), tuple(ry.tolist()), color, marker, yside))


def _add_steps(x: np.ndarray, y: np.ndarray, changes: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Turn the slope between two points of different y into a vertical step at the change between them.

    Step records come every few steps, so plotext would join the last point
    of the old LR and the first of the new one with a slope. A change at x = c
    between them gets the corner points (c, old) and (c, new). A slope with no
    change record in between, as in a cosine or warmup schedule, stays a slope.
    """
    xs: list[float] = []
    ys: list[float] = []
    for i in range(x.size):
        if i > 0 and y[i] != y[i - 1]:
            inside = [c for c in changes if x[i - 1] <= c <= x[i]]
            if inside:
                xs += [inside[0], inside[0]]
                ys += [float(y[i - 1]), float(y[i])]
        xs.append(float(x[i]))
        ys.append(float(y[i]))
    return np.array(xs), np.array(ys)


def _plan_markers(request: PlotRequest, contents: PlotContents) -> None:
    """Add LR changes, planned drops and the first non-finite value of each run as vertical markers."""
    several = len(request.runs) > 1
    markers: list[DrawnMarker] = []
    for run in request.runs:
        prefix = f"{run.run}: " if several else ""
        for change in run.lr_changes:
            x = run.lr_change_x(change, request.x_axis)
            markers.append(DrawnMarker(run.run, "lr", x, f"{prefix}LR {change.new:g}", LR_DROP_COLOR))
        for epoch, lr in run.planned_lr_drops:
            x = run.planned_drop_x(epoch, request.x_axis)
            markers.append(DrawnMarker(run.run, "planned", x, f"{prefix}planned LR {lr:g}", PLANNED_COLOR))
        if run.non_finite:
            point = run.non_finite[0]
            x = run.non_finite_x(point, request.x_axis)
            markers.append(DrawnMarker(run.run, "non-finite", x, f"{prefix}{point.field} {point.value}", "red"))

    markers = [marker for marker in markers if math.isfinite(marker.x)]
    if not markers:
        return

    # Planned drops lie ahead of the data, so the x range widens to show them.
    all_x = [x for line in contents.lines for x in (line.xs[0], line.xs[-1])] + [marker.x for marker in markers]
    low, high = min(all_x), max(all_x)
    contents.x_range = (low, high)

    heights = _label_heights(contents, request.rows)
    columns_per_unit = request.buckets / (high - low) if high > low else 0.0
    # The column spans that labels already take in each label row.
    occupied: list[list[tuple[float, float]]] = [[] for _ in heights]
    for marker in sorted(markers, key=lambda marker: marker.x):
        # A label in the right half extends to the left, so that the frame
        # does not cut it off.
        side = "left" if marker.x > (low + high) / 2 else "right"
        column = (marker.x - low) * columns_per_unit
        width = len(marker.label) + 1
        span = (column - width, column) if side == "left" else (column, column + width)
        # Each label goes in the highest row where it overlaps no other label,
        # so that markers of several runs at one x stay readable.
        row = _free_label_row(occupied, span)
        occupied[row].append(span)
        contents.markers.append(replace(marker, label_y=heights[row], label_side=side))


def _free_label_row(occupied: list[list[tuple[float, float]]], span: tuple[float, float]) -> int:
    """Return the first row where `span` overlaps no occupied span, else the row with the fewest labels."""
    for row, spans in enumerate(occupied):
        if all(span[1] <= start or end <= span[0] for start, end in spans):
            return row
    return min(range(len(occupied)), key=lambda row: len(occupied[row]))


def _label_heights(contents: PlotContents, rows: int) -> list[float]:
    """Return y positions in the left axis range for marker labels, in the `LABEL_ROWS` rows under the legend.

    plotext 5.3.2 writes the legend, one row per line, into the top left
    corner of the canvas and maps y to canvas rows linearly over the data's
    min-max range. With `rows` unknown (0), the labels go at 0, 10, 20 %
    and so on below the top.
    """
    ys = [y for line in contents.lines if line.yside == "left" for y in line.ys]
    if not ys:
        ys = [y for line in contents.lines for y in line.ys]
    low, high = min(ys), max(ys)
    if contents.log_y:
        low, high = math.log10(low), math.log10(high)
    span = high - low

    if rows > 1 and span > 0:
        legend_rows = len(contents.lines)
        label_rows = [min(legend_rows + offset, rows - 1) for offset in range(LABEL_ROWS)]
        # plotext puts row t, counted from the top, at t / (rows - 1) of the span below the top.
        fractions = [row / (rows - 1) for row in label_rows]
    else:
        fractions = [0.1 * offset for offset in range(LABEL_ROWS)]
    heights = [high - fraction * (span or 1.0) for fraction in fractions]
    return [10**value for value in heights] if contents.log_y else heights


def _plan_x_axis(request: PlotRequest, contents: PlotContents) -> None:
    """Fix the x range and put the ticks on round numbers, whole ones on the step axis."""
    if contents.x_range is None:
        all_x = [x for line in contents.lines for x in (line.xs[0], line.xs[-1])]
        contents.x_range = (min(all_x), max(all_x))

    low, high = contents.x_range
    if high == low:
        # plotext divides by the range, so a single point gets some room.
        low, high = low - 1.0, high + 1.0
        contents.x_range = (low, high)
    contents.x_ticks = _round_ticks(low, high, whole=request.x_axis == "step")


def _round_ticks(low: float, high: float, whole: bool, count: int = 5) -> tuple[float, ...]:
    """Return about `count` ticks between `low` and `high` at a spacing of 1, 2 or 5 times a power of 10."""
    raw_spacing = (high - low) / count
    power = 10 ** math.floor(math.log10(raw_spacing))
    spacing = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw_spacing)
    if whole:
        spacing = max(1.0, round(spacing))

    first = math.ceil(low / spacing)
    last = math.floor(high / spacing)
    # Rounding index * spacing keeps 0.1-spaced ticks free of float error such as 0.30000000000000004.
    return tuple(float(round(index * spacing, 10)) for index in range(first, last + 1))


def _tick_label(tick: float) -> str:
    return str(int(tick)) if tick.is_integer() else f"{tick:g}"


def _title(request: PlotRequest, contents: PlotContents) -> str:
    names = ", ".join(run.run for run in request.runs)
    if request.view == "loss":
        smoothing = contents.smoothing or request.smoothing
        what = f"train loss ({smoothing.label})"
    elif request.view == "val":
        what = "validation loss and accuracy"
    else:
        what = "learning rate"
    title = f"{names}: {what}"

    for run in request.runs:
        if run.diverged:
            title += f" | {run.run} DIVERGED{_divergence_place(run)}"
    return title


def _divergence_place(run: RunSeries) -> str:
    if not run.non_finite:
        return ""
    point = run.non_finite[0]
    if point.step is not None:
        return f" at step {point.step} (epoch {point.epoch})"
    return f" in epoch {point.epoch}"


def _empty_message(request: PlotRequest) -> str:
    names = ", ".join(run.run for run in request.runs)
    if request.view == "val":
        return f"{names}: no validation results yet. The first appears when epoch 0 ends."
    return f"{names}: no training steps logged yet. The curve appears with the first step record."
