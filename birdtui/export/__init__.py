"""The results table as markdown, CSV and PNG loss plots.

`choose_columns` and `render_markdown` are pure functions of export rows,
shared by `birdtui export` and the UI; `collect_rows` reads rows from a runs
folder, and `make_row` builds one from a run summary.
"""

from birdtui.export.columns import Column, choose_columns, make_row
from birdtui.export.markdown import render_markdown
from birdtui.export.rows import collect_rows
from birdtui.export.tables_csv import render_csv

__all__ = ["Column", "choose_columns", "collect_rows", "make_row", "render_csv", "render_markdown"]
