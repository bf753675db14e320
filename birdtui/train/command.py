"""The `birdtui train` and `birdtui predict` subcommands.

Torch is imported inside the handlers, so `birdtui --help` and the UI start
without paying for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from birdtui.config.load import default_runs_dir, load_experiments
from birdtui.errors import ConfigError

DEFAULT_CONFIG = "experiments.toml"


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="run the training worker on a run folder (the launcher does this for you)",
        description="Train the run in RUN_DIR: read config.json, write metrics.jsonl and checkpoints/.",
    )
    train.add_argument("run_dir", metavar="RUN_DIR", help="run folder that contains config.json")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint that loads")
    train.set_defaults(func=run_train)

    predict = subparsers.add_parser(
        "predict",
        help="label a folder of images with a run's best checkpoint",
        description=(
            "Write a Kaggle submission CSV (path,class) for every image under --images, "
            "using the run's checkpoints/best.pt."
        ),
    )
    predict.add_argument("run", metavar="RUN", help="run folder, or a run id under --runs")
    predict.add_argument("--images", required=True, metavar="DIR", help="folder of images to label, searched recursively")
    predict.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    predict.add_argument("--config", type=Path, metavar="FILE", help="experiments file (default: ./experiments.toml)")
    predict.add_argument("--runs", type=Path, metavar="DIR", help="runs folder that RUN ids are looked up in (default: runs/ beside the experiments file)")
    predict.add_argument(
        "--keep-subfolders",
        action="store_true",
        help="write each path relative to the --images folder's parent, subfolders included (default: folder name and file name, as Kaggle expects)",
    )
    predict.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the run's device setting)")
    predict.set_defaults(func=run_predict)


def run_train(args: argparse.Namespace) -> int:
    from birdtui.train.signals import StopFlag

    stop = StopFlag().install()
    from birdtui.train.worker import run_worker

    return run_worker(args.run_dir, resume=args.resume, stop=stop)


def run_predict(args: argparse.Namespace) -> int:
    from birdtui.train.predict import predict_run

    config_path = args.config if args.config is not None else Path(DEFAULT_CONFIG)
    runs_dir = args.runs if args.runs is not None else default_runs_dir(config_path)
    names = _experiment_names(config_path, required=args.config is not None)
    count = predict_run(
        args.run, args.images, args.out, runs_dir=runs_dir, device_name=args.device, experiment_names=names,
        keep_subfolders=args.keep_subfolders,
    )
    print(f"wrote {count} predictions to {args.out}", file=sys.stderr)
    return 0


def _experiment_names(config_path: Path, *, required: bool) -> list[str]:
    """Return the experiment names of the file, used to explain a run that was never launched.

    Predicting needs only the run folder, so an invalid file or a missing
    default file gives no names; a missing --config file is an error.
    """
    if not required and not config_path.exists():
        return []
    if not config_path.exists():
        # load_experiments raises the error that names the file and the fix.
        load_experiments(config_path)
    try:
        return load_experiments(config_path).names()
    except ConfigError:
        return []
