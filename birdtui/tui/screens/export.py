"""The export screen: where results.md went and what it contains."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import VerticalScroll
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
