"""Data at scale: decoding an image folder once, and training from memory or from the disk cache.

    python bench/data_scale.py [--count 6000] [--size 160] [--epochs 2] [--folder DIR] [--keep]
                               [--decode-sample 6000] [--repeats 5] [--train-repeats 1] [--no-decode] [--no-train]
                               [--against REV]

1. Builds a synthetic folder of COUNT JPEGs at SIZExSIZE RGB, 10 class folders, from the Fashion-MNIST
   images (Debian's dataset-fashion-mnist when installed, else the bundled sample): each image resized and
   tinted with a random colour. A folder that exists is reused; it is removed at the end unless `--keep`.
2. Decoding: images/s of `cnn_cli.data.decode.decode_into` into a new cache file (as `cnn train` decodes a
   folder) with 1 thread, and with every core as threads and as worker processes, on the first
   `--decode-sample` files, in the page cache. `--repeats` rounds, the three ways in a turning order; it
   prints each way's median images/s and the median of its per-round ratio to the round's one thread (the
   machine's speed drifts between rounds, so ratios are taken within a round). With `--against REV` (a git
   revision), the same rates with that revision's `cnn_cli` too, each round of each code in its own
   process, the two codes alternating: a before/after comparison under the same machine load.
3. Training: `cnn train` (a small strided CNN, batch 64, a tenth of the images for validation) with `data.cache: memory` and `disk`, each in its own
   cache folder, each run once to build the cache and once more from it; and a tiny run (1,500 images, so
   that its training and evaluation batches are as large) for reference. For each: peak RssAnon (anonymous
   memory, polled every 50 ms from /proc), the decoded size, and training images/s of the last epoch
   (history.csv); `--train-repeats N` runs the pair from the cache N times, alternating, for the median ratio
   of their speeds. Then `cnn evaluate` (its validation split, from the cache) on the tiny run and on the
   disk run, and its peak RssAnon.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CODE = os.environ.get("CNN_BENCH_CODE", str(ROOT))  # where cnn_cli is imported from (--against: another revision)
sys.path.insert(0, CODE)

from cnn_cli.data.decode import decode_into, default_workers  # noqa: E402

TINY = 1500  # the reference run: enough images for full training (64) and evaluation (256) batches
MODEL = [
    {"type": "conv2d", "filters": 16, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "global_avg_pool2d"},
    {"type": "dense", "units": "num_classes", "activation": "softmax"},
]


def fashion_images() -> tuple[np.ndarray, np.ndarray]:
    sys.path.insert(0, str(ROOT))
    from cnn_cli.data.sources.builtin import read_builtin

    try:
        raw = read_builtin("fashion_mnist")
        return raw.train.x[..., 0], np.asarray(raw.train.ids)
    except Exception:
        data = np.load(ROOT / "data" / "fashion_mnist_sample.npz")
        return data["x_train"], data["y_train"]


def build_folder(folder: Path, count: int, size: int) -> None:
    """COUNT tinted SIZExSIZE JPEGs in folder/<class>/; kept when the folder already has them."""
    from PIL import Image

    if folder.is_dir() and sum(1 for _ in folder.rglob("*.jpg")) == count:
        return
    x, y = fashion_images()
    rng = np.random.default_rng(0)
    tints = rng.uniform(0.3, 1.0, (count, 3))

    def write(i: int) -> None:
        k = i % len(x)
        gray = np.asarray(Image.fromarray(x[k]).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
        rgb = (gray[..., None] * tints[i]).astype(np.uint8)
        target = folder / str(int(y[k])) / f"{i:06d}.jpg"
        Image.fromarray(rgb).save(target, quality=90)

    for label in np.unique(y):
        (folder / str(int(label))).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(default_workers()) as pool:
        list(pool.map(write, range(count)))


def decode_rates(files: list[Path], size: int, repeats: int = 5) -> list[dict[str, float]]:
    """One dict per round of images/s: 1 thread, all cores as threads, all cores as worker processes, each
    decoding into a new cache file as `cnn train` does, in an order that turns every round (files in the page
    cache first: decoding, not the disk, is measured); and the one-thread way's CPU time per image."""
    from cnn_cli.data import cache

    for file in files:
        file.read_bytes()
    workers = default_workers()
    ways = [("1 thread", 1, False), (f"{workers} threads", workers, False), (f"{workers} processes", workers, True)]
    rows_file = "rows_file" in inspect.signature(decode_into).parameters  # not in revisions before it (--against)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="cnn-bench-cache-") as root:
        for turn in range(repeats):
            found = {}
            for name, count, processes in ways[turn % 3:] + ways[:turn % 3]:
                writer = cache.Writer(cache.Entry(Path(root), "rates"), (len(files), size, size, 3))
                where = {"rows_file": writer.rows_file} if rows_file else {}
                started, cpu_started = time.perf_counter(), time.process_time()
                decode_into(writer.images, files, (size, size, 3), workers=count, processes=processes,
                            what=f"decode, {name}", **where)
                found[name] = len(files) / (time.perf_counter() - started)
                if count == 1:
                    found[CPU] = (time.process_time() - cpu_started) / len(files) * 1e6
                writer.abandon()
            rounds.append({name: found[name] for name, _, _ in ways} | {CPU: found[CPU]})
    return rounds


CPU = "CPU per image, 1 thread"


def rates_line(rounds: list[dict[str, float]]) -> str:
    """Median images/s of each way, and the median over rounds of its ratio to the same round's one thread."""
    ways = [way for way in rounds[0] if way != CPU]
    parts = []
    for way in ways:
        ratios = [r[way] / r["1 thread"] for r in rounds]
        spread = f", rounds {min(ratios):.2f}-{max(ratios):.2f}" if len(rounds) > 1 and way != "1 thread" else ""
        parts.append(f"{way} {statistics.median(r[way] for r in rounds):,.0f} images/s "
                     f"({statistics.median(ratios):.2f}x{spread})")
    cpu = statistics.median(r[CPU] for r in rounds)
    return f"median of {len(rounds)} round(s): " + ", ".join(parts) + f"; {CPU} {cpu:,.0f} us"


def compare_rates(files: list[Path], size: int, against: str, repeats: int = 5) -> None:
    """Decode rates of this code and of git revision `against`, one process per round and code, alternating."""
    import shutil

    old = Path(tempfile.mkdtemp(prefix="cnn-bench-code-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", against, "cnn_cli"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    listing = old / "files.txt"
    listing.write_text("\n".join(str(f) for f in files))
    rounds: dict[str, list[dict[str, float]]] = {}
    try:
        for _ in range(repeats):
            for name, code in ((against, str(old)), ("this code", str(ROOT))):
                out = subprocess.run([sys.executable, __file__, "--rates-of", str(listing), "--size", str(size)],
                                     env={**os.environ, "CNN_BENCH_CODE": code}, check=True, capture_output=True,
                                     text=True).stdout
                rounds.setdefault(name, []).extend(json.loads(out.splitlines()[-1]))
    finally:
        shutil.rmtree(old, ignore_errors=True)
    for name, found in rounds.items():
        print(f"decode ({name}): {rates_line(found)}")


def peak_rss_anon(process: subprocess.Popen) -> int:
    """Peak RssAnon (bytes) of a running process, polled until it ends."""
    peak, status = 0, Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            break
        time.sleep(0.05)
    return peak


def measured(cmd: list[str], env: dict) -> tuple[int, float, str]:
    """(peak RssAnon in bytes, wall seconds, output) of a command run to its end; exits when it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(process.stdout), daemon=True)
    reader.start()
    peak = peak_rss_anon(process)
    reader.join()
    if process.wait() != 0:
        sys.exit(f"{' '.join(cmd[2:4])} failed:\n{''.join(out)}")
    return peak, time.perf_counter() - started, "".join(out)


def train(folder: Path, size: int, cache: str, cache_dir: Path, epochs: int, work: Path, tag: str) -> dict:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", tag).strip("-")
    config = {"name": f"scale-{slug}", "seed": 1, "model": {"input_shape": [size, size, 3], "layers": MODEL},
              "data": {"source": "folder", "path": str(folder), "image_shape": [size, size, 3], "cache": cache,
                       "validation_split": 0.1},
              "train": {"batch_size": 64, "epochs": epochs, "optimizer": "adam"}}
    config_file = work / f"{slug}.yaml"
    config_file.write_text(json.dumps(config))
    run_dir = work / f"run-{slug}"
    env = {**os.environ, "CNN_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    peak, wall, _ = measured([sys.executable, "-m", "cnn_cli", "train", "--config", str(config_file), "--run-dir",
                              str(run_dir)], env)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv", newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    return {"tag": tag, "peak_rss_anon_mb": peak / 1e6, "wall_s": wall, "run_dir": run_dir, "env": env,
            "train_images_per_s": metrics["train_examples"] / float(last["seconds"])}


def evaluate(row: dict) -> float:
    """Peak RssAnon (MB) of `cnn evaluate` on a training row's run (its validation split, from the cache)."""
    peak, _, _ = measured([sys.executable, "-m", "cnn_cli", "evaluate", str(row["run_dir"]), "--no-write"], row["env"])
    return peak / 1e6


def training(folder: Path, size: int, epochs: int, decoded_mb: float, repeats: int) -> None:
    """The training runs (memory and disk, each first and from the cache, and the tiny reference), `cnn
    evaluate` on the tiny run and on the disk run, and their table. With `repeats` over 1, the pair from the
    cache (memory, disk) runs that many times in all, alternating, and the speed ratio is the median of the
    pairs' ratios."""
    tiny = Path(tempfile.gettempdir()) / f"cnn-data-scale-{TINY}-{size}"
    build_folder(tiny, TINY, size)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [train(tiny, size, "disk", work / "cache-tiny", epochs, work, f"tiny ({TINY:,} images, disk)"),
                train(folder, size, "memory", work / "cache-memory", epochs, work, "memory, first run"),
                train(folder, size, "memory", work / "cache-memory", epochs, work, "memory, from the cache"),
                train(folder, size, "disk", work / "cache-disk", epochs, work, "disk, first run"),
                train(folder, size, "disk", work / "cache-disk", epochs, work, "disk, from the cache")]
        pairs = [(rows[2], rows[4])]
        for turn in range(1, repeats):
            pairs.append((train(folder, size, "memory", work / "cache-memory", epochs, work, f"memory, again {turn}"),
                          train(folder, size, "disk", work / "cache-disk", epochs, work, f"disk, again {turn}")))
            rows += pairs[-1]
        evaluated = {"tiny": evaluate(rows[0]), "disk": evaluate(rows[4])}
    base = rows[0]["peak_rss_anon_mb"]
    print(f"{'run':<26} {'peak RssAnon':>13} {'over tiny':>10} {'train img/s':>12} {'wall s':>7}")
    for row in rows:
        print(f"{row['tag']:<26} {row['peak_rss_anon_mb']:>10,.0f} MB {row['peak_rss_anon_mb'] - base:>7,.0f} MB "
              f"{row['train_images_per_s']:>12,.0f} {row['wall_s']:>7.1f}")
    memory_cost = (rows[2]["peak_rss_anon_mb"] - base) / decoded_mb
    ratios = [disk["train_images_per_s"] / memory["train_images_per_s"] for memory, disk in pairs]
    print(f"memory mode from the cache: images cost {memory_cost:.2f}x their decoded size; disk from the cache "
          f"trains at {statistics.median(ratios):.2f}x its speed (pairs: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"cnn evaluate, peak RssAnon: tiny run {evaluated['tiny']:,.0f} MB, disk run {evaluated['disk']:,.0f} MB "
          f"({evaluated['disk'] - evaluated['tiny']:+,.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None, help="where the synthetic folder goes (default: /tmp)")
    parser.add_argument("--decode-sample", type=int, default=6000, help="files timed for the decode rates")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the decode rates")
    parser.add_argument("--train-repeats", type=int, default=1, help="memory/disk pairs from the cache")
    parser.add_argument("--keep", action="store_true", help="keep the folder and caches")
    parser.add_argument("--no-decode", action="store_true", help="skip the decode rates")
    parser.add_argument("--no-train", action="store_true", help="skip the training runs")
    parser.add_argument("--against", metavar="REV", help="also time decoding with the cnn_cli of git revision REV")
    parser.add_argument("--rates-of", type=Path, help=argparse.SUPPRESS)  # one round for --against, as JSON
    args = parser.parse_args()
    if args.rates_of:
        files = [Path(line) for line in args.rates_of.read_text().splitlines()]
        print(json.dumps(decode_rates(files, args.size, repeats=1)))
        return
    folder = args.folder or Path(tempfile.gettempdir()) / f"cnn-data-scale-{args.count}-{args.size}"
    build_folder(folder, args.count, args.size)
    decoded_mb = args.count * args.size * args.size * 3 / 1e6
    print(f"folder: {folder} ({args.count} JPEGs at {args.size}x{args.size} RGB, {decoded_mb:,.0f} MB decoded)")
    files = sorted(folder.rglob("*.jpg"))[: args.decode_sample]
    if not args.no_decode:
        print(f"decode, {len(files):,} files: {rates_line(decode_rates(files, args.size, args.repeats))}")
    if args.against:
        compare_rates(files, args.size, args.against, args.repeats)
    if not args.no_train:
        training(folder, args.size, args.epochs, decoded_mb, args.train_repeats)
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
