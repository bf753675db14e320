"""Model, pretrained weights, optimizer and device choice."""

from __future__ import annotations

import pytest
import torch
import torchvision

from birdtui.config import OptimConfig
from birdtui.errors import CheckpointError, ConfigError
from birdtui.metrics import read_records
from birdtui.train.device import choose_precision, resolve_device, visible_cuda_index
from birdtui.train.model import build_model, build_optimizer, load_pretrained
from birdtui.train.signals import StopFlag
from birdtui.train.worker import run_worker


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_model_head_sized_to_classes(name):
    model = build_model(name, 7).eval()

    assert model.fc.out_features == 7
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 7)


def test_model_unknown_name_rejected():
    with pytest.raises(ConfigError, match="unknown model 'resnet19'") as caught:
        build_model("resnet19", 3)
    assert "resnet18" in str(caught.value)


def test_model_pretrained_skips_other_head(tmp_path):
    source = torchvision.models.resnet18(weights=None, num_classes=1000)
    path = tmp_path / "imagenet.pth"
    torch.save(source.state_dict(), path)
    model = build_model("resnet18", 3)

    skipped = load_pretrained(model, str(path))

    assert sorted(skipped) == ["fc.bias", "fc.weight"]
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_mean, source.layer4[1].bn2.running_mean)
    assert model.fc.out_features == 3


def test_model_pretrained_accepts_checkpoint_and_prefixes(tmp_path):
    source = build_model("resnet18", 3)
    compiled_keys = {f"_orig_mod.{key}": value for key, value in source.state_dict().items()}
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": compiled_keys, "epoch": 4}, path)
    model = build_model("resnet18", 3)

    assert load_pretrained(model, str(path)) == []
    assert torch.equal(model.fc.weight, source.fc.weight)


def test_model_pretrained_errors(tmp_path):
    model = build_model("resnet18", 3)
    other_architecture = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), other_architecture)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 64)

    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(model, str(tmp_path / "missing.pth"))
    with pytest.raises(CheckpointError, match="do not fit the model"):
        load_pretrained(model, str(other_architecture))
    with pytest.raises(CheckpointError, match="cannot read"):
        load_pretrained(model, str(garbage))


def test_model_optimizers():
    model = build_model("resnet18", 3)

    sgd = build_optimizer(model, OptimConfig(name="sgd", lr=0.1, momentum=0.8, weight_decay=1e-4, nesterov=True))
    adam = build_optimizer(model, OptimConfig(name="adam", lr=0.001, weight_decay=0.0))
    adamw = build_optimizer(model, OptimConfig(name="adamw", lr=0.002, weight_decay=0.05))

    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["nesterov"] is True
    assert (sgd.defaults["lr"], sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (0.1, 0.8, 1e-4)
    assert type(adam) is torch.optim.Adam
    assert type(adamw) is torch.optim.AdamW
    assert adamw.defaults["weight_decay"] == 0.05
    with pytest.raises(ConfigError, match="Nesterov"):
        build_optimizer(model, OptimConfig(name="sgd", momentum=0.0, nesterov=True))


def test_model_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected_auto = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected_auto
    with pytest.raises(ConfigError, match="invalid device 'gpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_model_cpu_precision_is_fp32():
    precision = choose_precision(torch.device("cpu"), amp=True, channels_last=True)

    assert precision.name == "fp32"
    assert precision.channels_last is False
    assert precision.grad_scaler().is_enabled() is False


def test_model_pretrained_in_worker_run(make_run, tmp_path, capsys):
    weights = tmp_path / "imagenet.pth"
    torch.save(torchvision.models.resnet18(weights=None, num_classes=1000).state_dict(), weights)
    with_weights = make_run("with-weights", pretrained=str(weights))
    missing_weights = make_run("missing-weights", pretrained=str(tmp_path / "missing.pth"))

    assert run_worker(with_weights, stop=StopFlag()) == 0
    assert run_worker(missing_weights, stop=StopFlag()) == 1

    assert read_records(with_weights / "metrics.jsonl")[-1]["status"] == "finished"
    end = read_records(missing_weights / "metrics.jsonl")[-1]
    assert end["status"] == "failed"
    assert "pretrained weights file not found" in end["error"]
    assert "Traceback" not in capsys.readouterr().err


def test_visible_cuda_index_under_supervisor():
    # Run directly: the config's index is used as written.
    assert visible_cuda_index("cuda:1", None) == "1"
    assert visible_cuda_index("cuda", None) == "0"

    # Placed on GPU 1 by the supervisor, which makes it the only visible one.
    assert visible_cuda_index("cuda:1", "1") == "0"
    assert visible_cuda_index("cuda", "1") == "0"

    with pytest.raises(ConfigError) as error:
        visible_cuda_index("cuda:2", "1")
    assert "placed this run on GPU 1" in str(error.value)
    assert "--gpus 2" in str(error.value)
