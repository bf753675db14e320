"""Experiment configuration: the typed schema and the experiments.toml loader."""

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
    "OptimConfig",
    "ScheduleConfig",
    "from_dict",
    "to_dict",
]
