"""Experiment configuration: the typed schema and the experiments.toml loader."""

from birdtui.config.load import ExperimentsFile, default_runs_dir, load_experiments
from birdtui.config.schema import (
    AugmentConfig,
    DataConfig,
    ExperimentConfig,
    OptimConfig,
    ScheduleConfig,
    from_dict,
    to_dict,
)

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "ExperimentConfig",
    "ExperimentsFile",
    "OptimConfig",
    "ScheduleConfig",
    "default_runs_dir",
    "from_dict",
    "load_experiments",
    "to_dict",
]
