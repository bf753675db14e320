"""`birdtui export` on run folders written with the real state and metrics writers."""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from birdtui.config import load_experiments, to_dict
from birdtui.errors import BirdtuiError, ConfigError, RunError
from birdtui.export import command as export_command
from birdtui.export.rows import collect_rows
from birdtui.metrics import MetricsWriter
from birdtui.runs.state import RunState, write_json_atomic, write_state

EXPERIMENTS = """
[defaults]
epochs = 3
[defaults.schedule]
type = "piecewise"
lr_by_epoch = { 0 = 0.1, 2 = 0.01 }

[[experiments]]
name = "slow"
optim.lr = 0.001

[[experiments]]
name = "fast"
optim.lr = 0.1
"""


def parse_markdown(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in text.strip().splitlines()]


def write_run(runs_dir: Path, config, *, status: str, epochs: list[tuple[float, float, float]], run_id: str | None = None) -> Path:
    """Write a run folder as launcher and worker would: config.json, state.json, metrics.jsonl."""
    run_id = run_id or config.name
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "config.json", to_dict(config))

    with MetricsWriter(run_dir / "metrics.jsonl") as writer:
        writer.write("start", run=run_id, epochs=config.epochs, steps_per_epoch=2, lr=0.1, resumed_from=None)
        for epoch, (train_loss, val_loss, val_acc) in enumerate(epochs):
            for step in (2 * epoch + 1, 2 * epoch + 2):
                writer.write("step", epoch=epoch, step=step, epoch_progress=epoch + (step - 2 * epoch) / 2, loss=train_loss + 0.1, lr=0.1)
            writer.write(
                "epoch", epoch=epoch, step=2 * epoch + 2, train_loss=train_loss, train_acc=0.5, val_loss=val_loss,
                val_acc=val_acc, val_top5=1.0, lr=0.1, seconds=1.0, images_per_sec=100.0,
            )
            if epoch == 0:
                writer.write("lr", epoch=1, step=2, old=0.1, new=0.01, reason="schedule")
        if status == "finished":
            writer.write("end", status="finished", epoch=len(epochs), step=2 * len(epochs), error=None, best_val_acc=max(e[2] for e in epochs))

    experiment, _, attempt = run_id.partition("@")
    now = time.time()
    state = RunState(run=run_id, experiment=experiment, attempt=int(attempt or 1), status=status, created=now - 60, started=now - 50, ended=now if status == "finished" else None)
    write_state(run_dir, state)
    return run_dir


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An experiments file with a finished run of each experiment and a second, failed attempt."""
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS, encoding="utf-8")
    loaded = load_experiments(tmp_path / "experiments.toml")
    runs = tmp_path / "runs"
    write_run(runs, loaded.by_name("slow"), status="finished", epochs=[(2.0, 2.1, 0.3), (1.5, 1.6, 0.4), (1.2345678, 1.3, 0.45)])
    write_run(runs, loaded.by_name("fast"), status="finished", epochs=[(1.0, 1.1, 0.6), (0.5, 0.7, 0.85), (0.4, 0.75, 0.8)])
    write_run(runs, loaded.by_name("fast"), status="failed", epochs=[(1.1, 1.2, 0.55)], run_id="fast@2")
    return tmp_path


def run_export(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="birdtui")
    export_command.register(parser.add_subparsers())
    args = parser.parse_args(["export", *argv])
    return args.func(args)


def test_export_to_stdout(project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)

    assert run_export() == 0

    table = parse_markdown(capsys.readouterr().out)
    assert table[0] == ["run", "status", "optim.lr", "train loss", "val loss", "best val acc"]
    # Rows follow the experiments file's order, then attempts.
    assert table[2] == ["slow", "finished", "1e-3", "1.235", "1.3", "45.0%"]
    assert table[3] == ["fast", "finished", "1e-1", "0.4", "0.75", "85.0%"]
    assert table[4] == ["fast@2", "failed, 1/3 epochs done", "1e-1", "1.1", "1.2", "55.0%"]
    assert len(table) == 5


def test_export_chosen_runs_to_files(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, table_csv = project / "out" / "results.md", project / "out" / "results.csv"

    code = run_export("--config", str(project / "experiments.toml"), "--out", str(out), "--csv", str(table_csv), "fast", "slow")

    assert code == 0
    assert "wrote" in capsys.readouterr().out
    table = parse_markdown(out.read_text(encoding="utf-8"))
    assert [line[0] for line in table[2:]] == ["slow", "fast"]
    assert "status" not in table[0]
    rows = list(csv.DictReader(table_csv.open(encoding="utf-8")))
    assert [row["run"] for row in rows] == ["slow", "fast"]
    assert rows[0]["train loss"] == "1.2345678"
    assert rows[1]["optim.lr"] == "0.1"
    assert not list(out.parent.glob(".*"))


def test_export_all_columns(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_export("--runs", str(project / "runs"), "--all-columns", "fast") == 0

    table = parse_markdown(capsys.readouterr().out)
    values = dict(zip(table[0], table[2]))
    assert values["epochs done"] == "3"
    assert values["best train loss"] == "0.4"
    assert values["last LR"] == "1e-1"
    assert values["speed"] == "100 img/s"
    # Worker time between the first and the last record: this log was written in well under a minute.
    assert values["time"].endswith("s")
    assert values["schedule"] == "{0: 0.1, 2: 0.01}"
    assert values["model"] == "resnet18"


def test_unknown_run_suggests(project: Path) -> None:
    with pytest.raises(RunError) as caught:
        run_export("--runs", str(project / "runs"), "fsat")

    assert "fsat" in str(caught.value)


def test_no_runs_yet(tmp_path: Path) -> None:
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS, encoding="utf-8")

    with pytest.raises(RunError) as caught:
        run_export("--config", str(tmp_path / "experiments.toml"))

    assert "no runs in" in str(caught.value)
    assert "birdtui launch" in str(caught.value)


def test_bad_config_reported(project: Path) -> None:
    (project / "experiments.toml").write_text('[[experiments]]\nname = "a"\nepohcs = 2\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        run_export("--config", str(project / "experiments.toml"), "--runs", str(project / "runs"))

    assert caught.value.line == 3


def test_unwritable_output(project: Path) -> None:
    # A file where a folder is needed fails for any user, root included.
    blocker = project / "blocker"
    blocker.write_text("", encoding="utf-8")

    with pytest.raises(BirdtuiError) as caught:
        run_export("--config", str(project / "experiments.toml"), "--out", str(blocker / "results.md"))

    assert f"cannot write {blocker / 'results.md'}" in str(caught.value)


def test_resumed_epochs_replaced(tmp_path: Path) -> None:
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS, encoding="utf-8")
    config = load_experiments(tmp_path / "experiments.toml").by_name("slow")
    run_dir = write_run(tmp_path / "runs", config, status="finished", epochs=[(2.0, 2.0, 0.1), (9.0, 9.0, 0.9)])
    with MetricsWriter(run_dir / "metrics.jsonl") as writer:
        writer.write("start", run="slow", epochs=3, steps_per_epoch=2, lr=0.1, resumed_from={"checkpoint": "x", "epoch": 1})
        writer.write("epoch", epoch=1, step=4, train_loss=1.5, train_acc=0.5, val_loss=1.6, val_acc=0.4, val_top5=1.0, lr=0.1, seconds=1.0, images_per_sec=90.0)

    [row] = collect_rows(tmp_path / "runs")

    assert row["summary"]["epoch"] == 2
    assert row["summary"]["last_train_loss"] == 1.5
    assert row["summary"]["best_val_acc"] == 0.4
    assert row["summary"]["images_per_sec"] == 90.0


@pytest.mark.parametrize("bad_line", ['{"type": "epoch"}', '{"type": "epoch", "epoch": 2}'])
def test_record_missing_fields_erases_nothing(tmp_path: Path, bad_line: str) -> None:
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS, encoding="utf-8")
    config = load_experiments(tmp_path / "experiments.toml").by_name("slow")
    run_dir = write_run(tmp_path / "runs", config, status="finished", epochs=[(2.0, 2.1, 0.3), (1.5, 1.6, 0.4), (1.2, 1.3, 0.45)])
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(bad_line + "\n")

    [row] = collect_rows(tmp_path / "runs")

    assert row["summary"]["last_train_loss"] == 1.2
    assert row["summary"]["last_val_loss"] == 1.3
    assert row["summary"]["best_val_acc"] == 0.45
    assert row["summary"]["images_per_sec"] is not None


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"type": "epoch", "epoch": 3, "val_loss": "abc", "train_loss": null}',
        '{"type": "epoch", "epoch": 3, "val_loss": true, "train_loss": 0.1}',
        '{"type": "epoch", "epoch": 2, "val_loss": [1], "train_loss": 0.1}',
    ],
)
def test_record_with_invalid_number_is_ignored(tmp_path: Path, bad_line: str) -> None:
    (tmp_path / "experiments.toml").write_text(EXPERIMENTS, encoding="utf-8")
    config = load_experiments(tmp_path / "experiments.toml").by_name("slow")
    run_dir = write_run(tmp_path / "runs", config, status="finished", epochs=[(2.0, 2.1, 0.3), (1.5, 1.6, 0.4), (1.2, 1.3, 0.45)])
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(bad_line + "\n")

    [row] = collect_rows(tmp_path / "runs")

    # Every value comes from epoch 2, none from the bad record.
    assert row["summary"]["epoch"] == 3
    assert row["summary"]["last_train_loss"] == 1.2
    assert row["summary"]["last_val_loss"] == 1.3


def test_png_plots_linked(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = project / "report" / "results.md"

    assert run_export("--config", str(project / "experiments.toml"), "--out", str(out), "--png-dir", str(project / "report" / "plots")) == 0

    table = parse_markdown(out.read_text(encoding="utf-8"))
    assert table[0][-1] == "loss plot"
    assert table[2][-1] == "[slow](plots/slow.png)"
    assert table[4][-1] == "[fast@2](plots/fast%402.png)"
    for name in ("slow", "fast", "fast@2"):
        data = (project / "report" / "plots" / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert not list((project / "report" / "plots").glob(".*"))


def test_png_without_matplotlib(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import matplotlib...` raise ImportError.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(BirdtuiError) as caught:
        run_export("--config", str(project / "experiments.toml"), "--png-dir", str(project / "plots"))

    assert "pip install 'birdtui[plots]'" in str(caught.value)
    assert not (project / "plots").exists()


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "birdtui", *argv], capture_output=True, text=True, timeout=60, cwd=cwd, env={**os.environ})


def test_cli_export_end_to_end(project: Path) -> None:
    result = run_cli("export", "--out", "results.md", cwd=project)

    assert result.returncode == 0, result.stderr
    table = parse_markdown((project / "results.md").read_text(encoding="utf-8"))
    assert [line[0] for line in table[2:]] == ["slow", "fast", "fast@2"]
