"""The export screens: the question before results.md is overwritten, and what it contains."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ExportScreen(ModalScreen[None]):
    """Shows the written markdown table; escape closes it."""

    BINDINGS = [("escape,q,e", "dismiss", "Close")]

    def __init__(self, path: Path, markdown: str) -> None:
        super().__init__()
        self.path = path
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="export-body"):
            yield Static(f"Exported to {self.path}", classes="screen-title", markup=False)
            yield Static(self.markdown, markup=False)
            yield Static("escape closes this view", classes="hint")


class OverwriteScreen(ModalScreen[bool]):
    """Asks before the export replaces a file it did not write; dismisses with True only for `y`."""

    BINDINGS = [
        ("y", "confirm", "Overwrite"),
        ("n,escape,q", "cancel", "Keep the file"),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="overwrite-dialog"):
            yield Static(f"Overwrite {self.path.name}?", classes="screen-title", markup=False)
            yield Static(
                f"{self.path} has text that the export did not write, such as notes. "
                "The export replaces the whole file.",
                markup=False,
            )
            yield Static("y: overwrite    n / escape: keep the file and cancel the export", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
