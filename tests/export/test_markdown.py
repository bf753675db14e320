"""The markdown and CSV renderers, checked by parsing their output back."""

from __future__ import annotations

import csv
import io
import math

from birdtui.config import ExperimentConfig, to_dict
from birdtui.export import choose_columns, make_row, render_csv, render_markdown
from birdtui.export.markdown import display_width


def parse_markdown_table(text: str) -> list[list[str]]:
    """Split a GFM table into rows of unescaped cell texts, as a GFM renderer would."""
    rows = []
    for line in text.rstrip("\n").split("\n"):
        assert line.startswith("| "), line
        assert line.endswith(" |"), line
        cells, current, index = [], "", 1
        while index < len(line):
            char = line[index]
            if char == "\\" and index + 1 < len(line):
                current += line[index + 1]
                index += 2
                continue
            if char == "|":
                cells.append(current.strip())
                current = ""
            else:
                current += char
            index += 1
        rows.append([cell.replace("<br>", "\n").replace("&lt;", "<") for cell in cells])
    return rows


def config_dict(name: str, **changes) -> dict:
    data = to_dict(ExperimentConfig(name=name))
    for dotted, value in changes.items():
        section, _, field_name = dotted.rpartition("__")
        (data[section] if section else data)[field_name] = value
    return data


def finished(train: float, val: float, acc: float) -> dict:
    return {"status": "finished", "epoch": 4, "epochs": 4, "last_train_loss": train, "last_val_loss": val, "best_val_acc": acc}


def test_markdown_escapes_and_parses() -> None:
    rows = [
        make_row("r18|pipe", config_dict("a", data__root="/data/鳥類/train"), finished(0.123456, 1.5, 0.875)),
        make_row("ツバメ-run", config_dict("b", data__root="/data/two\nlines|and\\slash"), finished(2.0, math.nan, 0.12345)),
        make_row("plain", config_dict("c", data__root="<b>not html</b>"), finished(0.5, None, None)),
    ]
    columns = choose_columns(rows)

    text = render_markdown(rows, columns)
    table = parse_markdown_table(text)

    assert table[0] == ["run", "data.root", "train loss", "val loss", "best val acc"]
    assert all(set(cell) <= set("-:") for cell in table[1])
    assert table[2] == ["r18|pipe", "/data/鳥類/train", "0.1235", "1.5", "87.5%"]
    assert table[3] == ["ツバメ-run", "/data/two\nlines|and\\slash", "2", "NaN", "12.3%"]
    assert table[4] == ["plain", "<b>not html</b>", "0.5", "-", "-"]
    for line in table:
        assert len(line) == len(columns)
    assert "<b>" not in text
    assert text.count("\n") == len(rows) + 2


def test_markdown_columns_line_up() -> None:
    rows = [
        make_row("ツバメ", config_dict("a", model="resnet18"), finished(1.0, 1.0, 0.5)),
        make_row("swallow", config_dict("b", model="resnet34"), finished(1.0, 1.0, 0.5)),
    ]

    lines = render_markdown(rows, choose_columns(rows)).splitlines()

    widths = {display_width(line) for line in lines}
    assert len(widths) == 1, lines


def test_numeric_columns_right_aligned() -> None:
    rows = [
        make_row("a", config_dict("a", model="resnet18", optim__momentum=0.9), finished(1.0, 1.0, 0.5)),
        make_row("b", config_dict("b", model="resnet34", optim__momentum=0.95), finished(1.0, 1.0, 0.5)),
    ]

    table = parse_markdown_table(render_markdown(rows, choose_columns(rows)))
    rule = dict(zip(table[0], table[1]))

    assert not rule["run"].endswith(":")
    assert not rule["model"].endswith(":")
    assert rule["optim.momentum"].endswith(":")
    assert rule["best val acc"].endswith(":")


def test_only_differing_config_columns() -> None:
    rows = [
        make_row("a", config_dict("a", optim__lr=0.01, model="resnet18"), finished(1, 1, 0.5)),
        make_row("b", config_dict("b", optim__lr=0.001, model="resnet18"), finished(1, 1, 0.5)),
    ]

    titles = [column.title for column in choose_columns(rows)]

    assert titles == ["run", "optim.lr", "train loss", "val loss", "best val acc"]


def test_all_columns_option() -> None:
    rows = [make_row("a", config_dict("a"), finished(1, 1, 0.5))]

    titles = [column.title for column in choose_columns(rows, all_columns=True)]

    assert "status" in titles
    assert "model" in titles
    assert "schedule" in titles
    assert "augment.hflip" in titles
    assert "optim.lr" in titles
    assert "time" in titles
    assert "name" not in titles
    assert not any(title.startswith("schedule.") for title in titles)


def test_status_shown_for_unfinished() -> None:
    running = {"status": "running", "epoch": 2, "epochs": 8, "last_train_loss": 1.0}
    rows = [make_row("a", config_dict("a"), finished(1, 1, 0.5)), make_row("b", config_dict("b"), running)]

    table = parse_markdown_table(render_markdown(rows, choose_columns(rows)))

    assert table[0][:2] == ["run", "status"]
    assert table[2][1] == "finished"
    assert table[3][1] == "running, 2/8 epochs done"


def test_status_unstarted_run_no_count() -> None:
    queued = {"status": "queued", "epoch": 0, "epochs": None}
    killed = {"status": "killed", "epoch": 0, "epochs": None}
    rows = [make_row("a", config_dict("a"), queued), make_row("b", config_dict("b"), killed)]

    table = parse_markdown_table(render_markdown(rows, choose_columns(rows)))

    assert [row[1] for row in table[2:]] == ["queued", "killed"]


def test_value_formats() -> None:
    rows = [
        make_row("a", config_dict("a", optim__lr=0.01, optim__weight_decay=5e-4, schedule__type="constant"), finished(0.000123456, 12345.678, 1.0)),
        make_row(
            "b",
            config_dict("b", optim__lr=2.5e-4, optim__weight_decay=0.0, schedule__type="piecewise", schedule__lr_by_epoch={"0": 0.01, "8": 0.001}),
            finished(1, 1, 0.5),
        ),
        make_row("c", config_dict("c", optim__lr=0.1, schedule__type="plateau", schedule__warmup_epochs=2), finished(1, 1, 0.12)),
    ]

    table = parse_markdown_table(render_markdown(rows, choose_columns(rows)))
    header = table[0]
    by_run = {line[0]: dict(zip(header, line)) for line in table[2:]}

    assert by_run["a"]["optim.lr"] == "1e-2"
    assert by_run["b"]["optim.lr"] == "2.5e-4"
    assert by_run["c"]["optim.lr"] == "1e-1"
    assert by_run["a"]["optim.weight_decay"] == "5e-4"
    assert by_run["b"]["optim.weight_decay"] == "0"
    assert by_run["a"]["schedule"] == "constant"
    assert by_run["b"]["schedule"] == "{0: 0.01, 8: 0.001}"
    assert by_run["c"]["schedule"] == "plateau(val_loss, f=0.1, p=2) + warmup(2)"
    assert by_run["a"]["train loss"] == "0.0001235"
    assert by_run["a"]["val loss"] == "1.235e+04"
    assert by_run["a"]["best val acc"] == "100.0%"
    assert by_run["c"]["best val acc"] == "12.0%"


def test_csv_keeps_full_precision() -> None:
    rows = [
        make_row("ツバメ, \"quoted\"", config_dict("a", optim__lr=0.0123456789), finished(0.123456789, math.inf, 0.875)),
        make_row("b", config_dict("b", optim__lr=0.1), {"status": "queued"}),
    ]

    parsed = list(csv.reader(io.StringIO(render_csv(rows, choose_columns(rows)))))

    assert parsed[0] == ["run", "status", "optim.lr", "train loss", "val loss", "best val acc"]
    assert parsed[1] == ["ツバメ, \"quoted\"", "finished", "0.0123456789", "0.123456789", "inf", "0.875"]
    assert parsed[2] == ["b", "queued", "0.1", "", "", ""]


def test_make_row_accepts_dataclass() -> None:
    from dataclasses import dataclass

    @dataclass
    class Summary:
        status: str
        epoch: int
        best_val_acc: float
        unrelated: str = "x"

    row = make_row("a", None, Summary("running", 1, 0.5))

    assert row["summary"]["status"] == "running"
    assert row["summary"]["best_val_acc"] == 0.5
    assert row["summary"]["last_val_loss"] is None
    assert "unrelated" not in row["summary"]
