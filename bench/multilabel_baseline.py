"""The multi-label config against the naive way, on configs/multilabel_digits.yaml's test split (300 canvases of
2 to 4 different real MNIST digits, data/multilabel_digits): mean average precision and micro-F1 of

- `cnn train --config configs/multilabel_digits.yaml` (task multilabel: a sigmoid per digit, binary
  cross-entropy, thresholds tuned on the validation split), and
- the naive way: the same network with a softmax head (task classification, sparse cross-entropy), trained on
  the same training canvases, labelled in one of two ways: "one digit", each canvas once with one of its
  digits drawn at random as its class (what a classification-only tool is given); "every digit", each canvas
  once per digit on it with that digit as its class (about 3 times the rows, and so the gradient steps, of an
  epoch), so that the softmax spreads its probability over the digits present. It predicts its k most probable
  digits, with k the canvas's true number of digits (an oracle the multi-label model does not get) and with
  k = 3 (the mean count). Its probabilities are its scores for mAP. It trains on all 1,200 training canvases
  (no validation split is taken off: it tunes nothing), the multi-label model on 1,020 of them. So that the
  multi-label model is not behind by its gradient steps only, it is trained a second time with 3 times the
  epochs (45: 720 steps of 64 canvases, against the every-digit softmax's 15 x 57 = 855).

    python bench/multilabel_baseline.py [--seeds 42 43 44] [--epochs 15]

Each seed trains both (in `cnn train` processes, one after the other); the figures are printed side by side,
per seed and their mean, with the ratios of their errors (1 - figure); the CPU and the load average are
printed with them, since other jobs on the machine slow both but do not change the figures.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_cli.backends import device  # noqa: E402

CONFIG = ROOT / "configs" / "multilabel_digits.yaml"
MANIFEST = ROOT / "data" / "multilabel_digits" / "manifest.csv"
DIGITS = [str(d) for d in range(10)]


def cpu_name() -> str:
    """The CPU's model and cores, as cnn train names them."""
    return f"{device.cpu_model()}, {device.cpu_cores()} cores"


def rows() -> list[dict]:
    with MANIFEST.open(newline="") as f:
        return list(csv.DictReader(f))


def train(config: Path, run_dir: Path, seed: int, epochs: int) -> None:
    cmd = [sys.executable, "-m", "cnn_cli", "train", "--config", str(config), "--run-dir", str(run_dir),
           "--seed", str(seed), "--epochs", str(epochs)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def naive_config(folder: Path, scheme: str, seed: int) -> Path:
    """The multi-label config as a plain classifier: a manifest with one row per training canvas and one of its
    digits drawn at random (`scheme` "one"), or one row per (training canvas, digit on it) ("every"); the test
    canvases once (their first digit: the tool's own test accuracy is not used); no validation split."""
    table = rows()
    draw = np.random.default_rng(seed)
    manifest = folder / f"naive_{scheme}.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "digit", "split"])
        for row in table:
            path = str(MANIFEST.parent / row["path"])
            digits = row["digits"].split(";")
            if row["split"] != "train":
                digits = digits[:1]
            elif scheme == "one":
                digits = [digits[int(draw.integers(len(digits)))]]
            for digit in digits:
                writer.writerow([path, digit, row["split"]])
    config = yaml.safe_load(CONFIG.read_text())
    config["name"] = "multilabel_digits_softmax"
    config["task"] = "classification"
    config["train"].pop("thresholds", None)
    config["data"].update({"path": str(manifest), "label_columns": ["digit"], "validation_split": 0.0,
                           "class_names": None})
    config["data"] = {k: v for k, v in config["data"].items() if v is not None}
    path = folder / f"naive_{scheme}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def figures(scores: np.ndarray, truth: np.ndarray, decided: np.ndarray) -> tuple[float, float]:
    """(mAP over the digits, micro-F1 of the decisions)."""
    from sklearn.metrics import average_precision_score, f1_score

    ap = [average_precision_score(truth[:, j], scores[:, j]) for j in range(truth.shape[1]) if truth[:, j].any()]
    return float(np.mean(ap)), float(f1_score(truth, decided, average="micro", zero_division=0))


def top_k(scores: np.ndarray, k: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    decided = np.zeros_like(scores, dtype=np.int64)
    for i, n in enumerate(k):
        decided[i, order[i, :n]] = 1
    return decided


def one_seed(seed: int, epochs: int) -> dict[str, tuple[float, float]]:
    import cnn_cli

    test = [r for r in rows() if r["split"] == "test"]
    paths = [str(MANIFEST.parent / r["path"]) for r in test]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train(CONFIG, folder / "multilabel", seed, epochs)
        multilabel = cnn_cli.load_run(folder / "multilabel")
        names = [str(n) for n in multilabel.class_names]
        truth = np.array([[d in r["digits"].split(";") for d in names] for r in test], dtype=np.int64)
        scores = multilabel.predict(paths)
        decided = (scores >= np.asarray(multilabel.thresholds)).astype(np.int64)
        found = {"multilabel (sigmoid, tuned thresholds)": figures(scores, truth, decided)}
        train(CONFIG, folder / "longer", seed, 3 * epochs)
        longer = cnn_cli.load_run(folder / "longer")
        scores = longer.predict(paths)
        found[f"multilabel, {3 * epochs} epochs"] = figures(scores, truth, (scores >= np.asarray(longer.thresholds))
                                                          .astype(np.int64))
        for scheme in ("one", "every"):
            train(naive_config(folder, scheme, seed), folder / scheme, seed, epochs)
            softmax = cnn_cli.load_run(folder / scheme)
            order = [list(map(str, softmax.class_names)).index(d) for d in names]  # its classes as the labels
            probabilities = softmax.predict(paths)[:, order]
            found[f"softmax ({scheme} digit), top-k (k = true)"] = figures(
                probabilities, truth, top_k(probabilities, truth.sum(axis=1)))
            found[f"softmax ({scheme} digit), top-3"] = figures(
                probabilities, truth, top_k(probabilities, np.full(len(truth), 3)))
    return found


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_name()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"data: {MANIFEST.relative_to(ROOT)} test split (300 canvases); {args.epochs} epochs; seeds {args.seeds}")
    results: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        for method, (ap, f1) in one_seed(seed, args.epochs).items():
            results.setdefault(method, []).append((ap, f1))
            print(f"  seed {seed}  {method:<42}  mAP {ap:.4f}  micro-F1 {f1:.4f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"\n{'method':<42}  {'mAP':>7}  {'micro-F1':>8}  (mean of {len(args.seeds)} seed(s))")
    means = {m: np.mean(v, axis=0) for m, v in results.items()}
    for method, (ap, f1) in means.items():
        print(f"{method:<42}  {ap:>7.4f}  {f1:>8.4f}")
    ours = means["multilabel (sigmoid, tuned thresholds)"]
    for method, (ap, f1) in list(means.items())[1:]:
        print(f"errors (1 - figure) of {method} over the multi-label model's: mAP {(1 - ap) / (1 - ours[0]):.2f}x, "
              f"micro-F1 {(1 - f1) / (1 - ours[1]):.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
