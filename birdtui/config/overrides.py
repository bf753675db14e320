"""Reading the override tables of experiments.toml into validated layers.

A layer maps dotted field names (`epochs`, `optim.lr`) to a validated value
and the key path it came from. Flat keys make the merge rule simple: a later
layer replaces single fields, so sections merge deeply, while a table-valued
field such as `schedule.lr_by_epoch` is one field and is replaced whole.
"""

from __future__ import annotations

from typing import Any

from birdtui.config.positions import KeyPath
from birdtui.config.schema import SECTIONS
from birdtui.config.source import SourceFile
from birdtui.config.validate import (
    SECTION_FIELDS,
    TOP_FIELDS,
    all_field_names,
    check_value,
    describe,
    field_spec,
    suggest,
)

Layer = dict[str, tuple[Any, KeyPath]]

# Keys that are valid elsewhere in the file, with where they belong.
MISPLACED_KEYS = {
    "grid": "a grid belongs in a [[sweeps]] entry",
    "defaults": "[defaults] is a top-level table, not a key inside an entry",
    "experiments": "[[experiments]] is a top-level array of tables, not a key inside an entry",
    "sweeps": "[[sweeps]] is a top-level array of tables, not a key inside an entry",
}


def read_overrides(table: dict[str, Any], path: KeyPath, source: SourceFile, *, skip: tuple[str, ...] = ()) -> Layer:
    """Validate one `[defaults]`, `[[experiments]]` or `[[sweeps]]` table into a layer."""
    layer: Layer = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key in SECTIONS:
            layer.update(_read_section(key, value, path + (key,), source))
        elif key in TOP_FIELDS:
            layer[key] = (check_value(TOP_FIELDS[key], value, source, path + (key,)), path + (key,))
        else:
            raise unknown_key_error(key, None, path + (key,), source)
    return layer


def _read_section(section: str, value: Any, path: KeyPath, source: SourceFile) -> Layer:
    if not isinstance(value, dict):
        example = next(iter(SECTION_FIELDS[section]))
        raise source.error(
            path,
            f"must be a table of {section} options, got {describe(value)}",
            f"set single options with dotted keys such as {section}.{example} = ..., or use a [{section}] sub-table",
        )

    layer: Layer = {}
    specs = SECTION_FIELDS[section]
    for key, item in value.items():
        if key not in specs:
            raise unknown_key_error(key, section, path + (key,), source)
        layer[f"{section}.{key}"] = (check_value(specs[key], item, source, path + (key,)), path + (key,))
    return layer


def unknown_key_error(key: str, section: str | None, path: KeyPath, source: SourceFile) -> Exception:
    """Build the error for a key the schema does not have, with the closest valid key."""
    if section is None:
        candidates = list(TOP_FIELDS) + list(SECTIONS)
    else:
        candidates = list(SECTION_FIELDS[section])
    where = f"in [{section}]" if section else "here"

    # A field of another section written in the wrong place, such as `lr = 0.1` at the top.
    owners = [name for name, specs in SECTION_FIELDS.items() if key in specs and name != section]
    close = suggest(key, candidates)
    if key in MISPLACED_KEYS and section is None:
        fix = MISPLACED_KEYS[key]
    elif owners:
        fix = f'{key} belongs to [{owners[0]}]: write {owners[0]}.{key} = ...'
    elif close:
        fix = f'did you mean "{close}"?'
    else:
        fix = "valid keys " + where + ": " + ", ".join(candidates)
    return source.error(path, f'unknown key "{key}"', fix)


def read_grid(grid: Any, path: KeyPath, source: SourceFile) -> list[tuple[str, list[tuple[Any, KeyPath]]]]:
    """Validate a sweep grid into (dotted field, [(value, key path), ...]) axes, in file order."""
    example = 'grid = { "optim.lr" = [0.01, 0.1] }'
    if not isinstance(grid, dict) or not grid:
        found = "an empty table" if grid == {} else describe(grid)
        raise source.error(path, f"must be a non-empty table of field = [values], got {found}", f"write it as {example}")

    axes = []
    for dotted, values, key_path in _grid_entries(grid, path):
        spec = field_spec(dotted)
        if dotted == "name":
            raise source.error(key_path, "the name cannot be swept", "the sweep's name is the prefix of every generated name; sweep another field")
        if spec is None:
            close = suggest(dotted, all_field_names())
            fix = f'did you mean "{close}"?' if close else f'grid keys are fields such as "optim.lr" or "epochs"; {example}'
            raise source.error(key_path, f'grid key "{dotted}" is not a config field', fix)
        if not isinstance(values, list) or not values:
            found = "an empty array" if values == [] else describe(values)
            raise source.error(key_path, f"must be a non-empty array of values, got {found}", f'write it as "{dotted}" = [value1, value2]')
        checked = [(check_value(spec, value, source, key_path + (number,)), key_path + (number,)) for number, value in enumerate(values)]
        axes.append((dotted, checked))
    return axes


def _grid_entries(grid: dict[str, Any], path: KeyPath):
    # `grid.optim.lr = [...]` parses as nested tables; treat it like "optim.lr" = [...].
    for key, value in grid.items():
        if key in SECTIONS and isinstance(value, dict):
            for field_name, values in value.items():
                yield f"{key}.{field_name}", values, path + (key, field_name)
        else:
            yield key, value, path + (key,)
