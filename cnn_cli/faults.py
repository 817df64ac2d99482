"""Test-only fault injection: the `CNN_TEST_*` environment variables, read here and nowhere else.

Production code marks the moments a test may break with `point(name)` (a kill point inside a file write or
a step) and `epoch_end(epoch)` (after every callback of an epoch has run). Each does nothing unless a test
set its variable, so a normal run pays one dictionary lookup.

- `CNN_TEST_KILL_AT=<point>[:<n>]`: SIGKILL this process the n-th time (default 1) it reaches `point` --
  `mid_epoch` (after a training step call), `checkpoint_write` (best.keras in its temp file, not yet renamed),
  `backup_write` (a backup generation written, not yet committed), `final_save` (model.keras in its temp file).
- `CNN_TEST_SIGINT_AT=<point>[:<n>]`: send this process a real SIGINT (as Ctrl-C) the n-th time it reaches
  `point`: a Ctrl-C at a known step.
- `CNN_TEST_STOP_AFTER_EPOCH=N`: raise KeyboardInterrupt at the end of epoch N (1-based), as Ctrl-C there.
- `CNN_TEST_KILL_AFTER_EPOCH=N`: SIGKILL this process at the end of epoch N (1-based): a worker that dies
  between epochs.
- `CNN_TEST_EPOCH_SECONDS=S`: `--time-limit`'s plan takes S as the epoch time it measured (a plan that does not
  depend on the machine's speed).
"""

from __future__ import annotations

import os
import signal

KILL_AT = "CNN_TEST_KILL_AT"
STOP_AFTER_EPOCH = "CNN_TEST_STOP_AFTER_EPOCH"
KILL_AFTER_EPOCH = "CNN_TEST_KILL_AFTER_EPOCH"
SIGINT_AT = "CNN_TEST_SIGINT_AT"
EPOCH_SECONDS = "CNN_TEST_EPOCH_SECONDS"
VARIABLES = (KILL_AT, STOP_AFTER_EPOCH, KILL_AFTER_EPOCH, SIGINT_AT)

_reached: dict[str, int] = {}


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _epoch_number(variable: str) -> int | None:
    value = os.environ.get(variable, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def epoch_seconds(measured: float) -> float:
    """The epoch time a time limit's plan uses: `measured`, unless a test set CNN_TEST_EPOCH_SECONDS."""
    value = os.environ.get(EPOCH_SECONDS, "").strip()
    try:
        return float(value) if value else measured
    except ValueError:
        return measured


def active() -> bool:
    """Whether a test has set any fault variable (the trainer adds its fault callback only then)."""
    return any(os.environ.get(name) for name in VARIABLES)


def wants_point(name: str) -> bool:
    """Whether `CNN_TEST_KILL_AT` names the point `name`."""
    return os.environ.get(KILL_AT, "").partition(":")[0] == name


def point(name: str) -> None:
    """SIGKILLs this process when `CNN_TEST_KILL_AT` names this point and it is reached for the n-th time;
    sends it SIGINT when `CNN_TEST_SIGINT_AT` does."""
    for variable, act in ((KILL_AT, _kill), (SIGINT_AT, lambda: os.kill(os.getpid(), signal.SIGINT))):
        wanted = os.environ.get(variable)
        if not wanted:
            continue
        target, _, count = wanted.partition(":")
        if target != name:
            continue
        key = f"{variable}:{name}"
        _reached[key] = _reached.get(key, 0) + 1
        if _reached[key] == (int(count) if count.isdigit() else 1):
            act()


def epoch_end(epoch: int) -> None:
    """At the end of epoch `epoch` (1-based), after every other callback: the stop and kill hooks."""
    if _epoch_number(KILL_AFTER_EPOCH) == epoch:
        _kill()
    if _epoch_number(STOP_AFTER_EPOCH) == epoch:
        raise KeyboardInterrupt
