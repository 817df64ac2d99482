"""Training speed, side by side: the seed's hand-written Keras script against `cnn train`, same model,
data, batch size, optimizer and epochs, in one run.

    python bench/run.py [--epochs 3] [--batch-size 32] [--repeats 1] [--data PATH] [--peak-gflops N]

Data: the full Fashion-MNIST from Debian's dataset-fashion-mnist when installed, else the bundled
sample (data/fashion_mnist_sample.npz). For each runner it prints images/s and seconds per epoch (the
first epoch, which traces and warms up, is left out when there are more), achieved GFLOP/s (training
counted as 3 x forward MACs x 2 FLOPs) and its share of the machine's peak, and the final validation
and test accuracy; then the ratio of the two throughputs. With --repeats N the pair runs N times, in
alternating order (the machine's load drifts), and the ratio of each pair and their median are printed.

Whether the ratio can reach 2 depends on the CPU: `cnn train` picks mixed bfloat16 only where the CPU
multiplies bfloat16 in hardware (AVX512_BF16 or AMX); elsewhere it trains in float32, as the plain script
does, and gains only what its input pipeline and steps_per_execution save. The first lines say which.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from cnn_runs import CONFIG, DEBIAN, ROOT, SAMPLE, steady, train


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


def run_plain(epochs: int, batch_size: int, data: str | None) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "plain_keras.py"), "--epochs", str(epochs), "--batch-size", str(batch_size)]
    if data:
        cmd += ["--data", data]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_cnn(epochs: int, batch_size: int, data: str | None, extra: list[str]) -> dict:
    done = train(epochs, data, ["--set", f"train.batch_size={batch_size}", *extra])
    metrics = done["metrics"]
    return {
        "runner": "cnn train",
        "train_examples": metrics.get("train_examples"),
        "epoch_seconds": done["epoch_seconds"],
        "val_accuracy": done["val_accuracy"],
        "test_accuracy": metrics.get("test_accuracy"),
        "precision": metrics.get("precision"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="Run the pair this many times, alternating the order.")
    parser.add_argument("--data", default=None, help="An .npz instead of the full Fashion-MNIST.")
    parser.add_argument("--peak-gflops", type=float, default=None, help="The machine's float32 peak, if known.")
    parser.add_argument("--cnn-set", action="append", default=[], metavar="KEY=VALUE", help="Extra --set for cnn train.")
    args = parser.parse_args()
    data = args.data or (None if DEBIAN.is_dir() else str(SAMPLE))
    peak, how = (args.peak_gflops, "given") if args.peak_gflops else cpu_peak_gflops()
    macs = forward_macs()
    from cnn_cli.backends.device import cpu_has_fast_bf16

    print(f"data: {data or DEBIAN}; epochs: {args.epochs}; batch size: {args.batch_size}; repeats: {args.repeats}")
    print(f"model: {CONFIG.relative_to(ROOT)}, {macs:,} forward MACs per image; float32 peak {peak:.0f} GFLOP/s ({how})")
    print("bfloat16 in hardware (AVX512_BF16 or AMX): " + (
        "yes, so cnn train's precision auto can pick mixed_bfloat16" if cpu_has_fast_bf16()
        else "no, so cnn train's precision auto stays float32, as the plain script does"))
    extra = [item for pair in (("--set", s) for s in args.cnn_set) for item in pair]
    header = f"{'runner':<12} {'images/s':>9} {'s/epoch':>8} {'GFLOP/s':>8} {'% peak':>7} {'val acc':>8} {'test acc':>8}  precision"
    ratios, gaps = [], []
    for i in range(args.repeats):
        runners = [lambda: run_plain(args.epochs, args.batch_size, data), lambda: run_cnn(args.epochs, args.batch_size, data, extra)]
        order = (0, 1) if i % 2 == 0 else (1, 0)
        results: list[dict] = [{}, {}]
        for k in order:
            results[k] = runners[k]()
        if args.repeats > 1:
            print(f"pair {i + 1} of {args.repeats} ({'plain first' if order[0] == 0 else 'cnn train first'}):")
        print(header)
        for r in results:
            seconds = steady(r["epoch_seconds"])
            n = r["train_examples"] or results[0]["train_examples"]
            r["images_per_second"] = n / seconds
            gflops = r["images_per_second"] * 3 * macs * 2 / 1e9
            print(
                f"{r['runner']:<12} {r['images_per_second']:>9.0f} {seconds:>8.2f} {gflops:>8.1f} {100 * gflops / peak:>6.1f}% "
                f"{r['val_accuracy']:>8.4f} {r['test_accuracy']:>8.4f}  {r.get('precision', 'float32')}", flush=True
            )
        ratios.append(results[1]["images_per_second"] / results[0]["images_per_second"])
        gaps.append(100 * (results[1]["test_accuracy"] - results[0]["test_accuracy"]))
        print(f"speed-up of cnn train over the plain script: {ratios[-1]:.2f}x; test accuracy difference: {gaps[-1]:+.2f} points",
              flush=True)
    if args.repeats > 1:
        print(f"over {args.repeats} pairs: speed-up median {statistics.median(ratios):.2f}x "
              f"(from {min(ratios):.2f}x to {max(ratios):.2f}x); test accuracy difference median "
              f"{statistics.median(gaps):+.2f} points")


if __name__ == "__main__":
    main()
