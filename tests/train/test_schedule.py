"""LR schedules: the LR of each epoch and step, reported changes, and exact resume."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from birdtui.config import ExperimentConfig
from birdtui.errors import CheckpointError, ConfigError
from birdtui.train.schedule import LRChange, LRController, parse_lr_table

STEPS = 4


@dataclass
class Trace:
    """What a simulated training loop saw: the LR of every step and every reported change."""

    step_lrs: list[list[float]] = field(default_factory=list)
    changes: list[tuple[int, str, LRChange]] = field(default_factory=list)

    @property
    def epoch_lrs(self) -> list[float]:
        return [lrs[0] for lrs in self.step_lrs]


def _config(schedule: dict[str, Any], *, lr: float = 0.1, epochs: int = 6) -> ExperimentConfig:
    config = ExperimentConfig(name="schedule-test", epochs=epochs)
    config.optim.lr = lr
    for key, value in schedule.items():
        setattr(config.schedule, key, value)
    return config


def _optimizer() -> torch.optim.Optimizer:
    weights = torch.nn.Parameter(torch.zeros(2))
    bias = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{"params": [weights]}, {"params": [bias], "weight_decay": 0.0}], lr=1.0)


def _controller(schedule: dict[str, Any], **config: Any) -> LRController:
    return LRController(_optimizer(), _config(schedule, **config), STEPS)


def _train(controller: LRController, epochs: range, metrics: list[dict[str, float]] | None = None) -> Trace:
    """Drive the controller the way the training worker does, without a model."""
    trace = Trace()
    for epoch in epochs:
        trace.changes += [(epoch, "begin", change) for change in controller.begin_epoch(epoch)]
        lrs = []
        for _ in range(STEPS):
            lrs.append(controller.lr)
            assert all(group["lr"] == controller.lr for group in controller.optimizer.param_groups)
            trace.changes += [(epoch, "step", change) for change in controller.after_step()]
        trace.step_lrs.append(lrs)
        epoch_metrics = metrics[epoch] if metrics else {"train_loss": 1.0, "val_loss": 1.0}
        trace.changes += [(epoch, "end", change) for change in controller.end_epoch(epoch, epoch_metrics)]
    return trace


def _losses(values: list[float], key: str = "val_loss") -> list[dict[str, float]]:
    return [{"train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5, key: value} for value in values]


def test_constant_keeps_lr() -> None:
    trace = _train(_controller({"type": "constant"}), range(6))

    assert trace.step_lrs == [[0.1] * STEPS] * 6
    assert trace.changes == []


def test_init_sets_epoch_zero_lr() -> None:
    controller = _controller({"type": "piecewise", "lr_by_epoch": {0: 0.05, 2: 0.01}})

    assert controller.lr == 0.05
    assert [group["lr"] for group in controller.optimizer.param_groups] == [0.05, 0.05]


def test_piecewise_changes_at_boundaries() -> None:
    controller = _controller({"type": "piecewise", "lr_by_epoch": {0: 0.1, 3: 0.01, 5: 0.001}}, epochs=7)

    trace = _train(controller, range(7))

    assert trace.epoch_lrs == [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert all(len(set(lrs)) == 1 for lrs in trace.step_lrs)
    assert trace.changes == [
        (3, "begin", LRChange(0.1, 0.01, "schedule")),
        (5, "begin", LRChange(0.01, 0.001, "schedule")),
    ]


def test_piecewise_unsorted_string_keys() -> None:
    table = {"5": 0.001, 0: 0.1, " 3": 0.01}
    controller = _controller({"type": "piecewise", "lr_by_epoch": table}, epochs=7)

    trace = _train(controller, range(7))

    assert trace.epoch_lrs == [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert controller.planned_drops() == [(3, 0.01), (5, 0.001)]


def test_piecewise_before_first_key_uses_optim_lr() -> None:
    controller = _controller({"type": "piecewise", "lr_by_epoch": {2: 0.02}}, lr=0.2, epochs=4)

    assert _train(controller, range(4)).epoch_lrs == [0.2, 0.2, 0.02, 0.02]


def test_piecewise_planned_drops_within_epochs() -> None:
    controller = _controller({"type": "piecewise", "lr_by_epoch": {0: 0.1, 2: 0.1, 4: 0.01, 9: 0.001}}, epochs=6)

    # Epoch 2 repeats the LR and epoch 9 is past the last epoch, so neither is a drop.
    assert controller.planned_drops() == [(4, 0.01)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "at least one entry"),
        ({"x": 0.1}, "invalid epoch 'x'"),
        ({-1: 0.1}, "invalid epoch -1"),
        ({"-1": 0.1}, "invalid epoch '-1'"),
        ({1.5: 0.1}, "invalid epoch 1.5"),
        ({True: 0.1}, "invalid epoch True"),
        ({0: 0.0}, "invalid learning rate 0.0"),
        ({0: "fast"}, "invalid learning rate 'fast'"),
        ({0: math.nan}, "invalid learning rate nan"),
        ({3: 0.1, "3": 0.01}, "epoch 3 appears twice"),
    ],
)
def test_invalid_lr_table_rejected(table: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_lr_table(table)

    assert message in str(raised.value)
    assert raised.value.key == "schedule.lr_by_epoch"


def test_step_multiplies_every_step_size() -> None:
    controller = _controller({"type": "step", "step_size": 2, "gamma": 0.5}, lr=0.08, epochs=6)

    trace = _train(controller, range(6))

    assert trace.epoch_lrs == [0.08, 0.08, 0.04, 0.04, 0.02, 0.02]
    assert controller.planned_drops() == [(2, 0.04), (4, 0.02)]
    assert [change.new for _, _, change in trace.changes] == [0.04, 0.02]


def test_cosine_matches_torch_per_epoch() -> None:
    epochs = 8
    controller = _controller({"type": "cosine", "min_lr": 0.001}, lr=0.1, epochs=epochs)
    reference_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(reference_optimizer, T_max=epochs, eta_min=0.001)
    expected = []
    for _ in range(epochs):
        expected.append(reference_optimizer.param_groups[0]["lr"])
        reference_optimizer.step()
        reference.step()

    trace = _train(controller, range(epochs))

    assert trace.epoch_lrs == pytest.approx(expected, rel=1e-12)
    assert all(len(set(lrs)) == 1 for lrs in trace.step_lrs)
    assert len(trace.changes) == epochs - 1
    assert controller.planned_drops() == []


def test_cosine_min_lr_above_lr_rejected() -> None:
    with pytest.raises(ConfigError, match="min_lr"):
        _controller({"type": "cosine", "min_lr": 0.5}, lr=0.1)


def _plateau(**settings: Any) -> LRController:
    return _controller({"type": "plateau", "monitor": "val_loss", "mode": "min", "factor": 0.5, **settings}, lr=0.1, epochs=12)


def test_plateau_drops_after_patience() -> None:
    trace = _train(_plateau(patience=1), range(5), _losses([1.0, 0.9, 0.95, 0.97, 0.5]))

    # Epochs 2 and 3 do not improve on 0.9; the second bad epoch exceeds patience 1.
    assert trace.epoch_lrs == [0.1, 0.1, 0.1, 0.1, 0.05]
    assert trace.changes == [(3, "end", LRChange(0.1, 0.05, "plateau"))]


def test_plateau_patience_zero_drops_at_once() -> None:
    trace = _train(_plateau(patience=0), range(3), _losses([1.0, 1.0, 0.5]))

    assert trace.epoch_lrs == [0.1, 0.1, 0.05]


def test_plateau_relative_threshold() -> None:
    # 0.95 is not below 1.0 * (1 - 0.1), so it is no improvement.
    trace = _train(_plateau(patience=0, threshold=0.1), range(3), _losses([1.0, 0.95, 0.8]))

    assert trace.epoch_lrs == [0.1, 0.1, 0.05]


def test_plateau_absolute_threshold() -> None:
    # 0.95 beats 1.0 - 0.01, but 0.945 does not beat 0.95 - 0.01.
    trace = _train(_plateau(patience=0, threshold=0.01, threshold_mode="abs"), range(4), _losses([1.0, 0.95, 0.945, 0.5]))

    assert trace.epoch_lrs == [0.1, 0.1, 0.1, 0.05]


def test_plateau_cooldown_waits() -> None:
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    trace = _train(_plateau(patience=0, cooldown=2), range(7), _losses(values))

    # A drop after epoch 1, two cooldown epochs (2 and 3), then a drop after epoch 4.
    assert [epoch for epoch, _, _ in trace.changes] == [1, 4]
    assert trace.epoch_lrs == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]


def test_plateau_accuracy_mode_max() -> None:
    controller = _controller(
        {"type": "plateau", "monitor": "val_acc", "mode": "max", "factor": 0.1, "patience": 1}, lr=0.1, epochs=6
    )

    trace = _train(controller, range(6), _losses([0.2, 0.4, 0.6, 0.6, 0.55, 0.7], key="val_acc"))

    assert trace.changes == [(4, "end", LRChange(0.1, pytest.approx(0.01), "plateau"))]


def test_plateau_min_lr_floor() -> None:
    trace = _train(_plateau(patience=0, min_lr=0.04), range(5), _losses([1.0] * 5))

    assert trace.epoch_lrs == [0.1, 0.1, 0.05, 0.04, 0.04]


def test_plateau_counts_nan_as_no_improvement() -> None:
    trace = _train(_plateau(patience=0), range(3), _losses([1.0, math.nan, 0.5]))

    assert trace.epoch_lrs == [0.1, 0.1, 0.05]


def test_plateau_reads_monitored_metric_only() -> None:
    controller = _controller({"type": "plateau", "monitor": "train_loss", "factor": 0.5, "patience": 0}, lr=0.1, epochs=3)
    metrics = [{"train_loss": loss, "val_loss": 9.0 - epoch} for epoch, loss in enumerate([1.0, 1.0, 1.0])]

    trace = _train(controller, range(3), metrics)

    assert trace.epoch_lrs == [0.1, 0.1, 0.05]


def test_plateau_missing_metric_names_monitor() -> None:
    controller = _plateau()

    with pytest.raises(ConfigError) as raised:
        controller.end_epoch(0, {"train_loss": 1.0, "val_loss": None})

    assert raised.value.key == "schedule.monitor"
    assert "val_loss" in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [
        {"mode": "min", "patience": 1, "threshold": 1e-4, "threshold_mode": "rel", "cooldown": 0},
        {"mode": "min", "patience": 0, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 1},
        {"mode": "max", "patience": 2, "threshold": 0.01, "threshold_mode": "rel", "cooldown": 2, "min_lr": 0.002},
    ],
)
def test_plateau_matches_torch(settings: dict[str, Any]) -> None:
    generator = torch.Generator().manual_seed(0)
    values = (torch.rand(30, generator=generator) + torch.linspace(1.0, 0.0, 30)).tolist()
    controller = _controller({"type": "plateau", "monitor": "val_loss", "factor": 0.5, **settings}, lr=0.1, epochs=30)
    reference_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        reference_optimizer,
        mode=settings["mode"],
        factor=0.5,
        patience=settings["patience"],
        threshold=settings["threshold"],
        threshold_mode=settings["threshold_mode"],
        cooldown=settings["cooldown"],
        min_lr=settings.get("min_lr", 0.0),
    )
    expected = []
    for value in values:
        expected.append(reference_optimizer.param_groups[0]["lr"])
        reference.step(value)

    trace = _train(controller, range(30), _losses(values))

    assert trace.epoch_lrs == pytest.approx(expected, rel=1e-12)
    assert len(trace.changes) >= 2


def test_onecycle_matches_torch_per_step() -> None:
    epochs = 5
    controller = _controller({"type": "onecycle", "max_lr": 0.4, "pct_start": 0.3}, lr=0.1, epochs=epochs)
    reference_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        reference_optimizer, max_lr=0.4, total_steps=epochs * STEPS, pct_start=0.3, cycle_momentum=False
    )
    expected = []
    for _ in range(epochs * STEPS):
        expected.append(reference_optimizer.param_groups[0]["lr"])
        reference_optimizer.step()
        reference.step()

    trace = _train(controller, range(epochs))

    assert [lr for lrs in trace.step_lrs for lr in lrs] == pytest.approx(expected, rel=1e-9)
    assert max(expected) == pytest.approx(0.4)
    assert trace.changes == []
    assert controller.planned_drops() == []


def test_onecycle_defaults_to_optim_lr() -> None:
    controller = _controller({"type": "onecycle"}, lr=0.5, epochs=2)

    assert controller.lr == pytest.approx(0.5 / 25)


def test_onecycle_with_warmup_rejected() -> None:
    with pytest.raises(ConfigError) as raised:
        _controller({"type": "onecycle", "warmup_epochs": 1})

    assert raised.value.key == "schedule.warmup_epochs"


def test_warmup_rises_linearly_per_step() -> None:
    controller = _controller({"type": "constant", "warmup_epochs": 2, "warmup_start_factor": 0.2}, lr=0.1, epochs=3)

    trace = _train(controller, range(3))

    warmup_steps = 2 * STEPS
    expected = [0.1 * (0.2 + 0.8 * step / warmup_steps) for step in range(warmup_steps)] + [0.1] * STEPS
    assert [lr for lrs in trace.step_lrs for lr in lrs] == pytest.approx(expected, rel=1e-12)
    assert trace.changes == [(1, "step", LRChange(pytest.approx(0.02), 0.1, "warmup"))]


def test_warmup_then_piecewise() -> None:
    controller = _controller(
        {"type": "piecewise", "lr_by_epoch": {0: 0.1, 2: 0.01}, "warmup_epochs": 1, "warmup_start_factor": 0.5}, epochs=3
    )

    trace = _train(controller, range(3))

    assert trace.step_lrs[0] == pytest.approx([0.05, 0.0625, 0.075, 0.0875])
    assert trace.step_lrs[1:] == [[0.1] * STEPS, [0.01] * STEPS]
    assert [(epoch, change.reason) for epoch, _, change in trace.changes] == [(0, "warmup"), (2, "schedule")]
    assert controller.planned_drops() == [(2, 0.01)]


def test_warmup_then_plateau_waits() -> None:
    controller = _controller(
        {"type": "plateau", "patience": 0, "factor": 0.5, "warmup_epochs": 2}, lr=0.1, epochs=4
    )

    # Losses that never improve: the plateau schedule ignores warmup epochs 0 and 1.
    trace = _train(controller, range(4), _losses([1.0, 1.0, 1.0, 1.0]))

    assert [change.reason for _, _, change in trace.changes] == ["warmup", "plateau"]
    assert trace.changes[1][0] == 3


def test_warmup_then_cosine_starts_after_warmup() -> None:
    controller = _controller({"type": "cosine", "warmup_epochs": 2}, lr=0.1, epochs=6)

    trace = _train(controller, range(6))

    assert trace.step_lrs[2] == [0.1] * STEPS
    assert trace.epoch_lrs[3] == pytest.approx(0.1 * (1 + math.cos(math.pi / 4)) / 2)


RESUME_CASES = {
    "piecewise": ({"type": "piecewise", "lr_by_epoch": {0: 0.1, 2: 0.03, 4: 0.01}}, None),
    "step": ({"type": "step", "step_size": 2, "gamma": 0.3}, None),
    "cosine": ({"type": "cosine", "min_lr": 0.001}, None),
    "onecycle": ({"type": "onecycle", "max_lr": 0.3}, None),
    "warmup": ({"type": "piecewise", "lr_by_epoch": {0: 0.1, 4: 0.01}, "warmup_epochs": 3}, None),
    "plateau": (
        {"type": "plateau", "patience": 1, "cooldown": 1, "factor": 0.5},
        _losses([1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85]),
    ),
}


@pytest.mark.parametrize("stop_after", [0, 1, 2, 4])
@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_state_round_trip_continues_identically(case: str, stop_after: int) -> None:
    schedule, metrics = RESUME_CASES[case]
    epochs = 8
    uninterrupted = _train(_controller(schedule, epochs=epochs), range(epochs), metrics)

    first_part = _controller(schedule, epochs=epochs)
    before = _train(first_part, range(stop_after + 1), metrics)
    state = json.loads(json.dumps(first_part.state_dict()))
    resumed = _controller(schedule, epochs=epochs)
    resumed.load_state_dict(state)
    after = _train(resumed, range(stop_after + 1, epochs), metrics)

    assert before.step_lrs + after.step_lrs == uninterrupted.step_lrs
    assert before.changes + after.changes == uninterrupted.changes


def test_load_state_of_other_type_rejected() -> None:
    state = _controller({"type": "step"}).state_dict()

    with pytest.raises(CheckpointError, match="does not match"):
        _controller({"type": "cosine"}).load_state_dict(state)


def test_load_state_sets_optimizer_lr() -> None:
    source = _controller({"type": "step", "step_size": 1, "gamma": 0.5})
    _train(source, range(3))
    target = _controller({"type": "step", "step_size": 1, "gamma": 0.5})

    target.load_state_dict(source.state_dict())

    assert target.lr == 0.025
    assert [group["lr"] for group in target.optimizer.param_groups] == [0.025, 0.025]
