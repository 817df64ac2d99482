"""What determinism costs: `cnn train` on the Fashion-MNIST config with and without `train.deterministic`
(TensorFlow's op determinism), side by side in one run.

    python bench/determinism.py [--full] [--epochs 3] [--repeats 1] [--set KEY=VALUE ...]

Data: the bundled sample (data/fashion_mnist_sample.npz), or with --full the whole Fashion-MNIST from
Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Early stopping is off so that both
runs train every epoch. Each repeat runs both settings, in alternating order (the machine's load drifts);
images/s is the training set's size over the mean epoch time, the first epoch of each run (tracing, warm-up)
left out. Prints images/s of each setting and the ratio deterministic / default.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from cnn_runs import DEBIAN, ROOT, SAMPLE, steady, train


def run(deterministic: bool, epochs: int, full: bool, extra: list[str]) -> dict:
    done = train(epochs, None if full else str(SAMPLE),
                 ["--set", f"train.deterministic={'true' if deterministic else 'false'}", *extra])
    metrics, seconds = done["metrics"], steady(done["epoch_seconds"])
    return {"deterministic": deterministic, "images_per_second": metrics["train_examples"] / seconds,
            "epoch_seconds": seconds, "train_examples": metrics["train_examples"],
            "test_accuracy": metrics["test_accuracy"], "precision": metrics["precision"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"the whole Fashion-MNIST from {DEBIAN}")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="extra --set for cnn train (e.g. train.precision=float32)")
    args = parser.parse_args()
    if args.full and not DEBIAN.is_dir():
        sys.exit(f"--full needs Debian's dataset-fashion-mnist in {DEBIAN}")
    extra = [item for s in args.sets for item in ("--set", s)]
    print(f"data: {DEBIAN if args.full else SAMPLE.relative_to(ROOT)}; epochs: {args.epochs}; repeats: {args.repeats}"
          + (f"; {' '.join(args.sets)}" if args.sets else ""))
    results: dict[bool, list[dict]] = {False: [], True: []}
    for i in range(args.repeats):
        for deterministic in ((False, True) if i % 2 == 0 else (True, False)):
            r = run(deterministic, args.epochs, args.full, extra)
            results[deterministic].append(r)
            print(f"  deterministic={str(deterministic).lower():<5} {r['images_per_second']:>8.0f} images/s "
                  f"({r['epoch_seconds']:.2f} s/epoch, {r['train_examples']} images, {r['precision']}, "
                  f"test accuracy {r['test_accuracy']:.4f})", flush=True)
    speed = {d: statistics.mean(r["images_per_second"] for r in rs) for d, rs in results.items()}
    print(f"{'setting':<24} {'images/s':>9}")
    print(f"{'default':<24} {speed[False]:>9.0f}")
    print(f"{'train.deterministic':<24} {speed[True]:>9.0f}")
    print(f"ratio deterministic / default: {speed[True] / speed[False]:.3f} "
          f"(determinism costs {100 * (1 - speed[True] / speed[False]):.1f}% of the throughput)")


if __name__ == "__main__":
    main()
