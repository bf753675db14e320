"""The UI in a real terminal: tmux at 80x24, keys sent with send-keys, the screen read with capture-pane."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.tmux


def sgr_colours(codes: str) -> list[tuple[int, ...]]:
    """Return the 256-colour indexes `(n,)` and true colours `(r, g, b)` set by one SGR sequence."""
    numbers = [int(part) for part in codes.split(";") if part]
    colours = []
    index = 0
    while index < len(numbers):
        if numbers[index] in (38, 48) and numbers[index + 1 : index + 2] == [5]:
            colours.append((numbers[index + 2],))
            index += 3
        elif numbers[index] in (38, 48) and numbers[index + 1 : index + 2] == [2]:
            colours.append(tuple(numbers[index + 2 : index + 5]))
            index += 5
        else:
            index += 1
    return colours


def is_grey(colour: tuple[int, ...]) -> bool:
    if len(colour) == 3:
        return colour[0] == colour[1] == colour[2]
    index = colour[0]
    if index >= 232 or index in (0, 7, 8, 15):
        return True
    if 16 <= index <= 231:
        red, green, blue = (index - 16) // 36, (index - 16) // 6 % 6, (index - 16) % 6
        return red == green == blue
    return False


def epochs_done(row: str) -> int | None:
    match = re.search(r"\b(\d+)/40\b", row)
    return int(match.group(1)) if match else None


def test_ui_shows_table_and_plot(tmux, experiments):
    tmux.open_ui("main", experiments)
    # The table, the plot pane and the footer come up one after another.
    screen = tmux.wait_for(
        "main",
        lambda text: "· pending" in tmux.row_of(text, "slow-b") and "No run" in text and "Launch" in text.splitlines()[-1],
        "the table, the plot pane and the footer",
    )

    assert "run" in screen.splitlines()[0]
    assert "status" in screen.splitlines()[0]
    for name in ("quick", "slow-a", "slow-b"):
        assert "· pending" in tmux.row_of(screen, name), name
    # The plot pane explains itself while the selected row has no run.
    assert "No run" in screen
    assert "? Help" in screen.splitlines()[-1]


def test_run_outlives_ui_and_shows_finished(tmux, experiments, runs_folder):
    tmux.open_ui("first", experiments)
    tmux.wait_for_text("first", "· pending")

    tmux.press("first", "l")
    tmux.wait_for("first", lambda screen: "running" in tmux.row_of(screen, "quick"), "quick to run")
    tmux.press("first", "q")
    screen = tmux.wait_for_text("first", "[ui exited]")
    assert "keep running in the background" in screen
    assert runs_folder.status("quick") == "running"

    runs_folder.wait_for_status("quick", {"finished"})
    tmux.open_ui("second", experiments)
    screen = tmux.wait_for("second", lambda text: "✓ finished" in tmux.row_of(text, "quick"), "quick to show as finished")
    assert "2/2" in tmux.row_of(screen, "quick")
    # The finished run is the first row, so it is selected and its loss is plotted.
    tmux.wait_for_text("second", "train loss")


def test_runs_keep_going_after_session_killed(tmux, experiments, runs_folder):
    tmux.open_ui("first", experiments)
    tmux.wait_for_text("first", "· pending")

    tmux.press("first", "a")
    tmux.wait_for(
        "first",
        lambda screen: "▶ running" in tmux.row_of(screen, "slow-a") and "▶ running" in tmux.row_of(screen, "slow-b"),
        "both slow runs to run",
        timeout=120.0,
    )
    tmux.kill_session("first")

    tmux.open_ui("second", experiments)
    screen = tmux.wait_for(
        "second",
        lambda text: epochs_done(tmux.row_of(text, "slow-a")) is not None and epochs_done(tmux.row_of(text, "slow-b")) is not None,
        "the epochs of both runs",
    )
    first_seen = {name: epochs_done(tmux.row_of(screen, name)) for name in ("slow-a", "slow-b")}

    # Both runs are still training: each completes more epochs while the new UI watches.
    for name in ("slow-a", "slow-b"):
        tmux.wait_for(
            "second",
            lambda text: (epochs_done(tmux.row_of(text, name)) or 0) > first_seen[name],
            f"{name} to complete another epoch",
            timeout=120.0,
        )
        assert "▶ running" in tmux.row_of(tmux.screen("second"), name)
        assert runs_folder.status(name) == "running"


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "no-color"])
def test_keys_drive_launch_sort_kill_export(tmux, experiments, runs_folder, no_color):
    environment = {"NO_COLOR": "1"} if no_color else {}
    tmux.open_ui("main", experiments, **environment)
    tmux.wait_for_text("main", "· pending")

    # Launch: select slow-a (the second row, below quick) and press l.
    tmux.press("main", "Down", "l")
    tmux.wait_for("main", lambda screen: "▶ running" in tmux.row_of(screen, "slow-a"), "slow-a to run", timeout=120.0)

    # Sort: the first s moves the sort from the run name to the status column.
    tmux.press("main", "s")
    screen = tmux.wait_for_text("main", "status ▲")
    assert "run ▲" not in screen
    tmux.press("main", "S")
    tmux.wait_for_text("main", "status ▼")

    # Kill: k opens a confirmation, and only y kills. The cursor stayed on slow-a through the sorts.
    tmux.press("main", "k")
    tmux.wait_for_text("main", "Kill run slow-a?")
    tmux.press("main", "y")
    tmux.wait_for("main", lambda screen: "■ killed" in tmux.row_of(screen, "slow-a"), "slow-a to show as killed")
    assert runs_folder.status("slow-a") == "killed"

    # Export: e writes results.md beside the experiments file and shows it.
    tmux.press("main", "e")
    screen = tmux.wait_for_text("main", "Exported to")
    results = experiments.parent / "results.md"
    assert results.is_file()
    assert "slow-a" in results.read_text()
    assert "slow-a" in screen

    # Textual turns NO_COLOR into a monochrome screen: shades of grey, never a hue.
    escapes = tmux.screen("main", escapes=True)
    colours = [colour for codes in re.findall(r"\x1b\[([0-9;]*)m", escapes) for colour in sgr_colours(codes)]
    hues = [colour for colour in colours if not is_grey(colour)]
    assert colours != []
    if no_color:
        assert hues == []
    else:
        assert hues != []
    # A key sent right after Escape would arrive as alt+key, so wait for the screen to close.
    tmux.press("main", "Escape")
    tmux.wait_for("main", lambda screen: "Exported to" not in screen, "the export view to close")
    tmux.press("main", "q")
    tmux.wait_for_text("main", "[ui exited]")
