"""The birdtui app: the results table on top, the loss plot below, keys for runs.

Data flow: a thread worker calls `RunsWatcher.poll` about every half second
and posts what it found as messages. The handlers below fold the records on
the UI thread into a `RunView` (table values) and a `RunSeries` (plot data)
per run. The table is synced once per batch of messages. `LossPlot` redraws
from its own one-second timer, and only when a shown series changed. Elapsed
time and ETA come from the log's timestamps, so an idle UI has nothing to
redraw.

Blocking calls (launch, kill, resume, export) run in thread workers; their
`BirdtuiError`s become notifications.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from birdtui.config.load import default_runs_dir
from birdtui.config.schema import ExperimentConfig, to_dict
from birdtui.errors import BirdtuiError
from birdtui.metrics.series import RunSeries, format_lr_change
from birdtui.runs.store import RunStore
from birdtui.tui import commands
from birdtui.tui.columns import COLUMN_KEYS, COLUMNS_BY_KEY, RowContext
from birdtui.tui.messages import (
    ExperimentsInvalid,
    ExperimentsLoaded,
    RunRecords,
    RunRemoved,
    RunStateChanged,
    RunUnreadable,
)
from birdtui.tui.model import ENDED_FOR_GOOD, LIVE_STATUSES, PENDING, RunView, rank_at_equal_epoch
from birdtui.tui.screens.details import DetailsScreen
from birdtui.tui.screens.export import ExportScreen, OverwriteScreen
from birdtui.tui.screens.gpu import GpuScreen
from birdtui.tui.screens.help import HelpScreen
from birdtui.tui.screens.kill import KillScreen
from birdtui.tui.watcher import POLL_SECONDS, RunsWatcher
from birdtui.tui.widgets.loss_plot import LossPlot
from birdtui.tui.widgets.runs_table import RunsTable


def error_summary(error: str) -> str:
    """Return an error's cause and its fix on one line, for the bar under the table."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    # A traceback ends in its cause. A birdtui error starts with its cause and ends in a fix line.
    fix = next((line for line in lines if line.startswith("fix:")), None)
    causes = [line for line in lines if line != fix]
    cause = causes[0] if fix else lines[-1]
    return f"{cause}  {fix}" if fix else cause


class BirdtuiApp(App):
    """The experiment monitor for one experiments file and its runs folder."""

    # Absolute, because Textual resolves a relative path next to the file of a subclass.
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "birdtui"
    # The help screen lists every action, and the footer needs the room.
    ENABLE_COMMAND_PALETTE = False

    # The tooltip is the longer text that the help screen lists.
    # Help comes first so that the footer shows it even at 80 columns.
    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="Show this list of keys"),
        Binding("l", "launch", "Launch", tooltip="Launch the selected experiment (a new attempt if it ran before)"),
        # The footer has room for what fits in 80 columns. The help lists `a` and space too.
        Binding("a", "launch_all", "Launch all", show=False, tooltip="Launch every experiment that has no run yet"),
        Binding("L", "launch_all", "Launch all", show=False),
        Binding("k", "kill", "Kill", tooltip="Kill the selected run, after a y to confirm"),
        Binding("r", "resume", "Resume", tooltip="Resume the selected failed, killed or lost run from its last checkpoint"),
        Binding("space", "toggle_overlay", "Overlay", show=False, tooltip="Mark or unmark the selected run as an overlay on the plot"),
        Binding("o", "toggle_overlay", "Overlay", show=False),
        Binding("s", "cycle_sort", "Sort", tooltip="Sort the table by the next column"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, tooltip="Reverse the sort direction"),
        Binding("v", "plot_view", "View", tooltip="Switch the plot: train loss, validation, learning rate"),
        Binding("x", "x_axis", "Step/epoch", show=False, tooltip="Plot against optimizer steps or epochs"),
        Binding("[", "smoothing(-1)", "Less smoothing", show=False, tooltip="Smooth the train loss less"),
        Binding("]", "smoothing(1)", "More smoothing", show=False, tooltip="Smooth the train loss more"),
        Binding("m", "smoothing_kind", "Smoothing kind", show=False, tooltip="Switch smoothing: none, moving average, EMA"),
        Binding("d", "details", "Details", tooltip="Config, diff, checkpoints and stderr of the selected run"),
        Binding("e", "export", "Export", tooltip="Write results.md beside the experiments file; asks first if the file has other text"),
        Binding("g", "gpus", "GPUs", show=False, tooltip="Show per-GPU memory, utilization and the runs on each GPU"),
        Binding("q", "quit", "Quit", tooltip="Quit; runs keep going in the background"),
    ]

    def __init__(
        self,
        config_path: str | Path,
        runs_dir: str | Path | None = None,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.config_path = Path(config_path).expanduser().resolve()
        self.runs_dir = Path(runs_dir).expanduser().resolve() if runs_dir else default_runs_dir(self.config_path)
        self.store = RunStore(self.runs_dir)
        self.watcher = RunsWatcher(self.config_path, self.runs_dir, self.store)
        self.poll_seconds = poll_seconds

        self.experiments: list[ExperimentConfig] = []
        self.runs: dict[str, RunView] = {}
        self.series: dict[str, RunSeries] = {}
        self.overlays: set[str] = set()
        self.config_error: BirdtuiError | None = None
        # Whether a valid experiments file was read since the app started.
        self.experiments_loaded = False
        self._table_sync_scheduled = False
        # The selected series and the overlay keys that the plot shows now.
        self._plotted: tuple[RunSeries | None, frozenset[str]] = (None, frozenset())

    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs")
        # No markup: errors quote file text such as [defaults], and run names are literal.
        yield Static(id="config-error", markup=False)
        yield Static(id="selection", markup=False)
        yield LossPlot(id="plot")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()
        self.watch_runs_folder()

    # The background data flow.

    @work(thread=True, exclusive=True, name="runs watcher", exit_on_error=False)
    def watch_runs_folder(self) -> None:
        worker = get_current_worker()
        last_problem = None
        while not worker.is_cancelled:
            try:
                messages = self.watcher.poll()
            except OSError as error:
                # A folder that cannot be read now (permissions, a full disk) may recover;
                # the same problem is reported once, not every half second.
                problem = f"Cannot read {error.filename or self.runs_dir}: {error.strerror}"
                if problem != last_problem:
                    self.call_from_thread(self.notify, problem, title="Runs folder", severity="error", timeout=10)
                last_problem, messages = problem, []
            for message in messages:
                self.post_message(message)
            # Event.wait returns early on cancel, so quitting does not wait a poll.
            worker.cancelled_event.wait(self.poll_seconds)

    @on(ExperimentsLoaded)
    def adopt_experiments(self, message: ExperimentsLoaded) -> None:
        self.experiments = message.experiments
        self.experiments_loaded = True
        if self.config_error is not None:
            self.notify(f"{self.config_path.name} is valid again", title="Experiments reloaded")
        self.config_error = None
        self.show_config_error()
        self.schedule_table_sync()

    @on(ExperimentsInvalid)
    def report_invalid_experiments(self, message: ExperimentsInvalid) -> None:
        # The table keeps the experiments of the last valid file meanwhile.
        self.config_error = message.error
        self.show_config_error()
        self.notify(str(message.error), title=message.error.title, severity="error", timeout=10)

    @on(RunStateChanged)
    def adopt_run_state(self, message: RunStateChanged) -> None:
        view = self.runs.get(message.run_id)
        if view is None:
            experiment = message.state.get("experiment") or message.run_id.partition("@")[0]
            view = self.runs[message.run_id] = RunView(key=message.run_id, experiment=experiment)
            self.series[message.run_id] = RunSeries(message.run_id)
        view.set_state(message.state)
        view.config = message.config or view.config
        self.schedule_table_sync()

    @on(RunUnreadable)
    def report_unreadable_run(self, message: RunUnreadable) -> None:
        # The row, if any, keeps the last valid state.
        self.notify(str(message.error), title=message.error.title, severity="warning", timeout=10)

    @on(RunRemoved)
    def forget_run(self, message: RunRemoved) -> None:
        self.runs.pop(message.run_id, None)
        self.series.pop(message.run_id, None)
        self.overlays.discard(message.run_id)
        self.schedule_table_sync()

    @on(RunRecords)
    def fold_records(self, message: RunRecords) -> None:
        view = self.runs.get(message.run_id)
        if view is None:
            return
        series = self.series[message.run_id]
        if message.reset:
            view.reset_records()
            series.clear()
        view.update(message.records)
        _, lr_changes = series.update(message.records)

        if message.bad_lines:
            line_number, _ = message.bad_lines[0]
            self.notify(
                f"run {message.run_id}: skipped {len(message.bad_lines)} invalid line(s) of metrics.jsonl, first at line {line_number}",
                severity="warning",
            )
        # The first read of a log contains history, so only changes seen live are announced.
        if not message.backlog:
            for change in lr_changes:
                self.notify(format_lr_change(f"run {message.run_id}", change), title="LR change")
        self.schedule_table_sync()

    # Table and plot.

    def views(self) -> list[RunView]:
        """Return the table rows: every run, then each experiment that has no run yet."""
        views = list(self.runs.values())
        launched = {view.experiment for view in views}
        for config in self.experiments:
            if config.name not in launched:
                views.append(RunView(key=config.name, experiment=config.name, config=to_dict(config)))
        return views

    def row_context(self, views: list[RunView]) -> RowContext:
        return RowContext(ranks=rank_at_equal_epoch(views), overlays=self.overlays)

    def schedule_table_sync(self) -> None:
        # Many messages arrive in one poll: sync once after the queue drains them.
        if not self._table_sync_scheduled:
            self._table_sync_scheduled = True
            self.call_later(self.sync_table)

    def sync_table(self) -> None:
        self._table_sync_scheduled = False
        views = self.views()
        self.query_one(RunsTable).sync(views, self.row_context(views))
        self.show_selection()
        self.show_plotted_runs()

    def show_plotted_runs(self) -> None:
        """Give the plot the selected run and the overlays when that set changed."""
        # A pending row's key becomes a run's key on launch, so compare the series, not the key.
        selected = self.series.get(self.query_one(RunsTable).selected_key or "")
        plotted = (selected, frozenset(self.overlays))
        if plotted == self._plotted:
            return
        self._plotted = plotted
        overlays = [self.series[key] for key in sorted(self.overlays) if key in self.series]
        self.query_one(LossPlot).set_runs(selected, overlays)

    def selected_view(self) -> RunView | None:
        key = self.query_one(RunsTable).selected_key
        if key is None:
            return None
        return self.runs.get(key) or next((view for view in self.views() if view.key == key), None)

    @on(DataTable.RowHighlighted)
    def follow_selection(self) -> None:
        self.show_selection()
        self.show_plotted_runs()

    @on(DataTable.RowSelected)
    def open_details_on_enter(self) -> None:
        self.action_details()

    def show_selection(self) -> None:
        """Write the selected row's name and status under the table, with a class per status."""
        bar = self.query_one("#selection", Static)
        view = self.selected_view()
        for status in (PENDING, "queued", "running", "finished", "failed", "killed", "diverged", "lost"):
            bar.set_class(view is not None and view.status == status, f"-{status}")
        if view is None:
            bar.update("No experiments yet: add some to " + self.config_path.name)
            return
        marks = f"  overlays: {', '.join(sorted(self.overlays))}" if self.overlays else ""
        error = f"  {error_summary(view.state['error'])}" if view.state.get("error") else ""
        bar.update(f"{view.key}: {view.status}{error}{marks}")

    def show_config_error(self) -> None:
        panel = self.query_one("#config-error", Static)
        panel.set_class(self.config_error is not None, "-visible")
        if self.config_error is not None:
            shown = "the table shows the last valid file" if self.experiments_loaded else "no experiments loaded yet"
            panel.update(f"{self.config_error.title} ({shown}):\n{self.config_error}")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a notification; markup is off by default because messages quote files and names."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # Worker errors and results.

    def notify_error(self, error: BirdtuiError) -> None:
        self.notify(str(error), title=error.title, severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Workers catch BirdtuiError themselves; anything else is a bug, shown instead of crashing.
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name} failed: {type(error).__name__}: {error}", title="Unexpected error", severity="error", timeout=15)

    # Key actions; the ones that touch runs live in birdtui.tui.commands.

    def action_launch(self) -> None:
        view = self.selected_view()
        if view is None:
            self.notify("Nothing to launch: the experiments file defines no experiments", severity="warning")
            return
        commands.launch_experiments(self, [view.experiment])

    def action_launch_all(self) -> None:
        pending = [view.experiment for view in self.views() if view.status == PENDING]
        if not pending:
            self.notify("Every experiment has a run already; `l` starts another attempt of the selected one")
            return
        commands.launch_experiments(self, pending)

    def action_kill(self) -> None:
        view = self.selected_view()
        if view is None or view.status not in LIVE_STATUSES:
            status = view.status if view else "nothing selected"
            self.notify(f"Only a queued or running run can be killed ({status})", severity="warning")
            return
        self.push_screen(KillScreen(view.key), lambda confirmed: commands.kill_run(self, view.key) if confirmed else None)

    def action_resume(self) -> None:
        view = self.selected_view()
        if view is None or not view.is_run:
            self.notify("Select a run to resume; `l` launches an experiment", severity="warning")
            return
        if view.status in ENDED_FOR_GOOD:
            # Resuming would do nothing or diverge again, so point at a new attempt.
            self.notify(f"{view.key} is {view.status}, so there is nothing to resume; `l` starts a new attempt of {view.experiment}", severity="warning")
            return
        commands.resume_run(self, view.key)

    def action_toggle_overlay(self) -> None:
        view = self.selected_view()
        if view is None or not view.is_run:
            return
        self.overlays.symmetric_difference_update({view.key})
        self.show_plotted_runs()
        self.schedule_table_sync()

    def action_cycle_sort(self) -> None:
        table = self.query_one(RunsTable)
        next_key = COLUMN_KEYS[(COLUMN_KEYS.index(table.sort_key) + 1) % len(COLUMN_KEYS)]
        self.sort_table(next_key, reverse=False)

    def action_reverse_sort(self) -> None:
        table = self.query_one(RunsTable)
        self.sort_table(table.sort_key, reverse=not table.sort_reverse)

    def sort_table(self, column_key: str, reverse: bool) -> None:
        views = self.views()
        self.query_one(RunsTable).set_sort(column_key, reverse, views, self.row_context(views))
        direction = "descending" if reverse else "ascending"
        self.notify(f"Sorted by {COLUMNS_BY_KEY[column_key].label}, {direction}", timeout=2)

    def action_plot_view(self) -> None:
        view = self.query_one(LossPlot).next_view()
        self.notify(f"Plot: {view}", timeout=2)

    def action_x_axis(self) -> None:
        axis = self.query_one(LossPlot).toggle_x_axis()
        self.notify(f"Plot x axis: {axis}", timeout=2)

    def action_smoothing(self, step: int) -> None:
        smoothing = self.query_one(LossPlot).change_smoothing(step)
        self.notify(f"Smoothing: {smoothing.label}", timeout=2)

    def action_smoothing_kind(self) -> None:
        smoothing = self.query_one(LossPlot).cycle_smoothing_kind()
        self.notify(f"Smoothing: {smoothing.label}", timeout=2)

    def action_details(self) -> None:
        view = self.selected_view()
        if view is None:
            return
        # Overlay-marked rows come first, so marking a run picks what the diff is against.
        others = [other for other in self.views() if other.key != view.key]
        others.sort(key=lambda other: other.key not in self.overlays)
        self.push_screen(DetailsScreen(view, others, self.runs_dir))

    def action_export(self) -> None:
        target = commands.results_path(self)
        if commands.is_foreign_file(target):
            self.push_screen(OverwriteScreen(target), self.export_if_confirmed)
            return
        commands.export_results(self)

    def export_if_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            commands.export_results(self)
        else:
            self.notify(f"Export cancelled; {commands.results_path(self)} is unchanged", title="Export")

    def show_export(self, path: Path, markdown: str) -> None:
        self.notify(f"Wrote {path}", title="Export")
        self.push_screen(ExportScreen(path, markdown))

    def action_gpus(self) -> None:
        self.push_screen(GpuScreen(self.runs_dir))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        live = [view.key for view in self.runs.values() if view.status in LIVE_STATUSES]
        message = None
        if live:
            message = f"birdtui: {len(live)} run(s) keep running in the background ({', '.join(sorted(live))}); run `birdtui` again to watch them."
        self.exit(message=message)
