"""How long `cnn runs` takes over many run directories: N run directories (default 500) made in a temporary
folder from configs/fashion_mnist.yaml resolved as `cnn train` writes it (config.yaml with every default,
about 90 lines; run.json and metrics.json as a finished run's, each run with its own learning rate, batch size
and filters), then listed.

    python bench/runs_listing.py [--runs 500] [--repeats 5]

Prints, side by side, the medians of the repeats (wall time, and CPU time, which other jobs' load changes
less) of: the listing in this process (`list_runs`) with libyaml's C
parser, the same with PyYAML's pure-Python parser, and the whole command `cnn runs DIR` in a new process (the
interpreter's start and the imports included), with the ratio pure-Python / C. Names the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_cli.config.yaml_io import dump_yaml, read_yaml  # noqa: E402
from cnn_cli.resolve import load_config  # noqa: E402
from cnn_cli.resolve.run_config import dump_config  # noqa: E402
from cnn_cli.rundir import run_listing  # noqa: E402


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def make_runs(folder: Path, count: int) -> None:
    rates, batches, filters = (1e-4, 3e-4, 1e-3, 3e-3), (32, 64, 128), (16, 32)
    for i in range(count):
        overrides = [f"train.optimizer.learning_rate={rates[i % 4]}", f"train.batch_size={batches[i % 3]}",
                     f"model.layers[0].filters={filters[i % 2]}", "model.input_shape=[28,28,1]", "model.num_classes=10"]
        if i == 0 or i < 24:  # a few configs resolved for real; the rest copy them (resolving is not what is timed)
            text = dump_yaml(dump_config(load_config(str(ROOT / "configs" / "fashion_mnist.yaml"), overrides)))
            (folder / f"template-{i}.yaml").write_text(text)
        run = folder / "runs" / f"fashion_mnist-{i:04d}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text((folder / f"template-{i % 24}.yaml").read_text())
        (run / "run.json").write_text(json.dumps({
            "format": 2, "name": "fashion_mnist", "config_file": "configs/fashion_mnist.yaml", "overrides": overrides,
            "data_path": None, "subset": None, "seed": 42, "command": ["cnn", "train"], "status": "complete",
            "started": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00", "finished": None, "resumed": []}))
        (run / "metrics.json").write_text(json.dumps({
            "task": "classification", "val_loss": 0.3, "val_accuracy": 0.9, "test_loss": 0.3,
            "test_accuracy": 0.88 + i % 7 / 1000, "best_epoch": 5, "best_monitor": "val_loss", "best_value": 0.3,
            "epochs_run": 10, "epochs_planned": 10, "wall_seconds": 100.0 + i, "params": 120000, "macs": 9000000,
            "backend": "tensorflow", "device": "CPU", "versions": {"python": "3.11"}}))


def timed(fn, repeats: int) -> tuple[float, float]:
    """The medians of the wall time and of the CPU time (user + system, of this process and the children it
    waited for): on a machine that other jobs load, the CPU time is what the listing itself costs."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, before = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - before)
    return statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_runs(folder, args.runs)
        runs = folder / "runs"
        listed = run_listing.list_runs([runs])
        assert len(listed.rows) == args.runs, len(listed.rows)

        fast = timed(lambda: run_listing.list_runs([runs]), args.repeats)
        original = run_listing.read_yaml
        run_listing.read_yaml = lambda path, fast=False: read_yaml(path)  # PyYAML's pure-Python parser
        try:
            slow = timed(lambda: run_listing.list_runs([runs]), args.repeats)
        finally:
            run_listing.read_yaml = original

        def command():
            done = subprocess.run([sys.executable, "-m", "cnn_cli", "runs", str(runs)], cwd=ROOT,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(done.stderr)

        whole = timed(command, args.repeats)
    load = os.getloadavg()[0]
    print(f"CPU: {cpu()} ({os.cpu_count()} cores, load {load:.1f}); Python {platform.python_version()}; "
          f"{args.runs} run directories; median of {args.repeats}")
    print("                                   wall s   CPU s")
    print(f"  listing, libyaml C parser       {fast[0]:7.3f} {fast[1]:7.3f}")
    print(f"  listing, pure-Python parser     {slow[0]:7.3f} {slow[1]:7.3f}   ({slow[1] / fast[1]:.1f}x the C "
          "parser's CPU time)")
    print(f"  cnn runs DIR (new process)      {whole[0]:7.3f} {whole[1]:7.3f}")
    print(f"  differing config keys found: {', '.join(listed.differing)}")


if __name__ == "__main__":
    main()
