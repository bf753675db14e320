"""The typed experiment configuration: every option, its default and its meaning.

An experiment is an `ExperimentConfig`. Its sections mirror the tables of
`experiments.toml` (`[defaults.optim]`, `[defaults.schedule]`, ...). Each field
carries metadata that the loader uses to validate values and that `--help`-like
listings print:

- ``help``: one line naming what the option sets, and its unit;
- ``choices``: the allowed values of a string option;
- ``min`` / ``max``: the closed range of a number (``min_exclusive`` for "> min");
- ``pattern``: a regular expression the whole string value must match.

Paths in `DataConfig` are resolved relative to the experiments file by the loader,
so a resolved config always holds absolute paths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MAX_EPOCHS = 100_000


def option(default: Any = dataclasses.MISSING, *, help: str, factory: Any = None, **rules: Any) -> Any:
    """Declare a config field with its default, help line and validation rules."""
    metadata = {"help": help, **rules}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """Image source and batching."""

    root: str = option("data/demo-birds/train", help="ImageFolder root with one folder per class (relative to the experiments file)")
    val_root: str | None = option(None, help="separate validation ImageFolder; when set, val_fraction is not used")
    val_fraction: float = option(0.2, help="fraction of root held out for validation, split with the seed", min=0.0, max=0.9)
    batch_size: int = option(32, help="images per training step", min=1)
    image_size: int = option(64, help="side of the square network input in pixels", min=8)
    workers: int = option(0, help="DataLoader worker processes (0 loads in the training process)", min=0)


@dataclass
class OptimConfig:
    """The optimizer and its hyperparameters."""

    name: str = option("sgd", help="optimizer", choices=("sgd", "adam", "adamw"))
    lr: float = option(0.01, help="base learning rate (a piecewise schedule's table overrides it)", min=0.0, min_exclusive=True)
    momentum: float = option(0.9, help="SGD momentum", min=0.0, max=1.0)
    weight_decay: float = option(5e-4, help="L2 weight decay", min=0.0)
    nesterov: bool = option(False, help="use Nesterov momentum (SGD only)")


@dataclass
class ScheduleConfig:
    """Learning-rate schedule over epochs. Only the fields of `type` apply."""

    type: str = option(
        "constant",
        help="LR schedule",
        choices=("constant", "piecewise", "plateau", "step", "cosine", "onecycle"),
    )
    lr_by_epoch: dict[int, float] = option(
        help="piecewise: epoch -> LR table such as {0 = 0.01, 8 = 0.001}; epochs are 0-based",
        factory=dict,
    )
    monitor: str = option(
        "val_loss",
        help="plateau: metric watched once per epoch",
        choices=("train_loss", "val_loss", "train_acc", "val_acc"),
    )
    mode: str = option("min", help="plateau: min for losses, max for accuracies", choices=("min", "max"))
    factor: float = option(0.1, help="plateau: LR multiplier on a plateau", min=0.0, max=1.0, min_exclusive=True)
    patience: int = option(2, help="plateau: epochs without improvement before the LR drops", min=0)
    threshold: float = option(1e-4, help="plateau: minimum change that counts as an improvement", min=0.0)
    threshold_mode: str = option("rel", help="plateau: threshold relative to the best value or absolute", choices=("rel", "abs"))
    cooldown: int = option(0, help="plateau: epochs to wait after a drop before watching again", min=0)
    min_lr: float = option(0.0, help="plateau and cosine: lower bound of the LR", min=0.0)
    step_size: int = option(10, help="step: epochs between drops", min=1)
    gamma: float = option(0.1, help="step: LR multiplier at each drop", min=0.0, max=1.0, min_exclusive=True)
    max_lr: float | None = option(None, help="onecycle: peak LR (default: optim.lr)", min=0.0, min_exclusive=True)
    pct_start: float = option(0.3, help="onecycle: fraction of training spent raising the LR", min=0.0, max=1.0)
    warmup_epochs: int = option(0, help="linear warmup length in epochs before the schedule starts", min=0)
    warmup_start_factor: float = option(0.1, help="warmup: fraction of the LR at the first step", min=0.0, max=1.0, min_exclusive=True)


@dataclass
class AugmentConfig:
    """Training-time augmentation, each applied with its own probability."""

    hflip: float = option(0.5, help="probability of a horizontal flip", min=0.0, max=1.0)
    vflip: float = option(0.0, help="probability of a vertical flip", min=0.0, max=1.0)
    jitter: float = option(0.0, help="probability of a random color jitter", min=0.0, max=1.0)
    jitter_strength: float = option(0.4, help="color jitter brightness, contrast and saturation amount", min=0.0, max=1.0)
    invert: float = option(0.0, help="probability of inverting the colors", min=0.0, max=1.0)
    crop_padding: int = option(0, help="random crop after padding each side by this many pixels (edge mode); 0 is off", min=0)
    normalize: str = option("imagenet", help="input normalization statistics", choices=("imagenet", "dataset", "none"))


@dataclass
class ExperimentConfig:
    """One fully resolved experiment: what the training worker runs."""

    name: str = option(help="experiment name; also the run folder name under runs/")
    model: str = option("resnet18", help="torchvision model name such as resnet18, resnet34 or resnet50")
    pretrained: str | None = option(None, help="local .pth file with weights to start from (nothing is downloaded)")
    # The max is far above any real run, so it rejects only typos such as extra zeros.
    epochs: int = option(4, help="number of training epochs", min=1, max=MAX_EPOCHS)
    seed: int = option(0, help="seed for the split, the weights and the augmentation", min=0)
    device: str = option("auto", help="auto, cpu, cuda or cuda:N", pattern=r"auto|cpu|cuda(:[0-9]+)?")
    amp: bool = option(True, help="automatic mixed precision on CUDA (bf16 where supported)")
    channels_last: bool = option(True, help="channels_last memory format on CUDA")
    compile: bool = option(False, help="torch.compile the model on CUDA")
    log_every: int = option(10, help="steps between loss reads from the device and step records", min=1)
    keep_checkpoints: int = option(2, help="last checkpoints kept besides the best one", min=1)
    data: DataConfig = option(help="dataset and batching", factory=DataConfig)
    optim: OptimConfig = option(help="optimizer", factory=OptimConfig)
    schedule: ScheduleConfig = option(help="learning-rate schedule", factory=ScheduleConfig)
    augment: AugmentConfig = option(help="augmentation", factory=AugmentConfig)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "augment": AugmentConfig,
}


def to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Convert a config to plain JSON-ready data; `lr_by_epoch` keys become strings."""
    data = dataclasses.asdict(config)
    data["schedule"]["lr_by_epoch"] = {str(k): v for k, v in sorted(config.schedule.lr_by_epoch.items())}
    return data


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Rebuild a config written by `to_dict` (for example a run's config.json).

    This trusts its input: it is for files birdtui wrote itself. User files go
    through `birdtui.config.load`, which validates every value.
    """
    sections = {name: cls(**data.get(name, {})) for name, cls in SECTIONS.items()}
    sections["schedule"].lr_by_epoch = {int(k): float(v) for k, v in sections["schedule"].lr_by_epoch.items()}
    top = {k: v for k, v in data.items() if k not in SECTIONS}
    return ExperimentConfig(**top, **sections)
