"""The details screen of one run: resolved config, diff, checkpoints, stderr tail.

The diff compares the run with another row: at first the first run marked
for overlay, or else the first other row. `c` moves the diff to the next row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from birdtui.runs.outcome import stderr_tail
from birdtui.tui.model import RunView

STDERR_LINES = 40


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return a nested config as dotted keys, such as `optim.lr`."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "lr_by_epoch":
            flat.update(flatten_config(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def format_value(value: Any) -> str:
    """Write one config value as in experiments.toml: "sgd", true, 0.1, { 0 = 0.1, 3 = 0.01 }."""
    if isinstance(value, dict):
        items = ", ".join(f"{key} = {format_value(item)}" for key, item in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    # JSON writes strings, numbers and true/false as TOML does. An unset value reads as null.
    return json.dumps(value)


def config_diff(config: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Return one `key: this -> other` line per setting that differs, the name excluded."""
    mine, theirs = flatten_config(config), flatten_config(other)
    lines = []
    for key in sorted(set(mine) | set(theirs)):
        if key != "name" and mine.get(key) != theirs.get(key):
            lines.append(f"{key}: {_diff_value(mine, key)} -> {_diff_value(theirs, key)}")
    return lines


def _diff_value(flat: dict[str, Any], key: str) -> str:
    return format_value(flat[key]) if key in flat else "-"


def list_checkpoints(run_dir: Path) -> list[str]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return [f"{path.name}  {path.stat().st_size / 1e6:.1f} MB" for path in sorted(folder.glob("*.pt"))]


class DetailsScreen(Screen[None]):
    """Everything about one run that does not fit in a table row."""

    BINDINGS = [
        ("escape,q,d", "app.pop_screen", "Back"),
        ("c", "next_compare", "Diff against the next row"),
    ]

    def __init__(self, view: RunView, others: list[RunView], runs_dir: Path) -> None:
        """Show `view`; the diff starts against `others[0]` and `c` cycles through the rest."""
        super().__init__()
        self.view = view
        self.others = others
        self.compare_index = 0
        self.run_dir = runs_dir / view.key

    @property
    def compare(self) -> RunView | None:
        return self.others[self.compare_index] if self.others else None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details-body"):
            yield Static(self._title(), classes="screen-title", markup=False)
            yield from self._section("Config", self._config_text())
            yield Static(self._diff_title(), classes="section-title", id="diff-title", markup=False)
            yield Static(self._diff_text(), classes="section", id="diff", markup=False)
            if self.view.is_run:
                yield from self._section("Checkpoints", "\n".join(list_checkpoints(self.run_dir)) or "none yet")
                yield from self._section("stderr.log (last lines)", stderr_tail(self.run_dir, STDERR_LINES) or "empty")
        yield Footer()

    def action_next_compare(self) -> None:
        if not self.others:
            return
        self.compare_index = (self.compare_index + 1) % len(self.others)
        self.query_one("#diff-title", Static).update(self._diff_title())
        self.query_one("#diff", Static).update(self._diff_text())

    def _section(self, title: str, body: str) -> ComposeResult:
        yield Static(title, classes="section-title", markup=False)
        yield Static(body, classes="section", markup=False)

    def _title(self) -> str:
        view = self.view
        title = f"{view.key}  ({view.status})"
        # The summary has the end record's error, or else the one the supervisor recorded.
        if view.summary.error:
            title += f"\nerror: {view.summary.error}"
        return title

    def _config_text(self) -> str:
        flat = flatten_config(self.view.config)
        return "\n".join(f"{key} = {format_value(value)}" for key, value in flat.items()) or "no config.json"

    def _diff_title(self) -> str:
        if self.compare is None:
            return "Diff"
        return f"Diff: {self.view.key} -> {self.compare.key}"

    def _diff_text(self) -> str:
        if self.compare is None:
            return "no other run or experiment to compare with"
        return "\n".join(config_diff(self.view.config, self.compare.config)) or "same settings"
