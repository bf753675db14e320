"""`python -m birdtui.train RUN_DIR [--resume]`: the training worker process."""

from birdtui.train.signals import StopFlag

# Install the handlers before the slow torch import, so an early SIGTERM still ends the log.
_stop = StopFlag().install()

import argparse  # noqa: E402
import sys  # noqa: E402

from birdtui.errors import BirdtuiError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m birdtui.train", description="Train one run folder.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder with config.json")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint that loads")
    args = parser.parse_args()

    from birdtui.train.worker import run_worker

    try:
        return run_worker(args.run_dir, resume=args.resume, stop=_stop)
    except BirdtuiError as error:
        print(f"birdtui: {error}", file=sys.stderr)
        return error.exit_code


raise SystemExit(main())
