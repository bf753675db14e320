"""Checks made when a run is launched, so that config mistakes fail now and not when the queue reaches the run.

The worker checks the same things again when it starts, with more detail.
These checks look at names, folders and the pretrained weights file: no
image is decoded and no model is built, so a launch stays fast.
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
        if experiments_file is not None:
            # The data helpers also serve the worker, which does not know the file's name.
            fix = fix.replace("the experiments file", Path(experiments_file).name)
        raise _error(config, key, reason.removeprefix(f"{key}: "), fix or None, experiments_file) from None


def check_pretrained(config: ExperimentConfig, experiments_file: str | Path | None) -> None:
    """Check that `pretrained` names a file that torch loads as a state dict, as the worker loads it."""
    if config.pretrained is None:
        return
    if not Path(config.pretrained).is_file():
        raise _error(
            config,
            "pretrained",
            f"weights file not found: {config.pretrained}",
            "set pretrained to an existing .pth file (nothing is downloaded), or remove the line",
            experiments_file,
        )

    reason = read_weights_problem(Path(config.pretrained))
    if reason is not None:
        raise _error(
            config,
            "pretrained",
            f"invalid weights file {config.pretrained}: {reason}",
            "set pretrained to a state dict saved with torch.save, such as a torchvision .pth file, or remove the line",
            experiments_file,
        )


def read_weights_problem(file: Path) -> str | None:
    """Load `file` as birdtui.train.model.load_pretrained does; return why it fails, or None."""
    # Imported here, like torchvision: torch is slow to import.
    import torch

    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file: pickle, zip, runtime errors
        # torch's own text runs over many lines, and its first line names the problem.
        first_line = (str(error).strip().splitlines() or [""])[0][:160]
        return f"torch cannot load it ({type(error).__name__}: {first_line})"

    # A birdtui checkpoint stores the state dict under "model", and a plain .pth is the state dict itself.
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        return f"it contains a {type(loaded).__name__}, not a state dict"
    return None


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
