"""The optional packages that export needs (the `export` extra), checked before any work, and a guard that
keeps the converters' and runtimes' C++ log lines (written straight to file descriptors 1 and 2) off the
terminal unless something fails."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import tempfile

from cnn_cli.errors import CnnError

PIP_COMMAND = "pip install 'cnn-cli[export]'"


def require(flag: str, modules: dict[str, str]) -> None:
    """Refuses, in one line naming the pip command, when a module of `modules` (module -> package) is missing."""
    missing = [package for module, package in modules.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise CnnError(f"{flag}: needs the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
                       f"not installed; install the export extra: {PIP_COMMAND}")


def version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version(package)
    except PackageNotFoundError:
        return "unknown version"


@contextlib.contextmanager
def quiet():
    """Captures what C++ code writes to stdout and stderr while the block runs; shows it only on an error."""
    if os.environ.get("CNN_TF_VERBOSE"):
        yield
        return
    for name in ("tf2onnx", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile(mode="w+b") as captured:
        for fd in saved:
            os.dup2(captured.fileno(), fd)
        try:
            yield
        except Exception:  # not on Ctrl-C: then the captured notices are of no use
            _restore(saved)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace")[-20000:])
            raise
        finally:
            _restore(saved)


def _restore(saved: dict[int, int]) -> None:
    for fd, copy in list(saved.items()):
        os.dup2(copy, fd)
        os.close(copy)
        del saved[fd]
