"""Malformed experiments files: each must fail with a located, fixable message."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from birdtui.config import load_experiments
from birdtui.errors import ConfigError


@dataclass
class Case:
    id: str
    text: str
    line: int | None  # expected 1-based line of the error
    key: str | None  # expected key path, exactly
    message: str  # a fragment of the message
    fix: str  # a fragment of the fix line


CASES = [
    Case("syntax-missing-quotes", 'model = resnet18\n', 1, None, "TOML syntax error: Invalid value", "put text values in quotes"),
    Case("syntax-duplicate-key", '[[experiments]]\nname = "a"\nname = "b"\n', 3, None, "Cannot overwrite a value", "once per table"),
    Case("syntax-unterminated", '[[experiments]]\nname = "a\n', 2, None, "Illegal character", "close the string on the same line"),
    Case("empty-file", "# nothing here yet\n", None, None, "defines no experiments", "[[experiments]]"),
    Case("only-defaults", '[defaults]\nepochs = 3\n', None, None, "defines no experiments", 'name = "r18-baseline"'),
    Case("unknown-top-level", '[defaults]\n[[experiment]]\nname = "a"\n', 2, "experiment", 'unknown top-level key "experiment"', 'did you mean "experiments"?'),
    Case("single-bracket-experiments", '[experiments]\nname = "a"\n', 1, "experiments", "single table", "[[experiments]]"),
    Case("unknown-key-typo", '[[experiments]]\nname = "a"\nepoch = 3\n', 3, "experiments[0].epoch", 'unknown key "epoch"', 'did you mean "epochs"?'),
    Case("unknown-section-key", '[[experiments]]\nname = "a"\noptim.lrate = 0.1\n', 3, "experiments[0].optim.lrate", 'unknown key "lrate"', 'did you mean "lr"?'),
    Case("field-in-wrong-section", '[defaults]\nlr = 0.1\n[[experiments]]\nname = "a"\n', 2, "defaults.lr", 'unknown key "lr"', "optim.lr"),
    Case("grid-in-experiment", '[[experiments]]\nname = "a"\ngrid = { "optim.lr" = [0.1] }\n', 3, "experiments[0].grid", 'unknown key "grid"', "[[sweeps]]"),
    Case("missing-name", '[[experiments]]\nname = "a"\n\n[[experiments]]\nmodel = "resnet34"\n', 4, "experiments[1]", "has no name", 'add name = "..."'),
    Case("name-in-defaults", '[defaults]\nname = "x"\n[[experiments]]\nname = "a"\n', 2, "defaults.name", "cannot set a name", "each [[experiments]]"),
    Case("name-not-string", '[[experiments]]\nname = 7\n', 2, "experiments[0].name", "must be a string, got 7", 'name = "7"'),
    Case("name-with-slash", '[[experiments]]\nname = "r18/base"\n', 2, "experiments[0].name", "'/'", '"r18-base"'),
    Case("name-with-at", '[[experiments]]\nname = "r18@2"\n', 2, "experiments[0].name", "'@'", '"r18-2"'),
    Case("name-starts-with-dot", '[[experiments]]\nname = ".hidden"\n', 2, "experiments[0].name", "starts with '.'", '"hidden"'),
    Case("name-too-long", f'[[experiments]]\nname = "{"a" * 101}"\n', 2, "experiments[0].name", "101 characters long", '"' + "a" * 100 + '"'),
    Case("duplicate-names", '[[experiments]]\nname = "a"\n[[experiments]]\nname = "b"\n[[experiments]]\nname = "a"\n', 6, "experiments[2].name", 'already used by "a" at line 2', "its own name"),
    Case("duplicate-names-case", '[[experiments]]\nname = "R18"\n[[experiments]]\nname = "r18"\n', 4, "experiments[1].name", "differs only in case", "its own name"),
    Case("sweep-name-collides", '[[experiments]]\nname = "mw-momentum0.9"\n[[sweeps]]\nname = "mw"\ngrid = { "optim.momentum" = [0.9, 0.95] }\n', 4, "sweeps[0].name", 'name "mw-momentum0.9" is already used', "a value listed twice"),
    Case("sweep-repeated-value", '[[sweeps]]\nname = "mw"\ngrid = { "optim.momentum" = [0.9, 0.90] }\n', 2, "sweeps[0].name", 'already used by "mw-momentum0.9"', "a value listed twice"),
    Case("string-for-float", '[[experiments]]\nname = "a"\noptim.lr = "0.1"\n', 3, "experiments[0].optim.lr", 'must be a number, got "0.1" (a string)', "without quotes"),
    Case("bool-for-int", '[defaults]\nepochs = true\n[[experiments]]\nname = "a"\n', 2, "defaults.epochs", "must be a whole number, got true (a boolean)", "epochs = 4"),
    Case("float-for-int", '[[experiments]]\nname = "a"\nepochs = 2.5\n', 3, "experiments[0].epochs", "must be a whole number, got 2.5", "use an integer"),
    Case("int-for-bool", '[[experiments]]\nname = "a"\namp = 1\n', 3, "experiments[0].amp", "must be true or false, got 1", "amp = true"),
    Case("probability-above-one", '[[experiments]]\nname = "a"\naugment.hflip = 1.5\n', 3, "experiments[0].augment.hflip", "must be between 0 and 1, got 1.5", "hflip = 0.5"),
    Case("negative-lr", '[defaults.optim]\nlr = -0.1\n[[experiments]]\nname = "a"\n', 2, "defaults.optim.lr", "must be greater than 0, got -0.1", "lr = 0.01"),
    Case("zero-lr", '[[experiments]]\nname = "a"\n[experiments.optim]\nlr = 0\n', 4, "experiments[0].optim.lr", "must be greater than 0, got 0", "greater than 0"),
    Case("nan-lr", '[[experiments]]\nname = "a"\noptim.lr = nan\n', 3, "experiments[0].optim.lr", "must be a finite number, got nan", "lr = 0.01"),
    Case("inf-weight-decay", '[[experiments]]\nname = "a"\noptim.weight_decay = inf\n', 3, "experiments[0].optim.weight_decay", "must be a finite number, got inf", "weight_decay = 0.0005"),
    Case("choice-typo", '[[experiments]]\nname = "a"\noptim.name = "sdg"\n', 3, "experiments[0].optim.name", 'must be one of "sgd", "adam", "adamw", got "sdg"', 'did you mean "sgd"?'),
    Case("choice-not-string", '[[experiments]]\nname = "a"\nschedule.type = 2\n', 3, "experiments[0].schedule.type", "must be a string, got 2 (an integer)", 'use one of "constant", "piecewise"'),
    Case("name-several-bad-chars", '[[experiments]]\nname = "my run/1"\n', 2, "experiments[0].name", "contains ' /'", '"my-run-1"'),
    Case("bad-device", '[[experiments]]\nname = "a"\ndevice = "gpu0"\n', 3, "experiments[0].device", '"gpu0" is not valid', 'device = "auto"'),
    Case("section-not-table", '[[experiments]]\nname = "a"\noptim = 0.1\n', 3, "experiments[0].optim", "must be a table of optim options", "optim.name = ..."),
    Case("epoch-key-fraction", '[[experiments]]\nname = "a"\nschedule.type = "piecewise"\nschedule.lr_by_epoch = { 0 = 0.1, "1.5" = 0.01 }\n', 4, 'experiments[0].schedule.lr_by_epoch."1.5"', 'epoch key "1.5" is not a whole number', "counted from 0"),
    Case("epoch-key-dotted", '[[experiments]]\nname = "a"\nschedule.type = "piecewise"\nschedule.lr_by_epoch = { 0 = 0.1, 1.5 = 0.01 }\n', 4, "experiments[0].schedule.lr_by_epoch.1", "epoch key 1.5 is not a whole number", "counted from 0"),
    Case("epoch-key-negative", '[defaults.schedule]\ntype = "piecewise"\nlr_by_epoch = { "-1" = 0.1 }\n[[experiments]]\nname = "a"\n', 3, 'defaults.schedule.lr_by_epoch.-1', 'epoch key "-1" is not a whole number 0 or more', "counted from 0"),
    Case("epoch-key-word", '[defaults.schedule]\ntype = "piecewise"\nlr_by_epoch = { x = 0.1 }\n[[experiments]]\nname = "a"\n', 3, "defaults.schedule.lr_by_epoch.x", 'epoch key "x"', "counted from 0"),
    Case("epoch-key-twice", '[defaults.schedule]\ntype = "piecewise"\nlr_by_epoch = { 1 = 0.1, "01" = 0.01 }\n[[experiments]]\nname = "a"\n', 3, 'defaults.schedule.lr_by_epoch.01', "epoch 1 is listed twice", "one LR per epoch"),
    Case("epoch-lr-zero", '[defaults.schedule]\ntype = "piecewise"\nlr_by_epoch = { 0 = 0.1, 4 = 0 }\n[[experiments]]\nname = "a"\n', 3, "defaults.schedule.lr_by_epoch.4", "must be greater than 0, got 0", "such as 4 = 0.01"),
    Case("lr-table-not-table", '[[experiments]]\nname = "a"\nschedule.lr_by_epoch = [0.1, 0.01]\n', 3, "experiments[0].schedule.lr_by_epoch", "must be a table of epoch = LR pairs", "{ 0 = 0.01, 8 = 0.001 }"),
    Case("piecewise-without-table", '[[experiments]]\nname = "a"\nschedule.type = "piecewise"\n', 3, "experiments[0].schedule.type", "a piecewise schedule needs schedule.lr_by_epoch", "schedule.lr_by_epoch = {"),
    Case("plateau-mode-mismatch", '[defaults.schedule]\ntype = "plateau"\n\n[[experiments]]\nname = "a"\nschedule.monitor = "val_acc"\n', 6, "experiments[0].schedule.monitor", 'monitor "val_acc" improves when it rises, but schedule.mode is "min"', 'set schedule.mode = "max"'),
    Case("plateau-mode-loss-max", '[[experiments]]\nname = "a"\nschedule = { type = "plateau", monitor = "train_loss", mode = "max" }\n', 3, "experiments[0].schedule.mode", 'improves when it falls, but schedule.mode is "max"', 'set schedule.mode = "min"'),
    Case("sweep-without-grid", '[[sweeps]]\nname = "mw"\n', 1, "sweeps[0]", "this sweep has no grid", "grid = {"),
    Case("sweep-without-name", '[[sweeps]]\ngrid = { "optim.lr" = [0.1] }\n', 1, "sweeps[0]", "this sweep has no name", 'add name = "..."'),
    Case("grid-value-not-list", '[[sweeps]]\nname = "mw"\ngrid = { "optim.lr" = 0.1 }\n', 3, 'sweeps[0].grid."optim.lr"', "must be a non-empty array of values, got a float", '"optim.lr" = [value1, value2]'),
    Case("grid-value-empty", '[[sweeps]]\nname = "mw"\ngrid = { "optim.lr" = [] }\n', 3, 'sweeps[0].grid."optim.lr"', "got an empty array", "[value1, value2]"),
    Case("grid-unknown-key", '[[sweeps]]\nname = "mw"\ngrid = { "optim.momentun" = [0.9] }\n', 3, 'sweeps[0].grid."optim.momentun"', 'grid key "optim.momentun" is not a config field', 'did you mean "optim.momentum"?'),
    Case("grid-bad-value", '[[sweeps]]\nname = "mw"\ngrid = { "optim.momentum" = [0.9, 1.2] }\n', 3, 'sweeps[0].grid."optim.momentum"[1]', "must be between 0 and 1, got 1.2", "momentum = 0.9"),
    Case("grid-empty-table", '[[sweeps]]\nname = "mw"\ngrid = {}\n', 3, "sweeps[0].grid", "got an empty table", 'grid = { "optim.lr"'),
    Case("grid-sweeps-name", '[[sweeps]]\nname = "mw"\ngrid = { name = ["a", "b"] }\n', 3, "sweeps[0].grid.name", "the name cannot be swept", "sweep another field"),
    Case("bad-sweep-name", '[[sweeps]]\nname = "m w"\ngrid = { "optim.lr" = [0.1] }\n', 2, "sweeps[0].name", 'sweep name "m w" contains', '"m-w"'),
    Case("experiments-not-tables", 'experiments = ["a", "b"]\n', 1, "experiments[0]", "each entry must be a table, got a string", "[[experiments]]"),
    Case("date-for-int", '[[experiments]]\nname = "a"\nepochs = 2026-12-04\n', 3, "experiments[0].epochs", "must be a whole number, got 2026-12-04 (a date or time)", "epochs = 4"),
    Case("experiment-in-inline-array", 'experiments = [{ name = "a" }, { name = "b", seed = -1 }]\n', 1, "experiments[1].seed", "must be 0 or more, got -1", "seed = 0"),
    Case("grid-subtable", '[[sweeps]]\nname = "mw"\n\n[sweeps.grid]\n"optim.lr" = [0.1, -0.1]\n', 5, 'sweeps[0].grid."optim.lr"[1]', "must be greater than 0, got -0.1", "lr = 0.01"),
    Case("grid-too-large", '[[sweeps]]\nname = "big"\ngrid = { seed = [' + ", ".join(map(str, range(40))) + '], epochs = [' + ", ".join(map(str, range(1, 31))) + "] }\n", 3, "sweeps[0].grid", "the grid has 40 x 30 = 1200 combinations, more than 1000", "smaller sweeps"),
    Case("defaults-not-table", 'defaults = 3\n[[experiments]]\nname = "a"\n', 1, "defaults", "must be a table, got an integer", "[defaults]"),
    Case("name-supervisor-log", '[[experiments]]\nname = "supervisor.log"\n', 2, "experiments[0].name", "is the name of a file that birdtui keeps in the runs folder", '"supervisor-log"'),
    Case("name-supervisor-json-case", '[[experiments]]\nname = "Supervisor.JSON"\n', 2, "experiments[0].name", "is the name of a file that birdtui keeps in the runs folder", '"Supervisor-JSON"'),
    Case("name-supervisor-lock", '[[experiments]]\nname = "supervisor.lock"\n', 2, "experiments[0].name", "is the name of a file that birdtui keeps in the runs folder", '"supervisor-lock"'),
    Case("name-state-lock", '[[experiments]]\nname = ".state.lock"\n', 2, "experiments[0].name", "starts with '.'", '"state.lock"'),
    Case("sweep-name-reserved", '[[sweeps]]\nname = "supervisor.log"\ngrid = { "optim.lr" = [0.1] }\n', 2, "sweeps[0].name", "is the name of a file that birdtui keeps", '"supervisor-log"'),
    Case("epochs-absurd", '[[experiments]]\nname = "a"\nepochs = 100000000000000000\n', 3, "experiments[0].epochs", "must be between 1 and 100000, got 100000000000000000", "epochs = 4"),
    Case(
        "lr-epoch-beyond-last",
        '[[experiments]]\nname = "a"\nepochs = 1\nschedule.type = "piecewise"\nschedule.lr_by_epoch = { 0 = 0.1, 50 = 0.01 }\n',
        5, "experiments[0].schedule.lr_by_epoch.50",
        'schedule.lr_by_epoch sets the LR for epoch 50, but epochs = 1 trains only epoch 0',
        "remove the entry for epoch 50, or set epochs = 51 or more",
    ),
    Case(
        "lr-epochs-beyond-default-epochs",
        '[defaults.schedule]\ntype = "piecewise"\nlr_by_epoch = { 0 = 0.1, 4 = 0.01, 6 = 0.001 }\n[[experiments]]\nname = "a"\n',
        3, "defaults.schedule.lr_by_epoch.4",
        "for epoch 4, 6, but epochs = 4 trains only epochs 0 to 3",
        "remove the entries for epoch 4, 6, or set epochs = 7 or more",
    ),
    Case("lr-epoch-equal-to-epochs", '[[experiments]]\nname = "a"\nepochs = 3\nschedule = { type = "piecewise", lr_by_epoch = { 0 = 0.1, 3 = 0.01 } }\n', 4, "experiments[0].schedule.lr_by_epoch.3", "never applies", "set epochs = 4 or more"),
    Case("syntax-array-open-at-end", '[[experiments]]\nname = "a"\nx = [\n', 3, None, "TOML syntax error: Invalid value", "the file ends inside a value"),
    Case("syntax-array-unclosed", '[[experiments]]\nname = "a"\nx = [1, 2\n', 3, None, "TOML syntax error: Unclosed array", "close the array with ]"),
    Case("syntax-header-in-array", 'x = [\n[[experiments]]\nname = "a"\n', 2, None, "TOML syntax error: Invalid value", "not closed: close it with ] or }"),
    Case("syntax-missing-value", '[[experiments]]\nname = "a"\nepochs =\n', 3, None, "TOML syntax error: Invalid value", 'write a value after "="'),
    Case("syntax-inline-table-unclosed", '[[experiments]]\nname = "a"\nschedule.lr_by_epoch = { 0 = 0.1\n', 3, None, "Unclosed inline table", "close the inline table with }"),
    Case("name-empty", '[[experiments]]\nname = ""\n', 2, "experiments[0].name", "must not be empty", 'set name to a value in quotes, such as name = "r18-baseline"'),
    Case("model-empty", '[[experiments]]\nname = "a"\nmodel = ""\n', 3, "experiments[0].model", "must not be empty", 'remove the line to use the default ("resnet18")'),
]


def write_file(folder: Path, text: str) -> Path:
    path = folder / "experiments.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_file_message(tmp_path: Path, case: Case) -> None:
    path = write_file(tmp_path, case.text)

    with pytest.raises(ConfigError) as caught:
        load_experiments(path)
    error = caught.value
    text = str(error)

    assert error.path == str(path)
    assert text.startswith(str(path))
    assert error.line == case.line, text
    if case.line is not None:
        assert f"{path}:{case.line}:" in text
    assert error.key == case.key, text
    assert case.message in error.reason, text
    assert error.fix is not None
    assert case.fix in error.fix, text
    assert "Traceback" not in text


def test_case_table_size() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


def test_column_points_at_grid_value(tmp_path: Path) -> None:
    path = write_file(tmp_path, '[[sweeps]]\nname = "mw"\ngrid = { "optim.momentum" = [0.9, 1.2] }\n')

    with pytest.raises(ConfigError) as caught:
        load_experiments(path)

    assert caught.value.line == 3
    assert caught.value.column == 35


def test_syntax_error_column(tmp_path: Path) -> None:
    path = write_file(tmp_path, '[[experiments]]\nname = "a"\nepochs = =3\n')

    with pytest.raises(ConfigError) as caught:
        load_experiments(path)

    assert caught.value.line == 3
    assert caught.value.column == 10


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_experiments(tmp_path / "nope.toml")

    assert "experiments file not found" in str(caught.value)
    assert "--config" in caught.value.fix


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_experiments(tmp_path)

    assert "is a folder" in str(caught.value)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "experiments.toml"
    path.write_bytes(b'[[experiments]]\nname = "caf\xe9"\n')

    with pytest.raises(ConfigError) as caught:
        load_experiments(path)

    assert caught.value.line == 2
    assert "not valid UTF-8" in str(caught.value)


def test_nothing_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'[[experiments]]\nname = "__import__(\'pathlib\').Path(\'{marker}\').touch()"\n'
    path = write_file(tmp_path, text)

    with pytest.raises(ConfigError):
        load_experiments(path)

    assert not marker.exists()


CLI_CASES = ["unknown-key-typo", "syntax-missing-quotes", "negative-lr", "plateau-mode-mismatch"]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_reports_without_traceback(tmp_path: Path, case_id: str) -> None:
    case = next(case for case in CASES if case.id == case_id)
    path = write_file(tmp_path, case.text)

    result = subprocess.run(
        [sys.executable, "-m", "birdtui", "export", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:{case.line}:" in result.stderr
    assert case.message in result.stderr
    assert "fix: " in result.stderr
    assert result.stdout == ""

