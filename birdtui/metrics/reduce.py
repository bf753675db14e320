"""Min-max reduction of a plot series to about as many points as the plot has columns.

plotext's `build()` time grows with the number of points it is given (about
11 s for a raw 1,000,000-point line on the 2-core machine of docs/benchmarks.md),
while a terminal plot shows at most a few hundred columns. Keeping the lowest and the highest
point of each column-wide bucket draws the same picture, loss spikes
included, from at most two points per column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FloatSeries = Sequence[float] | np.ndarray


def finite_points(xs: FloatSeries, ys: FloatSeries) -> tuple[np.ndarray, np.ndarray]:
    """Return the (x, y) pairs whose x and y are both finite, as float arrays."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.size} and {y.size}")

    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def minmax_reduce(xs: FloatSeries, ys: FloatSeries, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a series to the min and max point of each of `buckets` equal x ranges.

    Non-finite points are dropped first. The result keeps the original points
    (no averaging) in x order, so a one-point spike survives. A series of at
    most 2 * `buckets` points comes back unreduced. The x values must not
    decrease; a series out of order is sorted by x first.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")

    x, y = finite_points(xs, ys)
    if x.size <= 2 * buckets:
        return x, y
    if np.any(np.diff(x) < 0):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]

    bucket = _bucket_index(x, buckets)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, x.size])

    lowest = _first_position_of(y == np.repeat(np.minimum.reduceat(y, starts), counts), bucket)
    highest = _first_position_of(y == np.repeat(np.maximum.reduceat(y, starts), counts), bucket)

    # np.union1d sorts and removes duplicates, which puts the kept points back
    # in x order and keeps a bucket whose min and max are one point just once.
    kept = np.union1d(lowest, highest)
    return x[kept], y[kept]


def _bucket_index(x: np.ndarray, buckets: int) -> np.ndarray:
    low, high = x[0], x[-1]
    if high == low:
        return np.zeros(x.size, dtype=np.int64)

    index = ((x - low) / (high - low) * buckets).astype(np.int64)
    # The last point lands exactly on `buckets`; it belongs to the last bucket.
    return np.minimum(index, buckets - 1)


def _first_position_of(matches: np.ndarray, bucket: np.ndarray) -> np.ndarray:
    """Return, for each bucket, the position of its first point where `matches` is true."""
    positions = np.flatnonzero(matches)
    _, first = np.unique(bucket[positions], return_index=True)
    return positions[first]
