"""Decoding a folder holds each decoded chunk only until it is copied into the target array: the peak memory
of `decode_into` beyond the target stays far below the decoded size (no second copy of the images)."""

from __future__ import annotations

import tracemalloc

import numpy as np
from PIL import Image

from cnn_cli.data.decode import decode_into
from tests.run_helpers import MNIST_NPZ

SIZE, COUNT = 96, 480


def _folder(tmp_path):
    digits = np.load(MNIST_NPZ)["x_train"][:COUNT]
    files = []
    for i, digit in enumerate(digits):
        path = tmp_path / f"{i:04d}.png"
        Image.fromarray(digit).resize((SIZE, SIZE)).convert("RGB").save(path)
        files.append(path)
    return files


def _traced_peak(files) -> tuple[np.ndarray, int]:
    target = np.zeros((len(files), SIZE, SIZE, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        decode_into(target, files, (SIZE, SIZE, 3), workers=2, what="test")
        return target, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_threads_keep_no_copy_of_the_decoded_images(tmp_path):
    files = _folder(tmp_path)
    target, peak = _traced_peak(files)
    first = np.asarray(Image.open(files[0]).convert("RGB"))
    np.testing.assert_array_equal(target[0], first)
    assert target[-1].any()
    assert peak < target.nbytes / 2, f"{peak:,} bytes traced while decoding {target.nbytes:,} bytes of images"


def test_worker_processes_write_into_the_cache_file_and_send_no_pixels(tmp_path):
    files = _folder(tmp_path)
    path = tmp_path / "rows.bin"
    path.write_bytes(bytes(len(files) * SIZE * SIZE * 3))
    target = np.memmap(path, dtype=np.uint8, mode="r+", shape=(len(files), SIZE, SIZE, 3))
    tracemalloc.start()
    try:
        decode_into(target, files, (SIZE, SIZE, 3), workers=2, processes=True, rows_file=(str(path), 0), what="test")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(target[-1], np.asarray(Image.open(files[-1]).convert("RGB")))
    # one chunk of pixels sent back would be 32 x 27,648 bytes; the parent handled none
    assert peak < 32 * SIZE * SIZE * 3 / 4, f"{peak:,} bytes traced while decoding {target.nbytes:,} bytes of images"
