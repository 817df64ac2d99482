"""What two cores can give a decoder: two independent one-thread decoders in two processes at once, against
one alone (no lock, no pool, nothing between them), and what the decoder's own worker processes reach.

    python bench/decode_ceiling.py FOLDER [--files 3000] [--size 160] [--repeats 3]

FOLDER is an image folder such as the one `bench/data_scale.py --keep` leaves. Each round runs, in a fresh
process each: one one-thread decoder on FILES files; two of them at once, each on its own FILES files;
and `decode_into` with its worker processes on those 2 x FILES files, into a cache-like file (start-up
included). Prints the median images/s of each over the rounds, the ceiling (two independent ones against one
alone: the most that parallel decoding can reach on this machine) and the worker processes' rate against one
alone and against the ceiling.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE = r"""
import sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[5])
from cnn_cli.data.decode import decode_into
files = sorted(Path(sys.argv[1]).rglob("*.jpg"))[int(sys.argv[2]):int(sys.argv[3])]
size = int(sys.argv[4])
for f in files:
    f.read_bytes()  # in the page cache: decoding is timed, not the disk
target = np.empty((len(files), size, size, 3), np.uint8)
started = time.perf_counter()
decode_into(target, files, (size, size, 3), workers=1, processes=False, what=None)
print(len(files) / (time.perf_counter() - started))
"""


WORKERS = r"""
import os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from cnn_cli.data.decode import decode_into
files = sorted(Path(sys.argv[1]).rglob("*.jpg"))[int(sys.argv[2]):int(sys.argv[3])]
size = int(sys.argv[4])
for f in files:
    f.read_bytes()
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "rows")
    with open(path, "wb") as out:
        os.posix_fallocate(out.fileno(), 0, len(files) * size * size * 3)
    started = time.perf_counter()
    decode_into(None, files, (size, size, 3), processes=True, rows_file=(path, 0), what=None)
    print(len(files) / (time.perf_counter() - started))
"""


def rates(folder: Path, ranges: list[tuple[int, int]], size: int, code: str = ONE) -> list[float]:
    procs = [subprocess.Popen([sys.executable, "-c", code, str(folder), str(a), str(b), str(size), str(ROOT)],
                              stdout=subprocess.PIPE, text=True) for a, b in ranges]
    return [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    one, two, workers = [], [], []
    for _ in range(args.repeats):  # alternating: each round's figures under the same machine load
        one.append(rates(args.folder, [(0, args.files)], args.size)[0])
        two.append(sum(rates(args.folder, [(0, args.files), (args.files, 2 * args.files)], args.size)))
        workers.append(rates(args.folder, [(0, 2 * args.files)], args.size, WORKERS)[0])
    one, two, workers = (statistics.median(found) for found in (one, two, workers))
    print(f"median of {args.repeats} round(s): one process {one:,.0f} images/s; two processes at once {two:,.0f} "
          f"images/s ({two / one:.2f}x: the ceiling); the decoder's worker processes {workers:,.0f} images/s "
          f"({workers / one:.2f}x one, {workers / two:.2f} of the ceiling)")


if __name__ == "__main__":
    main()
