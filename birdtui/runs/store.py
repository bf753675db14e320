"""The runs folder: one directory per run attempt, listed and looked up by run id.

A run id is the folder name: `<experiment>` for the first attempt and
`<experiment>@<N>` for attempt N. Listing a run also checks that a `running`
run still has its process (pid plus start time). When the process is gone,
the run's status comes from its metrics log, or else it becomes `lost`.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from birdtui.errors import RunError
from birdtui.runs.outcome import settle
from birdtui.runs.process import is_same_process
from birdtui.runs.state import (
    RUNNING,
    STATE_FILE,
    RunState,
    read_state,
    state_lock,
    write_state,
)

log = logging.getLogger(__name__)

ATTEMPT_SEPARATOR = "@"


@dataclass
class RunInfo:
    """One run attempt: its id, folder and last read state."""

    run_id: str
    experiment: str
    attempt: int
    path: Path
    state: RunState

    @property
    def status(self) -> str:
        return self.state.status


@dataclass
class StoreProblem:
    """A run folder that could not be read, kept so that callers can show it."""

    path: Path
    message: str


def parse_run_id(run_id: str) -> tuple[str, int]:
    """Split `name@N` into (name, N); a plain name is attempt 1."""
    name, separator, attempt_text = run_id.partition(ATTEMPT_SEPARATOR)
    if not separator:
        return name, 1
    if not attempt_text.isdigit() or int(attempt_text) < 2:
        raise RunError(f"invalid run id {run_id!r}: expected NAME or NAME@N with N >= 2")
    return name, int(attempt_text)


def format_run_id(experiment: str, attempt: int) -> str:
    return experiment if attempt == 1 else f"{experiment}{ATTEMPT_SEPARATOR}{attempt}"


@dataclass
class RunStore:
    """The run folders under `root` (usually runs/ beside experiments.toml)."""

    root: Path
    # Folders skipped by the last `list_runs` because their state was unreadable.
    problems: list[StoreProblem] = field(default_factory=list)
    # False for callers that show `problems` themselves, so that each problem is shown once.
    log_problems: bool = True
    # Problems already logged, so that a supervisor polling the folder logs each once.
    _logged_problems: set[tuple[Path, str]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()

    def list_runs(self) -> list[RunInfo]:
        """Return every run, refreshed, ordered by experiment name and attempt."""
        self.problems = []
        runs = []
        if not self.root.is_dir():
            return runs

        for state_file in sorted(self.root.glob(f"*/{STATE_FILE}")):
            try:
                runs.append(self.refresh(self._load(state_file.parent)))
            except RunError as error:
                self._report(StoreProblem(state_file.parent, str(error)))
        runs.sort(key=lambda info: (info.experiment, info.attempt))
        return runs

    def get(self, run_id: str) -> RunInfo:
        """Return the run `run_id`, refreshed; raise RunError with close matches when it is missing."""
        parse_run_id(run_id)
        path = self.root / run_id
        if not (path / STATE_FILE).is_file():
            raise RunError(self._not_found_message(run_id))
        return self.refresh(self._load(path))

    def runs_for(self, experiment: str) -> list[RunInfo]:
        """Return the attempts of one experiment, oldest first."""
        return [info for info in self.list_runs() if info.experiment == experiment]

    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(path.parent.name for path in self.root.glob(f"*/{STATE_FILE}"))

    def refresh(self, info: RunInfo) -> RunInfo:
        """Settle a `running` run whose process is gone (pid and start time no longer match)."""
        state = info.state
        if state.status != RUNNING or is_same_process(state.pid, state.pid_start_time):
            return info

        with state_lock(self.root):
            # Read again under the lock: the supervisor may have settled it meanwhile.
            state = read_state(info.path)
            if state.status == RUNNING and not is_same_process(state.pid, state.pid_start_time):
                settle(state, info.path, exit_code=None)
                write_state(info.path, state)
                log.info("run %s: process %s is gone, status %s", info.run_id, state.pid, state.status)
        info.state = state
        return info

    def reload(self, info: RunInfo) -> RunInfo:
        """Return a new RunInfo with the run's current state."""
        return self.refresh(self._load(info.path))

    def _report(self, problem: StoreProblem) -> None:
        self.problems.append(problem)
        key = (problem.path, problem.message)
        if self.log_problems and key not in self._logged_problems:
            self._logged_problems.add(key)
            log.warning("skipping run folder %s: %s", problem.path, problem.message)

    def _load(self, path: Path) -> RunInfo:
        state = read_state(path)
        experiment, attempt = parse_run_id(path.name)
        return RunInfo(run_id=path.name, experiment=experiment, attempt=attempt, path=path, state=state)

    def _not_found_message(self, run_id: str) -> str:
        message = f"run {run_id!r} not found in {self.root}"
        matches = difflib.get_close_matches(run_id, self.run_ids(), n=3)
        if matches:
            return f"{message}; did you mean {', '.join(matches)}?"
        return f"{message}; `birdtui ls` lists the runs"
