"""Turning merged override layers into checked `ExperimentConfig` objects."""

from __future__ import annotations

import os
from pathlib import Path

from birdtui.config.names import name_problem, safe_name
from birdtui.config.overrides import Layer
from birdtui.config.positions import KeyPath
from birdtui.config.schema import SECTIONS, ExperimentConfig
from birdtui.config.source import SourceFile

def build_config(merged: Layer, entry_path: KeyPath, source: SourceFile) -> ExperimentConfig:
    """Build one experiment from its merged layer, then resolve paths and check combinations."""
    if "name" not in merged:
        raise source.error(entry_path, "this experiment has no name", 'add name = "..." to the entry, such as name = "r18-baseline"')
    _check_name(merged["name"][0], merged["name"][1], source)

    values = {dotted: value for dotted, (value, _) in merged.items()}
    top = {dotted: value for dotted, value in values.items() if "." not in dotted}
    sections = {}
    for section, cls in SECTIONS.items():
        prefix = section + "."
        fields = {dotted[len(prefix):]: value for dotted, value in values.items() if dotted.startswith(prefix)}
        sections[section] = cls(**fields)
    config = ExperimentConfig(**top, **sections)
    _resolve_paths(config, source.path.parent)

    _check_combinations(config, merged, entry_path, source)
    return config


def _check_name(name: str, path: KeyPath, source: SourceFile) -> None:
    problem = name_problem(name)
    if problem:
        raise source.error(path, f'experiment name "{name}" {problem}', f'names become folder names under runs/; use a name such as "{safe_name(name)}"')


def _resolve_paths(config: ExperimentConfig, folder: Path) -> None:
    # Schema defaults are relative too, so this runs on the built config.
    # Paths are not checked for existence: the data may be generated later.
    config.data.root = _absolute(config.data.root, folder)
    if config.data.val_root is not None:
        config.data.val_root = _absolute(config.data.val_root, folder)
    if config.pretrained is not None:
        config.pretrained = _absolute(config.pretrained, folder)


def _absolute(value: str, folder: Path) -> str:
    return os.path.normpath(folder / os.path.expanduser(value))


def _check_combinations(config: ExperimentConfig, merged: Layer, entry_path: KeyPath, source: SourceFile) -> None:
    """Reject option pairs that each pass alone but contradict each other."""
    schedule = config.schedule
    if schedule.type == "plateau":
        expected = "max" if schedule.monitor.endswith("_acc") else "min"
        if schedule.mode != expected:
            where = _origin(merged, "schedule.mode", _origin(merged, "schedule.monitor", entry_path))
            direction = "rises" if expected == "max" else "falls"
            raise source.error(
                where,
                f'experiment "{config.name}": plateau monitor "{schedule.monitor}" improves when it {direction}, but schedule.mode is "{schedule.mode}"',
                f'set schedule.mode = "{expected}"',
            )

    if schedule.type == "piecewise" and not schedule.lr_by_epoch:
        where = _origin(merged, "schedule.type", entry_path)
        raise source.error(
            where,
            f'experiment "{config.name}": a piecewise schedule needs schedule.lr_by_epoch',
            "add schedule.lr_by_epoch = { 0 = 0.01, 8 = 0.001 } (epochs count from 0)",
        )
    if schedule.type == "piecewise":
        _check_lr_epochs_in_range(config, merged, entry_path, source)


def _check_lr_epochs_in_range(config: ExperimentConfig, merged: Layer, entry_path: KeyPath, source: SourceFile) -> None:
    """Reject a piecewise LR entry for an epoch that training never reaches.

    A table from [defaults] may run past an experiment that sets fewer epochs
    itself, such as a one-epoch smoke test, because that experiment is a
    deliberately shorter run of the same schedule.
    """
    last_epoch = config.epochs - 1
    beyond = [epoch for epoch in config.schedule.lr_by_epoch if epoch > last_epoch]
    if not beyond or _shortened_by_entry(merged):
        return

    table_path = _origin(merged, "schedule.lr_by_epoch", entry_path)
    listed = ", ".join(str(epoch) for epoch in beyond)
    entries = "entry" if len(beyond) == 1 else "entries"
    raise source.error(
        table_path + (str(beyond[0]),),
        f'experiment "{config.name}": schedule.lr_by_epoch sets the LR for epoch {listed}, but epochs = {config.epochs} '
        f"trains only {_epoch_range(config.epochs)} (counted from 0), so it never applies",
        f"remove the {entries} for epoch {listed}, or set epochs = {beyond[-1] + 1} or more",
    )


def _shortened_by_entry(merged: Layer) -> bool:
    table_from_defaults = merged["schedule.lr_by_epoch"][1][0] == "defaults"
    epochs_from_entry = "epochs" in merged and merged["epochs"][1][0] != "defaults"
    return table_from_defaults and epochs_from_entry


def _epoch_range(epochs: int) -> str:
    return "epoch 0" if epochs == 1 else f"epochs 0 to {epochs - 1}"


def _origin(merged: Layer, dotted: str, fallback: KeyPath) -> KeyPath:
    return merged[dotted][1] if dotted in merged else fallback
