"""The help screen: every key binding of the main view, with what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Keys whose Textual names read badly in a list.
KEY_NAMES = {"question_mark": "?", "space": "space", "enter": "enter", "escape": "escape"}

# Bindings of the table itself, listed too so that the help is complete.
TABLE_KEYS = (("up / down", "Select a run"), ("enter", "Details of the selected run"), ("left / right", "Scroll the table sideways"))


def describe_bindings(bindings: list[Binding]) -> list[tuple[str, str]]:
    """Return (key, description) for each binding; keys that share an action are listed together."""
    rows: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    for binding in bindings:
        keys = rows.setdefault(binding.action, [])
        keys.extend(KEY_NAMES.get(key, key) for key in binding.key.split(","))
        descriptions.setdefault(binding.action, binding.tooltip or binding.description)
    return [(" / ".join(keys), descriptions[action]) for action, keys in rows.items()] + list(TABLE_KEYS)


class HelpScreen(ModalScreen[None]):
    """A list of every key; any of escape, q or ? closes it."""

    BINDINGS = [("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column("key", justify="right", style="bold", no_wrap=True)
        table.add_column("action", ratio=1)
        for key, description in describe_bindings(self.bindings):
            table.add_row(key, description)
        with VerticalScroll(id="help-body"):
            yield Static("Keys", classes="screen-title")
            yield Static(table, id="help-keys")
            yield Static("Runs keep going when birdtui quits. escape closes this help.", classes="hint")
