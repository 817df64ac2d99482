"""One thread that runs the model for every request: requests put their images on a queue and wait for their
rows. With `batch=True`, the requests waiting when the model is free are run together as one batch (up to
`max_images` images), then split; with `batch=False`, one request at a time. Either way only this thread
calls the model, so a backend's model need not be safe to call from many threads at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Job:
    pixels: np.ndarray
    future: Future = field(default_factory=Future)


class Batcher:
    """`submit(pixels)` gives a Future of `compute(pixels)` (one row per image), computed on the batcher's thread."""

    def __init__(self, compute: Callable[[np.ndarray], np.ndarray], batch: bool = True, max_images: int = 64):
        self._compute, self._batch, self._max = compute, batch, max_images
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="cnn-serve-model", daemon=True)
        self._thread.start()

    def submit(self, pixels: np.ndarray) -> Future:
        job = _Job(pixels)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        held = None  # a job that would have made the last batch larger than max_images: the next one's first
        while True:
            first, held = (held, None) if held is not None else (self._queue.get(), None)
            if first is None:
                return
            jobs, count = [first], len(first.pixels)
            while self._batch and count < self._max:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # closing: finish these jobs, then stop
                    break
                if count + len(job.pixels) > self._max:
                    held = job
                    break
                jobs.append(job)
                count += len(job.pixels)
            self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        try:
            pixels = jobs[0].pixels if len(jobs) == 1 else np.concatenate([job.pixels for job in jobs])
            rows = self._compute(pixels)
        except Exception as exc:  # handed to every waiting request, which answers 500 with it
            for job in jobs:
                job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            job.future.set_result(rows[start:start + len(job.pixels)])
            start += len(job.pixels)
