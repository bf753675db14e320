"""The training worker: one process per run that trains, evaluates and checkpoints.

`python -m birdtui.train RUN_DIR [--resume]` and `birdtui train RUN_DIR` both run
`birdtui.train.worker.run_worker`. The worker reads `RUN_DIR/config.json` and
writes `RUN_DIR/metrics.jsonl` and `RUN_DIR/checkpoints/`.
"""
