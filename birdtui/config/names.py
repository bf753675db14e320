"""Experiment names, which double as run folder names under runs/."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_NAME_LENGTH = 100
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")
UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

# Files that birdtui keeps in the runs folder itself, beside the run folders.
# A run folder of the same name would clash with them. Names are compared in
# lower case, because "Supervisor.log" is the same file on macOS and Windows.
RESERVED_NAMES = frozenset({"supervisor.log", "supervisor.json", "supervisor.lock", ".state.lock"})

# Short labels for sweep names; a field not listed here uses its own name.
SWEEP_LABELS = {
    "weight_decay": "wd",
    "batch_size": "bs",
    "image_size": "size",
    "lr_by_epoch": "lrs",
    "val_fraction": "valfrac",
    "jitter_strength": "jitterstr",
    "warmup_epochs": "warmup",
    "crop_padding": "pad",
}


def name_problem(name: str) -> str | None:
    """Say why `name` cannot be a run folder name, or return None when it can."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long, more than {MAX_NAME_LENGTH}"
    if "@" in name:
        return "contains '@', which marks later attempts of a run (name@2)"
    if not SAFE_NAME.fullmatch(name):
        bad = "".join(sorted(set("".join(UNSAFE_CHARS.findall(name)))))
        return f"contains {bad!r}, but only letters, digits, '.', '_' and '-' are allowed"
    if name[0] in ".-":
        return f"starts with {name[0]!r}"
    if ".." in name:
        return "contains '..'"
    if name.lower() in RESERVED_NAMES:
        return "is the name of a file that birdtui keeps in the runs folder"
    return None


def safe_name(name: str) -> str:
    """Turn any text into a valid name, for the fix line of an error."""
    text = UNSAFE_CHARS.sub("-", name.replace("@", "-"))
    text = re.sub(r"\.{2,}", ".", text)
    text = text.lstrip(".-")[:MAX_NAME_LENGTH]
    if text.lower() in RESERVED_NAMES:
        text = text.replace(".", "-")
    return text or "experiment"


def sweep_point_name(sweep: str, point: dict[str, Any]) -> str:
    """Name one grid point, such as `mw-momentum0.9-wd0.0001`."""
    parts = [sweep]
    for dotted, value in point.items():
        field_name = dotted.rpartition(".")[2]
        label = SWEEP_LABELS.get(field_name, field_name)
        parts.append(label + _value_text(value))
    return "-".join(parts)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else "x"
        return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    if isinstance(value, dict):
        return "_".join(f"{key}_{_value_text(item)}" for key, item in value.items())
    text = UNSAFE_CHARS.sub("_", str(value))
    return re.sub(r"\.{2,}", ".", text)
