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
    """Smooth with an exponential moving average: s[i] = s[i-1] + alpha * (v[i] - s[i-1]), s[0] = v[0].

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
    smoothed = np.empty_like(y)
    # Starting from v[0] as the previous level makes s[0] = v[0].
    level = y[0]
    for start in range(0, y.size, block):
        chunk = y[start : start + block]
        size = chunk.size
        # The recurrence unrolled inside one block, which numpy computes without
        # a Python loop per value. The block length keeps 1 / decay^i finite:
        # s[i] = decay^(i+1) * level + alpha * sum_j decay^(i-j) * v[j], j <= i.
        weighted = np.cumsum(chunk / powers[:size])
        smoothed[start : start + size] = powers[1 : size + 1] * level + alpha * powers[:size] * weighted
        level = smoothed[start + size - 1]
    return smoothed


def _ema_block_length(decay: float) -> int:
    """Return a block length whose largest factor decay^-(length - 1) stays below about 1e200."""
    if decay >= 1.0 or decay <= 0.0:
        return 1
    return int(min(4096, max(1, 200 / -math.log10(decay))))
