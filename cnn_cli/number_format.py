"""Numbers in and out: reading a number written by another program (a CSV cell, a JSON field, a Keras log value),
the one parser; and writing a byte count for people, the one format."""

from __future__ import annotations

import math
from typing import Any


def to_float(value: Any, finite: bool = False) -> float | None:
    """`value` as a float, or None when it is missing (None, ""), not a number, or (with `finite`) NaN or infinite.

    Takes what `float()` takes: numbers, NumPy and tensor scalars, and text such as "0.93", "nan" or "inf".
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if finite and not math.isfinite(number) else number


def human_bytes(count: float) -> str:
    """400 B, 100.4 KB, 6.4 MB, 1,234.5 GB (powers of 1000)."""
    for unit in ("B", "KB", "MB"):
        if count < 1000:
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say: the bound against which sizes a
    file declares (a header, an archive's members, a model's weights) are checked before anything is allocated."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
