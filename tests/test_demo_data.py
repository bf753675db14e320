"""The demo dataset: layout, determinism, real JPEGs, the completion marker and the command."""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from birdtui import demo_data
from birdtui.demo_data import COMPLETE_MARKER, INCOMPLETE_MARKER, class_names, write_demo_dataset
from birdtui.errors import DataError

SMALL = dict(classes=3, train_per_class=4, test_count=5, size=24, seed=7)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    demo_data.register(parser.add_subparsers())
    args = parser.parse_args(["demo-data", *argv])
    return args.func(args)


def test_layout_matches_imagefolder(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **SMALL)

    names = class_names(3)
    assert sorted(p.name for p in (root / "train").iterdir()) == sorted(names)
    for name in names:
        assert sorted(p.name for p in (root / "train" / name).iterdir()) == ["0000.jpg", "0001.jpg", "0002.jpg", "0003.jpg"]
    assert [p.name for p in (root / "test").iterdir()] == ["0"]
    assert len(list((root / "test" / "0").iterdir())) == 5
    assert (root / COMPLETE_MARKER).is_file()
    assert not (root / INCOMPLETE_MARKER).exists()


def test_test_labels_name_every_test_image(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **SMALL)

    with open(root / "test_labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    assert [row["file"] for row in rows] == sorted(p.name for p in (root / "test" / "0").iterdir())
    assert {row["class"] for row in rows} <= set(class_names(3))


def test_class_names_are_readable_species() -> None:
    names = class_names(8)

    assert len(set(names)) == 8
    assert all(name.replace("_", "").isalpha() for name in names)
    assert "Scarlet_Tanager" in names


def test_class_names_stay_unique_past_list() -> None:
    names = class_names(len(demo_data.SPECIES) + 5)

    assert len(set(names)) == len(names)


def test_numbered_classes_use_integers(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **{**SMALL, "classes": 3}, numbered=True)

    assert sorted(p.name for p in (root / "train").iterdir()) == ["0", "1", "2"]


def test_same_seed_writes_same_bytes(tmp_path: Path) -> None:
    first = _all_files(write_demo_dataset(tmp_path / "a", **SMALL))
    second = _all_files(write_demo_dataset(tmp_path / "b", **SMALL))

    assert len(first) == 3 * 4 + 5 + 2
    assert first == second


def test_other_seed_writes_other_images(tmp_path: Path) -> None:
    first = _all_files(write_demo_dataset(tmp_path / "a", **SMALL))
    second = _all_files(write_demo_dataset(tmp_path / "b", **{**SMALL, "seed": 8}))

    image = str(Path("train") / class_names(3)[0] / "0000.jpg")
    assert first[image] != second[image]


def test_images_are_decodable_jpegs(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **SMALL)

    images = sorted(root.rglob("*.jpg"))
    assert len(images) == 3 * 4 + 5
    for path in images:
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert image.size == (24, 24)
            image.load()


def test_classes_differ_in_mean_colour(tmp_path: Path) -> None:
    # A loose check that the classes are learnable: their average colours differ.
    root = write_demo_dataset(tmp_path / "demo", classes=4, train_per_class=6, test_count=0, size=32, seed=0)

    means = []
    for name in class_names(4):
        pixels = [Image.open(path).convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)) for path in (root / "train" / name).iterdir()]
        means.append(tuple(sum(channel) / len(pixels) for channel in zip(*pixels)))

    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            assert max(abs(a - b) for a, b in zip(means[i], means[j])) > 3, (i, j, means)


def test_complete_folder_is_left_alone(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **SMALL)
    image = root / "train" / class_names(3)[0] / "0000.jpg"
    image.write_bytes(b"edited by the user")

    write_demo_dataset(root, **SMALL)

    assert image.read_bytes() == b"edited by the user"


def test_complete_folder_with_other_parameters_rejected(tmp_path: Path) -> None:
    root = write_demo_dataset(tmp_path / "demo", **SMALL)

    with pytest.raises(DataError) as raised:
        write_demo_dataset(root, **{**SMALL, "seed": 8})

    assert "other parameters (--classes 3 --train-per-class 4 --test 5 --size 24 --seed 7)" in str(raised.value)


def test_interrupted_run_is_redone(tmp_path: Path) -> None:
    expected = _all_files(write_demo_dataset(tmp_path / "reference", **SMALL))
    root = write_demo_dataset(tmp_path / "demo", **SMALL)

    # What a killed run leaves: the in-progress marker, no completion marker, missing and stray files.
    (root / COMPLETE_MARKER).unlink()
    (root / INCOMPLETE_MARKER).write_text("demo-data is writing this folder\n", encoding="utf-8")
    for path in list((root / "test" / "0").iterdir())[:2]:
        path.unlink()
    (root / "train" / "Stray_Species").mkdir()
    (root / "train" / "Stray_Species" / "0000.jpg").write_bytes(b"half a jpeg")

    write_demo_dataset(root, **SMALL)

    assert _all_files(root) == expected


def test_killed_command_is_redone(tmp_path: Path) -> None:
    params = dict(classes=2, train_per_class=100, test_count=0, size=128, seed=3)
    root = tmp_path / "demo"
    command = [sys.executable, "-m", "birdtui", "demo-data", str(root), "--classes", "2", "--train-per-class", "100"]
    command += ["--test", "0", "--size", "128", "--seed", "3"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it once the first images exist, well before the 200 images are done.
        deadline = time.monotonic() + 60
        while not any((root / "train").rglob("*.jpg")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert not (root / COMPLETE_MARKER).exists(), "the command finished before the test could kill it"
    assert (root / INCOMPLETE_MARKER).exists()

    write_demo_dataset(root, **params)

    assert _all_files(root) == _all_files(write_demo_dataset(tmp_path / "reference", **params))


def test_unrelated_folder_is_not_touched(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "train" / "Robin").mkdir(parents=True)
    (root / "train" / "Robin" / "mine.jpg").write_bytes(b"precious")

    with pytest.raises(DataError, match="not empty"):
        write_demo_dataset(root, **SMALL)

    assert (root / "train" / "Robin" / "mine.jpg").read_bytes() == b"precious"
    assert not (root / COMPLETE_MARKER).exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"classes": 1}, "at least 2 classes"),
        ({"train_per_class": 0}, "at least 1 training image"),
        ({"test_count": -1}, "0 or more"),
        ({"size": 8}, "at least 16 px"),
        ({"seed": -1}, "seed must be 0 or more"),
    ],
)
def test_invalid_parameters_rejected(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(DataError, match=message) as raised:
        write_demo_dataset(tmp_path / "demo", **{**SMALL, **overrides})

    cause, fix = str(raised.value).split("\n")
    assert "fix:" not in cause
    assert fix.startswith("  fix: pass --")

    assert not (tmp_path / "demo").exists()


def test_command_writes_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo"

    code = _run_command(str(root), "--classes", "2", "--train-per-class", "3", "--test", "2", "--size", "16", "--seed", "1")

    assert code == 0
    assert len(list((root / "train").rglob("*.jpg"))) == 6
    assert len(list((root / "test").rglob("*.jpg"))) == 2
    output = capsys.readouterr().out
    assert "written" in output
    assert str(root / "train") in output


def test_command_reports_complete_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo"
    args = (str(root), "--classes", "2", "--train-per-class", "2", "--test", "0", "--size", "16")
    _run_command(*args)
    capsys.readouterr()

    assert _run_command(*args) == 0
    assert "already complete" in capsys.readouterr().out


def test_cli_error_has_no_traceback(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    (root / "mine.jpg").write_bytes(b"precious")

    result = subprocess.run(
        [sys.executable, "-m", "birdtui", "demo-data", str(root), "--classes", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr.startswith(f"birdtui: {root} is not empty")
    assert "Traceback" not in result.stderr


def test_file_path_rejected(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder", encoding="utf-8")

    with pytest.raises(DataError, match="is a file, not a folder") as raised:
        write_demo_dataset(afile, **SMALL)

    assert "\n  fix: pass a new or empty folder" in str(raised.value)
    assert afile.read_text(encoding="utf-8") == "not a folder"


def test_path_below_file_rejected(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder", encoding="utf-8")

    with pytest.raises(DataError, match=f"is inside {afile}, which is a file"):
        write_demo_dataset(afile / "demo", **SMALL)


def test_unwritable_folder_rejected(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user can write to read-only folders (root)")
        with pytest.raises(DataError, match="cannot write the demo dataset") as raised:
            write_demo_dataset(locked / "demo", **SMALL)
    finally:
        locked.chmod(0o700)

    assert "\n  fix: check the folder's permissions" in str(raised.value)


def test_cli_file_path_has_fix_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.touch()

    result = subprocess.run([sys.executable, "-m", "birdtui", "demo-data", str(afile)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"birdtui: {afile} is a file, not a folder", "  fix: pass a new or empty folder to demo-data"]
