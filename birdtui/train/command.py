"""The `birdtui train` and `birdtui predict` subcommands.

Torch is imported inside the handlers, so `birdtui --help` and the UI start
without paying for it.
"""

from __future__ import annotations

import argparse
import sys


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
    predict.add_argument("run", metavar="RUN", help="run folder, or a run name under --runs")
    predict.add_argument("--images", required=True, metavar="DIR", help="folder of images to label, searched recursively")
    predict.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    predict.add_argument("--runs", default="runs", metavar="DIR", help="runs folder that RUN names are looked up in (default: runs)")
    predict.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the run's device setting)")
    predict.set_defaults(func=run_predict)


def run_train(args: argparse.Namespace) -> int:
    from birdtui.train.signals import StopFlag

    stop = StopFlag().install()
    from birdtui.train.worker import run_worker

    return run_worker(args.run_dir, resume=args.resume, stop=stop)


def run_predict(args: argparse.Namespace) -> int:
    from birdtui.train.predict import predict_run

    count = predict_run(args.run, args.images, args.out, runs_dir=args.runs, device_name=args.device)
    print(f"wrote {count} predictions to {args.out}", file=sys.stderr)
    return 0
