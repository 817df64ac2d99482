"""Decoding many image files into one uint8 array, in parallel, with progress shown while it runs: a bar on a
terminal, else one line per 10%.

The array is either the rows of a file (the cache's memory map, `rows_file`), which every decoder writes with
`pwrite`, or an array in memory (no cache), which threads write. Threads by default: Pillow releases the GIL
while it decodes and resizes, but not for the Python around it (opening the file, reading its markers), so
two threads reach only 1.2-1.5x one. A job of `PROCESS_MIN` files or more into a file, on more than one core,
goes to worker processes instead (`decode_worker.py`), one thread here feeding each: they write their rows
into the file themselves, so no pixels cross between processes, and they import Pillow alone, so they start
in a few hundredths of a second and never run the program that started them. A worker that cannot start, or
dies, leaves its chunks to its thread. `CNN_DECODE_WORKERS` sets the number of workers.

This module imports no NumPy: the worker processes use it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from cnn_cli.data.images import load_image
from cnn_cli.errors import DataError

CHUNK = 32  # files per task
IN_FLIGHT = 2  # chunks sent to a worker process ahead of its answers: it never waits for the next one
PROCESS_MIN = 2000  # files from which worker processes pay for their start-up (a few hundredths of a second)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where this `cnn_cli` is imported from


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
                 put: Callable[[int, bytes | None], None]):
    """({position in chunk: reason}, failure) of some files, each decoded and handed to `put(position, bytes)`
    (its uint8 (H, W, C) pixels). Without `skip_bad`, the first unreadable file stops the chunk: failure =
    (position, path, reason), never raised, so that it crosses processes; with it, `put(position, None)`
    (the row is zeros) and the reason is kept."""
    bad: dict[int, str] = {}
    for k, file in enumerate(files):
        try:
            pixels = load_image(file, shape, resize).tobytes()
        except DataError as exc:
            if not skip_bad:
                return bad, (k, exc.source, str(exc)[len(exc.source) + 2:])
            pixels, bad[k] = None, str(exc)
        put(k, pixels)
    return bad, None


class RowsFile:
    """Rows of `row_bytes` bytes from byte `offset` of a file, written by position (`put`): no memory map, so
    no page faults under Python's lock, and the copy into the page cache runs without it."""

    def __init__(self, path: str, offset: int, row_bytes: int):
        self.fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        self.offset, self.row_bytes = offset, row_bytes
        self.lock = threading.Lock()  # for lseek + write where there is no pwrite

    def put(self, row: int, pixels: bytes | None) -> None:
        data, at = pixels if pixels is not None else bytes(self.row_bytes), self.offset + row * self.row_bytes
        if hasattr(os, "pwrite"):
            view = memoryview(data)
            while view:
                written = os.pwrite(self.fd, view, at)
                view, at = view[written:], at + written
            return
        with self.lock:
            os.lseek(self.fd, at, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)


def decode_into(target, files: list[Path], shape: tuple[int, int, int], *, resize: str = "stretch",
                skip_bad: bool = False, workers: int | None = None, processes: bool | None = None,
                rows_file: tuple[str, int] | None = None, what: str | None = "Decoding") -> dict[int, str]:
    """Decodes `files[i]` into `target[i]` (a uint8 (N, H, W, C) array). Returns {row: reason} of the files
    left out (`skip_bad`: their rows are zeros); without it, the first unreadable file (in file order) raises
    its DataError. `rows_file` (path, byte offset): `target` is that file's rows, memory-mapped, and the rows
    are written into the file; `processes` (None: decided by size) is used only then. `what` names the work
    in the progress lines (None: no progress shown)."""
    workers = workers or default_workers()
    if processes is None:
        processes = workers > 1 and len(files) >= PROCESS_MIN
    names, shape = [str(f) for f in files], tuple(shape)
    rows = RowsFile(*rows_file, row_bytes=shape[0] * shape[1] * shape[2]) if rows_file is not None else None
    spec = None
    if processes and rows_file is not None:
        spec = {"path": rows_file[0], "offset": rows_file[1], "shape": list(shape), "resize": resize,
                "skip_bad": skip_bad}
    job = _Job(target, rows, names, shape, resize, skip_bad, Progress(len(files), what))
    try:
        job.run(workers, spec)
    finally:
        if rows is not None and not job.writing():  # else its descriptor stays open: never a reused number
            rows.close()
    if job.failures:
        _, source, message = min(job.failures)  # the first bad file in file order
        raise DataError(source, message)
    return dict(sorted(job.bad.items()))


class _Job:
    """The chunks of one `decode_into`, handed out in file order to threads that decode them here or feed
    them to a worker process each; once a chunk fails, no further one is handed out."""

    def __init__(self, target, rows: RowsFile | None, names: list[str], shape: tuple[int, int, int], resize: str,
                 skip_bad: bool, progress: Progress):
        self.target, self.rows, self.names, self.shape = target, rows, names, shape
        self.resize, self.skip_bad, self.progress = resize, skip_bad, progress
        self.starts = iter(range(0, len(names), CHUNK))
        self.lock = threading.Lock()
        self.bad: dict[int, str] = {}
        self.failures: list[tuple[int, str, str]] = []
        self.stopped = False
        self.threads: list[threading.Thread] = []

    def writing(self) -> bool:
        """Whether a thread may still write rows (only after a second interrupt while the first stops them)."""
        return any(thread.is_alive() for thread in self.threads)

    def run(self, workers: int, spec: dict | None) -> None:
        processes = [_start_worker(spec) for _ in range(workers)] if spec is not None else [None] * workers
        self.threads = threads = [threading.Thread(target=self._feed, args=(p,), daemon=True) if p is not None
                                  else threading.Thread(target=self._decode_here, daemon=True) for p in processes]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            self.stopped = True  # after an interrupt: hand out nothing more, and end the workers
            for process in processes:
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            for thread in threads:  # each ends with the chunk it is on: then nothing writes to the rows any more
                if thread.is_alive():
                    thread.join()
            self.progress.close()

    def _next(self) -> int | None:
        with self.lock:
            return None if self.failures or self.stopped else next(self.starts, None)

    def _done(self, start: int, bad: dict, failure) -> None:
        with self.lock:
            if failure is not None:
                self.failures.append((start + failure[0], failure[1], failure[2]))
                return
            self.bad.update({start + int(k): reason for k, reason in bad.items()})
            self.progress.advance(len(self.names[start:start + CHUNK]))

    def _put(self, start: int) -> Callable[[int, bytes | None], None]:
        if self.rows is not None:
            return lambda k, pixels: self.rows.put(start + k, pixels)

        def put(k: int, pixels: bytes | None) -> None:
            row = self.target[start + k]
            if pixels is None:
                row[...] = 0
            else:
                row.reshape(-1)[:] = memoryview(pixels)

        return put

    def _decode(self, start: int) -> None:
        self._done(start, *decode_chunk(self.names[start:start + CHUNK], self.shape, self.resize, self.skip_bad,
                                        self._put(start)))

    def _decode_here(self) -> None:
        while (start := self._next()) is not None:
            self._decode(start)

    def _feed(self, process: subprocess.Popen) -> None:
        """Keeps `IN_FLIGHT` chunks sent to one worker; if it dies, decodes its unanswered chunks here."""
        sent: deque[int] = deque()
        try:
            while True:
                while len(sent) < IN_FLIGHT and (start := self._next()) is not None:
                    task = {"start": start, "files": self.names[start:start + CHUNK]}
                    process.stdin.write(json.dumps(task) + "\n")
                    sent.append(start)
                process.stdin.flush()
                if not sent:
                    break
                answer = process.stdout.readline()
                if not answer:
                    raise OSError("the decoding worker ended")
                answer = json.loads(answer)
                self._done(sent.popleft(), answer["bad"], answer["failure"])
        except (OSError, ValueError):
            if self.stopped:
                return
            for start in sent:
                self._decode(start)
            self._decode_here()
        finally:
            try:
                process.stdin.close()
            except OSError:
                pass


def _start_worker(spec: dict) -> subprocess.Popen | None:
    """A decoding worker process for the rows file in `spec`; None when one cannot start."""
    code = f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); from cnn_cli.data.decode_worker import main; main()"
    try:
        return subprocess.Popen([sys.executable, "-P", "-c", code, json.dumps(spec)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None


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
