"""One line of figures for a finished `cnn train` run (bench/gpu.sh): images/s and s/epoch over the epochs
after the first (which traces and compiles), achieved TFLOP/s (training counted as 3 x forward MACs x 2
FLOPs per image), the test accuracy, and the device and backend metrics.json names.

    python bench/gpu_figures.py RUN_DIR BACKEND BATCH
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    run, backend, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if not (run / "metrics.json").is_file():
        print(f"{backend:6s} batch {batch:5d}: no metrics.json (the run failed; see above)")
        return
    from cnn_cli.model.analysis import analyze
    from cnn_cli.resolve import load_config

    metrics = json.loads((run / "metrics.json").read_text())
    with (run / "history.csv").open(newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    steady = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    images = metrics["train_examples"] / steady
    config = load_config(run / "config.yaml")
    macs = analyze(config.model, config.model.input_shape, config.model.num_classes, "config.yaml").total_macs
    tflops = images * 3 * macs * 2 / 1e12
    print(f"{backend:6s} batch {batch:5d}: {images:10,.0f} images/s  {steady:7.2f} s/epoch  {tflops:6.2f} TFLOP/s  "
          f"test accuracy {metrics['test_accuracy']:.4f}  ({metrics['device']}, {metrics['precision']}, "
          f"epochs {', '.join(f'{s:.2f}' for s in seconds)} s)")


if __name__ == "__main__":
    main()
