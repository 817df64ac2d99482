"""Reading a number written by another program (a CSV cell, a JSON field, a Keras log value): the one parser."""

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
