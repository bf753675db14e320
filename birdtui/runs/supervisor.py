"""The supervisor: one detached process per runs folder that owns the queue.

`python -m birdtui.runs.supervisor RUNS_DIR [--gpus 0,1] [--per-gpu N]`
starts queued runs as slots free up, records how each one exits, adopts the
runs that an earlier supervisor started, and exits when no run is queued or
running. A file lock (runs/supervisor.lock) keeps a second supervisor of the
same folder from running; it exits at once. It logs to runs/supervisor.log.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import Timeout

from birdtui.errors import BirdtuiError, RunError
from birdtui.runs.control import SUPERVISOR_INFO_FILE, SUPERVISOR_LOG_FILE, supervisor_lock
from birdtui.runs.outcome import settle
from birdtui.runs.process import is_same_process, process_start_time, signal_group
from birdtui.runs.slots import SlotPlan, add_slot_arguments, resolve_plan
from birdtui.runs.state import FAILED, QUEUED, RUNNING, read_state, state_lock, state_path, write_json_atomic, write_state
from birdtui.runs.store import RunInfo, RunStore
from birdtui.runs.worker import base_worker_command, start_worker, worker_argv

log = logging.getLogger("birdtui.supervisor")

POLL_SECONDS = 0.25


@dataclass
class Slot:
    """A place for one run: a GPU id (None on CPU) and the run using it."""

    gpu: str | None
    run_id: str | None = None


@dataclass
class Tracked:
    """A running run this supervisor watches: its own child, or one adopted from a predecessor."""

    info: RunInfo
    slot: Slot | None
    # None for adopted runs: another process is their parent, so no exit code is known.
    process: subprocess.Popen | None = None
    # True once the run folder was found deleted and the worker was sent SIGTERM.
    orphaned: bool = False


class Supervisor:
    """Starts queued runs of one runs folder into free slots until nothing is left."""

    def __init__(self, runs_dir: Path, plan: SlotPlan, worker_command: list[str] | None = None) -> None:
        self.store = RunStore(runs_dir)
        self.runs_dir = self.store.root
        self.plan = plan
        self.worker_command = worker_command or base_worker_command()
        self.slots = [Slot(gpu) for gpu in plan.slot_gpus()]
        self.tracked: dict[str, Tracked] = {}
        self.lock = supervisor_lock(self.runs_dir)
        self._lock_inode: int | None = None

    def run(self) -> int:
        """Supervise until the queue is empty and every run has ended; return the exit code."""
        if not self._try_lock():
            log.info("lock %s is taken by another supervisor; exiting", self.lock.lock_file)
            return 0

        try:
            self._write_info()
            log.info("supervisor started for %s with slots %s", self.runs_dir, self.plan.slot_gpus())
            while self._loop_until_idle() and self._hand_over():
                pass
        finally:
            if self.lock.is_locked:
                self.lock.release()
        log.info("supervisor exiting")
        return 0

    def _try_lock(self) -> bool:
        try:
            self.lock.acquire()
        except Timeout:
            return False
        self._lock_inode = os.stat(self.lock.lock_file).st_ino
        return True

    def _lock_file_replaced(self) -> bool:
        """Return True when the runs folder was deleted or replaced under this supervisor.

        A new folder at the same path has a new lock file that a new
        supervisor may hold, so this one must stop touching the folder.
        """
        try:
            return os.stat(self.lock.lock_file).st_ino != self._lock_inode
        except FileNotFoundError:
            return True

    def _loop_until_idle(self) -> bool:
        """Start and watch runs until none is queued or running; return False to stop at once."""
        while True:
            if self._lock_file_replaced():
                log.error("the lock file %s was deleted or replaced; exiting and leaving runs alone", self.lock.lock_file)
                return False
            # Exits first, so that a run that just ended is not listed as running.
            self._collect_exits()
            runs = self.store.list_runs()
            self._adopt_running(runs)
            queued = [info for info in runs if info.status == QUEUED]
            self._start_queued(queued)
            if not self.tracked and not queued:
                return True
            time.sleep(POLL_SECONDS)

    def _hand_over(self) -> bool:
        """Release the lock, then take it back and go on if runs were queued meanwhile.

        A launcher queues its run first and checks the lock second. A run
        queued while this supervisor held the lock is therefore seen by the
        check below, and a run queued after the release finds the lock free,
        so its launcher starts a new supervisor.
        """
        self.lock.release()
        if not self._has_queued():
            return False
        if not self._try_lock():
            log.info("runs were queued while exiting; another supervisor took over")
            return False
        log.info("runs were queued while exiting; continuing")
        return True

    def _has_queued(self) -> bool:
        return any(info.status == QUEUED for info in self.store.list_runs())

    def _start_queued(self, queued: list[RunInfo]) -> None:
        queued.sort(key=lambda info: info.state.queued_at or info.state.created or 0.0)
        for info in queued:
            slot = self._free_slot()
            if slot is None:
                return
            self._start_run(info, slot)

    def _free_slot(self) -> Slot | None:
        return next((slot for slot in self.slots if slot.run_id is None), None)

    def _free_slot_on(self, gpu: str | None) -> Slot | None:
        return next((slot for slot in self.slots if slot.run_id is None and slot.gpu == gpu), None)

    def _start_run(self, info: RunInfo, slot: Slot) -> None:
        with state_lock(self.runs_dir):
            # `kill` may have cancelled the run, or the user deleted its folder, since it was listed.
            try:
                state = read_state(info.path)
            except RunError as error:
                log.error("run %s: not started: %s", info.run_id, error)
                return
            if state.status != QUEUED:
                return

            argv = worker_argv(self.worker_command, info.path, state.resume)
            try:
                process = start_worker(argv, info.path, slot.gpu)
            except OSError as error:
                state.status = FAILED
                state.ended = time.time()
                state.error = f"cannot start the worker {argv[0]!r}: {error}"
                write_state(info.path, state)
                log.error("run %s: %s", info.run_id, state.error)
                return

            state.status = RUNNING
            state.pid = process.pid
            state.pid_start_time = process_start_time(process.pid)
            state.started = time.time()
            state.ended = None
            state.exit_code = None
            state.error = None
            state.kill_requested = None
            state.gpu = slot.gpu
            write_state(info.path, state)

        info.state = state
        slot.run_id = info.run_id
        self.tracked[info.run_id] = Tracked(info, slot, process)
        log.info("run %s: started pid %d on %s: %s", info.run_id, process.pid, _slot_name(slot), " ".join(argv))

    def _collect_exits(self) -> None:
        for run_id, tracked in list(self.tracked.items()):
            if tracked.process is not None:
                ended = self._collect_child(tracked)
            else:
                ended = self._collect_adopted(tracked)
            if ended:
                if tracked.slot is not None:
                    tracked.slot.run_id = None
                del self.tracked[run_id]

    def _collect_child(self, tracked: Tracked) -> bool:
        info = tracked.info
        if not state_path(info.path).is_file():
            return self._collect_orphan(tracked)
        # Reaping and recording happen under one lock, so no reader can find
        # the process gone while the state file still has status running.
        with state_lock(self.runs_dir):
            exit_code = tracked.process.poll()
            if exit_code is None:
                return False
            try:
                state = read_state(info.path)
            except RunError as error:
                log.error("run %s: pid %d exited with code %d, but its end cannot be recorded: %s", info.run_id, tracked.process.pid, exit_code, error)
                return True
            if state.status == RUNNING and state.pid == tracked.process.pid:
                settle(state, info.path, exit_code)
            else:
                # `kill` recorded the end already; only the exit code is new.
                state.exit_code = exit_code
            write_state(info.path, state)
        log.info("run %s: pid %d exited with code %d, status %s", info.run_id, tracked.process.pid, exit_code, state.status)
        return True

    def _collect_orphan(self, tracked: Tracked) -> bool:
        """Stop and reap the worker of a run whose folder was deleted; return True once it has exited.

        Nothing is written: re-creating the folder would bring back a run
        the user removed. The worker also stops on its own at its next epoch.
        """
        info, process = tracked.info, tracked.process
        alive = process.poll() is None if process is not None else is_same_process(info.state.pid, info.state.pid_start_time)
        if not tracked.orphaned:
            tracked.orphaned = True
            log.error("run %s: its folder %s was deleted; stopping its worker and dropping the run", info.run_id, info.path)
            if alive:
                signal_group(info.state.pid, signal.SIGTERM)
        if alive:
            return False
        log.info("run %s: worker pid %s of the deleted run has exited", info.run_id, info.state.pid)
        return True

    def _collect_adopted(self, tracked: Tracked) -> bool:
        state = tracked.info.state
        if not state_path(tracked.info.path).is_file():
            return self._collect_orphan(tracked)
        if is_same_process(state.pid, state.pid_start_time):
            return False
        try:
            info = self.store.reload(tracked.info)
        except RunError as error:
            log.error("run %s: adopted pid %s is gone, and its state cannot be read: %s", tracked.info.run_id, state.pid, error)
            return True
        log.info("run %s: adopted pid %s is gone, status %s", info.run_id, state.pid, info.status)
        return True

    def _adopt_running(self, runs: list[RunInfo]) -> None:
        """Track running runs started by an earlier supervisor, in the slot of their GPU."""
        for info in runs:
            if info.status != RUNNING or info.run_id in self.tracked:
                continue
            slot = self._free_slot_on(info.state.gpu)
            if slot is not None:
                slot.run_id = info.run_id
            self.tracked[info.run_id] = Tracked(info, slot)
            log.info("run %s: adopted running pid %s on %s", info.run_id, info.state.pid, _slot_name(slot))

    def _write_info(self) -> None:
        info = {
            "pid": os.getpid(),
            "pid_start_time": process_start_time(os.getpid()),
            "started": time.time(),
            "gpus": list(self.plan.gpus),
            "per_gpu": self.plan.per_gpu,
        }
        write_json_atomic(self.runs_dir / SUPERVISOR_INFO_FILE, info)


def _slot_name(slot: Slot | None) -> str:
    if slot is None:
        return "no slot of the current plan"
    return "CPU" if slot.gpu is None else f"GPU {slot.gpu}"


def configure_logging(runs_dir: Path) -> None:
    logging.basicConfig(
        filename=Path(runs_dir) / SUPERVISOR_LOG_FILE,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s supervisor[%(process)d] %(message)s",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="birdtui supervise", description="Run the queue of a runs folder (started on demand).")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_dir", metavar="RUNS_DIR", type=Path, help="runs folder whose queue to run")
    add_slot_arguments(parser)


def supervise(runs_dir: Path, gpus: str | None, per_gpu: str | None) -> int:
    """Run a supervisor in this process; the entry point of `birdtui supervise`."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    if not runs_dir.is_dir():
        raise RunError(f"runs folder {runs_dir} not found; launch a run first")
    plan = resolve_plan(gpus, per_gpu)

    configure_logging(runs_dir)
    # SIGTERM stops only the supervisor: runs live in their own sessions and a
    # later supervisor adopts them.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return Supervisor(runs_dir, plan).run()
    except BirdtuiError as error:
        log.error("%s", error)
        raise
    except Exception:
        log.exception("supervisor crashed; its runs keep going, and the next supervisor or `birdtui ls` records how they end")
        raise


def _exit_on_signal(signal_number: int, frame: object) -> None:
    log.info("stopping on signal %d; running runs keep going", signal_number)
    raise SystemExit(128 + signal_number)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return supervise(args.runs_dir, args.gpus, args.per_gpu)
    except BirdtuiError as error:
        print(f"birdtui supervise: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
