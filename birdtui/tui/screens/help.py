"""The help screen: every key binding of the main view, with what it does, and the table columns whose titles need explaining."""

from __future__ import annotations

from collections.abc import Sequence

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

# Table columns whose short titles do not explain themselves.
COLUMN_HELP = (
    ("+", "Marked as an overlay: its curves join the selected run's plot"),
    ("best val acc", "The highest validation accuracy of any finished epoch"),
    ("rank@ep", "For a running run: its place by val accuracy among all runs at its last finished epoch, "
                "as rank/runs compared (1 is best). Runs compare at equal epochs, so a young run is not "
                "ranked against finished ones' final results"),
)


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
        table = _two_column_table(describe_bindings(self.bindings))
        with VerticalScroll(id="help-body"):
            yield Static("Keys", classes="screen-title")
            yield Static(table, id="help-keys")
            yield Static("Columns", classes="screen-title", id="help-columns-title")
            yield Static(_two_column_table(COLUMN_HELP), id="help-columns")
            yield Static("Runs keep going when birdtui quits. escape closes this help.", classes="hint")


def _two_column_table(rows: Sequence[tuple[str, str]]) -> Table:
    """Return a borderless table with a bold, right-aligned name column and a wrapping description column."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("name", justify="right", style="bold", no_wrap=True)
    table.add_column("description", ratio=1)
    for name, description in rows:
        table.add_row(name, description)
    return table
