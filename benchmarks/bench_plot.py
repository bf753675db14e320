"""Measure what the loss plot costs: plotext builds, raw against reduced, and folding a large log.

Run: .venv/bin/python benchmarks/bench_plot.py [--sizes 10000 100000 1000000] [--records 1000000]

Part 1 builds a plotext figure of the canvas size below from a raw N-point
loss series and from the same series min-max reduced to the plot width
(reduction time included), and prints the speed-up over the raw build.
Part 2 writes a metrics log of `--records` step records, decodes it with
`JsonlTailer` (the baseline every reader pays) and folds the records with
`RunSeries.update`, then plans the plot (smoothing and reduction) from it.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from textual_plotext.plot import Plot

from birdtui.metrics import JsonlTailer, encode_record
from birdtui.metrics.reduce import minmax_reduce
from birdtui.metrics.series import RunSeries
from birdtui.tui.widgets.loss_plot import AXIS_COLUMNS
from birdtui.tui.widgets.plot_views import PlotRequest, Smoothing, plan_plot

WIDTH, HEIGHT = 200, 60


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def loss_curve(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a decaying, noisy loss over `size` steps, with one spike."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, size + 1, dtype=float)
    y = 2.5 * np.exp(-x / (size / 4)) + 0.3 + rng.normal(0.0, 0.05, size)
    y[size // 3] += 5.0
    return x, y


def build_plot(x: np.ndarray, y: np.ndarray) -> str:
    plot = Plot()
    plot.plotsize(WIDTH, HEIGHT)
    plot.plot(x.tolist(), y.tolist(), marker="dot")
    return plot.build()


def bench_builds(sizes: list[int]) -> None:
    buckets = WIDTH - AXIS_COLUMNS
    print(f"plotext build, {WIDTH}x{HEIGHT} canvas, reduced to {buckets} buckets")
    print(f"{'points':>10} {'raw s':>9} {'reduce s':>9} {'reduced build s':>16} {'speed-up':>9}")
    # The first numpy and plotext calls load code; keep that out of the first row.
    build_plot(*loss_curve(100))
    minmax_reduce(*loss_curve(1000), buckets)
    for size in sizes:
        x, y = loss_curve(size)
        raw_seconds = timed(lambda: build_plot(x, y))

        started = time.perf_counter()
        rx, ry = minmax_reduce(x, y, buckets)
        reduce_seconds = time.perf_counter() - started
        build_seconds = timed(lambda: build_plot(rx, ry))

        total = reduce_seconds + build_seconds
        print(f"{size:>10} {raw_seconds:>9.3f} {reduce_seconds:>9.4f} {build_seconds:>16.3f} {raw_seconds / total:>8.1f}x")


def write_log(path: Path, records: int, steps_per_epoch: int = 1000) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        start = {"type": "start", "time": 0.0, "run": "bench", "epochs": math.ceil(records / steps_per_epoch),
                 "steps_per_epoch": steps_per_epoch, "resumed_from": None}
        handle.write(encode_record(start))
        for step in range(1, records + 1):
            epoch = (step - 1) // steps_per_epoch
            loss = 2.0 / (1.0 + step * 1e-4)
            record = {"type": "step", "time": float(step), "epoch": epoch, "step": step,
                      "epoch_progress": step / steps_per_epoch, "loss": loss, "lr": 0.1}
            handle.write(encode_record(record))


def bench_fold(records: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "metrics.jsonl"
        write_log(path, records)
        size_mb = path.stat().st_size / 1e6

        started = time.perf_counter()
        decoded = JsonlTailer(path).read_new().records
        decode_seconds = time.perf_counter() - started

    series = RunSeries("bench")
    fold_seconds = timed(lambda: series.update(decoded))

    request = PlotRequest([series], "loss", "step", Smoothing("ema", 3), WIDTH - AXIS_COLUMNS)
    plan_seconds = timed(lambda: plan_plot(request))

    print(f"\nmetrics log of {len(decoded)} records ({size_mb:.0f} MB)")
    print(f"  JsonlTailer decode (baseline): {decode_seconds:7.3f} s  {len(decoded) / decode_seconds:>10,.0f} records/s")
    print(f"  RunSeries.update:              {fold_seconds:7.3f} s  {len(decoded) / fold_seconds:>10,.0f} records/s"
          f"  ({fold_seconds / decode_seconds:.2f}x the decode time)")
    print(f"  plan_plot (EMA + reduction):   {plan_seconds:7.3f} s  for {series.step_count} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="point counts of the build benchmark")
    parser.add_argument("--records", type=int, default=1_000_000, help="step records in the folded log")
    args = parser.parse_args()

    bench_builds(args.sizes)
    bench_fold(args.records)


if __name__ == "__main__":
    main()
