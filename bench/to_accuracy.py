"""Time to accuracy: the tutorial's own script run to its early stop against `cnn train` of a recipe config,
whole processes timed from start to exit, on the full Fashion-MNIST (Debian's dataset-fashion-mnist).

    python bench/run.py --to-accuracy [--recipe configs/fashion_mnist_fast.yaml] [--repeats 1] [--data NPZ]

For each pair it prints each process's wall seconds, epochs, and test accuracy on the 10,000 test images, the
ratio of the wall times, and whether the recipe meets issue 14's bar for the fast config (test accuracy at least
0.920 in at most half the tutorial's wall time). The pairs alternate their order (the machine's load drifts);
the load average before and after each process is printed with it, since a busy machine slows both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnn_runs import DEBIAN, ROOT

FAST = ROOT / "configs" / "fashion_mnist_fast.yaml"
TARGET, SHARE = 0.92, 0.5


def timed(cmd: list[str]) -> tuple[float, str, tuple[float, float]]:
    """Runs `cmd` in the repository root; its wall seconds, stdout, and the 1-minute load before and after."""
    before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout, (before, os.getloadavg()[0])


def run_plain(data: str | None) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "plain_keras.py"), "--early-stop"] + (["--data", data] if data else [])
    seconds, out, load = timed(cmd)
    result = json.loads(out.strip().splitlines()[-1])
    return {"runner": "tutorial script", "seconds": seconds, "epochs": result["epochs_run"],
            "test_accuracy": result["test_accuracy"], "load": load}


def run_recipe(config: Path, data: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "cnn_cli", "train", "--config", str(config), "--run-dir", str(run_dir)]
        seconds, _, load = timed(cmd + (["--data", data] if data else []))
        metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"runner": f"cnn train {config.name}", "seconds": seconds, "epochs": metrics["epochs_run"],
            "test_accuracy": metrics["test_accuracy"], "tta": metrics.get("test_accuracy_tta"), "load": load}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to-accuracy", action="store_true")
    parser.add_argument("--recipe", type=Path, default=FAST, help="The config to time (default: the fast recipe).")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--data", default=None, help="An .npz instead of the full Fashion-MNIST (a smoke run).")
    args = parser.parse_args(argv)
    if args.data is None and not DEBIAN.is_dir():
        sys.exit("the full Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (or give --data NPZ)")
    print(f"data: {args.data or DEBIAN}; recipe: {args.recipe.relative_to(ROOT)}; CPUs: {os.cpu_count()}")
    for i in range(args.repeats):
        runners = [lambda: run_plain(args.data), lambda: run_recipe(args.recipe, args.data)]
        order = (0, 1) if i % 2 == 0 else (1, 0)
        results: list[dict] = [{}, {}]
        for k in order:
            results[k] = runners[k]()
        for r in results:
            tta = f", with flip TTA {r['tta']:.4f}" if r.get("tta") is not None else ""
            print(f"{r['runner']:<36} {r['seconds']:7.1f} s  {r['epochs']:>2} epochs  test {r['test_accuracy']:.4f}{tta}"
                  f"  (load {r['load'][0]:.1f} -> {r['load'][1]:.1f})", flush=True)
        plain, recipe = results
        share = recipe["seconds"] / plain["seconds"]
        met = recipe["test_accuracy"] >= TARGET and share <= SHARE
        print(f"pair {i + 1}: the recipe took {share:.2f} of the tutorial's wall time; test accuracy "
              f"{recipe['test_accuracy']:.4f}: {'meets' if met else 'does not meet'} the bar "
              f"(>= {TARGET:.3f} in <= {SHARE:.0%} of the time)", flush=True)
