"""Loss plots of runs as PNG files, for the markdown export to link.

matplotlib is an optional dependency (the `plots` extra), imported only here
and only when plots are requested.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from birdtui.errors import BirdtuiError
from birdtui.metrics.series import RunSeries


def _figure_class():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise BirdtuiError(
            "PNG plots need matplotlib, which is not installed: run pip install 'birdtui[plots]', or export without --png-dir"
        ) from None
    return Figure, FigureCanvasAgg


def write_loss_plot(series: RunSeries, path: Path) -> Path:
    """Draw a run's step loss, epoch losses and LR changes against epochs into a PNG file."""
    Figure, FigureCanvasAgg = _figure_class()
    figure = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    steps_x, steps_loss = series.step_loss("epoch")
    axes.plot(steps_x, steps_loss, color="#9ab", linewidth=0.8, label="train loss (steps)")
    for name, color in (("train_loss", "#1f77b4"), ("val_loss", "#d62728")):
        xs, ys = series.epoch_values(name, "epoch")
        if len(xs):
            axes.plot(xs, ys, marker="o", color=color, label=name.replace("_", " "))
    for change in series.lr_changes:
        x = series.lr_change_x(change, "epoch")
        axes.axvline(x, color="#888", linestyle="--", linewidth=0.8)
        # The label sits just right of the line, below the top edge of the axes.
        axes.annotate(
            f"LR {change.new:g}", (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -4),
            textcoords="offset points", fontsize=7, va="top", ha="left", color="#555",
        )

    axes.set_title(series.run)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    figure.tight_layout()

    # Write beside the target and rename, so an interrupted export leaves no broken PNG.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    except OSError as error:
        raise BirdtuiError(f"cannot write {path}: {error.strerror}; choose a --png-dir you can write to") from None
    os.close(handle)
    try:
        figure.savefig(temp_name, format="png")
        os.replace(temp_name, path)
    except OSError as error:
        raise BirdtuiError(f"cannot write {path}: {error.strerror}; check the path and the free disk space") from None
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return path
