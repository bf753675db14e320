"""A stand-in for `python -m birdtui.train RUN_DIR [--resume]` with scripted behaviour.

It reads the run's config.json, writes a metrics log in the real format, and
appends its own start and end times to `fake-events.jsonl` in the run folder
so tests can check what ran when. The JSON file named by `FAKE_TRAINER_PLAN`
maps experiment names to behaviour:

- ``seconds``: total run time (default 0.5);
- ``workers``: child processes to fork into the process group, like DataLoader workers;
- ``ignore_term``: ignore SIGTERM in the trainer and its workers, so only SIGKILL stops them;
- ``exit_code``: exit with this code after the first epoch without an end record;
- ``end_status``: the status of the end record (default finished).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from birdtui.metrics import MetricsWriter

STEPS_PER_EPOCH = 4


def load_plan(experiment: str) -> dict:
    path = os.environ.get("FAKE_TRAINER_PLAN")
    if not path:
        return {}
    return json.loads(Path(path).read_text()).get(experiment, {})


def record_event(run_dir: Path, event: str) -> None:
    line = json.dumps(
        {
            "event": event,
            "time": time.time(),
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "sid": os.getsid(0),
            "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "assigned_gpu": os.environ.get("BIRDTUI_ASSIGNED_GPU"),
        }
    )
    with open(run_dir / "fake-events.jsonl", "a") as handle:
        handle.write(line + "\n")


def fork_workers(count: int) -> list[int]:
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            # A worker sleeps until signalled; it inherits the SIGTERM disposition.
            while True:
                time.sleep(60)
        pids.append(pid)
    return pids


def stop_workers(pids: list[int]) -> None:
    # Workers never exit by themselves, so that only a kill of the whole group
    # stops them when the trainer is killed.
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def main() -> int:
    run_dir = Path(sys.argv[1])
    resumed = "--resume" in sys.argv[2:]
    config = json.loads((run_dir / "config.json").read_text())
    plan = load_plan(config["name"])
    epochs = int(config["epochs"])
    step_seconds = float(plan.get("seconds", 0.5)) / (epochs * STEPS_PER_EPOCH)

    record_event(run_dir, "start")
    writer = MetricsWriter(run_dir / "metrics.jsonl")
    epoch, step = 0, 0

    def stop_on_term(signal_number: int, frame: object) -> None:
        writer.write("end", status="killed", epoch=epoch, step=step, error=None, best_val_acc=None)
        record_event(run_dir, "killed")
        os._exit(143)

    if plan.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, stop_on_term)
    workers = fork_workers(int(plan.get("workers", 0)))

    writer.write(
        "start", run=run_dir.name, config=config, classes=["a", "b"], class_ids=[0, 1], num_classes=2,
        train_size=8, val_size=2, device="cpu", epochs=epochs, steps_per_epoch=STEPS_PER_EPOCH, lr=0.1,
        resumed_from={"checkpoint": "none", "epoch": 0} if resumed else None,
    )
    for epoch in range(epochs):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            time.sleep(step_seconds)
            loss = 2.0 / step
            writer.write("step", epoch=epoch, step=step, epoch_progress=epoch + (step % STEPS_PER_EPOCH or 4) / 4, loss=loss, lr=0.1)
        writer.write(
            "epoch", epoch=epoch, step=step, train_loss=2.0 / step, train_acc=0.5, val_loss=2.5 / step,
            val_acc=0.5 + 0.1 * epoch, val_top5=1.0, lr=0.1, seconds=step_seconds * 4, images_per_sec=100.0,
        )
        if "exit_code" in plan:
            print("fake trainer: scripted failure", file=sys.stderr)
            record_event(run_dir, "exit")
            stop_workers(workers)
            return int(plan["exit_code"])

    status = plan.get("end_status", "finished")
    writer.write("end", status=status, epoch=epochs - 1, step=step, error=None, best_val_acc=0.5 + 0.1 * (epochs - 1))
    record_event(run_dir, "end")
    stop_workers(workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
