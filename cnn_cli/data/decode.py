"""Decoding many image files into one uint8 array, in parallel (a thread pool: Pillow releases the GIL while
it decodes and resizes), with progress shown while it runs: a bar on a terminal, else one line per 10%."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from cnn_cli.data.images import read_image
from cnn_cli.errors import DataError

CHUNK = 32  # files per task


def default_workers() -> int:
    """Threads for decoding: the CPUs this process may use (`CNN_DECODE_WORKERS` overrides)."""
    explicit = os.environ.get("CNN_DECODE_WORKERS", "")
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def decode_into(target: np.ndarray, files: list[Path], shape: tuple[int, int, int], *, resize: str = "stretch",
                skip_bad: bool = False, workers: int | None = None, what: str = "Decoding") -> dict[int, str]:
    """Decodes `files[i]` into `target[i]`. Returns {row: reason} of the files left out (`skip_bad`); without
    it, the first unreadable file (in file order) raises its DataError."""
    bad: dict[int, str] = {}
    progress = Progress(len(files), what)

    def task(start: int) -> int:
        for i in range(start, min(start + CHUNK, len(files))):
            try:
                target[i] = read_image(files[i], shape, resize)
            except DataError as exc:
                if not skip_bad:
                    raise
                bad[i] = str(exc)
        return min(start + CHUNK, len(files)) - start

    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        futures = {pool.submit(task, start): start for start in range(0, len(files), CHUNK)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                for future in pending:
                    future.cancel()
                wait(pending)
                progress.close()
                failed = [(futures[f], f.exception()) for f in futures if not f.cancelled() and f.exception()]
                raise min(failed, key=lambda pair: pair[0])[1]  # the first bad file in file order
            progress.advance(sum(f.result() for f in done))
    progress.close()
    return dict(sorted(bad.items()))


class Progress:
    """`what: 45% (2,700/6,000 images, 850/s)` redrawn in place on a terminal, else printed at every 10%."""

    def __init__(self, total: int, what: str, stream=None):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.shown_tenth = 0

    def advance(self, count: int) -> None:
        if not count:
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
        if self.tty and self.done:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
