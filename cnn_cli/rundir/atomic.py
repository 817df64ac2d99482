"""Atomic writes of a run directory's files: each file is written to a temporary file in the same folder, flushed to disk
(`fsync`), then renamed over the target with `os.replace`, and the folder is synced, so a reader (or a
run killed at any moment, even by SIGKILL or a power cut) sees either the old file or the new one, never
half a file. A failed write removes its temporary file and leaves the previous file as it was.

`kill_point` is a test-only hook, see `cnn_cli.faults`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnn_cli import faults

TMP_PREFIX = ".tmp-"

def kill_point(name: str) -> None:
    """A test-only kill point (see `cnn_cli.faults`), inert unless a test asks for it."""
    faults.point(name)


def fsync_dir(path: str | Path) -> None:
    """Makes a rename or a new file in folder `path` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Writes text (UTF-8) or bytes to `path` atomically."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    save_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def save_atomic(path: str | Path, save: Callable[[str], Any], point: str | None = None) -> None:
    """Calls `save(temp_path)` (a temp path in the same folder that ends with the same name), syncs it to disk,
    then renames it to `path`. `point` names the moment between the two for `kill_point` (tests)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=f"-{path.name}", dir=path.parent)  # keeps e.g. .weights.h5
    os.close(fd)
    try:
        save(tmp)
        fsync_file(tmp)
        if point is not None:
            kill_point(point)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, tmp):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc  # name the file, not its temp
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # mkstemp's files are 0600; a run's files are made as open() would make them


def remove_stale_temps(folder: str | Path) -> None:
    """Deletes the temp files a killed run left in `folder` (never a finished file)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for item in folder.glob(f"{TMP_PREFIX}*"):
        try:
            if item.is_dir() and not item.is_symlink():
                import shutil

                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink()
        except OSError:
            pass


def write_json(path: str | Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
