"""The app's actions on runs: launch, kill, resume and export, each in a thread worker.

Each of these blocks (kill waits up to its grace period for the process to
exit), so none runs on the UI thread. A `BirdtuiError` becomes an error
notification; the watcher shows the effect on the runs folder at its next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from birdtui import runs
from birdtui.config.schema import ExperimentConfig
from birdtui.errors import BirdtuiError, ConfigError
from birdtui.export import choose_columns, collect_rows, render_markdown
from birdtui.export.command import write_text_atomic

if TYPE_CHECKING:
    from birdtui.tui.app import BirdtuiApp

RESULTS_FILE = "results.md"

# Seconds that kill waits after SIGTERM before it sends SIGKILL.
KILL_GRACE_SECONDS = 10.0


def _run_in_thread(app: BirdtuiApp, name: str, function: Callable[..., None], *args: Any) -> None:
    # exit_on_error=False: the app's worker handler shows an unexpected error instead of exiting.
    app.run_worker(partial(function, app, *args), name=name, group="runs", thread=True, exit_on_error=False)


def launch_experiments(app: BirdtuiApp, names: list[str]) -> None:
    configs = {config.name: config for config in app.experiments}
    missing = [name for name in names if name not in configs]
    if missing:
        app.notify_error(
            ConfigError(
                f"{', '.join(missing)} is not in the experiments file any more",
                path=str(app.config_path),
                fix="add the experiment back, or launch another one",
            )
        )
    chosen = [configs[name] for name in names if name in configs]
    if chosen:
        _run_in_thread(app, "launch", _launch, chosen)


def _launch(app: BirdtuiApp, configs: list[ExperimentConfig]) -> None:
    for config in configs:
        try:
            info = runs.launch(app.store, config)
        except BirdtuiError as error:
            app.call_from_thread(app.notify_error, error)
            continue
        app.call_from_thread(app.notify, f"Launched {info.run_id}", title="Launch")


def kill_run(app: BirdtuiApp, run_id: str) -> None:
    app.notify(f"Stopping {run_id}…", title="Kill")
    _run_in_thread(app, "kill", _kill, run_id)


def _kill(app: BirdtuiApp, run_id: str) -> None:
    try:
        runs.kill(app.store, run_id, grace=KILL_GRACE_SECONDS)
    except BirdtuiError as error:
        app.call_from_thread(app.notify_error, error)
        return
    app.call_from_thread(app.notify, f"Killed {run_id}", title="Kill")


def resume_run(app: BirdtuiApp, run_id: str) -> None:
    _run_in_thread(app, "resume", _resume, run_id)


def _resume(app: BirdtuiApp, run_id: str) -> None:
    try:
        runs.resume(app.store, run_id)
    except BirdtuiError as error:
        app.call_from_thread(app.notify_error, error)
        return
    app.call_from_thread(app.notify, f"Resuming {run_id} from its last checkpoint", title="Resume")


def export_results(app: BirdtuiApp) -> None:
    _run_in_thread(app, "export", _export, [config.name for config in app.experiments])


def _export(app: BirdtuiApp, names: list[str]) -> None:
    target = app.config_path.parent / RESULTS_FILE
    try:
        rows = collect_rows(app.runs_dir, experiment_order=names)
        markdown = render_markdown(rows, choose_columns(rows))
        write_text_atomic(target, markdown)
    except BirdtuiError as error:
        app.call_from_thread(app.notify_error, error)
        return
    except OSError as error:
        app.call_from_thread(app.notify, f"Cannot write {target}: {error.strerror}; check the folder's permissions", title="Export failed", severity="error")
        return
    app.call_from_thread(app.show_export, target, markdown)
