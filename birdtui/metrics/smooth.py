"""Smoothing of a noisy loss series: trailing moving average and EMA.

Both take the finite values of a series in x order and return one smoothed
value per input value, so the caller pairs the result with the same x.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Average each value with the `window` - 1 values before it.

    The first values, which have fewer predecessors, average what there is,
    so the result starts at the first raw value instead of lagging behind it.
    """
    if window < 1:
        raise ValueError(f"moving average window must be at least 1, got {window}")

    y = np.asarray(values, dtype=float)
    if y.size == 0:
        return y

    totals = np.cumsum(y)
    sums = totals.copy()
    sums[window:] = totals[window:] - totals[:-window]
    counts = np.minimum(np.arange(1, y.size + 1), window)
    return sums / counts


def ema(values: Sequence[float] | np.ndarray, alpha: float) -> np.ndarray:
    """Smooth with a debiased exponential moving average, as TensorBoard does.

    The running level starts at 0 and follows l[i] = l[i-1] + alpha * (v[i] - l[i-1]).
    Each level is divided by 1 - (1 - alpha)^(i + 1), the total weight the
    values seen so far carry, so s[i] is a weighted mean of v[0..i]: s[0] = v[0],
    and the early values are not pulled towards v[0] or towards 0.
    `alpha` is the weight of the newest value, in (0, 1]. An alpha of 1 returns the input.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"EMA alpha must be in (0, 1], got {alpha}")

    y = np.asarray(values, dtype=float)
    if y.size == 0 or alpha == 1.0:
        return y.copy()

    decay = 1.0 - alpha
    block = _ema_block_length(decay)
    powers = decay ** np.arange(block + 1)
    levels = np.empty_like(y)
    level = 0.0
    for start in range(0, y.size, block):
        chunk = y[start : start + block]
        size = chunk.size
        # The recurrence unrolled inside one block, which numpy computes without
        # a Python loop per value. The block length keeps 1 / decay^i finite:
        # l[i] = decay^(i+1) * level + alpha * sum_j decay^(i-j) * v[j], j <= i.
        weighted = np.cumsum(chunk / powers[:size])
        levels[start : start + size] = powers[1 : size + 1] * level + alpha * powers[:size] * weighted
        level = levels[start + size - 1]

    # decay^(i+1) underflows to 0 on long series, where the divisor becomes 1.
    weight_seen = -np.expm1(np.arange(1, y.size + 1) * math.log(decay))
    return levels / weight_seen


def _ema_block_length(decay: float) -> int:
    """Return a block length whose largest factor decay^-(length - 1) stays below about 1e200."""
    if decay >= 1.0 or decay <= 0.0:
        return 1
    return int(min(4096, max(1, 200 / -math.log10(decay))))
