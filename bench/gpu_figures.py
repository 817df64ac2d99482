"""One line of figures for a finished `cnn train` run of bench/gpu.sh.

    python bench/gpu_figures.py RUN_DIR BACKEND BATCH [--label TEXT]
    python bench/gpu_figures.py --to92 RUN_DIR BACKEND --process-seconds S [--label TEXT]

Speed (the default): images/s and s/epoch over the epochs after the first (which traces and compiles), achieved
TFLOP/s (training counted as 3 x forward MACs x 2 FLOPs per image), the test accuracy, and the device and
precision metrics.json names.

`--to92`: a run of the fast recipe to its stop_at: the whole process's seconds (timed by the caller), the fit's
(metrics.json's train_seconds, every epoch with its validation), of which compilation (the first epoch's time over
the median later epoch; unknown with one epoch), the rest of the process (start-up before `cnn train`'s own
clock, then data, model, test evaluation and the run directory), where stop_at stopped, the test accuracy, and
whether it meets issue 30's goal on one H100: at least 0.92 test accuracy (bench/to_accuracy.py's TARGET) in at
most 10 s of fit.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from to_accuracy import TARGET

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIT_GOAL = 10.0  # seconds of fit to TARGET on one H100 (issue 30)


def _records(run: Path) -> tuple[dict, list[float]] | None:
    if not (run / "metrics.json").is_file():
        return None
    metrics = json.loads((run / "metrics.json").read_text())
    with (run / "history.csv").open(newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    return metrics, seconds


def _epochs(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


def speed(run: Path, backend: str, batch: int, label: str) -> str:
    head = f"speed {label:28s} {backend:5s} batch {batch:5d}:"
    records = _records(run)
    if records is None:
        return f"{head} no metrics.json (the run failed or was cut off; see above)"
    from cnn_cli.model.analysis import analyze
    from cnn_cli.resolve import load_config

    metrics, seconds = records
    steady = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    images = metrics["train_examples"] / steady
    config = load_config(run / "config.yaml")
    macs = analyze(config.model, config.model.input_shape, config.model.num_classes, "config.yaml").total_macs
    tflops = images * 3 * macs * 2 / 1e12
    return (f"{head} {images:10,.0f} images/s  {steady:7.2f} s/epoch  {tflops:6.2f} TFLOP/s  "
            f"test accuracy {metrics['test_accuracy']:.4f}  ({metrics['device']}, {metrics['precision']}, "
            f"epochs {_epochs(seconds)} s)")


def to92(run: Path, backend: str, process: float, label: str) -> str:
    head = f"to92  {label:22s} {backend:5s}:"
    records = _records(run)
    if records is None:
        return f"{head} no metrics.json after {process:.1f} s (the run failed or was cut off; see above)"
    metrics, seconds = records
    fit = float(metrics["train_seconds"])
    if len(seconds) > 1:
        later = statistics.median(seconds[1:])
        compiled = f"compilation ~{max(seconds[0] - later, 0.0):.1f} s, later epochs {later:.2f} s"
    else:
        compiled = "compilation unknown: one epoch"
    startup = process - float(metrics["wall_seconds"])
    rest = float(metrics["wall_seconds"]) - fit
    stop = metrics.get("stop_at") or {}
    target = ", ".join(f"{k} {v}" for k, v in (stop.get("target") or {}).items())
    stopped = (f"stop_at {target} reached at epoch {stop['epoch']} of {metrics['epochs_planned']}"
               if stop.get("reached") else f"stop_at {target or '-'} not reached in {metrics['epochs_run']} epochs")
    test = float(metrics["test_accuracy"])
    tta = metrics.get("test_accuracy_tta")
    meets = test >= TARGET and fit <= FIT_GOAL
    return (f"{head} process {process:6.1f} s = start-up {startup:5.1f} s + fit {fit:6.1f} s ({compiled}) + "
            f"data, test and run directory {rest:5.1f} s; {stopped}; "
            f"test accuracy {test:.4f}" + (f" (flip TTA {tta:.4f})" if tta is not None else "")
            + f": {'meets' if meets else 'does not meet'} the goal (>= {TARGET:.2f} in <= {FIT_GOAL:g} s of fit)"
            f"  ({metrics['device']}, {metrics['precision']}, {metrics['train_examples']:,} images, "
            f"epochs {_epochs(seconds)} s)")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("backend")
    parser.add_argument("batch", type=int, nargs="?")
    parser.add_argument("--to92", action="store_true", help="A time-to-92%% run of the fast recipe.")
    parser.add_argument("--process-seconds", type=float, help="The whole process's seconds (--to92).")
    parser.add_argument("--label", default="", help="What the run varies (config, jit, precision).")
    args = parser.parse_args(argv)
    if args.to92:
        if args.process_seconds is None:
            parser.error("--to92 needs --process-seconds")
        print(to92(args.run, args.backend, args.process_seconds, args.label))
    else:
        if args.batch is None:
            parser.error("the speed line needs BATCH")
        print(speed(args.run, args.backend, args.batch, args.label))


if __name__ == "__main__":
    main(sys.argv[1:])
