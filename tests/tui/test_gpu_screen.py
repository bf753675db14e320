"""The GPU screen behind `g`, driven with Pilot on the hand-written runs."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from textual.widgets import Static
from textual.worker import WorkerState

from birdtui.runs.gpu import format_gpu_report, gpu_report
from birdtui.tui.app import BirdtuiApp
from birdtui.tui.screens.gpu import GpuScreen

RUN_NAMES = ["r18-base", "r18-hot", "r18-oom", "r34-live", "r50-next"]
NO_NVML_LINE = "no GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)"


def drive(app: BirdtuiApp, waits: Any, scenario: Any) -> None:
    """Open the app at 80x24, wait for the five rows, then run `scenario(pilot)`."""

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await waits.until(pilot, lambda: waits.column(app, "name") == RUN_NAMES, what="the five rows")
            await scenario(pilot)

    asyncio.run(main())


def gpu_table_text(app: BirdtuiApp) -> str:
    return str(app.screen.query_one("#gpu-table", Static).render())


def test_g_shows_reason_and_closes(four_runs, make_app, waits, monkeypatch):
    # A None entry in sys.modules makes `import pynvml` raise ImportError, as without nvidia-ml-py.
    monkeypatch.setitem(sys.modules, "pynvml", None)
    app = make_app(*four_runs)

    async def scenario(pilot):
        await pilot.press("g")
        assert isinstance(app.screen, GpuScreen)
        await waits.until(pilot, lambda: gpu_table_text(app) == NO_NVML_LINE, what="the no-GPU reason")
        screen_text = "\n".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "escape or g closes this view" in screen_text

        await pilot.press("g")
        assert not isinstance(app.screen, GpuScreen)

        await pilot.press("g")
        assert isinstance(app.screen, GpuScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, GpuScreen)

    drive(app, waits, scenario)


def test_g_shows_this_machine(four_runs, make_app, waits):
    expected = gpu_report()
    app = make_app(*four_runs)

    async def scenario(pilot):
        await pilot.press("g")
        screen = app.screen
        await waits.until(pilot, lambda: screen.refreshes >= 1, what="the first GPU query")
        text = gpu_table_text(app)
        if expected.gpus:
            # Memory and utilization change between two queries, but the header does not.
            assert text.splitlines()[0] == format_gpu_report(expected).splitlines()[0]
        else:
            assert text == expected.reason

    drive(app, waits, scenario)


def test_gpu_screen_refreshes_until_closed(four_runs, make_app, waits):
    app = make_app(*four_runs)
    _, runs_dir = four_runs

    async def scenario(pilot):
        screen = GpuScreen(runs_dir, refresh_seconds=0.05)
        await app.push_screen(screen)
        await waits.until(pilot, lambda: screen.refreshes >= 3, what="three GPU queries")
        (worker,) = [worker for worker in app.workers if worker.name == "GPU view"]

        await pilot.press("escape")
        await waits.until(pilot, lambda: worker.state == WorkerState.CANCELLED, what="the GPU worker to stop")
        assert not isinstance(app.screen, GpuScreen)
        assert [message for severity, message in app.notified if severity == "error"] == []

    drive(app, waits, scenario)
