"""Loading experiments.toml into a list of validated `ExperimentConfig` objects.

The file has a `[defaults]` table, `[[experiments]]` entries that override the
defaults, and `[[sweeps]]` entries whose grid expands into one experiment per
combination. Every value is validated here, once, so the rest of birdtui can
trust a loaded config. Each problem is raised as a `ConfigError` with the file,
line, key path and a fix. The file is only parsed as TOML, never run.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from birdtui.config.build import build_config
from birdtui.config.names import MAX_NAME_LENGTH, name_problem, safe_name, sweep_point_name
from birdtui.config.overrides import Layer, read_grid, read_overrides
from birdtui.config.positions import KeyPath, PositionIndex, format_key_path
from birdtui.config.schema import ExperimentConfig
from birdtui.config.source import SourceFile
from birdtui.config.validate import describe, suggest
from birdtui.errors import ConfigError

TOP_LEVEL_KEYS = ("defaults", "experiments", "sweeps")

# Grid points allowed per sweep. Each point becomes a run folder when launched
# with --all, so a grid this large is more likely a typo than a plan.
MAX_SWEEP_POINTS = 1000

EXAMPLE_EXPERIMENT = '[[experiments]]\n  name = "r18-baseline"\n  model = "resnet18"'

# Fix lines for tomllib's syntax errors, keyed by the start of its message.
SYNTAX_FIXES = {
    "Invalid value": 'put text values in quotes (model = "resnet18") and check the value after "="',
    "Cannot overwrite a value": "each key may appear once per table; remove the repeated key or table",
    "Cannot declare": "each table may be declared once; merge the repeated [table] headers",
    "Unterminated string": "close the string with the same quote it opens with",
    # tomllib reports a string left open at the end of its line this way.
    "Illegal character '\\n'": 'close the string on the same line, or use """triple quotes""" for text over several lines',
    "Illegal character": "remove the character, or put the value in quotes",
    "Expected '=' after a key": 'write key = value, with "=" between them',
    "Invalid statement": "each line must be key = value, a [table] header or a comment",
    "Unclosed array": "close the array with ] and put a comma between its values",
    "Unclosed inline table": "close the inline table with } on the line where it opens, and put a comma between its entries",
}

# tomllib reports an array or inline table left open at the end of the file
# as "Invalid value (at end of document)", where the generic fix misleads.
END_OF_FILE_FIX = "the file ends inside a value: close each [ with ] and each { with }, or finish the last value"
MISSING_VALUE_FIX = 'write a value after "=", such as epochs = 4 or model = "resnet18"'
# A table header inside an array that an earlier line left open reads as a
# nested array, so tomllib stops at the header's name.
HEADER_INSIDE_VALUE_FIX = "an array or table on a line above is not closed: close it with ] or } before this [table] header"


@dataclass
class ExperimentsFile:
    """A loaded experiments file: its absolute path and its experiments in file order."""

    path: Path
    experiments: list[ExperimentConfig]

    def by_name(self, name: str) -> ExperimentConfig:
        """Return the experiment called `name`; raise ConfigError naming the closest one."""
        for experiment in self.experiments:
            if experiment.name == name:
                return experiment

        names = [experiment.name for experiment in self.experiments]
        close = suggest(name, names)
        fix = f'did you mean "{close}"?' if close else "defined experiments: " + ", ".join(names)
        raise ConfigError(f'no experiment named "{name}"', path=str(self.path), fix=fix)

    def names(self) -> list[str]:
        return [experiment.name for experiment in self.experiments]


def default_runs_dir(experiments_path: Path) -> Path:
    """Return the runs folder that sits beside an experiments file."""
    return Path(experiments_path).expanduser().absolute().parent / "runs"


def load_experiments(path: str | Path) -> ExperimentsFile:
    """Read, validate and expand an experiments file; raise ConfigError on any problem."""
    file_path = Path(path).expanduser().absolute()
    text = _read_text(file_path)
    document = _parse_toml(text, file_path)
    source = SourceFile(file_path, PositionIndex.scan(text))

    _check_top_level(document, source)
    defaults = _read_defaults(document.get("defaults", {}), source)

    experiments: list[ExperimentConfig] = []
    used_names: dict[str, tuple[str, KeyPath]] = {}
    for kind, index, table in _entries_in_file_order(document, source):
        entry_path: KeyPath = (kind, index)
        if kind == "experiments":
            built = [_build_experiment(table, entry_path, defaults, source)]
        else:
            built = _expand_sweep(table, entry_path, defaults, source)
        for config, name_path in built:
            _claim_name(config.name, name_path, used_names, source)
            experiments.append(config)

    if not experiments:
        raise ConfigError("the file defines no experiments", path=str(file_path), fix="add one, for example:\n  " + EXAMPLE_EXPERIMENT)
    return ExperimentsFile(file_path, experiments)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("experiments file not found", path=str(path), fix="create it, or pass the right file with --config PATH") from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not an experiments file", path=str(path), fix="pass the .toml file itself with --config PATH") from None
    except OSError as error:
        raise ConfigError(f"cannot read the experiments file: {error.strerror}", path=str(path), fix="check the file's permissions") from None

    try:
        # utf-8-sig drops the byte order mark that some Windows editors write.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"the file is not valid UTF-8 (byte {data[error.start]:#04x})",
            path=str(path),
            line=line,
            fix="save the file as UTF-8",
        ) from None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(str(error), text, path) from None


def _syntax_error(message: str, text: str, path: Path) -> ConfigError:
    line = column = None
    at_end = "(at end of document)" in message
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
    elif at_end:
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
    reason = re.sub(r"\s*\(at [^)]*\)$", "", message)

    fix = next((fix for start, fix in SYNTAX_FIXES.items() if reason.startswith(start)), "check the TOML syntax at this line")
    if reason.startswith("Invalid value"):
        if at_end:
            fix = END_OF_FILE_FIX
        elif _value_missing(text, line, column):
            fix = MISSING_VALUE_FIX
        elif _header_inside_value(text, line):
            fix = HEADER_INSIDE_VALUE_FIX
    return ConfigError(f"TOML syntax error: {reason}", path=str(path), line=line, column=column, fix=fix)


def _header_inside_value(text: str, line: int | None) -> bool:
    lines = text.splitlines()
    return line is not None and line <= len(lines) and lines[line - 1].lstrip().startswith("[")


def _value_missing(text: str, line: int | None, column: int | None) -> bool:
    """Return True when nothing but blanks or a comment follows the error's column."""
    if line is None or column is None:
        return False
    lines = text.splitlines()
    rest = lines[line - 1][column - 1:] if line <= len(lines) else ""
    return not rest.strip() or rest.lstrip().startswith("#")


def _check_top_level(document: dict[str, Any], source: SourceFile) -> None:
    for key, value in document.items():
        if key not in TOP_LEVEL_KEYS:
            close = suggest(key, list(TOP_LEVEL_KEYS))
            if close:
                fix = f'did you mean "{close}"?'
            else:
                fix = "the top level holds only [defaults], [[experiments]] and [[sweeps]]; put options inside one of them"
            raise source.error((key,), f'unknown top-level key "{key}"', fix)

    if not isinstance(document.get("defaults", {}), dict):
        raise source.error(("defaults",), f"must be a table, got {describe(document['defaults'])}", "write it as a [defaults] table")
    for key in ("experiments", "sweeps"):
        value = document.get(key, [])
        if isinstance(value, dict):
            raise source.error((key,), f"[{key}] is a single table, but {key} must be an array of tables", f"write the header with double brackets: [[{key}]]")
        if not isinstance(value, list):
            raise source.error((key,), f"must be an array of tables, got {describe(value)}", f"write each entry under a [[{key}]] header")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise source.error((key, index), f"each entry must be a table, got {describe(item)}", f"write each entry under a [[{key}]] header")


def _read_defaults(table: dict[str, Any], source: SourceFile) -> Layer:
    if "name" in table:
        raise source.error(("defaults", "name"), "[defaults] cannot set a name, because names must be unique", "set name in each [[experiments]] entry")
    return read_overrides(table, ("defaults",), source)


def _entries_in_file_order(document: dict[str, Any], source: SourceFile) -> list[tuple[str, int, dict[str, Any]]]:
    # tomllib keeps experiments and sweeps apart; their header lines restore the order.
    entries = []
    for kind in ("experiments", "sweeps"):
        for index, table in enumerate(document.get(kind, [])):
            line = source.index.line_of((kind, index))
            entries.append((line if line is not None else float("inf"), kind, index, table))
    entries.sort(key=lambda entry: entry[:3])
    return [(kind, index, table) for _, kind, index, table in entries]


def _build_experiment(table: dict[str, Any], entry_path: KeyPath, defaults: Layer, source: SourceFile) -> tuple[ExperimentConfig, KeyPath]:
    layer = read_overrides(table, entry_path, source)
    config = build_config({**defaults, **layer}, entry_path, source)
    return config, layer["name"][1]


def _expand_sweep(table: dict[str, Any], entry_path: KeyPath, defaults: Layer, source: SourceFile) -> list[tuple[ExperimentConfig, KeyPath]]:
    """Expand one [[sweeps]] entry into an experiment per grid combination."""
    if "grid" not in table:
        raise source.error(entry_path, "this sweep has no grid", 'add grid = { "optim.lr" = [0.01, 0.1] } with the values to try')
    layer = read_overrides(table, entry_path, source, skip=("grid",))
    if "name" not in layer:
        raise source.error(entry_path, "this sweep has no name", 'add name = "..."; it prefixes every generated experiment name')
    prefix, name_path = layer["name"]
    problem = name_problem(prefix)
    if problem:
        raise source.error(name_path, f'sweep name "{prefix}" {problem}', f'use a name such as "{safe_name(prefix)}"')

    axes = read_grid(table["grid"], entry_path + ("grid",), source)
    count = math.prod(len(values) for _, values in axes)
    if count > MAX_SWEEP_POINTS:
        sizes = " x ".join(str(len(values)) for _, values in axes)
        raise source.error(entry_path + ("grid",), f"the grid has {sizes} = {count} combinations, more than {MAX_SWEEP_POINTS}", "split it into smaller sweeps or remove values")
    points = list(itertools.product(*(values for _, values in axes)))
    names = [sweep_point_name(prefix, {dotted: value for (dotted, _), (value, _) in zip(axes, point)}) for point in points]
    # Long grids give long names; numbered names still make valid folder names.
    if any(name_problem(name) for name in names):
        names = [f"{prefix}-{number}" for number in range(1, len(points) + 1)]

    built = []
    for name, point in zip(names, points):
        grid_layer: Layer = {dotted: value_and_path for (dotted, _), value_and_path in zip(axes, point)}
        merged = {**defaults, **layer, **grid_layer, "name": (name, name_path)}
        built.append((build_config(merged, entry_path, source), name_path))
    return built


def _claim_name(name: str, path: KeyPath, used: dict[str, tuple[str, KeyPath]], source: SourceFile) -> None:
    # Case-insensitive, because run folders "R18" and "r18" collide on macOS and Windows.
    key = name.lower()
    if key not in used:
        used[key] = (name, path)
        return

    first_name, first_path = used[key]
    line = source.index.line_of(first_path)
    where = f"line {line}" if line else format_key_path(first_path)
    same = f'"{first_name}"' if first_name == name else f'"{first_name}", which differs only in case'
    fix = "give each experiment its own name"
    if path[0] == "sweeps":
        fix += "; a sweep names each experiment after its grid values, so also look for a value listed twice"
    raise source.error(path, f'experiment name "{name}" is already used by {same} at {where}', fix)
