"""Sizes as people write them on a command line: `10MB`, `512KiB`, `2000000` (bytes)."""

from __future__ import annotations

import re

from cnn_cli.errors import CnnError

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "K": 2**10, "KIB": 2**10, "M": 2**20, "MIB": 2**20,
         "G": 2**30, "GIB": 2**30}


def parse_size(text: str, option: str = "--max-upload") -> int:
    """A size in bytes: a number with an optional unit (B, KB, MB, GB: powers of 1000; KiB, MiB, GiB, and K, M, G:
    powers of 1024); a `CnnError` naming `option` for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in UNITS:
        raise CnnError(f"{option}: expected a size such as 10MB, 512KiB or 2000000 (bytes), received {text!r}")
    size = int(float(match.group(1)) * UNITS[unit])
    if size < 1:
        raise CnnError(f"{option}: expected a size of at least 1 byte, received {text!r}")
    return size


def show_size(size: int) -> str:
    """`size` bytes in the largest decimal unit that keeps it readable: 10 MB, 512 kB, 300 bytes."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"
