"""RandAugment on the Fashion-MNIST sample: the recipe (configs/fashion_mnist_best.yaml) trained without it, with
Keras' own `keras.layers.RandAugment` (what `randaugment: 2` built before) and with the bounded one the tool builds
now (cnn_cli/data/rand_augment.py), each for --epochs epochs from the same seed. Prints each run's last training
accuracy, test accuracy and training seconds, side by side.

    python bench/randaugment.py --epochs 4
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's cnn_cli


def _keras_randaugment(num_ops, factor, channels=3, seed=None, dtype=None):
    import keras

    return keras.layers.RandAugment(value_range=(0, 255), num_ops=num_ops, factor=factor, seed=seed, dtype=dtype)


def run(variant: str, epochs: int, folder: Path) -> dict:
    from cnn_cli import cli
    from cnn_cli.data import rand_augment

    original = rand_augment.BoundedRandAugment
    if variant == "keras.layers.RandAugment":
        rand_augment.BoundedRandAugment = _keras_randaugment
    args = ["train", "--config", str(ROOT / "configs" / "fashion_mnist_best.yaml"), "--data",
            str(ROOT / "data" / "fashion_mnist_sample.npz"), "--epochs", str(epochs), "--run-dir", str(folder / variant),
            "--set", "train.tta=none"]
    if variant != "none":
        args += ["--set", "data.augment.randaugment=2"]
    started = time.perf_counter()
    try:
        result = CliRunner().invoke(cli.main, args, catch_exceptions=False)
    finally:
        rand_augment.BoundedRandAugment = original
    assert result.exit_code == 0, result.output
    metrics = json.loads((folder / variant / "metrics.json").read_text())
    rows = (folder / variant / "history.csv").read_text().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    return {"variant": variant, "train_accuracy": float(last["accuracy"]), "test_accuracy": metrics["test_accuracy"],
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}, Fashion-MNIST sample, fashion_mnist_best.yaml, "
          f"{args.epochs} epochs")
    with tempfile.TemporaryDirectory() as folder:
        results = [run(v, args.epochs, Path(folder)) for v in ("none", "keras.layers.RandAugment", "bounded")]
    base = results[0]["seconds"]
    print(f"{'randaugment: 2':<26} {'train acc':>9} {'test acc':>9} {'seconds':>8} {'time ratio':>10}")
    for r in results:
        print(f"{r['variant']:<26} {r['train_accuracy']:>9.4f} {r['test_accuracy']:>9.4f} {r['seconds']:>8.1f} "
              f"{r['seconds'] / base:>10.2f}")


if __name__ == "__main__":
    main()
