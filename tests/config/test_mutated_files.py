"""Randomly damaged copies of the repository's experiments.toml.

Whatever the damage, loading must either succeed or raise a ConfigError
that points at a line: never another exception, which the CLI would show
as a traceback.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from birdtui.config import load_experiments
from birdtui.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

VALUES = ["1", "-1", "0.5", "nan", "inf", '"x"', "true", "[]", '[1, "a"]', "{}", "{ a = 1 }", "1979-05-27", '""', "{ 0 = 1 }", '"a@b"']
LINES = [
    "[[experiments]]",
    "[[sweeps]]",
    "[defaults]",
    "[experiments.optim]",
    "[sweeps.grid]",
    'name = "dup"',
    "grid = { seed = [1, 2] }",
    "x.y = 1",
    'schedule.type = "plateau"',
    'schedule.monitor = "val_acc"',
]


def mutate(lines: list[str], rng: random.Random) -> str:
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(lines))
        choice = rng.random()
        if choice < 0.4 and "=" in lines[index] and not lines[index].lstrip().startswith("#"):
            lines[index] = lines[index].split("=")[0] + "= " + rng.choice(VALUES)
        elif choice < 0.6:
            del lines[index]
        elif choice < 0.8:
            lines.insert(index, rng.choice(LINES))
        else:
            cut = rng.randrange(len(lines[index]) + 1)
            lines[index] = lines[index][:cut] + rng.choice("[]{}\"=.,#'\\") + lines[index][cut:]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_damaged_file_gives_located_error(tmp_path: Path, seed: int) -> None:
    original = (REPO_ROOT / "experiments.toml").read_text(encoding="utf-8").splitlines()
    rng = random.Random(seed)
    path = tmp_path / "experiments.toml"

    for _ in range(100):
        text = mutate(original, rng)
        path.write_text(text, encoding="utf-8")
        try:
            load_experiments(path)
        except ConfigError as error:
            if "defines no experiments" not in error.reason:
                assert error.line is not None, f"{error}\n--- file ---\n{text}"
            assert error.fix, f"{error}\n--- file ---\n{text}"
