"""Min-max reduction of plot series and the smoothing applied before it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from birdtui.metrics.reduce import finite_points, minmax_reduce
from birdtui.metrics.smooth import ema, moving_average


def test_reduce_keeps_single_spike() -> None:
    x = np.arange(100_000, dtype=float)
    y = np.full(x.size, 1.0)
    y[54_321] = 40.0
    y[77_777] = -3.0

    rx, ry = minmax_reduce(x, y, 50)

    assert rx.size <= 100
    assert 40.0 in ry
    assert rx[ry.tolist().index(40.0)] == 54_321
    assert -3.0 in ry
    assert rx[ry.tolist().index(-3.0)] == 77_777


def test_reduce_keeps_x_order() -> None:
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.1, 2.0, 20_000))
    y = rng.normal(size=x.size)

    rx, ry = minmax_reduce(x, y, 64)

    assert np.all(np.diff(rx) > 0)
    # Every kept point is an original (x, y) pair, not an average.
    positions = np.searchsorted(x, rx)
    assert np.array_equal(x[positions], rx)
    assert np.array_equal(y[positions], ry)


def test_reduce_keeps_min_and_max_per_bucket() -> None:
    # 4 buckets of 10 points each; each bucket has a known min and max.
    x = np.arange(40, dtype=float)
    y = np.zeros(40)
    for bucket in range(4):
        y[bucket * 10 + 2] = -(bucket + 1)
        y[bucket * 10 + 7] = bucket + 1

    rx, ry = minmax_reduce(x, y, 4)

    assert rx.tolist() == [2, 7, 12, 17, 22, 27, 32, 37]
    assert ry.tolist() == [-1, 1, -2, 2, -3, 3, -4, 4]


def test_reduce_max_before_min_in_bucket() -> None:
    x = np.arange(20, dtype=float)
    y = np.zeros(20)
    y[3] = 9.0
    y[8] = -9.0

    rx, ry = minmax_reduce(x, y, 2)

    assert rx[:2].tolist() == [3, 8]
    assert ry[:2].tolist() == [9.0, -9.0]


def test_reduce_drops_non_finite() -> None:
    x = np.arange(1000, dtype=float)
    y = np.ones(1000)
    y[10] = math.nan
    y[500] = math.inf
    y[900] = -math.inf

    rx, ry = minmax_reduce(x, y, 10)

    assert np.all(np.isfinite(ry))
    assert 10 not in rx
    assert 500 not in rx


def test_reduce_tiny_series_unchanged() -> None:
    rx, ry = minmax_reduce([1.0, 2.0, 3.0], [5.0, math.nan, 4.0], 100)

    assert rx.tolist() == [1.0, 3.0]
    assert ry.tolist() == [5.0, 4.0]


def test_reduce_empty_and_all_nan() -> None:
    rx, ry = minmax_reduce([], [], 10)
    assert rx.size == 0
    assert ry.size == 0

    rx, ry = minmax_reduce([1.0, 2.0], [math.nan, math.nan], 10)
    assert rx.size == 0


def test_reduce_constant_x() -> None:
    rx, ry = minmax_reduce([5.0] * 10, list(range(10)), 2)

    assert rx.tolist() == [5.0, 5.0]
    assert ry.tolist() == [0.0, 9.0]


def test_reduce_sorts_unordered_x() -> None:
    x = np.array([3.0, 1.0, 2.0, 0.0, 4.0, 5.0])
    y = np.array([30.0, 10.0, 20.0, 0.0, 40.0, 50.0])

    rx, ry = minmax_reduce(x, y, 1)

    assert rx.tolist() == [0.0, 5.0]
    assert ry.tolist() == [0.0, 50.0]


def test_reduce_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="buckets"):
        minmax_reduce([1.0], [1.0], 0)
    with pytest.raises(ValueError, match="length"):
        finite_points([1.0, 2.0], [1.0])


def test_moving_average_values() -> None:
    smoothed = moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 2)

    assert smoothed.tolist() == [1.0, 1.5, 2.5, 3.5, 4.5]


def test_moving_average_window_longer_than_series() -> None:
    assert moving_average([2.0, 4.0, 9.0], 10).tolist() == [2.0, 3.0, 5.0]
    assert moving_average([], 3).size == 0


def test_moving_average_matches_naive() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=300)

    smoothed = moving_average(values, 7)

    expected = [values[max(0, i - 6) : i + 1].mean() for i in range(values.size)]
    assert np.allclose(smoothed, expected)


def test_ema_values() -> None:
    # Debiased: [1, (0.5 * 1 + 1 * 2) / 1.5, (0.25 * 1 + 0.5 * 2 + 3) / 1.75].
    assert ema([1.0, 2.0, 3.0], 0.5).tolist() == pytest.approx([1.0, 5.0 / 3.0, 17.0 / 7.0])
    assert ema([4.0, 8.0], 1.0).tolist() == [4.0, 8.0]
    assert ema([], 0.3).size == 0


def test_ema_starts_at_data() -> None:
    falling = 3.0 - 0.1 * np.arange(30)

    smoothed = ema(falling, 0.1)

    assert smoothed[0] == pytest.approx(3.0)
    # Each s[i] is a weighted mean of v[0..i], so on a falling line it lags by
    # less than (1 - alpha) / alpha = 9 points, and by much less at the start.
    lag = (smoothed - falling) / 0.1
    assert np.all(lag < 9.0)
    assert lag[5] < 3.0

    # An EMA started at v[0] gives v[0] extra weight and lags further at every point.
    started_at_first = [falling[0]]
    for value in falling[1:]:
        started_at_first.append(started_at_first[-1] + 0.1 * (value - started_at_first[-1]))
    assert np.all(smoothed[1:] < np.array(started_at_first[1:]))


def test_ema_of_constant_is_constant() -> None:
    assert np.allclose(ema(np.full(10_000, 2.5), 0.001), 2.5)


@pytest.mark.parametrize("alpha", [0.9, 0.5, 0.1, 0.01, 1e-4])
def test_ema_matches_recurrence(alpha: float) -> None:
    # Long enough to cross several of ema's internal blocks.
    values = np.random.default_rng(2).normal(5.0, 2.0, 20_000)
    expected = []
    level = 0.0
    for count, value in enumerate(values, start=1):
        level += alpha * (value - level)
        expected.append(level / (1.0 - (1.0 - alpha) ** count))

    smoothed = ema(values, alpha)

    assert np.allclose(smoothed, expected, rtol=1e-9, atol=1e-9)


def test_smoothing_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="window"):
        moving_average([1.0], 0)
    with pytest.raises(ValueError, match="alpha"):
        ema([1.0], 0.0)
    with pytest.raises(ValueError, match="alpha"):
        ema([1.0], 1.5)
