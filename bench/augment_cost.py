"""What each augmentation of `data.augment` costs: images per second of the training batches alone (the
tf.data pipeline, no model), on Fashion-MNIST images, batch 128, one setting at a time.

    python bench/augment_cost.py [--images 12000] [--data data/fashion_mnist_sample.npz]

Data: the full Fashion-MNIST's first N training images from Debian's package when installed, else the
bundled sample (repeated to N images).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from cnn_runs import DEBIAN, ROOT, SAMPLE

SETTINGS = {
    "none": {},
    "horizontal_flip": {"horizontal_flip": True},
    "crop_padding 2": {"crop_padding": 2},
    "random_erasing 0.5": {"random_erasing": 0.5},
    "randaugment 2": {"randaugment": 2},
    "mixup 0.2": {"mixup": 0.2},
    "cutmix 1.0": {"cutmix": 1.0},
}


def images(n: int, data: str | None) -> tuple[np.ndarray, np.ndarray]:
    if data is None and DEBIAN.is_dir():
        sys.path.insert(0, str(ROOT / "bench"))
        from plain_keras import load

        (x, y), _ = load(None)
    else:
        with np.load(data or SAMPLE) as f:
            x, y = f["x_train"], f["y_train"]
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1, 1))[:n, :, :, None], np.tile(y, reps)[:n].astype(np.int32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cnn_cli.config.data import Augment
    from cnn_cli.data.pipeline import TrainingBatches

    x, y = images(args.images, args.data)
    print(f"{len(x)} images {x.shape[1:]}, batch 128; images/s of the batches alone")
    for name, setting in SETTINGS.items():
        batches = TrainingBatches(x, y, batch_size=128, num_classes=10, one_hot=True, seed=1,
                                  augment=Augment(**setting) if setting else None)
        for _ in batches.dataset.take(2):  # trace and warm up
            pass
        started = time.perf_counter()
        for _ in batches.dataset:
            pass
        print(f"{name:<20} {len(x) / (time.perf_counter() - started):>10,.0f}", flush=True)


if __name__ == "__main__":
    main()
