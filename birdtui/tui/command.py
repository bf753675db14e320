"""The `birdtui ui` subcommand, which plain `birdtui` also runs."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CONFIG = "experiments.toml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ui", help="open the experiment monitor (the default command)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="experiments file (default: ./experiments.toml)")
    parser.add_argument("--runs", default=None, help="runs folder (default: runs/ beside the experiments file)")
    parser.set_defaults(func=run_ui)


def run_ui(args: argparse.Namespace) -> int:
    # Textual loads only here, so other subcommands start without it.
    from birdtui.tui.app import BirdtuiApp

    app = BirdtuiApp(Path(args.config), args.runs)
    app.run()
    return app.return_code or 0
