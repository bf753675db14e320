"""Loading valid experiments files: merging, sweeps, epoch tables and paths."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from birdtui.config import ExperimentConfig, default_runs_dir, from_dict, load_experiments, to_dict
from birdtui.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_text(folder: Path, text: str):
    path = folder / "experiments.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_experiments(path)


def test_deep_merge_of_sections(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [defaults]
        epochs = 3
        [defaults.optim]
        name = "adamw"
        lr = 0.002
        weight_decay = 0.05
        [defaults.augment]
        hflip = 0.3

        [[experiments]]
        name = "a"
        optim.lr = 0.01
        augment.jitter = 0.5
        """,
    )
    config = loaded.by_name("a")

    assert config.epochs == 3
    assert config.optim.name == "adamw"
    assert config.optim.lr == 0.01
    assert config.optim.weight_decay == 0.05
    assert config.augment.hflip == 0.3
    assert config.augment.jitter == 0.5
    # Fields set nowhere keep the schema defaults.
    assert config.augment.vflip == 0.0
    assert config.model == "resnet18"


def test_section_table_in_experiment(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [defaults.schedule]
        type = "plateau"
        patience = 5

        [[experiments]]
        name = "inline"
        schedule = { factor = 0.5 }

        [[experiments]]
        name = "subtable"
        [experiments.schedule]
        monitor = "val_acc"
        mode = "max"
        """,
    )

    inline = loaded.by_name("inline").schedule
    assert (inline.type, inline.patience, inline.factor) == ("plateau", 5, 0.5)
    subtable = loaded.by_name("subtable").schedule
    assert (subtable.type, subtable.patience, subtable.monitor, subtable.mode) == ("plateau", 5, "val_acc", "max")


def test_lr_table_replaced_whole(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [defaults]
        epochs = 10
        [defaults.schedule]
        type = "piecewise"
        lr_by_epoch = { 0 = 0.1, 5 = 0.01, 8 = 0.001 }

        [[experiments]]
        name = "inherits"

        [[experiments]]
        name = "replaces"
        schedule.lr_by_epoch = { 0 = 0.05, 2 = 0.005 }
        """,
    )

    assert loaded.by_name("inherits").schedule.lr_by_epoch == {0: 0.1, 5: 0.01, 8: 0.001}
    assert loaded.by_name("replaces").schedule.lr_by_epoch == {0: 0.05, 2: 0.005}


def test_lr_keys_become_sorted_ints(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [[experiments]]
        name = "a"
        epochs = 12
        schedule.type = "piecewise"
        schedule.lr_by_epoch = { 10 = 0.001, 2 = 0.01, "0" = 0.1, 1 = 1 }
        """,
    )
    table = loaded.by_name("a").schedule.lr_by_epoch

    assert list(table) == [0, 1, 2, 10]
    assert all(type(epoch) is int for epoch in table)
    # An integer LR such as `1 = 1` is accepted where a float is expected.
    assert table[1] == 1.0
    assert type(table[1]) is float


def test_int_accepted_for_float(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[experiments]]\nname = "a"\noptim.weight_decay = 0\naugment.hflip = 1\n')
    config = loaded.by_name("a")

    assert config.optim.weight_decay == 0.0
    assert type(config.optim.weight_decay) is float
    assert type(config.augment.hflip) is float


def test_sweep_expansion_and_names(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [defaults]
        epochs = 2

        [[sweeps]]
        name = "mw"
        model = "resnet34"
        grid = { "optim.momentum" = [0.9, 0.95], "optim.weight_decay" = [1e-4, 5e-4] }
        """,
    )

    assert loaded.names() == [
        "mw-momentum0.9-wd0.0001",
        "mw-momentum0.9-wd0.0005",
        "mw-momentum0.95-wd0.0001",
        "mw-momentum0.95-wd0.0005",
    ]
    last = loaded.by_name("mw-momentum0.95-wd0.0005")
    assert last.optim.momentum == 0.95
    assert last.optim.weight_decay == 5e-4
    assert last.model == "resnet34"
    assert last.epochs == 2


def test_sweep_names_of_other_types(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [[sweeps]]
        name = "s"
        grid.optim.lr = [1e-5]
        grid.device = ["cuda:1"]
        grid.amp = [false]
        grid."schedule.lr_by_epoch" = [{ 0 = 0.1, 3 = 0.01 }]
        grid.schedule.type = ["piecewise"]
        """,
    )

    assert loaded.names() == ["s-lr1e-5-devicecuda_1-ampfalse-lrs0_0.1_3_0.01-typepiecewise"]
    config = loaded.experiments[0]
    assert config.optim.lr == 1e-5
    assert config.device == "cuda:1"
    assert config.schedule.lr_by_epoch == {0: 0.1, 3: 0.01}


def test_sweep_over_optional_path(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[sweeps]]\nname = "init"\ngrid = { pretrained = ["", "weights/r18.pth"] }\n')

    assert loaded.names() == ["init-pretrainednone", "init-pretrainedweights_r18.pth"]
    assert loaded.experiments[0].pretrained is None
    assert loaded.experiments[1].pretrained == str(tmp_path / "weights" / "r18.pth")


def test_long_sweep_names_numbered(tmp_path: Path) -> None:
    seeds = ", ".join(str(seed) for seed in range(3))
    long_prefix = "x" * 90
    loaded = load_text(tmp_path, f'[[sweeps]]\nname = "{long_prefix}"\ngrid = {{ "optim.weight_decay" = [0.00001], seed = [{seeds}] }}\n')

    assert loaded.names() == [f"{long_prefix}-1", f"{long_prefix}-2", f"{long_prefix}-3"]
    assert [config.seed for config in loaded.experiments] == [0, 1, 2]


def test_experiments_in_file_order(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [[experiments]]
        name = "first"

        [[sweeps]]
        name = "middle"
        grid = { seed = [1, 2] }

        [[experiments]]
        name = "last"
        """,
    )

    assert loaded.names() == ["first", "middle-seed1", "middle-seed2", "last"]


def test_relative_paths_resolved(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    loaded = load_text(
        folder,
        """
        [defaults.data]
        root = "data/birds/train"

        [[experiments]]
        name = "relative"
        data.val_root = "../shared/val"
        pretrained = "weights/r18.pth"

        [[experiments]]
        name = "absolute"
        data.root = "/srv/birds/train"
        """,
    )
    relative = loaded.by_name("relative")

    assert relative.data.root == str(folder / "data" / "birds" / "train")
    assert relative.data.val_root == str(tmp_path / "shared" / "val")
    assert relative.pretrained == str(folder / "weights" / "r18.pth")
    assert loaded.by_name("absolute").data.root == "/srv/birds/train"
    assert loaded.by_name("absolute").data.val_root is None
    # The data does not need to exist yet.
    assert not (folder / "data").exists()


def test_empty_string_unsets_optional_path(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [defaults]
        pretrained = "weights.pth"

        [[experiments]]
        name = "scratch"
        pretrained = ""
        """,
    )

    assert loaded.by_name("scratch").pretrained is None


def test_relative_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "experiments.toml").write_text('[[experiments]]\nname = "a"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    loaded = load_experiments("experiments.toml")

    assert loaded.path == tmp_path / "experiments.toml"
    assert loaded.path.is_absolute()
    assert loaded.by_name("a").data.root == str(tmp_path / "data" / "demo-birds" / "train")


def test_by_name_did_you_mean(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[experiments]]\nname = "r18-baseline"\n[[experiments]]\nname = "r34-baseline"\n')

    with pytest.raises(ConfigError) as caught:
        loaded.by_name("r18-basline")

    assert 'no experiment named "r18-basline"' in str(caught.value)
    assert caught.value.fix == 'did you mean "r18-baseline"?'


def test_by_name_lists_names(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[experiments]]\nname = "alpha"\n[[experiments]]\nname = "beta"\n')

    with pytest.raises(ConfigError) as caught:
        loaded.by_name("zzz")

    assert caught.value.fix == "defined experiments: alpha, beta"


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, '[[experiments]]\nname = "a"\naugment.hfilp = 0.5\n')

    assert caught.value.fix == 'did you mean "hflip"?'
    assert caught.value.key == "experiments[0].augment.hfilp"


def test_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "experiments.toml"
    text = '[defaults]\r\nepochs = 2\r\n\r\n[[experiments]]\r\nname = "a"\r\n\r\n[[experiments]]\r\nname = "b"\r\noptim.lr = -1\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

    with pytest.raises(ConfigError) as caught:
        load_experiments(path)

    assert (caught.value.line, caught.value.column) == (9, 1)
    assert caught.value.key == "experiments[1].optim.lr"


def test_default_runs_dir(tmp_path: Path) -> None:
    assert default_runs_dir(tmp_path / "sub" / "experiments.toml") == tmp_path / "sub" / "runs"


def test_config_round_trips_through_dict(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [[experiments]]
        name = "a"
        epochs = 6
        schedule.type = "piecewise"
        schedule.lr_by_epoch = { 0 = 0.1, 4 = 0.01 }
        """,
    )
    config = loaded.by_name("a")

    assert isinstance(config, ExperimentConfig)
    assert from_dict(to_dict(config)) == config


def test_repository_experiments_file() -> None:
    loaded = load_experiments(REPO_ROOT / "experiments.toml")

    assert len(loaded.experiments) >= 1
    assert len(set(loaded.names())) == len(loaded.names())
    for config in loaded.experiments:
        assert Path(config.data.root).is_absolute()


def test_shorter_experiment_keeps_default_lr_table(tmp_path: Path) -> None:
    # A one-epoch smoke test may reuse a [defaults] table written for longer runs.
    loaded = load_text(
        tmp_path,
        """
        [defaults]
        epochs = 6
        [defaults.schedule]
        type = "piecewise"
        lr_by_epoch = { 0 = 0.1, 3 = 0.01, 5 = 0.001 }

        [[experiments]]
        name = "smoke"
        epochs = 1

        [[sweeps]]
        name = "short"
        grid = { epochs = [2, 6] }
        """,
    )

    assert [config.epochs for config in loaded.experiments] == [1, 2, 6]
    assert all(config.schedule.lr_by_epoch == {0: 0.1, 3: 0.01, 5: 0.001} for config in loaded.experiments)


def test_lr_table_beyond_epochs_ignored_without_piecewise(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        [[experiments]]
        name = "a"
        epochs = 1
        schedule = { type = "cosine", lr_by_epoch = { 0 = 0.1, 50 = 0.01 } }
        """,
    )

    assert loaded.experiments[0].schedule.type == "cosine"


def test_max_epochs_accepted(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[experiments]]\nname = "a"\nepochs = 100000\n')

    assert loaded.experiments[0].epochs == 100000


def test_reserved_names_cover_runs_folder_files() -> None:
    from birdtui.config.names import RESERVED_NAMES, name_problem
    from birdtui.runs.control import SUPERVISOR_INFO_FILE, SUPERVISOR_LOCK_FILE, SUPERVISOR_LOG_FILE
    from birdtui.runs.state import STATE_LOCK_FILE

    for file_name in (SUPERVISOR_INFO_FILE, SUPERVISOR_LOCK_FILE, SUPERVISOR_LOG_FILE, STATE_LOCK_FILE):
        assert file_name.lower() in RESERVED_NAMES
        assert name_problem(file_name) is not None
        assert name_problem(file_name.upper()) is not None


def test_names_near_reserved_accepted(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, '[[experiments]]\nname = "supervisor"\n[[experiments]]\nname = "supervisor.log2"\n')

    assert loaded.names() == ["supervisor", "supervisor.log2"]
