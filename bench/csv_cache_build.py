"""Building the disk cache of a large CSV file: how long `cnn_cli.data.sources.read_store` takes with
`data.cache: disk` and a new cache folder (the labels read, the pixel cells parsed and written into the cache
file, its entry committed).

    python bench/csv_cache_build.py [--rows 30000] [--file PATH] [--keep] [--repeats 3] [--against REV]

1. Writes a CSV file in the Sign Language MNIST layout (label, pixel1..pixel784) of ROWS rows from the bundled
   Fashion-MNIST sample (its 4,000 images repeated in order); a file that exists is reused, and removed at the
   end unless `--keep`.
2. Times the cache build `--repeats` times, each in a new process (imports done before the clock starts) and a
   new cache folder, the file in the page cache; prints each build's seconds (wall and the process' CPU) and
   the medians. With `--against REV` (a git revision), the builds of that revision's `cnn_cli` alternate with
   this code's (REV, this, REV, this, ...), for a before/after comparison under the same machine load, and the
   median of the per-round ratios is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CODE = os.environ.get("CNN_BENCH_CODE", str(ROOT))  # where cnn_cli is imported from (--against: another revision)
SIDE = 28


def write_csv(path: Path, rows: int) -> None:
    """ROWS rows of the bundled Fashion-MNIST sample's images (28x28) with their labels, repeated in order."""
    import pandas as pd

    with np.load(ROOT / "data" / "fashion_mnist_sample.npz") as f:
        x, y = np.concatenate([f["x_train"], f["x_test"]]), np.concatenate([f["y_train"], f["y_test"]])
    picks = np.arange(rows) % len(x)
    frame = pd.DataFrame(x[picks].reshape(rows, -1), columns=[f"pixel{i + 1}" for i in range(SIDE * SIDE)])
    frame.insert(0, "label", y[picks])
    frame.to_csv(path, index=False)


def one_build(path: Path) -> dict[str, float]:
    """Seconds (wall, CPU) of one cache build of `path` with this process' `cnn_cli`, in a new cache folder."""
    sys.path.insert(0, CODE)
    from cnn_cli.data.sources import read_store
    from cnn_cli.resolve import config_from_dict

    path.read_bytes()  # in the page cache: parsing is timed, not the disk
    layers = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    config = config_from_dict({"name": "bench", "model": {"layers": layers}, "data": {
        "source": "csv", "train": str(path), "image_shape": [SIDE, SIDE, 1], "cache": "disk",
        "validation_split": 0.1}}, "bench.yaml")  # read_store does not split: any valid value
    with tempfile.TemporaryDirectory(prefix="cnn-bench-cache-") as cache:
        os.environ["CNN_CACHE_DIR"] = cache
        wall, cpu = time.perf_counter(), time.process_time()
        store = read_store(config.data, "bench.yaml")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert isinstance(store.images, np.memmap) and len(store.images) == path.read_text().count("\n") - 1
    return {"wall": wall, "cpu": cpu}


def run_build(path: Path, code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--build-of", str(path)], env={**os.environ, "CNN_BENCH_CODE": code},
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def compare(path: Path, repeats: int, against: str | None) -> None:
    codes = {"this code": str(ROOT)}
    old = None
    if against:
        old = Path(tempfile.mkdtemp(prefix="cnn-bench-code-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", against, "cnn_cli"], check=True,
                                 capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        codes = {against: str(old), **codes}
    builds: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    try:
        for round_ in range(repeats):
            for name, code in codes.items():
                found = run_build(path, code)
                builds[name].append(found)
                print(f"round {round_ + 1}, {name}: build {found['wall']:.2f} s wall, {found['cpu']:.2f} s CPU",
                      flush=True)
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    for name, found in builds.items():
        print(f"{name}: median build {statistics.median(b['wall'] for b in found):.2f} s wall, "
              f"{statistics.median(b['cpu'] for b in found):.2f} s CPU ({len(found)} builds)")
    if against:
        ratios = [new["wall"] / was["wall"] for new, was in zip(builds["this code"], builds[against])]
        print(f"this code / {against}: median per-round ratio of wall times {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--file", type=Path, help="the CSV file (written when it does not exist)")
    parser.add_argument("--keep", action="store_true", help="keep the CSV file")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also time the cnn_cli of git revision REV, alternating")
    parser.add_argument("--build-of", type=Path, help=argparse.SUPPRESS)  # one build, as JSON
    args = parser.parse_args()
    if args.build_of:
        print(json.dumps(one_build(args.build_of)))
        return
    path = args.file or Path(tempfile.gettempdir()) / f"cnn-bench-{args.rows}.csv"
    written = not path.exists()
    if written:
        write_csv(path, args.rows)
    print(f"{path}: {args.rows:,} rows of {SIDE}x{SIDE} pixels, {path.stat().st_size / 1e6:.0f} MB; "
          f"CPU {cpu_name()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    try:
        compare(path, args.repeats, args.against)
    finally:
        if written and not args.keep:
            path.unlink()


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
