"""`birdtui export`: write the results table as markdown, and optionally CSV and PNG plots."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from birdtui.config.load import default_runs_dir, load_experiments
from birdtui.errors import BirdtuiError
from birdtui.export.columns import Row, choose_columns
from birdtui.export.markdown import escape_cell, render_markdown
from birdtui.export.rows import collect_rows, read_series
from birdtui.export.tables_csv import render_csv

DEFAULT_CONFIG = "experiments.toml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the results table as markdown (and CSV, PNG loss plots)",
        description="Write the results of runs as a GitHub-flavoured markdown table. "
        "By default it shows the config fields that differ between the runs, "
        "the final train and validation loss and the best validation accuracy.",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run ids to export, such as r18-baseline or r18-baseline@2 (default: all runs)")
    parser.add_argument("--config", metavar="FILE", help=f"experiments file; the runs/ folder beside it is exported unless --runs is given (default: ./{DEFAULT_CONFIG})")
    parser.add_argument("--runs", dest="runs_dir", metavar="DIR", help="runs folder (default: runs/ beside the experiments file)")
    parser.add_argument("--out", metavar="FILE.md", help="write the markdown table to this file instead of standard output")
    parser.add_argument("--csv", metavar="FILE.csv", help="also write the table as CSV with full-precision values")
    parser.add_argument("--png-dir", metavar="DIR", help="also draw a loss plot per run into DIR and link it from the table (needs matplotlib)")
    parser.add_argument("--all-columns", action="store_true", help="show every config field and every result, not only those that differ")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    runs_dir, order = _runs_dir_and_order(args)
    rows = collect_rows(runs_dir, args.runs or None, order)

    markdown_dir = Path(args.out).parent if args.out else Path.cwd()
    if args.png_dir:
        _add_plots(rows, runs_dir, Path(args.png_dir), markdown_dir)

    columns = choose_columns(rows, all_columns=args.all_columns)
    markdown = render_markdown(rows, columns)
    if args.out:
        write_text_atomic(Path(args.out), markdown)
        print(f"wrote {args.out} ({len(rows)} run{'' if len(rows) == 1 else 's'})")
    else:
        sys.stdout.write(markdown)
    if args.csv:
        write_text_atomic(Path(args.csv), render_csv(rows, columns))
        print(f"wrote {args.csv}", file=sys.stderr if not args.out else sys.stdout)
    return 0


def _runs_dir_and_order(args: argparse.Namespace) -> tuple[Path, list[str] | None]:
    # With --runs and no --config the experiments file is not needed; an
    # explicit --config is always loaded, so a broken file is reported.
    if args.runs_dir and not args.config:
        return Path(args.runs_dir), None
    experiments = load_experiments(args.config or DEFAULT_CONFIG)
    runs_dir = Path(args.runs_dir) if args.runs_dir else default_runs_dir(experiments.path)
    return runs_dir, experiments.names()


def _add_plots(rows: list[Row], runs_dir: Path, png_dir: Path, markdown_dir: Path) -> None:
    from birdtui.export.png import write_loss_plot

    for row in rows:
        path = write_loss_plot(read_series(runs_dir / row["run"]), png_dir / f"{row['run']}.png")
        link = os.path.relpath(path.absolute(), markdown_dir.absolute())
        row["plot"] = f"[{escape_cell(row['run'])}]({quote(Path(link).as_posix())})"


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a temp file and a rename, so readers never see half of it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise BirdtuiError(f"cannot write {path}: {error.strerror}; choose a folder you can write to") from None

    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except OSError as error:
        raise BirdtuiError(f"cannot write {path}: {error.strerror}; check the path and the free disk space") from None
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
