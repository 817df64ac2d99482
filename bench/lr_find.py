"""Does `learning_rate: auto` (the range test's suggestion) train as well as the best of a few fixed rates?
On the MNIST and Fashion-MNIST samples in data/, with each one's config as it is (configs/mnist.yaml: Adam,
batch 64, 5 epochs, no validation split; configs/fashion_mnist.yaml: Adam, batch 32, up to 20 epochs with early
stopping on a 20% validation split), `cnn train` at each fixed rate of {1e-4, 3e-4, 1e-3, 3e-3, 1e-2} and at
`auto`, the same seed for all, and the test accuracy of each.

    python bench/lr_find.py [--seeds 42] [--only mnist|fashion_mnist]

Prints one line per data set and seed: the rate auto found, its test accuracy, the best fixed rate's, and the
difference in points (the target: auto within 1 point of the best fixed rate). Names the CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_cli.backends import device  # noqa: E402

RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
DATA = {"mnist": (ROOT / "configs" / "mnist.yaml", ROOT / "data" / "mnist_sample.npz"),
        "fashion_mnist": (ROOT / "configs" / "fashion_mnist.yaml", ROOT / "data" / "fashion_mnist_sample.npz")}


def cpu() -> str:
    """The CPU's model, as cnn train names it."""
    return device.cpu_model()


def train(config: Path, data: Path, rate: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "cnn_cli", "train", "--config", str(config), "--data", str(data),
                               "--seed", str(seed), "--set", f"train.optimizer.learning_rate={rate}",
                               "--run-dir", str(run)], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cnn train failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        metrics = json.loads((run / "metrics.json").read_text())
        record = json.loads((run / "run.json").read_text())
    return {"rate": record.get("learning_rate_found", float(rate) if rate != "auto" else None),
            "test_accuracy": metrics["test_accuracy"], "epochs": metrics["epochs_run"],
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--only", choices=sorted(DATA), default=None)
    args = parser.parse_args()
    print(f"CPU: {cpu()}; test accuracy on each sample's 1,000 test images")
    for name, (config, data) in DATA.items():
        if args.only and name != args.only:
            continue
        for seed in args.seeds:
            fixed = {rate: train(config, data, repr(rate), seed) for rate in RATES}
            auto = train(config, data, "auto", seed)
            best = max(fixed, key=lambda r: fixed[r]["test_accuracy"])
            cells = "  ".join(f"{rate:g}: {fixed[rate]['test_accuracy']:.4f}" for rate in RATES)
            gap = 100 * (auto["test_accuracy"] - fixed[best]["test_accuracy"])
            print(f"{name} seed {seed}: fixed {cells}")
            print(f"  auto found {auto['rate']:.3g}: {auto['test_accuracy']:.4f} ({auto['epochs']} epochs, "
                  f"{auto['seconds']:.0f} s); best fixed {best:g}: {fixed[best]['test_accuracy']:.4f}; "
                  f"auto - best = {gap:+.2f} points ({'within' if gap >= -1 else 'NOT within'} 1 point)", flush=True)


if __name__ == "__main__":
    main()
