"""The run directory: its file names, choosing and creating it, and `run.json` (how the run was made and
where it stands: running, complete, interrupted, diverged or failed)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from cnn_cli.errors import CnnError
from cnn_cli.training.files import read_json, write_json

CONFIG = "config.yaml"
RUN = "run.json"
MODEL = "model.keras"
BEST = "best.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
LABELS = "labels.json"
SUMMARY = "summary.txt"
CURVES = "training_curves.png"
BACKUP = "backup"
TENSORBOARD = "tensorboard"

STATUSES = ("running", "complete", "interrupted", "diverged", "failed")


def now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """`runs/<name>-<YYYYmmdd-HHMMSS>` (with `-2`, `-3`... if that exists already)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def create_run_dir(path: str | Path) -> Path:
    """Creates a new run directory; an existing non-empty one is refused (use --resume to go on with it)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CnnError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise CnnError(f"{path}: run directory exists and is not empty (use --resume {path} to continue that run)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnError(f"{path}: cannot create the run directory ({exc.strerror or exc})") from None
    return path


class RunRecord:
    """`run.json`: updated (atomically) whenever the run's status changes."""

    def __init__(self, run_dir: Path, data: dict[str, Any]):
        self.path = Path(run_dir) / RUN
        self.data = data

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        path = Path(run_dir) / RUN
        if not path.is_file():
            raise CnnError(f"{run_dir}: not a run directory ({RUN} is missing)")
        try:
            data = read_json(path)
        except (OSError, ValueError) as exc:
            raise CnnError(f"{path}: cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise CnnError(f"{path}: expected a JSON object")
        return cls(run_dir, data)

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        write_json(self.path, self.data)

    @property
    def status(self) -> str | None:
        return self.data.get("status")
