"""The app's actions on runs: launch, kill, resume and export, each in a thread worker.

Each of these blocks (kill waits up to its grace period for the process to
exit), so none runs on the UI thread. A `BirdtuiError` becomes an error
notification; the watcher shows the effect on the runs folder at its next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from birdtui import runs
from birdtui.config.schema import ExperimentConfig
from birdtui.errors import BirdtuiError, ConfigError
from birdtui.export import choose_columns, collect_rows, render_markdown
from birdtui.export.columns import RUN
from birdtui.export.command import write_text_atomic

if TYPE_CHECKING:
    from birdtui.tui.app import BirdtuiApp

RESULTS_FILE = "results.md"

# The checkpoint folder of a run. birdtui.train defines it too, but importing that loads torch.
CHECKPOINT_FOLDER = "checkpoints"

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
    # One toast for all launched runs, so that `a` on many experiments does
    # not fill the screen. Each error still gets its own toast.
    launched: list[str] = []
    for config in configs:
        try:
            info = runs.launch(app.store, config, experiments_file=app.config_path)
        except BirdtuiError as error:
            app.call_from_thread(app.notify_error, error)
            continue
        launched.append(info.run_id)
    if launched:
        app.call_from_thread(app.notify, launch_summary(launched), title="Launch")


def launch_summary(run_ids: list[str]) -> str:
    """Return the toast text for the launched runs: 'Launched r18' or 'Launched 3 runs: r18, r34, r50'."""
    if len(run_ids) == 1:
        return f"Launched {run_ids[0]}"
    return f"Launched {len(run_ids)} runs: {', '.join(run_ids)}"


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
        info = runs.resume(app.store, run_id)
    except BirdtuiError as error:
        app.call_from_thread(app.notify_error, error)
        return
    checkpoint = newest_checkpoint_name(info.path)
    if checkpoint is None:
        message = f"Restarting {run_id} from epoch 0: it has no checkpoint to resume from"
    else:
        message = f"Resuming {run_id} from its last checkpoint ({checkpoint})"
    app.call_from_thread(app.notify, message, title="Resume")


def newest_checkpoint_name(run_dir: Path) -> str | None:
    """Return the checkpoint a resume starts from: the newest epoch file, else best.pt, else None."""
    folder = run_dir / CHECKPOINT_FOLDER
    # Epoch files are numbered with leading zeros, so the name order is the epoch order.
    epochs = sorted(path.name for path in folder.glob("epoch-*.pt"))
    if epochs:
        return epochs[-1]
    return "best.pt" if (folder / "best.pt").is_file() else None


def results_path(app: BirdtuiApp) -> Path:
    return app.config_path.parent / RESULTS_FILE


def is_foreign_file(path: Path) -> bool:
    """Return whether `path` exists and contains more than a table that the export wrote.

    An export is one markdown table whose first column is the run, so a file
    with any other line (a user's notes, say) is not overwritten unasked.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True
    lines = text.splitlines()
    if not lines or not all(line.startswith("|") and line.endswith("|") for line in lines):
        return True
    first_title = lines[0].strip("|").split("|")[0].strip()
    return first_title != RUN.title


def export_results(app: BirdtuiApp) -> None:
    _run_in_thread(app, "export", _export, [config.name for config in app.experiments])


def _export(app: BirdtuiApp, names: list[str]) -> None:
    target = results_path(app)
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
