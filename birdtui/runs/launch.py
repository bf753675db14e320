"""Queueing runs: a new attempt of an experiment, or the resumption of an interrupted run.

Launching never touches an existing run folder. The first attempt of
experiment `x` is runs/x/, later ones runs/x@2/, runs/x@3/, and so on. A
resumed run keeps its folder and continues from its last checkpoint.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from birdtui.config.schema import ExperimentConfig, to_dict
from birdtui.errors import RunError
from birdtui.runs.control import ensure_supervisor
from birdtui.runs.preflight import check_launchable, guess_experiments_file
from birdtui.runs.slots import SlotPlan, check_environment, resolve_plan
from birdtui.runs.state import (
    QUEUED,
    RESUMABLE_STATUSES,
    RunState,
    read_state,
    state_lock,
    write_json_atomic,
    write_state,
)
from birdtui.runs.store import ATTEMPT_SEPARATOR, RunInfo, RunStore, format_run_id, parse_run_id
from birdtui.runs.worker import base_worker_command

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"


def launch(
    store: RunStore,
    config: ExperimentConfig,
    *,
    gpus: list[str] | str | None = None,
    per_gpu: int | str | None = None,
    experiments_file: str | Path | None = None,
) -> RunInfo:
    """Queue a new attempt of `config` and make sure a supervisor will start it.

    `gpus` and `per_gpu` set the slots of the supervisor when this call starts
    one (see `birdtui.runs.slots`); a supervisor already running keeps its own.
    Raises ConfigError when the model, dataset or pretrained file cannot work
    (see `birdtui.runs.preflight`). That error names `experiments_file`, by
    default the experiments.toml beside the runs folder.
    """
    if ATTEMPT_SEPARATOR in config.name:
        raise RunError(f"invalid experiment name {config.name!r}: {ATTEMPT_SEPARATOR!r} is reserved for attempt numbers")
    plan = _plan_or_none(gpus, per_gpu)
    check_launchable(config, experiments_file or guess_experiments_file(store.root))

    try:
        run_dir = _write_run_folder(store.root, config)
    except OSError as error:
        raise RunError(f"cannot create a run folder in {store.root}: {error}; check its permissions or pass --runs DIR") from None
    log.info("queued run %s", run_dir.name)

    ensure_supervisor(store.root, plan)
    return store.get(run_dir.name)


def resume(
    store: RunStore,
    run_id: str,
    *,
    gpus: list[str] | str | None = None,
    per_gpu: int | str | None = None,
) -> RunInfo:
    """Queue an interrupted run (failed, killed or lost) to continue from its last checkpoint.

    Finished runs have nothing left to do and diverged runs would diverge
    again with the same config; both raise RunError that suggests a new attempt.
    """
    plan = _plan_or_none(gpus, per_gpu)
    info = store.get(run_id)

    with state_lock(store.root):
        state = read_state(info.path)
        if state.status not in RESUMABLE_STATUSES:
            raise RunError(_not_resumable_message(info.run_id, info.experiment, state.status))
        state.status = QUEUED
        state.resume = True
        state.queued_at = time.time()
        state.pid = None
        state.pid_start_time = None
        state.exit_code = None
        state.ended = None
        state.error = None
        state.kill_requested = None
        write_state(info.path, state)
    log.info("queued run %s to resume", info.run_id)

    ensure_supervisor(store.root, plan)
    return store.get(info.run_id)


def resume_or_launch(
    store: RunStore,
    config: ExperimentConfig,
    *,
    gpus: list[str] | str | None = None,
    per_gpu: int | str | None = None,
    experiments_file: str | Path | None = None,
) -> RunInfo:
    """Resume the latest attempt of `config` when it was interrupted; launch the first one when there is none.

    Raises RunError when the latest attempt is queued, running, finished or
    diverged, because resuming it would do nothing or fail again.
    """
    attempts = store.runs_for(config.name)
    if not attempts:
        return launch(store, config, gpus=gpus, per_gpu=per_gpu, experiments_file=experiments_file)
    return resume(store, attempts[-1].run_id, gpus=gpus, per_gpu=per_gpu)


def _not_resumable_message(run_id: str, experiment: str, status: str) -> str:
    allowed = ", ".join(sorted(RESUMABLE_STATUSES))
    if status in ("queued", "running"):
        return f"run {run_id} is {status}; only {allowed} runs can be resumed"
    return (
        f"run {run_id} is {status}; only {allowed} runs can be resumed. "
        f"Start a new attempt with `birdtui launch {experiment}`"
    )


def _plan_or_none(gpus: list[str] | str | None, per_gpu: int | str | None) -> SlotPlan | None:
    """Return the slot plan for a new supervisor, checking the settings it inherits first."""
    # The supervisor reads these in its own process, where errors reach only its log.
    base_worker_command()
    check_environment()
    # Without explicit values the supervisor reads the environment and NVML itself.
    if gpus is None and per_gpu is None:
        return None
    return resolve_plan(gpus, per_gpu)


def _write_run_folder(root: Path, config: ExperimentConfig) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    run_dir = _create_attempt_dir(root, config.name)
    write_json_atomic(run_dir / CONFIG_FILE, to_dict(config))

    experiment, attempt = parse_run_id(run_dir.name)
    now = time.time()
    state = RunState(run=run_dir.name, experiment=experiment, attempt=attempt, status=QUEUED, created=now, queued_at=now)
    # state.json comes last: the store and the supervisor list only folders that have one.
    write_state(run_dir, state)
    return run_dir


def _create_attempt_dir(root: Path, experiment: str) -> Path:
    """Create the folder of the next attempt; mkdir fails on an existing one, so two launchers never share it."""
    attempt = _last_attempt(root, experiment) + 1
    while True:
        path = root / format_run_id(experiment, attempt)
        try:
            os.mkdir(path)
        except FileExistsError:
            attempt += 1
            continue
        return path


def _last_attempt(root: Path, experiment: str) -> int:
    last = 0
    for path in root.iterdir():
        name, separator, number = path.name.partition(ATTEMPT_SEPARATOR)
        if name != experiment or not path.is_dir():
            continue
        if not separator:
            last = max(last, 1)
        elif number.isdigit():
            last = max(last, int(number))
    return last
