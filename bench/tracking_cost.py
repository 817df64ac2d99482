"""What MLflow tracking (`train.track.mlflow`, the default SQLite store) adds to a `cnn train` run: the same small
run (the Fashion-MNIST config on the bundled sample) untracked and tracked, interleaved, `--repeats` times each,
each a fresh process timed whole (start to exit). The tracked runs share one runs' folder, as runs do, so the
first one also makes the database (MLflow's tables) and the later ones reuse it.

    python bench/tracking_cost.py --repeats 3 --epochs 2 --subset 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_cli.backends import device  # noqa: E402

CONFIG = ROOT / "configs" / "fashion_mnist.yaml"
SAMPLE = ROOT / "data" / "fashion_mnist_sample.npz"


def cpu() -> str:
    """The CPU's model, as cnn train names it."""
    return device.cpu_model()


def one(folder: Path, name: str, tracked: bool, args) -> float:
    cmd = [sys.executable, "-m", "cnn_cli", "train", "--config", str(CONFIG), "--data", str(SAMPLE),
           "--run-dir", str(folder / name), "--epochs", str(args.epochs), "--subset", str(args.subset),
           "--set", "train.callbacks.early_stopping=null", "--seed", "1"]
    if tracked:
        cmd += ["--set", "train.track.mlflow=true"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "Warning" in done.stderr:
        sys.exit(f"cnn train failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=1000)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"untracked": [], "tracked": []}
    with tempfile.TemporaryDirectory() as tmp:
        plain, tracked = Path(tmp) / "plain", Path(tmp) / "tracked"
        for i in range(args.repeats):
            times["untracked"].append(one(plain, f"run-{i}", False, args))
            times["tracked"].append(one(tracked, f"run-{i}", True, args))
    load = os.getloadavg()
    print(f"cnn train, {CONFIG.name} on {SAMPLE.name}, {args.epochs} epochs, --subset {args.subset}; {cpu()}; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")
    for mode, values in times.items():
        print(f"  {mode:9s} median {statistics.median(values):6.1f} s  runs: {', '.join(f'{v:.1f}' for v in values)}")
    later = times["tracked"][1:] or times["tracked"]
    print(f"  tracked / untracked: {statistics.median(times['tracked']) / statistics.median(times['untracked']):.2f} "
          f"(median); first tracked run (makes the database) {times['tracked'][0] - times['untracked'][0]:+.1f} s, "
          f"later ones {statistics.median(later) - statistics.median(times['untracked']):+.1f} s")


if __name__ == "__main__":
    main()
