"""The runs store: attempt folders, lookups, and detection of vanished or reused processes."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from birdtui.errors import RunError
from birdtui.metrics import MetricsWriter
from birdtui.runs import kill, launch, resume
from birdtui.runs.process import process_start_time
from birdtui.runs.state import RUNNING, RunState, read_state, write_state
from birdtui.runs.store import RunStore, format_run_id, parse_run_id


def write_running_state(run_dir, pid, pid_start_time):
    run_dir.mkdir(parents=True)
    write_state(
        run_dir,
        RunState(
            run=run_dir.name, experiment=run_dir.name, attempt=1, status=RUNNING,
            created=time.time(), pid=pid, pid_start_time=pid_start_time,
        ),
    )


@pytest.fixture
def bystander():
    process = subprocess.Popen(["sleep", "30"])
    yield process
    process.kill()
    process.wait()


def test_run_id_round_trip():
    assert parse_run_id("r18") == ("r18", 1)
    assert parse_run_id("r18@3") == ("r18", 3)
    assert format_run_id("r18", 1) == "r18"
    assert format_run_id("r18", 3) == "r18@3"


@pytest.mark.parametrize("run_id", ["r18@", "r18@x", "r18@1", "r18@0"])
def test_run_id_invalid(run_id):
    with pytest.raises(RunError, match="invalid run id"):
        parse_run_id(run_id)


def test_launch_never_overwrites_attempts(runs):
    runs.plan(again={"seconds": 0.1})
    first = launch(runs.store, runs.config("again", epochs=1))
    runs.wait_status("again", "finished")
    second = launch(runs.store, runs.config("again", epochs=3))

    assert (first.run_id, second.run_id) == ("again", "again@2")
    assert (second.experiment, second.attempt) == ("again", 2)
    assert json.loads((first.path / "config.json").read_text())["epochs"] == 1
    assert json.loads((second.path / "config.json").read_text())["epochs"] == 3
    assert runs.status("again") == "finished"
    assert [info.run_id for info in runs.store.runs_for("again")] == ["again", "again@2"]
    runs.wait_status("again@2", "finished")


def test_launch_rejects_at_sign(runs):
    with pytest.raises(RunError, match="reserved for attempt numbers"):
        launch(runs.store, runs.config("bad@name"))
    assert not runs.root.exists() or list(runs.root.iterdir()) == []


def test_get_missing_suggests_close_match(runs):
    runs.queue_without_supervisor("resnet-baseline")

    with pytest.raises(RunError, match="did you mean resnet-baseline"):
        runs.store.get("resnet-baseline@2")
    with pytest.raises(RunError, match="`birdtui ls` lists the runs"):
        runs.store.get("zzz")


def test_reused_pid_is_lost(runs, bystander):
    # The state names a live pid, but the process there started later than the run did.
    start = process_start_time(bystander.pid)
    write_running_state(runs.root / "gone", bystander.pid, start - 100.0)

    info = runs.store.get("gone")

    assert info.status == "lost"
    assert "gone without an end record" in info.state.error
    assert read_state(info.path).status == "lost"
    assert bystander.poll() is None


def test_live_pid_with_same_start_stays_running(runs, bystander):
    write_running_state(runs.root / "alive", bystander.pid, process_start_time(bystander.pid))

    assert runs.store.get("alive").status == RUNNING


def test_vanished_run_with_end_record_keeps_status(runs):
    # No process can have this pid: it is above Linux's largest pid_max.
    write_running_state(runs.root / "done", 999_999_999, 1.0)
    with MetricsWriter(runs.root / "done" / "metrics.jsonl") as writer:
        writer.write("start", run="done", epochs=1)
        writer.write("end", status="finished", epoch=0, step=4, error=None, best_val_acc=0.5)

    assert runs.store.get("done").status == "finished"


def test_unreadable_state_is_reported(runs):
    runs.queue_without_supervisor("fine")
    broken = runs.root / "broken"
    broken.mkdir()
    (broken / "state.json").write_text("{not json")

    store = runs.store
    infos = store.list_runs()

    assert [info.run_id for info in infos] == ["fine"]
    assert len(store.problems) == 1
    assert store.problems[0].path == broken
    assert "cannot read the run state" in store.problems[0].message


def test_resume_requeues_killed_run(runs):
    runs.plan(again={"seconds": 60})
    launch(runs.store, runs.config("again"))
    runs.wait_status("again", RUNNING)
    runs.wait_for(lambda: runs.events("again"), description="trainer start")

    kill(runs.store, "again", grace=5.0)
    runs.plan(again={"seconds": 0.2})
    info = resume(runs.store, "again")

    assert info.state.resume is True
    runs.wait_status("again", "finished")
    assert runs.store.get("again").state.resume is True
    # The worker was started again in the same folder, with --resume.
    assert [event["event"] for event in runs.events("again")] == ["start", "killed", "start", "end"]


@pytest.mark.parametrize("status", ["finished", "diverged", "queued"])
def test_resume_rejects_status(runs, status):
    run_dir = runs.root / "x"
    run_dir.mkdir(parents=True)
    write_state(run_dir, RunState(run="x", experiment="x", attempt=1, status=status, created=time.time()))

    with pytest.raises(RunError, match=f"run x is {status}; only failed, killed, lost runs can be resumed"):
        resume(runs.store, "x")


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("BIRDTUI_WORKER_COMMAND", "python train.py", "BIRDTUI_WORKER_COMMAND: invalid JSON"),
        ("BIRDTUI_WORKER_COMMAND", "[]", "expected a non-empty JSON list of strings"),
        ("BIRDTUI_GPUS", "first", "BIRDTUI_GPUS: invalid GPU index 'first'"),
        ("BIRDTUI_PER_GPU", "two", "BIRDTUI_PER_GPU: invalid number of runs per GPU 'two'"),
    ],
)
def test_launch_checks_environment_first(runs, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)

    with pytest.raises(RunError, match=message):
        launch(runs.store, runs.config("never"))
    assert not (runs.root / "never").exists()


def test_launch_where_folder_cannot_exist(runs):
    runs.root.parent.joinpath("blocker").write_text("a file where the runs folder should be")
    store = RunStore(runs.root.parent / "blocker" / "runs")

    with pytest.raises(RunError, match="cannot create a run folder in .*blocker/runs.*pass --runs DIR"):
        launch(store, runs.config("x"))
