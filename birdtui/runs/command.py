"""Headless subcommands: `birdtui ls`, `launch`, `kill`, `resume`, `gpus` and `supervise`.

Every command takes `--config FILE` (default ./experiments.toml) and
`--runs DIR` (default: runs/ beside the config file). Exit codes: 0 on
success, 1 for a run error, 2 for an invalid experiments file. `ls` lists
the runs, then the experiments of the file that have none (status `pending`, as in the UI).
`gpus` prints one line per GPU, or why there is none (still exit code 0).
`python -m birdtui.runs.command` runs the same commands without the others.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from birdtui.config.load import default_runs_dir, load_experiments
from birdtui.config.schema import ExperimentConfig
from birdtui.errors import BirdtuiError, ConfigError, RunError
from birdtui.runs.control import adopt, supervisor_running
from birdtui.runs.gpu import format_gpu_report, gpu_report
from birdtui.runs.kill import kill
from birdtui.runs.launch import CONFIG_FILE, launch, resume, resume_or_launch
from birdtui.runs.slots import add_slot_arguments
from birdtui.runs.state import QUEUED, RESUMABLE_STATUSES
from birdtui.runs.store import RunInfo, RunStore
from birdtui.runs.summary import RunSummary, summarize_run

DEFAULT_CONFIG = "experiments.toml"
# "train loss" is the last epoch's mean, as in the UI and the export, not a single step's loss.
LS_COLUMNS = ("run", "status", "epoch", "train loss", "best val acc", "images/s")


def register(subparsers: argparse._SubParsersAction) -> None:
    ls = subparsers.add_parser("ls", help="list runs with status and latest metrics", description="List the runs of a runs folder.")
    _add_location_arguments(ls)
    ls.set_defaults(func=run_ls)

    launch_parser = subparsers.add_parser(
        "launch",
        help="queue new runs of experiments",
        description="Queue a new attempt of each named experiment; existing runs are never overwritten.",
    )
    launch_parser.add_argument("names", nargs="*", metavar="NAME", help="experiment names from the experiments file")
    launch_parser.add_argument("--all", action="store_true", help="launch every experiment of the file that has no run yet")
    launch_parser.add_argument(
        "--resume",
        action="store_true",
        help="resume the latest attempt of each experiment if it failed, was killed or was lost, instead of starting a new one",
    )
    _add_location_arguments(launch_parser)
    add_slot_arguments(launch_parser)
    launch_parser.set_defaults(func=run_launch)

    kill_parser = subparsers.add_parser("kill", help="stop a running run or drop a queued one", description="Kill a run and its worker processes.")
    kill_parser.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids as `birdtui ls` shows them, such as r18 or r18@2")
    kill_parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL (default: 10)")
    _add_location_arguments(kill_parser)
    kill_parser.set_defaults(func=run_kill)

    resume_parser = subparsers.add_parser(
        "resume",
        help="continue a failed, killed or lost run from its last checkpoint",
        description="Queue an interrupted run to continue from its last checkpoint.",
    )
    resume_parser.add_argument("run_id", metavar="RUN", help="run id as `birdtui ls` shows it")
    _add_location_arguments(resume_parser)
    add_slot_arguments(resume_parser)
    resume_parser.set_defaults(func=run_resume)

    gpus_parser = subparsers.add_parser(
        "gpus",
        help="show per-GPU memory, utilization and the runs on each GPU",
        description="Show each GPU's memory in GiB and utilization as NVML reports them, with the running runs on it.",
    )
    _add_location_arguments(gpus_parser)
    gpus_parser.set_defaults(func=run_gpus)

    supervise_parser = subparsers.add_parser(
        "supervise",
        help="run the queue of a runs folder (started automatically)",
        description="Start queued runs as GPU slots free up until none is left; launch starts this on demand.",
    )
    supervise_parser.add_argument("runs_dir", metavar="RUNS_DIR", type=Path, help="runs folder whose queue to run")
    add_slot_arguments(supervise_parser)
    supervise_parser.set_defaults(func=run_supervise)


def _add_location_arguments(parser: argparse.ArgumentParser) -> None:
    # None means the default file, which `ls` may do without.
    parser.add_argument("--config", type=Path, help="experiments file (default: ./experiments.toml)")
    parser.add_argument("--runs", type=Path, help="runs folder (default: runs/ beside the experiments file)")


def config_path(args: argparse.Namespace) -> Path:
    return args.config if args.config is not None else Path(DEFAULT_CONFIG)


def open_store(args: argparse.Namespace) -> RunStore:
    root = args.runs if args.runs is not None else default_runs_dir(config_path(args))
    if root.exists() and not root.is_dir():
        raise ConfigError(
            "is a file, not a runs folder",
            path=str(root.absolute()),
            fix="pass the runs folder with --runs DIR, or leave --runs out to use runs/ beside the experiments file",
        )
    return RunStore(root)


def run_ls(args: argparse.Namespace) -> int:
    store = open_store(args)
    # ls prints the problems below; logging them too would show each twice.
    store.log_problems = False
    runs = adopt(store)
    for problem in store.problems:
        print(f"warning: {problem.message}", file=sys.stderr)

    experiments, config_problem = _experiments_for_ls(args)
    if not runs and experiments is None and args.runs is None:
        raise ConfigError(
            f"no experiments file here, and no runs in {store.root}",
            path=str(config_path(args).absolute()),
            fix="run birdtui in the folder of your experiments.toml, or pass --config FILE or --runs DIR",
        )

    rows = [ls_row(info) for info in runs]
    launched = {info.experiment for info in runs}
    rows += [new_experiment_row(config) for config in experiments or [] if config.name not in launched]
    if not rows:
        print(f"no runs in {store.root}")
    else:
        print(format_table(rows))

    # The runs are listed all the same, but the exit code reports the invalid file.
    return 0 if config_problem is None else config_problem.exit_code


def _experiments_for_ls(args: argparse.Namespace) -> tuple[list[ExperimentConfig] | None, ConfigError | None]:
    """Return the experiments of the config file, so that ls also shows those never launched.

    A missing default file gives None (ls of a bare runs folder), while a
    missing --config file or a folder is an error. An invalid file is
    returned as the second item, so that it does not hide the runs.
    """
    path = config_path(args)
    if args.config is None and not path.exists():
        return None, None
    if not path.is_file():
        # load_experiments raises the error that names the file and the fix.
        load_experiments(path)
    try:
        return load_experiments(path).experiments, None
    except ConfigError as error:
        print(f"warning: experiments not listed: {error}", file=sys.stderr)
        return [], error


def new_experiment_row(config: ExperimentConfig) -> list[str]:
    return [config.name, "pending", f"0/{config.epochs}", "-", "-", "-"]


def ls_row(info: RunInfo) -> list[str]:
    summary = summarize_run(info.path)
    # The store's state is refreshed (lost runs detected); the file may be older.
    summary.merge_state(info.state)
    return [
        info.run_id,
        info.status,
        _epoch_text(summary, info),
        _number(summary.train_loss, "{:.4g}"),
        _number(summary.best_val_acc, "{:.1%}"),
        _number(summary.images_per_sec, "{:.0f}"),
    ]


def _epoch_text(summary: RunSummary, info: RunInfo) -> str:
    # A run that has not started has no start record yet; its config.json has the epochs.
    total = summary.epochs if summary.epochs is not None else _configured_epochs(info)
    return f"{summary.epoch}/{'?' if total is None else total}"


def _configured_epochs(info: RunInfo) -> int | None:
    try:
        return json.loads((info.path / CONFIG_FILE).read_text(encoding="utf-8")).get("epochs")
    except (OSError, ValueError, AttributeError):
        return None


def _number(value: float | None, template: str) -> str:
    if value is None:
        return "-"
    # Spelled as the UI and the export spell them.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return template.format(value)


def format_table(rows: list[list[str]]) -> str:
    """Align columns with two spaces between them; numbers are right-aligned."""
    table = [list(LS_COLUMNS), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(LS_COLUMNS))]
    lines = []
    for row in table:
        cells = [cell.ljust(width) if column < 2 else cell.rjust(width) for column, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run_launch(args: argparse.Namespace) -> int:
    if args.all == bool(args.names):
        raise RunError("name the experiments to launch, or pass --all (not both)")
    experiments = load_experiments(config_path(args))
    store = open_store(args)
    _warn_if_slots_ignored(store, args)
    configs = _configs_for_all(store, experiments.experiments, args.resume) if args.all else [experiments.by_name(name) for name in args.names]

    exit_code = 0
    for config in configs:
        try:
            info = _launch_one(store, config, args, experiments.path)
        except (RunError, ConfigError) as error:
            # With several experiments, one that cannot start must not stop the others.
            print(f"birdtui: {error}", file=sys.stderr)
            exit_code = max(exit_code, error.exit_code)
            continue
        if info.state.resume:
            print(resume_message(info))
        else:
            print(f"queued {info.run_id} in {info.path}")
    return exit_code


def _configs_for_all(store: RunStore, configs: list[ExperimentConfig], resume: bool) -> list[ExperimentConfig]:
    """Pick the experiments `launch --all` starts: those without a run, as the UI's `a` key does.

    With --resume, experiments whose latest run was interrupted are picked
    too. The others are listed as skipped, so that a second `--all` never
    doubles the queue.
    """
    latest = {info.experiment: info for info in store.list_runs()}
    chosen = []
    for config in configs:
        info = latest.get(config.name)
        if info is None or (resume and info.status in RESUMABLE_STATUSES):
            chosen.append(config)
        else:
            print(f"skipped {config.name}: its run {info.run_id} is {info.status}; `birdtui launch {config.name}` starts a new attempt")
    if not chosen:
        print("nothing to launch: every experiment has a run")
    return chosen


def _launch_one(store: RunStore, config: ExperimentConfig, args: argparse.Namespace, experiments_file: Path) -> RunInfo:
    if args.resume:
        return resume_or_launch(store, config, gpus=args.gpus, per_gpu=args.per_gpu, experiments_file=experiments_file)
    return launch(store, config, gpus=args.gpus, per_gpu=args.per_gpu, experiments_file=experiments_file)


def _warn_if_slots_ignored(store: RunStore, args: argparse.Namespace) -> None:
    """Warn that --gpus and --per-gpu only set up a new supervisor, not the one already running."""
    options = [option for option, value in (("--gpus", args.gpus), ("--per-gpu", args.per_gpu)) if value is not None]
    if not options or not store.root.is_dir() or not supervisor_running(store.root):
        return
    print(
        f"warning: {' and '.join(options)} had no effect: the supervisor already running for {store.root} keeps its GPU slots\n"
        "  fix: wait until its queue is empty (`birdtui ls`), then launch with the new options",
        file=sys.stderr,
    )


def run_kill(args: argparse.Namespace) -> int:
    store = open_store(args)
    exit_code = 0
    for run_id in args.run_ids:
        try:
            _kill_one(store, run_id, args.grace)
        except RunError as error:
            # As with launch, one run that cannot be killed must not spare the others.
            print(f"birdtui: {error}", file=sys.stderr)
            exit_code = max(exit_code, error.exit_code)
    return exit_code


def _kill_one(store: RunStore, run_id: str, grace: float) -> None:
    was_queued = store.get(run_id).status == QUEUED
    kill(store, run_id, grace=grace)
    status = store.get(run_id).status
    if was_queued:
        print(f"cancelled {run_id} before it started: it is now {status}; `birdtui resume {run_id}` queues it again")
    else:
        print(f"stopped {run_id}: {status}")


def run_resume(args: argparse.Namespace) -> int:
    store = open_store(args)
    _warn_if_slots_ignored(store, args)
    info = resume(store, args.run_id, gpus=args.gpus, per_gpu=args.per_gpu)
    print(resume_message(info))
    return 0


def resume_message(info: RunInfo) -> str:
    """Return the line naming where a resumed run will continue from."""
    # The worker loads the newest epoch checkpoint, else best.pt. Without
    # either, it trains from the start. Globbed here, so that the CLI need not import torch.
    checkpoints = info.path / "checkpoints"
    if any(checkpoints.glob("epoch-*.pt")) or (checkpoints / "best.pt").is_file():
        return f"queued {info.run_id} to resume from its last checkpoint"
    return f"queued {info.run_id} to resume: it has no checkpoint yet, so it restarts from epoch 0"


def run_gpus(args: argparse.Namespace) -> int:
    # A machine without a GPU is a normal result, so the reason line exits with 0.
    print(format_gpu_report(gpu_report(open_store(args))))
    return 0


def run_supervise(args: argparse.Namespace) -> int:
    # Imported here: only this command runs a supervisor in-process.
    from birdtui.runs.supervisor import supervise

    return supervise(args.runs_dir, args.gpus, args.per_gpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="birdtui", description="Headless run commands of birdtui.")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BirdtuiError as error:
        print(f"birdtui: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
