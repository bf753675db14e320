"""The results table: one row per run and per experiment not launched yet.

Rows are keyed by run id (or experiment name for a pending row) and updated
cell by cell, so a live update keeps the cursor, the scroll position and the
sort. The sort column and direction live here; the order itself comes from
`birdtui.tui.columns.sort_order`. A long run name is cut in the middle so
that the result columns fit in 80 columns; the details screen has it in full.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from birdtui.tui.columns import COLUMN_KEYS, COLUMNS, COLUMNS_BY_KEY, STATUS_STYLES, RowContext, cell_texts, sort_order
from birdtui.tui.model import RunView

# The widest the run column gets, in cells; longer names are cut in the middle.
NAME_WIDTH = 16


def shorten_name(name: str, width: int = NAME_WIDTH) -> str:
    """Cut a name longer than `width` cells in the middle, keeping more of its end.

    Sweep names share their start and differ in their last values
    (`r18-mw-momentum0.8-wd0.001`), so an ellipsis at the end would make
    them look alike.
    """
    if cell_len(name) <= width:
        return name
    head = width // 3
    tail = width - head - 1
    return f"{name[:head]}…{name[-tail:]}"


class NameCell(Text):
    """A run-name cell that shows the shortened name and keeps the whole one, which is the row key."""

    def __init__(self, full_name: str) -> None:
        super().__init__(shorten_name(full_name), no_wrap=True)
        self.full_name = full_name


class RunsTable(DataTable):
    """A DataTable of `RunView`s that sorts by any column with missing values last."""

    def __init__(self, **kwargs) -> None:
        # The overlay mark and the run name stay in view when the table scrolls sideways.
        super().__init__(cursor_type="row", zebra_stripes=True, fixed_columns=2, **kwargs)
        self.sort_key = "name"
        self.sort_reverse = False
        self._texts: dict[str, dict[str, str]] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(self._header(column.key, column.label), key=column.key)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def select(self, key: str) -> None:
        if key in self._texts:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def sync(self, views: list[RunView], context: RowContext) -> None:
        """Add, update and remove rows so the table shows exactly `views`, then re-sort."""
        selected = self.selected_key
        wanted = {view.key for view in views}
        for key in [key for key in self._texts if key not in wanted]:
            self.remove_row(key)
            del self._texts[key]

        for view in views:
            texts = cell_texts(view, context)
            if view.key not in self._texts:
                self.add_row(*self._cells(texts), key=view.key)
            else:
                self._update_row(view.key, texts)
            self._texts[view.key] = texts

        self._fit_name_column()
        self._apply_sort(views, context, selected)

    def set_sort(self, column_key: str, reverse: bool, views: list[RunView], context: RowContext) -> None:
        previous = self.sort_key
        self.sort_key, self.sort_reverse = column_key, reverse
        self.columns[previous].label = self._header(previous, COLUMNS_BY_KEY[previous].label)
        self.columns[column_key].label = self._header(column_key, COLUMNS_BY_KEY[column_key].label)
        self._remeasure(column_key)
        self._fit_name_column()
        self._apply_sort(views, context, self.selected_key)

    def _remeasure(self, column_key: str) -> None:
        """Make the table lay out one column again, after its label or width changed."""
        # DataTable measures a label, and redoes its layout, only when a cell is
        # updated with update_width; rewriting one cell with its own text does that.
        if not self._texts:
            return
        row_key = next(iter(self._texts))
        self.update_cell(row_key, column_key, self._cell(column_key, self._texts[row_key]), update_width=True)

    def _fit_name_column(self) -> None:
        """Give the run column the width of its longest name, at most NAME_WIDTH cells."""
        column = self.columns["name"]
        longest = max((cell_len(texts["name"]) for texts in self._texts.values()), default=0)
        width = max(min(longest, NAME_WIDTH), column.label.cell_len)
        if column.auto_width or column.width != width:
            column.auto_width, column.width = False, width
            self._remeasure("name")

    def _apply_sort(self, views: list[RunView], context: RowContext, selected: str | None) -> None:
        order = {key: index for index, key in enumerate(sort_order(views, self.sort_key, self.sort_reverse, context))}
        # The name cell carries the row key, so the key function can look the position up.
        self.sort("name", key=lambda name: order.get(name.full_name, len(order)))
        if selected is not None:
            self.select(selected)

    def _update_row(self, key: str, texts: dict[str, str]) -> None:
        old = self._texts[key]
        for column_key in COLUMN_KEYS:
            if texts[column_key] != old.get(column_key):
                self.update_cell(key, column_key, self._cell(column_key, texts), update_width=True)

    def _cells(self, texts: dict[str, str]) -> list[Text]:
        return [self._cell(key, texts) for key in COLUMN_KEYS]

    def _cell(self, column_key: str, texts: dict[str, str]) -> Text:
        # Text, not str: DataTable parses a str cell as markup, which would eat a "[" in a run name.
        text = texts[column_key]
        if column_key == "status":
            return Text(text, style=STATUS_STYLES.get(text.split(" ", 1)[-1], ""))
        if column_key == "name":
            return NameCell(text)
        return Text(text, justify="right" if COLUMNS_BY_KEY[column_key].numeric else "left")

    def _header(self, column_key: str, label: str) -> Text:
        if column_key != self.sort_key:
            return Text(label)
        return Text(label + (" ▼" if self.sort_reverse else " ▲"), style="bold")
