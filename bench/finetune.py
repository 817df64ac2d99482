"""Does starting from another run's weights help? A small net (the MNIST config's three convolutions, dense
64, softmax) is trained on the Fashion-MNIST sample, then the same architecture on two other small data sets,
each from scratch and from the Fashion-MNIST run's weights (`model.weights: RUN_DIR`, the classifier left new
where the class count differs), at equal epochs, for several seeds. Prints the test accuracies as a Markdown
table (mean, min and max over the seeds).

Targets:
- sign: data/sign_layout_sample (720 training rows, 24 classes; its 288 validation rows are the test set).
  Its pixels are Fashion-MNIST images, relabelled, some flipped or rotated (data/README.md), drawn from the
  same Fashion-MNIST training set as the sample, so the pretrained net may have seen some of them;
- rgb-digits: an RGB image folder made here from data/mnist_sample.npz: each digit drawn in a random bright
  colour on a random dark one or the other way round, 100 training and 100 test images per digit. The source run for it
  is trained on the Fashion-MNIST sample as RGB (the gray channel three times), so that its first convolution
  fits; the digit classes are not Fashion-MNIST's.

    nice -n 10 python bench/finetune.py [--epochs 5] [--pretrain-epochs 5] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 64, "activation": "relu"},
    {"type": "dense", "units": "num_classes", "activation": "softmax"},
]


def config(name: str, seed: int, epochs: int, data: dict | None, weights: str | None = None) -> dict:
    model = {"layers": LAYERS, **({"weights": weights} if weights else {})}
    out = {"name": name, "seed": seed, "model": model,
           "train": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "batch_size": 32,
                     "epochs": epochs, "deterministic": True}}
    return out | ({"data": data} if data else {})


def train(work: Path, label: str, cfg: dict, data_path: str | None = None) -> Path:
    """`cnn train` in a subprocess; the run directory."""
    path, run = work / f"{label}.yaml", work / label
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "cnn_cli", "train", "--config", str(path), "--run-dir", str(run)]
    cmd += ["--data", data_path] if data_path else []
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{label}: cnn train failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return run


def test_accuracy(run: Path) -> float:
    return float(json.loads((run / "metrics.json").read_text())["test_accuracy"])


def rgb_fashion(work: Path) -> str:
    """The Fashion-MNIST sample with the gray channel three times."""
    sample = np.load(ROOT / "data" / "fashion_mnist_sample.npz")
    arrays = {k: (np.repeat(v[..., None], 3, axis=-1) if k.startswith("x_") else v) for k, v in sample.items()}
    path = work / "fashion_rgb.npz"
    np.savez(path, **arrays)
    return str(path)


def rgb_digits(work: Path, per_class_train: int = 100) -> str:
    """An image folder of coloured MNIST digits: train/<digit>/*.png, test/<digit>/*.png."""
    from PIL import Image

    sample = np.load(ROOT / "data" / "mnist_sample.npz")
    rng = np.random.default_rng(0)
    root = work / "rgb_digits"
    for split, limit in (("train", per_class_train), ("test", 100)):
        x, y = sample[f"x_{split}"], sample[f"y_{split}"]
        for digit in range(10):
            folder = root / split / str(digit)
            folder.mkdir(parents=True)
            for i, image in enumerate(x[y == digit][:limit]):
                ink, paper = rng.integers(150, 256, 3), rng.integers(0, 100, 3)  # a bright and a dark colour
                if rng.random() < 0.5:
                    ink, paper = paper, ink
                alpha = image[..., None].astype(np.float32) / 255
                rgb = (alpha * ink + (1 - alpha) * paper).astype(np.uint8)
                Image.fromarray(rgb).save(folder / f"{i}.png")
    return str(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fashion = str(ROOT / "data" / "fashion_mnist_sample.npz")
        gray = train(work, "fashion_gray", config("fashion", 42, args.pretrain_epochs, None), fashion)
        rgb = train(work, "fashion_rgb", config("fashion", 42, args.pretrain_epochs, None), rgb_fashion(work))
        sign = {"source": "csv", "train": "data/sign_layout_sample/train.csv",
                "test": "data/sign_layout_sample/valid.csv", "label_column": "label", "image_shape": [28, 28, 1]}
        digits = {"source": "folder", "path": rgb_digits(work), "image_shape": [28, 28, 3]}
        targets = {"sign (CSV, 24 classes)": (sign, gray), "rgb-digits (folder, 10 classes)": (digits, rgb)}
        pretrained = {"gray": test_accuracy(gray), "rgb": test_accuracy(rgb)}
        rows = []
        for target, (data, source) in targets.items():
            for start, weights in (("scratch", None), ("Fashion-MNIST run", str(source))):
                accs = [test_accuracy(train(work, f"t{len(rows)}_{seed}", config("t", seed, args.epochs, data, weights)))
                        for seed in range(42, 42 + args.seeds)]
                rows.append((target, start, accs))
    print(f"Source runs (Fashion-MNIST sample, {args.pretrain_epochs} epochs): test accuracy gray "
          f"{pretrained['gray']:.3f}, RGB {pretrained['rgb']:.3f}")
    print(f"\n| target | start | test accuracy, mean (min-max) over {args.seeds} seeds, {args.epochs} epochs |")
    print("|---|---|---|")
    for target, start, accs in rows:
        print(f"| {target} | {start} | {statistics.mean(accs):.3f} ({min(accs):.3f}-{max(accs):.3f}) |")


if __name__ == "__main__":
    main()
