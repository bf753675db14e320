"""The network and its optimizer, built from an experiment config."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from birdtui.config import ExperimentConfig, OptimConfig
from birdtui.errors import CheckpointError, ConfigError

# Prefixes that torch.compile and DataParallel add to every key of a saved state dict.
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def build_model(name: str, num_classes: int) -> nn.Module:
    """Build a torchvision classification model with random weights and `num_classes` outputs."""
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        resnets = ", ".join(n for n in available if n.startswith("resnet"))
        raise ConfigError(
            f"unknown model {name!r}; torchvision has no classification model by that name",
            key="model",
            fix=f"use one of {resnets} or another name from torchvision.models.list_models()",
        )
    # weights=None downloads nothing. Pretrained weights come from a local file instead.
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def final_layer_name(model: nn.Module) -> str:
    """Return the module name of the last Linear layer, the classifier head."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ConfigError("the model has no Linear classifier layer", key="model")
    return names[-1]


def load_pretrained(model: nn.Module, path: str) -> list[str]:
    """Load weights from a local .pth state dict, skipping a classifier head of another size.

    Returns the keys that were skipped. Raises CheckpointError when the file is
    missing, unreadable or contains weights of a different architecture.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"pretrained weights file not found: {file}\n  fix: set pretrained to an existing .pth file or remove it")
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file: pickle, zip, runtime errors
        raise CheckpointError(f"cannot read pretrained weights {file}: {error}\n  fix: point pretrained at a state dict saved with torch.save") from error

    # A birdtui checkpoint stores the state dict under "model"; a plain .pth is the state dict itself.
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} does not contain a state dict (found {type(loaded).__name__})")
    state = {strip_wrapper_prefix(key): value for key, value in state.items()}

    head = final_layer_name(model) + "."
    expected = model.state_dict()
    skipped = [
        key for key, value in state.items()
        if key.startswith(head) and key in expected and tuple(value.shape) != tuple(expected[key].shape)
    ]
    for key in skipped:
        del state[key]

    mismatched = [
        f"{key} {tuple(value.shape)} vs {tuple(expected[key].shape)}"
        for key, value in state.items()
        if key in expected and tuple(value.shape) != tuple(expected[key].shape)
    ]
    missing = [key for key in expected if key not in state and key not in skipped]
    unexpected = [key for key in state if key not in expected]
    if mismatched or missing or unexpected:
        details = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for label, keys in (("shape mismatch", mismatched), ("missing", missing), ("unexpected", unexpected))
            if keys
        )
        raise CheckpointError(
            f"pretrained weights {file} do not fit the model ({details})\n"
            "  fix: use weights saved from the same torchvision architecture as `model`"
        )

    model.load_state_dict(state, strict=False)
    return skipped


def strip_wrapper_prefix(key: str) -> str:
    for prefix in WRAPPER_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def build_optimizer(model: nn.Module, optim: OptimConfig) -> torch.optim.Optimizer:
    """Build the configured optimizer over all model parameters, at the base LR."""
    params = model.parameters()
    if optim.name == "sgd":
        if optim.nesterov and optim.momentum == 0:
            raise ConfigError("Nesterov momentum needs a momentum above 0", key="optim.nesterov", fix="set optim.momentum > 0 or nesterov = false")
        return torch.optim.SGD(
            params, lr=optim.lr, momentum=optim.momentum,
            weight_decay=optim.weight_decay, nesterov=optim.nesterov,
        )
    if optim.name == "adam":
        return torch.optim.Adam(params, lr=optim.lr, weight_decay=optim.weight_decay)
    if optim.name == "adamw":
        return torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay)
    raise ConfigError(f"unknown optimizer {optim.name!r}", key="optim.name", fix="use sgd, adam or adamw")


def build_network(config: ExperimentConfig, num_classes: int) -> nn.Module:
    """Build the config's model and load its pretrained weights if it names a file."""
    model = build_model(config.model, num_classes)
    if config.pretrained:
        load_pretrained(model, config.pretrained)
    return model
