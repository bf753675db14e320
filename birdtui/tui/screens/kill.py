"""The kill confirmation: a run is stopped only after an explicit `y`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from birdtui.tui.commands import KILL_GRACE_SECONDS


class KillScreen(ModalScreen[bool]):
    """Asks whether to kill one run; dismisses with True only for `y`."""

    BINDINGS = [
        ("y", "confirm", "Kill"),
        ("n,escape,q", "cancel", "Keep running"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(id="kill-dialog"):
            yield Static(f"Kill run {self.run_id}?", classes="screen-title", markup=False)
            yield Static(
                f"The worker gets SIGTERM, then SIGKILL if it has not exited {KILL_GRACE_SECONDS:g} s later.\n"
                "`r` resumes it later from its last checkpoint.",
                markup=False,
            )
            yield Static("y: kill    n / escape: keep it running", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
