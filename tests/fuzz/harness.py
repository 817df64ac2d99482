"""The fuzzer's property, checked on one command line run in-process (click's CliRunner on `cnn_cli.cli.main`):

- exit 0, or exit 2 with `Error:` lines that each name a file or a flag, and never a traceback (exit 1, an
  exception out of the command);
- within `LIMIT_S` seconds (a SIGALRM stops a case that hangs);
- a run directory's saved files unchanged, except the files the command writes when it succeeds.

Every case's outcome is tallied in `TALLY` (printed at the end of the session by tests/fuzz/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import signal
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from cnn_cli.cli import main

LIMIT_S = float(os.environ.get("CNN_FUZZ_LIMIT_S", "60"))
OUTCOMES = ("exit 0", "exit 2", "traceback", "hang", "saved file changed")
TALLY: Counter = Counter()
FAILURES: list[str] = []  # one line per failing case, for the end-of-session summary
# Under `make fuzz` (CNN_FUZZ_EXAMPLES set) a failing case is counted and listed, and the search goes on;
# otherwise (CI) it fails its test at once, and Hypothesis shrinks it to the smallest failing example.
STRICT = not os.environ.get("CNN_FUZZ_EXAMPLES")


class Hang(BaseException):
    """A case ran past LIMIT_S (a BaseException, so that no handler of the command swallows it)."""


@contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def hashes(folder: Path, skip: set[str] = frozenset()) -> dict[str, str]:
    """SHA-256 of every file under `folder` (by relative path) but those in `skip` and the run lock."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_file() and not path.is_symlink() and name not in skip and path.name != ".lock":
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def check(args: list[str], run_dir: Path | None = None, writes: set[str] = frozenset(),
          limit: float = LIMIT_S) -> str:
    """Runs `cnn ARGS`, tallies and returns its outcome; an outcome outside the property fails the test with
    the command and what it printed. `writes`: the files of `run_dir` the command may (re)write on success."""
    before = hashes(run_dir) if run_dir is not None and run_dir.is_dir() else None
    try:
        with time_limit(limit):
            result = CliRunner().invoke(main, args, catch_exceptions=True)
    except Hang:
        return _fail("hang", args, f"ran past {limit:g} s")
    code, exc = result.exit_code, result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return _fail("traceback", args, result.output[-2000:] + text[-4000:])
    if code not in (0, 2):
        return _fail("traceback", args, f"exit {code}\n{result.output[-3000:]}")
    if "Traceback (most recent call last)" in result.output:
        return _fail("traceback", args, result.output[-4000:])
    if code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        if not errors or any(len(line.split(": ")) < 2 or not line[len("Error: "):].strip() for line in errors):
            return _fail("traceback", args, "exit 2 without an 'Error: <file>: ...' line\n" + result.output[-3000:])
    if before is not None:
        after = hashes(run_dir)
        allowed = set(writes) if code == 0 else set()
        changed = sorted(name for name in set(before) | set(after)
                         if name not in allowed and before.get(name) != after.get(name))
        if changed:
            return _fail("saved file changed", args, f"exit {code}; changed: {', '.join(changed)}\n"
                         + result.output[-2000:])
    outcome = f"exit {code}"
    TALLY[outcome] += 1
    return outcome


def _fail(outcome: str, args: list[str], detail: str) -> str:
    TALLY[outcome] += 1
    shown = " ".join(a if len(a) < 200 else a[:200] + "..." for a in args)
    last = detail.strip().splitlines()[-1][:300] if detail.strip() else ""
    FAILURES.append(f"{outcome}: cnn {shown}\n    {last}")
    if STRICT:
        raise AssertionError(f"{outcome}: cnn {shown}\n{detail}")
    return outcome
