"""Decoding many image files into one uint8 array, in parallel, with progress shown while it runs: a bar on a
terminal, else one line per 10%.

Threads by default: Pillow releases the GIL while it decodes and resizes (not for the Python around it).
Very large jobs (`PROCESS_MIN` files or more, on more than one core) decode in worker processes instead,
started with `spawn` (safe beside a started TensorFlow; each costs a second or two to start), which send each
chunk's pixels back to be written into the target. `CNN_DECODE_WORKERS` sets the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from cnn_cli.data.images import read_image
from cnn_cli.errors import DataError

CHUNK = 32  # files per task
AHEAD = 4  # tasks in flight per worker
PROCESS_MIN = 8000  # files from which worker processes pay for their start-up (about 1-2 s)


def default_workers() -> int:
    """Workers for decoding: the CPUs this process may use (`CNN_DECODE_WORKERS` overrides)."""
    explicit = os.environ.get("CNN_DECODE_WORKERS", "")
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def decode_chunk(files: list[str], shape: tuple[int, int, int], resize: str, skip_bad: bool,
                 out: np.ndarray | None = None):
    """(pixels, {position in chunk: reason}, failure) of some files, decoded into `out` (a slice of the target:
    threads write there, no copy) or else into a new array (worker processes send it back). Without
    `skip_bad`, the first unreadable file stops the chunk: failure = (position, path, reason), never raised,
    so that it crosses processes."""
    if out is None:
        out = np.zeros((len(files), *shape), dtype=np.uint8)
    bad: dict[int, str] = {}
    for k, file in enumerate(files):
        try:
            read_image(file, shape, resize, out[k])
        except DataError as exc:
            if not skip_bad:
                return out, bad, (k, exc.source, str(exc)[len(exc.source) + 2:])
            out[k] = 0
            bad[k] = str(exc)
    return out, bad, None


def decode_into(target: np.ndarray, files: list[Path], shape: tuple[int, int, int], *, resize: str = "stretch",
                skip_bad: bool = False, workers: int | None = None, processes: bool | None = None,
                what: str | None = "Decoding") -> dict[int, str]:
    """Decodes `files[i]` into `target[i]`. Returns {row: reason} of the files left out (`skip_bad`: their
    rows are zeros); without it, the first unreadable file (in file order) raises its DataError. `processes`:
    None decides by size. Threads decode straight into `target`; processes send each chunk's pixels back.
    `what` names the work in the progress lines (None: no progress shown)."""
    workers = workers or default_workers()
    if processes is None:
        processes = workers > 1 and len(files) >= PROCESS_MIN
    names, shape = [str(f) for f in files], tuple(shape)
    progress = Progress(len(files), what)
    bad: dict[int, str] = {}
    failures: list[tuple] = []
    if processes:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool = ThreadPoolExecutor(workers)
    with pool:
        queue = iter(range(0, len(files), CHUNK))
        futures: dict = {}

        def refill() -> None:  # a few chunks per worker in flight: a process's pixels wait for their copy briefly
            for start in queue:
                futures[pool.submit(decode_chunk, names[start:start + CHUNK], shape, resize, skip_bad,
                                    None if processes else target[start:start + CHUNK])] = start
                if len(futures) >= AHEAD * workers:
                    return

        refill()
        while futures and not failures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                start = futures.pop(future)  # the future holds a process's pixels: let them go once copied
                pixels, found, failure = future.result()
                if failure is not None:
                    failures.append((start + failure[0], *failure[1:]))
                    continue
                if processes:
                    target[start:start + len(pixels)] = pixels
                bad.update({start + k: reason for k, reason in found.items()})
                progress.advance(len(pixels))
            if not failures:
                refill()
        if failures:  # the chunks still running may hold an earlier bad file
            wait(futures)
            failures += [(futures[f] + f.result()[2][0], *f.result()[2][1:]) for f in futures
                         if f.result()[2] is not None]
    progress.close()
    if failures:
        _, source, message = min(failures)  # the first bad file in file order
        raise DataError(source, message)
    return dict(sorted(bad.items()))


class Progress:
    """`what: 45% (2,700/6,000 images, 850/s)` redrawn in place on a terminal, else printed at every 10%."""

    def __init__(self, total: int, what: str | None, stream=None):
        self.total, self.what, self.done = total, what, 0
        self.quiet = what is None
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.shown_tenth = 0

    def advance(self, count: int) -> None:
        if not count or self.quiet:
            return
        self.done += count
        tenth = self.done * 10 // max(1, self.total)
        if self.tty:
            self._write("\r" + self._line(bar=True))
        elif tenth > self.shown_tenth:
            self.shown_tenth = tenth
            self._write(self._line() + "\n")

    def _line(self, bar: bool = False) -> str:
        rate = self.done / max(1e-9, time.perf_counter() - self.started)
        share = self.done / max(1, self.total)
        drawn = f"[{'#' * int(share * 30):<30}] " if bar else ""
        return f"{self.what}: {drawn}{share:4.0%} ({self.done:,}/{self.total:,} images, {rate:,.0f}/s)"

    def close(self) -> None:
        if self.tty and self.done and not self.quiet:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
