"""One `cnn train` run for the benchmarks: the Fashion-MNIST config in a temporary run directory, early
stopping off so that every epoch is trained, and what the run directory says of it afterwards."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
SAMPLE = ROOT / "data" / "fashion_mnist_sample.npz"
CONFIG = ROOT / "configs" / "fashion_mnist.yaml"


def steady(seconds: list[float]) -> float:
    """Mean epoch time with the first epoch (tracing, warm-up) left out when there are more."""
    return statistics.mean(seconds[1:] if len(seconds) > 1 else seconds)


def train(epochs: int, data: str | None, extra: list[str], python: str | None = None) -> dict:
    """`cnn train` on the Fashion-MNIST config with `--data data` (None: the config's own source) and extra
    arguments, run by `python` (default this interpreter); exits with cnn's output if it fails. Returns the
    epoch times (history.csv) and metrics.json."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [python or sys.executable, "-m", "cnn_cli", "train", "--config", str(CONFIG), "--run-dir", str(run_dir),
               "--epochs", str(epochs), "--set", "train.callbacks.early_stopping=null", *extra]
        if data:
            cmd += ["--data", data]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cnn train failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        metrics = json.loads((run_dir / "metrics.json").read_text())
        with open(run_dir / "history.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return {
        "epoch_seconds": [float(r["seconds"]) for r in rows],
        "val_accuracy": float(rows[-1]["val_accuracy"]) if rows and rows[-1]["val_accuracy"] else None,
        "metrics": metrics,
    }
