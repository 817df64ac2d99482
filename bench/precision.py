"""Step time of float32 against mixed_bfloat16 training on the backend this process runs, to decide what
`train.precision: auto` picks on a CPU (docs/backends.md, "Precision").

    KERAS_BACKEND=jax python bench/precision.py [--batch-size 128] [--steps 40] [--repeats 3]

The Fashion-MNIST net (configs/fashion_mnist.yaml) trains on the bundled sample's images, Adam, sparse
labels; each policy builds a fresh model, trains one warm-up epoch (tracing, compiling), then `--repeats`
timed epochs of `--steps` steps. The policies alternate so that load drifting on a shared machine touches
both. Prints ms per step (the median) for each and the ratio bf16 / float32 (below 1: bf16 is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POLICIES = ("float32", "mixed_bfloat16")


def make_model(policy: str):
    import keras

    from cnn_cli.model.builder import build_model
    from cnn_cli.resolve import load_config

    keras.mixed_precision.set_global_policy(policy)
    config = load_config(ROOT / "configs" / "fashion_mnist.yaml")
    model = build_model(config.model, (28, 28, 1), 10, "fashion_mnist.yaml")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def epoch_seconds(model, x, y, batch_size: int) -> float:
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from cnn_cli.backends import start
    from cnn_cli.backends.device import Devices, cpu_has_fast_bf16

    backend = start()
    data = np.load(ROOT / "data" / "fashion_mnist_sample.npz")
    n = args.steps * args.batch_size
    reps = -(-n // len(data["x_train"]))
    x = np.concatenate([data["x_train"]] * reps)[:n, :, :, None].astype("float32")
    y = np.concatenate([data["y_train"]] * reps)[:n].astype("int32")

    models = {p: make_model(p) for p in POLICIES}
    for model in models.values():  # warm-up: tracing and compiling
        model.fit(x[: 2 * args.batch_size], y[: 2 * args.batch_size], batch_size=args.batch_size, verbose=0)
    times: dict[str, list[float]] = {p: [] for p in POLICIES}
    for _ in range(args.repeats):
        for policy in POLICIES:
            times[policy].append(epoch_seconds(models[policy], x, y, args.batch_size) / args.steps * 1000)
    median = {p: statistics.median(t) for p, t in times.items()}
    print(f"{backend.LABEL} {backend.version()} on {Devices().describe()}, AVX512_BF16/AMX: "
          f"{'yes' if cpu_has_fast_bf16() else 'no'}; batch {args.batch_size}, {args.steps} steps x {args.repeats}")
    for policy in POLICIES:
        print(f"  {policy:15s} {median[policy]:8.1f} ms/step  ({', '.join(f'{t:.1f}' for t in times[policy])})")
    print(f"  bf16 / float32: {median['mixed_bfloat16'] / median['float32']:.2f}")


if __name__ == "__main__":
    main()
