"""Atomic file writes: each file is written to a temporary file in the same folder, then renamed over
the target with `os.replace`, so a reader (or an interrupted run) never sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Writes text (UTF-8) or bytes to `path` atomically."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    save_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def save_atomic(path: str | Path, save: Callable[[str], Any]) -> None:
    """Calls `save(temp_path)` (a temp path in the same folder that ends with the same name), then renames it to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)  # keeps e.g. .weights.h5
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
