"""The GPU screen: per-GPU memory, utilization and runs, as `birdtui gpus` prints them."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from birdtui.errors import BirdtuiError
from birdtui.runs.gpu import format_gpu_report, gpu_report
from birdtui.runs.store import RunStore

REFRESH_SECONDS = 2.0


class GpuScreen(ModalScreen[None]):
    """The GPU table, queried again every `refresh_seconds` until escape, q or g closes it."""

    BINDINGS = [("escape,q,g", "dismiss", "Close")]

    def __init__(self, runs_dir: Path, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        # A store of its own, because the app's store is in use by the runs watcher thread.
        self.store = RunStore(runs_dir)
        self.refresh_seconds = refresh_seconds
        self.refreshes = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="gpu-body"):
            yield Static("GPUs", classes="screen-title")
            # No markup: GPU names and run ids are literal text.
            yield Static("Querying NVML...", id="gpu-table", markup=False)
            yield Static(f"Refreshed every {self.refresh_seconds:g} s. escape or g closes this view.", classes="hint")

    def on_mount(self) -> None:
        self.poll_gpus()

    @work(thread=True, exclusive=True, name="GPU view", exit_on_error=False)
    def poll_gpus(self) -> None:
        # NVML calls block, so they run here, and the text reaches the widget on the UI thread.
        # Textual cancels this worker when the screen is dismissed.
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                text = format_gpu_report(gpu_report(self.store))
            except BirdtuiError as error:
                text = f"Cannot list the runs on each GPU: {error}"
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self.show_table, text)
            worker.cancelled_event.wait(self.refresh_seconds)

    def show_table(self, text: str) -> None:
        # A query that finishes after the screen closed has no widget to update.
        if not self.is_attached:
            return
        self.query_one("#gpu-table", Static).update(text)
        self.refreshes += 1
