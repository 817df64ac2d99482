"""Training speed, side by side: the seed's hand-written Keras script against `cnn train`, same model,
data, batch size, optimizer and epochs, on one Keras backend or several, in one run.

    python bench/run.py [--backend tensorflow,jax,torch] [--epochs 3] [--batch-size 32] [--repeats 1]
                        [--data PATH] [--peak-gflops N] [--no-plain] [--python torch=/path/to/venv/bin/python]
    python bench/run.py --to-accuracy [--recipe CONFIG] [--repeats N]   # time to accuracy (bench/to_accuracy.py)

`--backend` names the backends (comma-separated; default tensorflow): each runs both runners (its plain
script -- bench/plain_keras.py with KERAS_BACKEND on TensorFlow and JAX, bench/plain_torch.py on PyTorch, whose
`torch.compile` figure is printed beside it -- and `cnn train --backend`, with `--cnn-compile` also `cnn train
--backend torch --set train.jit_compile=true`), and the last lines compare each
`cnn train` with its backend's plain script, per steady epoch and per whole process (start to exit). `--python BACKEND=PATH` runs a backend's runners with another interpreter (a venv that has it).

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
import time
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
    from cnn_cli.model.analysis import analyze
    from cnn_cli.resolve import load_config

    config = load_config(CONFIG)
    return analyze(config.model, config.model.input_shape, config.model.num_classes, str(CONFIG)).total_macs


def run_plain(epochs: int, batch_size: int, data: str | None, backend: str, python: str | None,
              compiled: bool = False) -> dict:
    script = "plain_torch.py" if backend == "torch" else "plain_keras.py"
    cmd = [python or sys.executable, str(ROOT / "bench" / script), "--epochs", str(epochs),
           "--batch-size", str(batch_size), *(["--compile"] if compiled else [])]
    if data:
        cmd += ["--data", data]
    env = {**os.environ, "KERAS_BACKEND": backend}
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    wall = time.perf_counter() - started
    name = f"plain {backend}" + (" compile" if compiled else "")
    return {**json.loads(out.strip().splitlines()[-1]), "runner": name, "process_seconds": wall}


def run_cnn(epochs: int, batch_size: int, data: str | None, extra: list[str], backend: str, python: str | None,
            compiled: bool = False) -> dict:
    started = time.perf_counter()
    jit = ["--set", "train.jit_compile=true"] if compiled else []
    done = train(epochs, data, ["--backend", backend, "--set", f"train.batch_size={batch_size}", *jit, *extra], python)
    wall = time.perf_counter() - started
    metrics = done["metrics"]
    return {
        "runner": f"cnn {backend}" + (" compile" if compiled else ""),
        "train_examples": metrics.get("train_examples"),
        "epoch_seconds": done["epoch_seconds"],
        "val_accuracy": done["val_accuracy"],
        "test_accuracy": metrics.get("test_accuracy"),
        "precision": metrics.get("precision"),
        "process_seconds": wall,
    }


def _interpreters(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        backend, _, path = pair.partition("=")
        if not path:
            sys.exit(f"--python {pair}: expected BACKEND=PATH")
        found[backend] = path
    return found


def _row(r: dict, macs: int, peak: float, n_default: int) -> str:
    seconds = steady(r["epoch_seconds"])
    r["images_per_second"] = (r["train_examples"] or n_default) / seconds
    gflops = r["images_per_second"] * 3 * macs * 2 / 1e9
    return (f"{r['runner']:<20} {r['images_per_second']:>9.0f} {seconds:>8.2f} {r['process_seconds']:>9.1f} "
            f"{gflops:>8.1f} {100 * gflops / peak:>6.1f}% "
            f"{r['val_accuracy']:>8.4f} {r['test_accuracy']:>8.4f}  {r.get('precision') or 'float32'}")


def main() -> None:
    if "--to-accuracy" in sys.argv[1:]:
        from to_accuracy import main as to_accuracy

        to_accuracy(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow", help="Comma-separated: tensorflow, jax, torch.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="Run every runner this many times, rotating the order.")
    parser.add_argument("--data", default=None, help="An .npz instead of the full Fashion-MNIST.")
    parser.add_argument("--peak-gflops", type=float, default=None, help="The machine's float32 peak, if known.")
    parser.add_argument("--no-plain", action="store_true", help="Time cnn train only, not the plain script.")
    parser.add_argument("--no-compile", action="store_true", help="Leave out the plain PyTorch script's torch.compile run.")
    parser.add_argument("--cnn-compile", action="store_true",
                        help="Also run cnn train on PyTorch with train.jit_compile=true (torch.compile).")
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                        help="The interpreter for a backend's runs (a venv that has it).")
    parser.add_argument("--cnn-set", action="append", default=[], metavar="KEY=VALUE", help="Extra --set for cnn train.")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    pythons = _interpreters(args.python)
    data = args.data or (None if DEBIAN.is_dir() else str(SAMPLE))
    peak, how = (args.peak_gflops, "given") if args.peak_gflops else cpu_peak_gflops()
    macs = forward_macs()
    from cnn_cli.backends.device import Devices, cpu_has_fast_bf16

    print(f"data: {data or DEBIAN}; epochs: {args.epochs}; batch size: {args.batch_size}; repeats: {args.repeats}; "
          f"backends: {', '.join(backends)}; machine: {Devices().describe()}")
    print(f"model: {CONFIG.relative_to(ROOT)}, {macs:,} forward MACs per image; float32 peak {peak:.0f} GFLOP/s ({how})")
    print("bfloat16 in hardware (AVX512_BF16 or AMX): " + ("yes" if cpu_has_fast_bf16() else "no") +
          "; cnn train's precision auto picks what each backend computes fastest (docs/backends.md: Precision)")
    extra = [item for pair in (("--set", s) for s in args.cnn_set) for item in pair]
    runners = []
    for backend in backends:
        python = pythons.get(backend)
        if not args.no_plain:
            runners.append(lambda b=backend, p=python: run_plain(args.epochs, args.batch_size, data, b, p))
            if backend == "torch" and not args.no_compile:
                runners.append(lambda b=backend, p=python: run_plain(args.epochs, args.batch_size, data, b, p, True))
        runners.append(lambda b=backend, p=python: run_cnn(args.epochs, args.batch_size, data, extra, b, p))
        if backend == "torch" and args.cnn_compile:
            runners.append(lambda b=backend, p=python: run_cnn(args.epochs, args.batch_size, data, extra, b, p, True))
    header = (f"{'runner':<20} {'images/s':>9} {'s/epoch':>8} {'process s':>9} {'GFLOP/s':>8} {'% peak':>7} "
              f"{'val acc':>8} {'test acc':>8}  precision")
    speeds: dict[str, list[float]] = {}
    walls: dict[str, list[float]] = {}
    for i in range(args.repeats):
        order = runners[i % len(runners):] + runners[:i % len(runners)]  # the machine's load drifts: rotate
        results = sorted((run() for run in order), key=lambda r: r["runner"])
        print(f"round {i + 1} of {args.repeats}:" if args.repeats > 1 else "", header, sep="\n" if args.repeats > 1 else "")
        n_default = next((r["train_examples"] for r in results if r["train_examples"]), 0)
        for r in results:
            print(_row(r, macs, peak, n_default), flush=True)
            speeds.setdefault(r["runner"], []).append(r["images_per_second"])
            walls.setdefault(r["runner"], []).append(r["process_seconds"])
    print(f"median over {args.repeats} round(s): images/s per steady epoch, and seconds per whole process:")
    for runner, values in sorted(speeds.items()):
        backend = runner.split()[1]
        plain, plain_wall = speeds.get(f"plain {backend}"), walls.get(f"plain {backend}")
        versus = ""
        if runner.startswith("cnn") and plain:
            epoch_ratio = statistics.median(values) / statistics.median(plain)
            process_ratio = statistics.median(plain_wall) / statistics.median(walls[runner])
            versus = f"  ({epoch_ratio:.2f}x the plain script per epoch, {process_ratio:.2f}x per process)"
        print(f"  {runner:<20} {statistics.median(values):>9.0f} {statistics.median(walls[runner]):>8.1f} s{versus}")
    cnn = {r.removeprefix("cnn "): statistics.median(v) for r, v in speeds.items() if r.startswith("cnn")}
    if "tensorflow" in cnn and len(cnn) > 1:
        print("cnn train against cnn train on TensorFlow, per epoch: " +
              ", ".join(f"{b} {v / cnn['tensorflow']:.2f}x" for b, v in cnn.items() if b != "tensorflow"))


if __name__ == "__main__":
    main()
