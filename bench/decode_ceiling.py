"""What two cores can give a decoder: two independent one-thread decoders in two processes at once, against
one alone (no lock, no pool, no pickling between them).

    python bench/decode_ceiling.py FOLDER [--files 3000] [--size 160] [--repeats 3]

FOLDER is an image folder such as the one `bench/data_scale.py --keep` leaves. Prints the best images/s of
one process alone, of two at once (each on its own half of 2 x FILES files), and their ratio: the most that
parallel decoding can reach on this machine.
"""

from __future__ import annotations

import argparse
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


def rates(folder: Path, ranges: list[tuple[int, int]], size: int) -> list[float]:
    procs = [subprocess.Popen([sys.executable, "-c", ONE, str(folder), str(a), str(b), str(size), str(ROOT)],
                              stdout=subprocess.PIPE, text=True) for a, b in ranges]
    return [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    one = two = 0.0
    for _ in range(args.repeats):  # alternating, best of each: the rounds the machine disturbed least
        one = max(one, rates(args.folder, [(0, args.files)], args.size)[0])
        two = max(two, sum(rates(args.folder, [(0, args.files), (args.files, 2 * args.files)], args.size)))
    print(f"one process {one:,.0f} images/s; two processes at once {two:,.0f} images/s ({two / one:.2f}x)")


if __name__ == "__main__":
    main()
