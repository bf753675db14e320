"""Text forms of the numbers and configs in exported tables."""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "inf" if value > 0 else "-inf"


def format_loss(value: Any) -> str:
    """Write a loss with 4 significant digits, such as 0.6931."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return _non_finite(value)
    return f"{value:.4g}"


def format_percent(value: Any) -> str:
    """Write a 0-1 fraction as a percent with one decimal, such as 87.5%."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return _non_finite(value)
    return f"{100 * value:.1f}%"


def format_scientific(value: Any) -> str:
    """Write a rate in compact scientific form, such as 1e-2 or 2.5e-4 (0 stays 0)."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return _non_finite(value)
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.3e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_number(value: Any) -> str:
    """Write any config or summary value: numbers with up to 4 significant digits."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return _non_finite(value)
        text = f"{value:.4g}"
        return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    return str(value)


def format_duration(seconds: Any) -> str:
    """Write seconds as 45s, 3m05s or 2h07m."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_rate(value: Any) -> str:
    """Write a throughput such as 1234 img/s."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.0f} img/s"


def describe_schedule(schedule: dict[str, Any] | None) -> str | None:
    """Write a schedule config as `{0: 0.01, 8: 0.001}` or `plateau(val_loss, f=0.1, p=2)`."""
    if not schedule:
        return None
    kind = schedule.get("type", "constant")
    if kind == "piecewise":
        table = sorted((int(epoch), lr) for epoch, lr in (schedule.get("lr_by_epoch") or {}).items())
        text = "{" + ", ".join(f"{epoch}: {lr:g}" for epoch, lr in table) + "}"
    elif kind == "plateau":
        text = f"plateau({schedule.get('monitor')}, f={schedule.get('factor'):g}, p={schedule.get('patience')})"
    elif kind == "step":
        text = f"step({schedule.get('step_size')}, g={schedule.get('gamma'):g})"
    elif kind == "cosine":
        text = f"cosine(min={format_scientific(schedule.get('min_lr'))})"
    elif kind == "onecycle":
        peak = schedule.get("max_lr")
        text = f"onecycle(max={format_scientific(peak) if peak else 'lr'}, pct={schedule.get('pct_start'):g})"
    else:
        text = str(kind)

    if schedule.get("warmup_epochs"):
        text += f" + warmup({schedule['warmup_epochs']})"
    return text
