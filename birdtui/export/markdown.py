"""The results table as GitHub-flavoured markdown."""

from __future__ import annotations

import unicodedata

from birdtui.export.columns import Column, Row


def escape_cell(text: str) -> str:
    """Make text safe inside one table cell: no column breaks, no line breaks, no HTML."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "<br>")


def display_width(text: str) -> int:
    """Count terminal columns: wide East Asian characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def render_markdown(rows: list[Row], columns: list[Column]) -> str:
    """Write `rows` as a markdown table with one line per row, padded to line up in a terminal."""
    header = [escape_cell(column.title) for column in columns]
    body = [[_cell_markdown(column, row) for column in columns] for row in rows]
    widths = [max(display_width(line[index]) for line in [header, *body]) for index in range(len(columns))]
    widths = [max(width, 3) for width in widths]

    lines = [_line(header, widths, columns)]
    rule = [("-" * (width - 1) + ":") if column.numeric else "-" * width for column, width in zip(columns, widths)]
    lines.append("| " + " | ".join(rule) + " |")
    lines += [_line(cells, widths, columns) for cells in body]
    return "\n".join(lines) + "\n"


def _cell_markdown(column: Column, row: Row) -> str:
    text = column.cell(row)
    return escape_cell(text) if column.escape else text


def _line(cells: list[str], widths: list[int], columns: list[Column]) -> str:
    padded = []
    for cell, width, column in zip(cells, widths, columns):
        fill = " " * (width - display_width(cell))
        padded.append(fill + cell if column.numeric else cell + fill)
    return "| " + " | ".join(padded) + " |"
