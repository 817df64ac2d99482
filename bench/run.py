"""Training speed, side by side: the seed's hand-written Keras script against `cnn train`, same model,
data, batch size, optimizer and epochs, in one run.

    python bench/run.py [--epochs 3] [--batch-size 32] [--data PATH] [--peak-gflops N]

Data: the full Fashion-MNIST from Debian's dataset-fashion-mnist when installed, else the bundled
sample (data/fashion_mnist_sample.npz). For each runner it prints images/s and seconds per epoch (the
first epoch, which traces and warms up, is left out when there are more), achieved GFLOP/s (training
counted as 3 x forward MACs x 2 FLOPs) and its share of the machine's peak, and the final validation
and test accuracy; then the ratio of the two throughputs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
SAMPLE = ROOT / "data" / "fashion_mnist_sample.npz"
CONFIG = ROOT / "configs" / "fashion_mnist.yaml"


def cpu_peak_gflops() -> tuple[float, str]:
    """Float32 peak of this CPU: cores x FLOPs per cycle x clock. FLOPs per cycle: two 256-bit FMA pipes
    (32) on AVX2 and on AMD's AVX-512 (which runs 512-bit work as two 256-bit halves), two 512-bit FMA
    pipes (64) on Intel's AVX-512; 8 without AVX2. Pass --peak-gflops when you know better."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags_line = re.findall(r"^flags\s*:\s*(.*)$", info, re.M)
    flags = set(flags_line[0].split()) if flags_line else set()
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    ghz = (max(mhz) / 1000) if mhz else 2.5
    intel = "GenuineIntel" in info
    flops_per_cycle = 64 if ("avx512f" in flags and intel) else 32 if ("avx2" in flags or "avx512f" in flags) else 8
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores * flops_per_cycle * ghz, f"{cores} cores x {flops_per_cycle} FLOP/cycle x {ghz:.2f} GHz"


def forward_macs() -> int:
    sys.path.insert(0, str(ROOT))
    from cnn_cli.config import load_config
    from cnn_cli.model.analysis import analyze

    config = load_config(CONFIG)
    return analyze(config.model, config.model.input_shape, config.model.num_classes, str(CONFIG)).total_macs


def steady(seconds: list[float]) -> float:
    return statistics.mean(seconds[1:] if len(seconds) > 1 else seconds)


def run_plain(epochs: int, batch_size: int, data: str | None) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "plain_keras.py"), "--epochs", str(epochs), "--batch-size", str(batch_size)]
    if data:
        cmd += ["--data", data]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_cnn(epochs: int, batch_size: int, data: str | None, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [
            str(Path(sys.executable).with_name("cnn")), "train", "--config", str(CONFIG), "--run-dir", str(run_dir),
            "--epochs", str(epochs), "--set", f"train.batch_size={batch_size}",
            "--set", "train.callbacks.early_stopping=null", *extra,
        ]
        if data:
            cmd += ["--data", data]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        with open(run_dir / "history.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return {
        "runner": "cnn train",
        "train_examples": metrics.get("train_examples"),
        "epoch_seconds": [float(r["seconds"]) for r in rows],
        "val_accuracy": float(rows[-1]["val_accuracy"]),
        "test_accuracy": metrics.get("test_accuracy"),
        "precision": metrics.get("precision"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default=None, help="An .npz instead of the full Fashion-MNIST.")
    parser.add_argument("--peak-gflops", type=float, default=None, help="The machine's float32 peak, if known.")
    parser.add_argument("--cnn-set", action="append", default=[], metavar="KEY=VALUE", help="Extra --set for cnn train.")
    args = parser.parse_args()
    data = args.data or (None if DEBIAN.is_dir() else str(SAMPLE))
    peak, how = (args.peak_gflops, "given") if args.peak_gflops else cpu_peak_gflops()
    macs = forward_macs()
    print(f"data: {data or DEBIAN}; epochs: {args.epochs}; batch size: {args.batch_size}")
    print(f"model: {CONFIG.relative_to(ROOT)}, {macs:,} forward MACs per image; float32 peak {peak:.0f} GFLOP/s ({how})")
    extra = [item for pair in (("--set", s) for s in args.cnn_set) for item in pair]
    results = [run_plain(args.epochs, args.batch_size, data), run_cnn(args.epochs, args.batch_size, data, extra)]
    print(f"{'runner':<12} {'images/s':>9} {'s/epoch':>8} {'GFLOP/s':>8} {'% peak':>7} {'val acc':>8} {'test acc':>8}  precision")
    for r in results:
        seconds = steady(r["epoch_seconds"])
        n = r["train_examples"] or results[0]["train_examples"]
        r["images_per_second"] = n / seconds
        gflops = r["images_per_second"] * 3 * macs * 2 / 1e9
        print(
            f"{r['runner']:<12} {r['images_per_second']:>9.0f} {seconds:>8.2f} {gflops:>8.1f} {100 * gflops / peak:>6.1f}% "
            f"{r['val_accuracy']:>8.4f} {r['test_accuracy']:>8.4f}  {r.get('precision', 'float32')}"
        )
    ratio = results[1]["images_per_second"] / results[0]["images_per_second"]
    gap = 100 * (results[1]["test_accuracy"] - results[0]["test_accuracy"])
    print(f"speed-up of cnn train over the plain script: {ratio:.2f}x; test accuracy difference: {gap:+.2f} points")


if __name__ == "__main__":
    main()
