"""The run directory's lock: one writer at a time.

A writer (`cnn train`, `cnn train --resume`) holds `fcntl.flock` on the lock file inside the run directory,
with its pid written in it. A second writer is refused in one line naming that pid. The OS releases a flock
when its process ends however it ends (SIGKILL included), so a lock left by a killed run never blocks.
Readers (evaluate, predict, summary) take no lock: the files they read are only ever replaced atomically.
On Windows (no fcntl) the lock is `msvcrt.locking` on the lock file's first byte.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnn_cli.errors import CnnError
from cnn_cli.rundir.layout import LOCK, RunLayout, check_new_or_empty, create_run_dir, is_new_or_empty

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class RunLockedError(CnnError):
    """Another process is writing this run directory."""


class RunLock:
    """`with RunLock(layout, new=...):` holds the run directory's lock for the block.

    `new=True` (a new run): the folder may be missing (it is made) or empty; a folder with files is refused,
    naming the pid when a process is training there. If the block ends before the run wrote anything, the
    folder it made is removed again. `new=False` (a resume): the folder must exist.
    """

    def __init__(self, layout: RunLayout | str | Path, new: bool = False):
        self.layout = layout if isinstance(layout, RunLayout) else RunLayout(layout)
        self.new = new
        self._fd: int | None = None
        self._made = False

    def __enter__(self) -> RunLock:
        path = self.layout.path
        if self.new:
            if not is_new_or_empty(path):
                raise_if_locked(self.layout)
                check_new_or_empty(path)
            self._made = not path.exists()
            create_run_dir(path)
        elif not path.is_dir():
            return self  # nothing to lock: the resume reports the missing run directory itself
        self._fd = _open(self.layout.lock_file)
        if not _try_lock(self._fd):
            os.close(self._fd)
            self._fd = None
            raise RunLockedError(_busy(self.layout))
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)  # closing the descriptor releases the lock
        self._fd = None
        path = self.layout.path
        if self._made and all(item.name == LOCK for item in path.iterdir()):
            self.layout.lock_file.unlink(missing_ok=True)  # the run never started: leave no folder behind
            path.rmdir()


def raise_if_locked(layout: RunLayout) -> None:
    """Refuses when a process holds `layout`'s lock (a test that takes the lock and lets it go at once)."""
    if not layout.lock_file.is_file():
        return
    try:
        fd = os.open(layout.lock_file, os.O_RDWR)
    except OSError:
        return
    try:
        if not _try_lock(fd):
            raise RunLockedError(_busy(layout))
    finally:
        os.close(fd)


def holder(layout: RunLayout) -> str:
    """The pid written in the lock file ('unknown' when it cannot be read)."""
    try:
        text = layout.lock_file.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def writer_alive(layout: RunLayout) -> bool | None:
    """Whether the process whose pid the lock file holds is alive on this machine (None: no pid to ask about).
    It takes no lock, so it can never get in a writer's way; a pid reused since would read as alive."""
    pid = holder(layout)
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # a process of another user holds that pid
    return True


def _busy(layout: RunLayout) -> str:
    return (f"{layout.path}: in use by another cnn process (pid {holder(layout)}) that is training this run; "
            "wait for it to end or stop it, then try again")


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CnnError(f"{path}: cannot create the run directory's lock file ({exc.strerror or exc})") from None


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True
