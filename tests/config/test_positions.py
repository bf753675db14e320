"""The key position index that gives experiments.toml errors their line numbers."""

from __future__ import annotations

import tomllib

from birdtui.config.positions import PositionIndex, format_key_path

SOURCE = '''\
# a comment with [brackets] and key = "value"
[defaults]
model = "res#net = 18"   # trailing comment
"quoted \\" key" = 1

[defaults.schedule]
lr_by_epoch = { 0 = 0.1, "10" = 0.01 }

[[experiments]]
name = """multi
line = "not a key"
"""
tags = [
  "a",  # comment inside an array
  [1, 2],
]

[experiments.optim]
lr = 0.1

[[experiments]]
name = 'literal\\'
augment.jitter = 0.5
'''


def test_source_is_valid_toml() -> None:
    tomllib.loads(SOURCE)


def test_positions_of_keys() -> None:
    index = PositionIndex.scan(SOURCE)

    assert index.locate(("defaults",)) == (2, 1)
    assert index.locate(("defaults", "model")) == (3, 1)
    assert index.locate(("defaults", 'quoted " key')) == (4, 1)
    assert index.locate(("defaults", "schedule", "lr_by_epoch", "0")) == (7, 17)
    assert index.locate(("defaults", "schedule", "lr_by_epoch", "10")) == (7, 26)
    assert index.locate(("experiments", 0)) == (9, 1)
    assert index.locate(("experiments", 0, "tags", 1, 0)) == (15, 4)
    assert index.locate(("experiments", 0, "optim", "lr")) == (19, 1)
    assert index.locate(("experiments", 1, "augment", "jitter")) == (23, 1)


def test_text_in_strings_ignored() -> None:
    index = PositionIndex.scan(SOURCE)

    assert ("experiments", 0, "line") not in index.positions
    assert ("brackets",) not in index.positions


def test_fallback_to_parent() -> None:
    index = PositionIndex.scan(SOURCE)

    assert index.locate(("experiments", 1, "optim", "lr")) == (21, 1)
    assert index.locate(("nothing",)) == (None, None)


def test_format_key_path() -> None:
    assert format_key_path(("experiments", 2, "optim", "lr")) == "experiments[2].optim.lr"
    assert format_key_path(("sweeps", 0, "grid", "optim.lr", 1)) == 'sweeps[0].grid."optim.lr"[1]'
