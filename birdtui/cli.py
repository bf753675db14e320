"""Command-line entry point: `birdtui [SUBCOMMAND] ...`.

Each feature module registers its own subcommands through a `register(subparsers)`
function, so this file only wires them together and turns `BirdtuiError` into a
plain message and an exit code. Running `birdtui` with no subcommand opens the UI.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from birdtui.errors import BirdtuiError

# Modules that define subcommands, in the order `--help` lists them.
COMMAND_MODULES = (
    "birdtui.tui.command",
    "birdtui.runs.command",
    "birdtui.export.command",
    "birdtui.train.command",
    "birdtui.demo_data",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="birdtui",
        description="Define, launch and watch PyTorch image-classification experiments.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()

    # `birdtui` and `birdtui --config X` open the UI, the main job of the tool.
    if not args_list or args_list[0].startswith("-") and args_list[0] not in ("-h", "--help"):
        args_list.insert(0, "ui")

    args = parser.parse_args(args_list)
    try:
        exit_code = int(args.func(args) or 0)
        # Flush here, so that a reader that went away is caught below and
        # not reported by the interpreter at exit.
        sys.stdout.flush()
        return exit_code
    except BirdtuiError as error:
        print(f"birdtui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quit_after_closed_pipe()


def _quit_after_closed_pipe() -> int:
    """Return the exit code for a reader that closed our output, as in `birdtui ls | head`."""
    # Point stdout at /dev/null, so that the flush at interpreter exit does
    # not raise the same error again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    # 128 + SIGPIPE, the code a shell shows for a program stopped by a closed pipe.
    return 141
