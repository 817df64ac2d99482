"""The errors the tool reports to its user, each with the exit code it ends the program with.

Exit codes: 2 for bad input (config, data, flags, files), 3 for a training run that diverged, 4 for a
multi-worker run that lost a worker, 5 for an export that does not give the Keras model's answers, 130 for an
interrupt; anything else that escapes is a bug and exits 1.
"""

from __future__ import annotations

from typing import Any

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_WORKER_LOST = 4
EXIT_EXPORT_MISMATCH = 5
EXIT_INTERRUPTED = 130


def show_value(value: Any, limit: int = 60) -> str:
    """A short, one-line rendering of a user's value for error messages."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """An exception's message on one line, cut at `limit` characters (its type's name when it has none)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CnnError(Exception):
    """A problem the user can fix; printed as one line `Error: <message>`, never as a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(CnnError):
    """A config value that is wrong: `<file>: <dotted.key.path>: <expected>, received <value>`."""

    _MISSING = object()

    def __init__(self, source: str, path: str, expected: str, received: Any = _MISSING):
        self.source, self.path, self.expected, self.received = source, path, expected, received
        text = f"{source}: {path}: {expected}" if path else f"{source}: {expected}"
        if received is not ConfigError._MISSING:
            text += f", received {show_value(received)}"
        super().__init__(text)

    def from_source(self, source: str) -> ConfigError:
        """The same error, blamed on another source (`--set` when the value came from the command line)."""
        return ConfigError(source, self.path, self.expected, self.received)


class ConfigErrors(ConfigError):
    """Several mistakes in one config, in file order, capped at `CAP`: `str()` is the first (as a lone
    `ConfigError` would say it), `lines` all of them, which `cnn` prints one `Error:` line each."""

    CAP = 20

    def __init__(self, errors: list[ConfigError]):
        first = errors[0]
        super().__init__(first.source, first.path, first.expected, first.received)
        self.errors = list(errors)

    @property
    def lines(self) -> list[str]:
        shown = [error.message for error in self.errors[: self.CAP]]
        if len(self.errors) > self.CAP:
            shown.append(f"{self.errors[0].source}: and {len(self.errors) - self.CAP} more errors")
        return shown

    def from_source(self, source: str) -> ConfigError:
        return self

    @staticmethod
    def of(errors: list[ConfigError]) -> ConfigError:
        """One error as itself, several as a `ConfigErrors`."""
        flat = [one for error in errors for one in (error.errors if isinstance(error, ConfigErrors) else [error])]
        return flat[0] if len(flat) == 1 else ConfigErrors(flat)


class DataError(CnnError):
    """A data file that cannot be used: names the file and, where it can, the row, column or key."""

    def __init__(self, source: str, message: str):
        self.source = source
        super().__init__(f"{source}: {message}")


class DivergedError(CnnError):
    """Training produced a NaN or infinite loss."""

    exit_code = EXIT_DIVERGED


class WorkerLostError(CnnError):
    """A collective operation failed or timed out under `multi_worker`: a worker died or cannot be reached."""

    exit_code = EXIT_WORKER_LOST


class ExportMismatchError(CnnError):
    """An exported model failed its verification against the Keras model (`cnn export`)."""

    exit_code = EXIT_EXPORT_MISMATCH
