"""Checks of single values against the schema's types and field rules.

Each schema field declares its type in its annotation and its rules in its
metadata (`choices`, `min`, `max`, `min_exclusive`, `pattern`). `check_value`
applies both and returns the value converted to the field's type, or raises
a ConfigError that names the key, the value and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass
from typing import Any

from birdtui.config.positions import KeyPath
from birdtui.config.schema import SECTIONS, ExperimentConfig
from birdtui.config.source import SourceFile


@dataclass(frozen=True)
class FieldSpec:
    """The type, default and validation rules of one schema field."""

    name: str
    kind: str  # "bool", "int", "float", "str" or "epoch_table"
    optional: bool
    rules: dict[str, Any]
    default: Any = None


def _kind_of(annotation: Any) -> tuple[str, bool]:
    args = typing.get_args(annotation)
    optional = type(None) in args
    if optional:
        annotation = next(arg for arg in args if arg is not type(None))
    if typing.get_origin(annotation) is dict:
        return "epoch_table", optional
    return annotation.__name__, optional


def _specs_of(cls: type) -> dict[str, FieldSpec]:
    hints = typing.get_type_hints(cls)
    specs = {}
    for item in dataclasses.fields(cls):
        if item.name in SECTIONS:
            continue
        kind, optional = _kind_of(hints[item.name])
        default = None if item.default is dataclasses.MISSING else item.default
        specs[item.name] = FieldSpec(item.name, kind, optional, dict(item.metadata), default)
    return specs


TOP_FIELDS: dict[str, FieldSpec] = _specs_of(ExperimentConfig)
SECTION_FIELDS: dict[str, dict[str, FieldSpec]] = {name: _specs_of(cls) for name, cls in SECTIONS.items()}


def field_spec(dotted: str) -> FieldSpec | None:
    """Find the spec of `model` or `optim.lr`; None when there is no such field."""
    section, _, name = dotted.rpartition(".")
    if not section:
        return TOP_FIELDS.get(name)
    return SECTION_FIELDS.get(section, {}).get(name)


def all_field_names() -> list[str]:
    """Return every field as a dotted name, such as `epochs` and `optim.lr`."""
    names = list(TOP_FIELDS)
    for section, specs in SECTION_FIELDS.items():
        names += [f"{section}.{name}" for name in specs]
    return names


def suggest(word: str, candidates: list[str]) -> str | None:
    """Return the candidate closest to `word`, if any is close enough."""
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.5)
    return matches[0] if matches else None


def describe(value: Any) -> str:
    """Name a TOML value's type for an error message, such as 'a string'."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date or time"


def show(value: Any) -> str:
    """Write a value the way it would appear in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, float)):
        return repr(value)
    # Tables, arrays, dates and times.
    return str(value)


def check_value(spec: FieldSpec, value: Any, source: SourceFile, path: KeyPath) -> Any:
    """Validate one value for `spec` and return it converted to the field's type."""
    if spec.optional and value == "" and spec.kind == "str":
        return None  # An empty string unsets an optional path that [defaults] set.

    if spec.kind == "epoch_table":
        return check_epoch_table(value, source, path)
    if spec.kind == "bool":
        return _check_bool(spec, value, source, path)
    if spec.kind in ("int", "float"):
        number = _check_number(spec, value, source, path)
        _check_range(spec, number, source, path)
        return number
    return _check_text(spec, value, source, path)


def _check_bool(spec: FieldSpec, value: Any, source: SourceFile, path: KeyPath) -> bool:
    if isinstance(value, bool):
        return value
    raise source.error(
        path,
        f"must be true or false, got {show(value)} ({describe(value)})",
        f"write {spec.name} = true or {spec.name} = false, without quotes",
    )


def _check_number(spec: FieldSpec, value: Any, source: SourceFile, path: KeyPath) -> int | float:
    whole = spec.kind == "int"
    expected = "a whole number" if whole else "a number"
    example = f"{spec.name} = {_example(spec)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        advice = "without quotes" if isinstance(value, str) else "such as"
        fix = f"write {expected} {advice}: {example}"
        raise source.error(path, f"must be {expected}, got {show(value)} ({describe(value)})", fix)
    if whole and isinstance(value, float):
        raise source.error(path, f"must be a whole number, got {show(value)}", f"use an integer such as {example}")
    if isinstance(value, float) and not math.isfinite(value):
        raise source.error(path, f"must be a finite number, got {show(value)}", f"use a number such as {example}")
    return int(value) if whole else float(value)


def _check_range(spec: FieldSpec, number: int | float, source: SourceFile, path: KeyPath) -> None:
    low, high = spec.rules.get("min"), spec.rules.get("max")
    exclusive = spec.rules.get("min_exclusive", False)
    below = low is not None and (number <= low if exclusive else number < low)
    above = high is not None and number > high
    if not (below or above):
        return

    if low is not None and high is not None:
        allowed = f"greater than {low:g} and at most {high:g}" if exclusive else f"between {low:g} and {high:g}"
    elif exclusive:
        allowed = f"greater than {low:g}"
    else:
        allowed = f"{low:g} or more"
    fix = f"use a value {allowed}, such as {spec.name} = {_example(spec)}"
    # Whole numbers are written out in full, so 10**17 does not read as 1e+17.
    got = str(number) if isinstance(number, int) else f"{number:g}"
    raise source.error(path, f"must be {allowed}, got {got}", fix)


def _check_text(spec: FieldSpec, value: Any, source: SourceFile, path: KeyPath) -> str:
    choices = spec.rules.get("choices")
    listed = ", ".join(f'"{choice}"' for choice in choices or ())
    if not isinstance(value, str):
        fix = f"use one of {listed}" if choices else f'put the value in quotes: {spec.name} = "{value}"'
        raise source.error(path, f"must be a string, got {show(value)} ({describe(value)})", fix)

    if choices and value not in choices:
        close = suggest(value, list(choices))
        fix = f'did you mean "{close}"?' if close else f"use one of {listed}"
        raise source.error(path, f"must be one of {listed}, got {show(value)}", fix)

    pattern = spec.rules.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise source.error(path, f"{show(value)} is not valid: expected {spec.rules['help']}", f"use a value such as {spec.name} = {show(_example(spec))}")

    if not value.strip() and not spec.optional:
        if spec.default in (None, ""):
            # Only `name` has no default, so the example is a name.
            fix = f'set {spec.name} to a value in quotes, such as {spec.name} = "r18-baseline"'
        else:
            fix = f"set {spec.name} to a value, or remove the line to use the default ({show(spec.default)})"
        raise source.error(path, "must not be empty", fix)
    return value


def check_epoch_table(value: Any, source: SourceFile, path: KeyPath) -> dict[int, float]:
    """Convert a `lr_by_epoch` table: string keys to epochs, values to positive LRs."""
    if not isinstance(value, dict):
        raise source.error(path, f"must be a table of epoch = LR pairs, got {show(value)} ({describe(value)})", "write it as lr_by_epoch = { 0 = 0.01, 8 = 0.001 }")

    table: dict[int, float] = {}
    for key, lr in value.items():
        epoch = _epoch_key(key, lr, source, path + (key,))
        if epoch in table:
            raise source.error(path + (key,), f"epoch {epoch} is listed twice", "keep one LR per epoch")
        # Name the spec after the epoch so a fix line reads "such as 4 = 0.01".
        spec = dataclasses.replace(_LR_SPEC, name=key)
        lr = _check_number(spec, lr, source, path + (key,))
        _check_range(spec, lr, source, path + (key,))
        table[epoch] = lr
    return dict(sorted(table.items()))


def _epoch_key(key: str, lr: Any, source: SourceFile, path: KeyPath) -> int:
    if isinstance(lr, dict):
        # TOML reads `1.5 = 0.1` as the dotted key 1 -> 5, so the LR becomes a table.
        raise source.error(path, f"epoch key {key}.{next(iter(lr), '')} is not a whole number", "epochs are whole numbers counted from 0, such as { 0 = 0.01, 8 = 0.001 }")
    if not re.fullmatch(r"[0-9]+", key.strip()):
        raise source.error(path, f'epoch key "{key}" is not a whole number 0 or more', "epochs are whole numbers counted from 0, such as { 0 = 0.01, 8 = 0.001 }")
    return int(key)


def _example(spec: FieldSpec) -> Any:
    """Pick a valid example value for a fix line: the default, else a value in range."""
    if spec.default not in (None, ""):
        return spec.default
    low = spec.rules.get("min", 0)
    return low + 1 if spec.kind == "int" else 0.1


# The values of `lr_by_epoch` follow the same rule as `optim.lr`.
_LR_SPEC = FieldSpec("lr", "float", False, dict(min=0.0, min_exclusive=True, help="learning rate"), 0.01)
