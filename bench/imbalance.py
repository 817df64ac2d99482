"""What helps when classes are far apart in size, and what calibration does to the probabilities.

    python bench/imbalance.py [--epochs 10] [--seeds 1 2 3] [--json results.json]

On data/imbalanced_fashion.npz (Dress, Shirt and Bag 20x, 30x and 50x rarer in train; the test split has
100 images of every class) with configs/imbalanced_fashion.yaml: macro F1 and balanced accuracy on the test
split of plain training, `train.class_weight: balanced`, `data.sampling: balanced`, `data.sampling: sqrt` and
`train.loss: categorical_focal_crossentropy` (gamma 2, alpha 0.25), each with every seed (mean and range).
Every run is calibrated (`train.calibrate: temperature`, which never changes the predicted class), so each
gives its test ECE before and after the temperature; the same net on the balanced Fashion-MNIST sample
(data/fashion_mnist_sample.npz, calibrated too) gives the ECE of a balanced set. Each run is a real
`cnn train` subprocess, early stopping off (every epoch trained), the figures read from its metrics.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_cli.backends import device  # noqa: E402

CONFIG = ROOT / "configs" / "imbalanced_fashion.yaml"
FASHION = ROOT / "data" / "fashion_mnist_sample.npz"

METHODS = {
    "plain": [],
    "class_weight: balanced": ["--set", "train.class_weight=balanced"],
    "sampling: balanced": ["--set", "data.sampling=balanced"],
    "sampling: sqrt": ["--set", "data.sampling=sqrt"],
    "focal loss (gamma 2)": ["--set", "train.loss=categorical_focal_crossentropy"],
}
FIGURES = ("test_macro_f1", "test_balanced_accuracy", "test_accuracy", "test_ece_before", "test_ece")


def train(extra: list[str], seed: int, epochs: int) -> dict:
    """metrics.json of one `cnn train` of the imbalanced config with `extra` arguments."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "cnn_cli", "train", "--config", str(CONFIG), "--run-dir", str(run_dir),
               "--epochs", str(epochs), "--seed", str(seed), "--set", "train.calibrate=temperature", *extra]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cnn train failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
        return json.loads((run_dir / "metrics.json").read_text())


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def cpu() -> str:
    """The CPU's model, as cnn train names it."""
    return device.cpu_model()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"CPU: {cpu()}; {args.epochs} epochs per run, seeds {args.seeds}")
    results: dict[str, list[dict]] = {}
    sets = [(f"imbalanced: {name}", extra) for name, extra in METHODS.items()]
    sets.append(("Fashion-MNIST sample (balanced): plain", ["--set", f"data.path={FASHION}"]))
    for name, extra in sets:
        results[name] = []
        for seed in args.seeds:
            metrics = train(extra, seed, args.epochs)
            row = {k: metrics.get(k) for k in FIGURES} | {"seed": seed, "temperature": metrics.get("test_temperature")}
            results[name].append(row)
            print(f"  {name}, seed {seed}: " + ", ".join(f"{k} {row[k]:.4f}" for k in FIGURES
                                                          if row[k] is not None), flush=True)
    print(f"\n{'':40s} {'macro F1':>22s} {'balanced accuracy':>22s} {'ECE before':>22s} {'ECE after':>22s}")
    for name, rows in results.items():
        cells = [spread([r[k] for r in rows]) if all(r[k] is not None for r in rows) else "-"
                 for k in ("test_macro_f1", "test_balanced_accuracy", "test_ece_before", "test_ece")]
        print(f"{name:40s} " + " ".join(f"{c:>22s}" for c in cells))
    print(f"\n{len(sets) * len(args.seeds)} runs in {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu(), "epochs": args.epochs, "results": results}, indent=1))


if __name__ == "__main__":
    main()
