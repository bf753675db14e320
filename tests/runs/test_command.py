"""The headless commands as a user types them: output, exit codes and help."""

from __future__ import annotations

import json
import textwrap

import pytest

from birdtui.runs.control import supervisor_lock

EXPERIMENTS = textwrap.dedent(
    """
    [defaults]
    epochs = 2

    [defaults.data]
    root = "data/demo-birds/train"

    [[experiments]]
    name = "r18-base"

    [[experiments]]
    name = "r18-long"
    epochs = 3
    """
)


@pytest.fixture
def config(runs, tmp_path):
    path = tmp_path / "experiments.toml"
    path.write_text(EXPERIMENTS)
    runs.plan(**{"r18-base": {"seconds": 0.2}, "r18-long": {"seconds": 0.2}})
    return path


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


def test_launch_then_ls(runs, config):
    first = runs.cli("launch", "r18-base", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"queued r18-base in {runs.root / 'r18-base'}")
    runs.wait_status("r18-base", "finished")

    again = runs.cli("launch", "r18-base", "--config", str(config))
    assert again.stdout.startswith("queued r18-base@2 in")
    runs.wait_status("r18-base@2", "finished")

    listing = runs.cli("ls", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    assert table(listing.stdout) == [
        ["run", "status", "epoch", "train", "loss", "best", "val", "acc", "images/s"],
        ["r18-base", "finished", "2/2", "0.25", "60.0%", "100"],
        ["r18-base@2", "finished", "2/2", "0.25", "60.0%", "100"],
        ["r18-long", "pending", "0/3", "-", "-", "-"],
    ]


def test_ls_columns_align(runs, config):
    runs.cli("launch", "--all", "--config", str(config))
    runs.wait_status("r18-long", "finished")

    lines = runs.cli("ls", "--config", str(config)).stdout.splitlines()
    # Right-aligned numbers end in the same column on every line.
    assert len({len(line) for line in lines}) == 1
    assert [line.index("status") for line in lines[:1]] == [lines[1].index("finished")]


def test_ls_of_empty_folder(runs, tmp_path):
    listing = runs.cli("ls", "--runs", str(tmp_path / "nothing"))
    assert listing.returncode == 0
    assert listing.stdout.strip() == f"no runs in {tmp_path / 'nothing'}"


def test_ls_with_invalid_config_still_lists_runs(runs, tmp_path):
    runs.queue_without_supervisor("kept")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[experiments]]\nname = \n")

    listing = runs.cli("ls", "--config", str(bad), "--runs", str(runs.root))

    assert listing.returncode == 2
    assert "warning: experiments not listed:" in listing.stderr
    assert table(listing.stdout)[1][0] == "kept"


def test_ls_with_config_folder_is_an_error(runs, tmp_path):
    folder = tmp_path / "somefolder"
    folder.mkdir()

    result = runs.cli("ls", "--config", str(folder))

    assert result.returncode == 2
    assert "somefolder: is a folder, not an experiments file" in result.stderr
    assert "fix: pass the .toml file itself" in result.stderr
    assert result.stdout == ""


def test_ls_with_runs_file_is_an_error(runs, config, tmp_path):
    not_a_folder = tmp_path / "junk.pth"
    not_a_folder.write_text("garbage\n")

    result = runs.cli("ls", "--config", str(config), "--runs", str(not_a_folder))

    assert result.returncode == 2
    assert "junk.pth: is a file, not a runs folder" in result.stderr
    assert "fix: pass the runs folder with --runs DIR" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["kill", "nothing-here"], 1, "birdtui: run 'nothing-here' not found"),
        (["resume", "r18@x"], 1, "birdtui: invalid run id 'r18@x'"),
        (["launch", "r18-bse"], 2, 'no experiment named "r18-bse"'),
        (["launch"], 1, "name the experiments to launch, or pass --all"),
        (["launch", "--gpus", "0,a", "r18-base"], 1, "--gpus: invalid GPU index 'a'"),
    ],
)
def test_exit_codes(runs, config, args, code, message):
    result = runs.cli(*args, "--config", str(config))

    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_kill_and_resume_commands(runs, config):
    runs.plan(**{"r18-base": {"seconds": 60}})
    runs.cli("launch", "r18-base", "--config", str(config))
    runs.wait_for(lambda: runs.events("r18-base"), description="trainer start")

    killed = runs.cli("kill", "r18-base", "--grace", "5", "--config", str(config))
    assert killed.returncode == 0, killed.stderr
    assert killed.stdout.strip() == "stopped r18-base: killed"

    runs.plan(**{"r18-base": {"seconds": 0.2}})
    resumed = runs.cli("resume", "r18-base", "--config", str(config))
    # The fake trainer writes no checkpoint, so the run starts over.
    assert resumed.stdout.strip() == "queued r18-base to resume: it has no checkpoint yet, so it restarts from epoch 0"
    runs.wait_status("r18-base", "finished")


def test_resume_with_checkpoint_says_so(runs, config):
    runs.plan(**{"r18-base": {"seconds": 60}})
    runs.cli("launch", "r18-base", "--config", str(config))
    runs.wait_for(lambda: runs.events("r18-base"), description="trainer start")
    runs.cli("kill", "r18-base", "--grace", "5", "--config", str(config))
    checkpoints = runs.root / "r18-base" / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "epoch-0001.pt").write_bytes(b"")

    runs.plan(**{"r18-base": {"seconds": 0.2}})
    resumed = runs.cli("resume", "r18-base", "--config", str(config))

    assert resumed.stdout.strip() == "queued r18-base to resume from its last checkpoint"
    runs.wait_status("r18-base", "finished")


@pytest.mark.parametrize("command", ["ls", "launch", "kill", "resume", "supervise"])
def test_help(runs, command):
    result = runs.cli(command, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: birdtui {command}")


def test_launch_all_resume(runs, config, tmp_path):
    config.write_text(EXPERIMENTS + '\n[[experiments]]\nname = "r50"\n')
    # Two CPU slots, so that r18-long finishes while r18-base is still running.
    runs.env["BIRDTUI_PER_GPU"] = "2"
    runs.plan(**{"r18-base": {"seconds": 60}, "r18-long": {"seconds": 0.2}, "r50": {"seconds": 0.2}})
    runs.cli("launch", "r18-base", "r18-long", "--config", str(config))
    runs.wait_status("r18-long", "finished")
    runs.wait_for(lambda: runs.events("r18-base"), description="trainer start")
    runs.cli("kill", "r18-base", "--config", str(config))
    runs.plan(**{"r18-base": {"seconds": 0.2}, "r50": {"seconds": 0.2}})

    result = runs.cli("launch", "--all", "--resume", "--config", str(config))

    # The finished run is skipped; the killed one resumes and the new one starts.
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "skipped r18-long: its run r18-long is finished; `birdtui launch r18-long` starts a new attempt",
        "queued r18-base to resume: it has no checkpoint yet, so it restarts from epoch 0",
        f"queued r50 in {runs.root / 'r50'}",
    ]
    runs.wait_status("r18-base", "finished")
    runs.wait_status("r50", "finished")
    assert not (runs.root / "r18-long@2").exists()


def test_launch_all_twice_queues_each_experiment_once(runs, config):
    runs.plan(**{"r18-base": {"seconds": 60}, "r18-long": {"seconds": 60}})
    first = runs.cli("launch", "--all", "--config", str(config))
    assert first.returncode == 0, first.stderr

    second = runs.cli("launch", "--all", "--config", str(config))

    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "skipped r18-base: its run r18-base is running; `birdtui launch r18-base` starts a new attempt",
        "skipped r18-long: its run r18-long is queued; `birdtui launch r18-long` starts a new attempt",
        "nothing to launch: every experiment has a run",
    ]
    assert sorted(runs.store.run_ids()) == ["r18-base", "r18-long"]
    runs.cli("kill", "r18-long", "--config", str(config))
    runs.cli("kill", "r18-base", "--grace", "0", "--config", str(config))


def test_kill_of_queued_run_says_it_is_killed(runs):
    runs.queue_without_supervisor("waiting")
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        result = runs.cli("kill", "waiting", "--runs", str(runs.root))
    finally:
        lock.release()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cancelled waiting before it started: it is now killed; `birdtui resume waiting` queues it again"
    assert runs.status("waiting") == "killed"


@pytest.mark.parametrize("grace", ["-5", "nan"])
def test_kill_rejects_bad_grace(runs, grace):
    runs.queue_without_supervisor("waiting")
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        result = runs.cli("kill", "waiting", "--grace", grace, "--runs", str(runs.root))
    finally:
        lock.release()

    assert result.returncode == 1
    assert f"birdtui: invalid --grace {grace}: the seconds between SIGTERM and SIGKILL must be 0 or more\n" in result.stderr
    assert "\n  fix: pass --grace 10, or 0 to kill at once" in result.stderr
    assert runs.status("waiting") == "queued"


def test_ls_without_file_or_runs_fails(runs):
    # cwd is tmp_path, which has neither experiments.toml nor runs/.
    result = runs.cli("ls")

    assert result.returncode == 2
    assert "no experiments file here, and no runs in" in result.stderr
    assert "fix: run birdtui in the folder of your experiments.toml" in result.stderr


def test_ls_with_missing_config_file_is_an_error(runs, tmp_path):
    runs.queue_without_supervisor("kept")

    result = runs.cli("ls", "--config", str(tmp_path / "nonexist.toml"), "--runs", str(runs.root))

    assert result.returncode == 2
    assert "nonexist.toml: experiments file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_ls_queued_run_shows_configured_epochs(runs):
    runs.queue_without_supervisor("waiting", epochs=7)
    # The test holds the supervisor lock, so ls starts no supervisor and the run stays queued.
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        listing = runs.cli("ls", "--runs", str(runs.root))
    finally:
        lock.release()

    assert table(listing.stdout)[1] == ["waiting", "queued", "0/7", "-", "-", "-"]


def test_ls_train_loss_is_epoch_mean(runs):
    run_dir = runs.queue_without_supervisor("done")
    records = [
        {"type": "step", "time": 1.0, "epoch": 0, "step": 9, "epoch_progress": 0.9, "loss": 1.1298},
        {"type": "epoch", "time": 2.0, "epoch": 0, "step": 10, "train_loss": 0.4818, "val_acc": 0.5},
    ]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        listing = runs.cli("ls", "--runs", str(runs.root))
    finally:
        lock.release()

    # The last epoch's mean, as the UI and the export show it, not the last step's loss.
    assert table(listing.stdout)[1] == ["done", "queued", "1/2", "0.4818", "50.0%", "-"]


def test_slot_options_with_running_supervisor_warn(runs, config):
    runs.queue_without_supervisor("waiting")
    # Holding the lock makes the command see a running supervisor.
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        result = runs.cli("launch", "r18-base", "--gpus", "cpu", "--per-gpu", "2", "--config", str(config))
    finally:
        lock.release()

    assert result.returncode == 0, result.stderr
    assert "warning: --gpus and --per-gpu had no effect: the supervisor already running" in result.stderr
    assert "fix: wait until its queue is empty" in result.stderr
    assert result.stdout.startswith("queued r18-base in")


def test_slot_options_without_supervisor_are_quiet(runs, config):
    result = runs.cli("launch", "r18-base", "--per-gpu", "2", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    runs.wait_status("r18-base", "finished")


def test_ls_warns_once_per_broken_state(runs):
    broken = runs.root / "broken"
    broken.mkdir(parents=True)
    (broken / "state.json").write_text("{bad")

    result = runs.cli("ls", "--runs", str(runs.root))

    assert result.stderr.count("cannot read the run state") == 1
    assert result.stderr.startswith("warning: ")


def test_kill_takes_several_runs(runs):
    runs.queue_without_supervisor("first")
    runs.queue_without_supervisor("second")
    lock = supervisor_lock(runs.root)
    lock.acquire()
    try:
        result = runs.cli("kill", "first", "missing", "second", "--runs", str(runs.root))
    finally:
        lock.release()

    # The missing run is reported, and the runs after it are still killed.
    assert result.returncode == 1
    assert "birdtui: run 'missing' not found" in result.stderr
    assert runs.status("first") == "killed"
    assert runs.status("second") == "killed"
