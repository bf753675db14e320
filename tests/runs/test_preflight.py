"""Launch-time checks: config mistakes fail at launch, naming the file, experiment and key."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from birdtui.config import load_experiments
from birdtui.errors import ConfigError
from birdtui.runs import launch
from birdtui.runs.preflight import check_launchable

EXPERIMENTS = textwrap.dedent(
    """
    [defaults]
    epochs = 2

    [defaults.data]
    root = "{root}"

    [[experiments]]
    name = "broken"
    {line}
    """
)


def write_experiments(tmp_path, line="", root="data/demo-birds/train", name="experiments.toml"):
    path = tmp_path / name
    path.write_text(EXPERIMENTS.format(root=root, line=line))
    return path


def one_image_per_class(tmp_path, classes):
    """Copy one real JPEG into each named class folder under tmp_path/custom."""
    source = next((tmp_path / "data" / "demo-birds" / "train").rglob("*.jpg"))
    root = tmp_path / "custom"
    for name in classes:
        (root / name).mkdir(parents=True)
        shutil.copy(source, root / name / "bird.jpg")
    return root


@pytest.mark.parametrize(
    "line, key, message, fix",
    [
        ('model = "resnet19"', "model", 'unknown model "resnet19"', 'did you mean "resnet18"?'),
        ('pretrained = "weights/none.pth"', "pretrained", "weights file not found", "set pretrained to an existing .pth file"),
        ('data.root = "data/nowhere"', "data.root", "folder not found", "run `birdtui demo-data DIR`"),
        ('data.val_root = "data/nowhere"', "data.val_root", "folder not found", "run `birdtui demo-data DIR`"),
    ],
)
def test_cli_launch_rejects_bad_config(runs, tmp_path, line, key, message, fix):
    config = write_experiments(tmp_path, line)

    result = runs.cli("launch", "broken", "--config", str(config))

    assert result.returncode == 2
    assert f'{config}: experiment "broken", {key}: {message}' in result.stderr
    assert f"fix: {fix}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (runs.root / "broken").exists()


def test_launch_rejects_empty_class_folder(runs, tmp_path):
    root = one_image_per_class(tmp_path, ["crow", "dove"])
    (root / "empty").mkdir()
    config = load_experiments(write_experiments(tmp_path, root=str(root))).by_name("broken")

    with pytest.raises(ConfigError, match=r'experiment "broken", data.root: class folder .*empty contains no images') as caught:
        launch(runs.store, config)

    assert caught.value.key == "data.root"
    assert caught.value.path == str(tmp_path / "experiments.toml")
    assert not (runs.root / "broken").exists()


def test_launch_rejects_one_class(runs, tmp_path):
    root = one_image_per_class(tmp_path, ["crow"])
    config = load_experiments(write_experiments(tmp_path, root=str(root))).by_name("broken")

    with pytest.raises(ConfigError, match="data.root: .*custom has one class folder"):
        launch(runs.store, config, experiments_file=tmp_path / "named.toml")


def test_launch_accepts_two_classes(runs, tmp_path):
    root = one_image_per_class(tmp_path, ["crow", "dove"])
    runs.plan(broken={"seconds": 0.2})
    config = load_experiments(write_experiments(tmp_path, root=str(root))).by_name("broken")

    info = launch(runs.store, config)

    assert info.run_id == "broken"
    runs.wait_status("broken", "finished")


def test_cli_launch_fix_names_real_file(runs, tmp_path):
    config = write_experiments(tmp_path, 'data.root = "data/nowhere"', name="bad.toml")

    result = runs.cli("launch", "broken", "--config", str(config))

    assert result.returncode == 2
    assert "set data.root in bad.toml to a folder" in result.stderr
    assert "experiments.toml" not in result.stderr


def pretrained_config(tmp_path, weights):
    root = one_image_per_class(tmp_path, ["crow", "dove"])
    path = write_experiments(tmp_path, f'pretrained = "{weights}"', root=str(root))
    return load_experiments(path).by_name("broken"), path


@pytest.mark.parametrize(
    "content, reason",
    [
        ("text", "torch cannot load it"),
        ("tensor", "it contains a Tensor, not a state dict"),
    ],
)
def test_launch_rejects_invalid_pretrained(runs, tmp_path, content, reason):
    import torch

    weights = tmp_path / "junk.pth"
    if content == "text":
        weights.write_text("garbage\n")
    else:
        torch.save(torch.zeros(3), weights)
    config, path = pretrained_config(tmp_path, weights)

    with pytest.raises(ConfigError, match=f'experiment "broken", pretrained: invalid weights file .*junk.pth: {reason}') as caught:
        launch(runs.store, config, experiments_file=path)

    assert caught.value.key == "pretrained"
    assert caught.value.path == str(path)
    assert "set pretrained to a state dict saved with torch.save" in str(caught.value)
    assert not (runs.root / "broken").exists()


def test_preflight_accepts_resnet18_weights(runs, tmp_path):
    import torch
    import torchvision

    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    config, path = pretrained_config(tmp_path, weights)

    check_launchable(config, path)
