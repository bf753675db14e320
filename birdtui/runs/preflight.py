"""Checks made when a run is launched, so that config mistakes fail now and not when the queue reaches the run.

The worker checks the same things again when it starts, with more detail.
These checks look at names and folders only: no image is decoded and no
model is built, so a launch stays fast.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from birdtui.config.schema import ExperimentConfig
from birdtui.errors import ConfigError, DataError

DEFAULT_EXPERIMENTS_FILE = "experiments.toml"


def check_launchable(config: ExperimentConfig, experiments_file: str | Path | None = None) -> None:
    """Raise ConfigError, naming the experiments file, experiment and key, when `config` cannot run."""
    check_model(config, experiments_file)
    check_dataset(config, config.data.root, "data.root", experiments_file)
    if config.data.val_root is not None:
        check_dataset(config, config.data.val_root, "data.val_root", experiments_file)
    check_pretrained(config, experiments_file)


def check_model(config: ExperimentConfig, experiments_file: str | Path | None) -> None:
    # Imported here: torchvision imports torch, which is slow to import, and only launching needs it.
    import torchvision.models

    available = torchvision.models.list_models(module=torchvision.models)
    if config.model in available:
        return
    close = difflib.get_close_matches(config.model, available, n=1)
    hint = f'did you mean "{close[0]}"? Otherwise ' if close else ""
    resnets = ", ".join(name for name in available if name.startswith("resnet"))
    raise _error(
        config,
        "model",
        f'unknown model "{config.model}"; torchvision has no classification model by that name',
        f"{hint}use one of {resnets}, or another name from torchvision.models.list_models()",
        experiments_file,
    )


def check_dataset(config: ExperimentConfig, root: str, key: str, experiments_file: str | Path | None) -> None:
    """Check that `root` has two or more class folders and an image in each; no image is opened."""
    # Imported here, like torchvision: the data helpers import torch.
    from birdtui.train.data import collect_samples, find_classes

    try:
        classes = find_classes(root, setting=key)
        collect_samples(classes, setting=key)
    except DataError as error:
        reason, _, fix = str(error).partition("; fix: ")
        raise _error(config, key, reason.removeprefix(f"{key}: "), fix or None, experiments_file) from None


def check_pretrained(config: ExperimentConfig, experiments_file: str | Path | None) -> None:
    if config.pretrained is None or Path(config.pretrained).is_file():
        return
    raise _error(
        config,
        "pretrained",
        f"weights file not found: {config.pretrained}",
        "set pretrained to an existing .pth file (nothing is downloaded), or remove the line",
        experiments_file,
    )


def guess_experiments_file(runs_dir: Path) -> Path | None:
    """Return the experiments.toml beside a runs folder, where runs/ is by default, when there is one."""
    candidate = Path(runs_dir).parent / DEFAULT_EXPERIMENTS_FILE
    return candidate if candidate.is_file() else None


def _error(config: ExperimentConfig, key: str, reason: str, fix: str | None, experiments_file: str | Path | None) -> ConfigError:
    path = None if experiments_file is None else str(experiments_file)
    error = ConfigError(f'experiment "{config.name}", {key}: {reason}', path=path, fix=fix)
    # Set after formatting: the message names the key beside the experiment, where a reader looks for it.
    error.key = key
    return error
