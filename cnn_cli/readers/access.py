"""The one place where `inspect` and `report` reach today's run reader, evaluation and prediction code,
and where a run's images are turned into model inputs.

Everything the readers here need from a run directory goes through these functions, so when the run reader
moves (to `cnn_cli/readers/` and `cnn_cli/rundir/layout.py`) only this module's imports change.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.evaluation import Split, class_metrics, load_split, most_confused  # noqa: F401  (re-exported)
from cnn_cli.prediction import as_probabilities, read_image  # noqa: F401  (re-exported)
from cnn_cli.run_reader import BEST, HISTORY, METRICS, MODEL, Run, read_json_file, read_run
from cnn_cli.safety import run_file

CONFIG_FILE = "config.yaml"
REPORT_HTML = "report.html"
INSPECT_DIR = "inspect"
MISTAKES_PNG = "mistakes.png"
INCOMPLETE = ("running", "interrupted", "failed")


def open_run(run_dir: str | Path) -> Run:
    """The run directory read back; a run that diverged is refused in one line (exit 2): it has no usable model."""
    run = read_run(run_dir)
    if run.status == "diverged":
        raise CnnError(f"{run.path / 'run.json'}: the run diverged (its loss became NaN or infinite), so it has no "
                       "usable model to look inside; train again with other settings (e.g. a lower learning rate)")
    return run


def record(run: Run) -> dict:
    """run.json's fields as a dict (whatever form the run reader keeps them in)."""
    fields = run.record
    return dict(fields) if isinstance(fields, dict) else fields.model_dump()


def input_scale(run: Run) -> float:
    """What the run's model expects its pixels multiplied by: runs of format 2 and later scale inside the model
    (0..255 in), older runs (run.json without `format`) expect [0, 1]."""
    fmt = record(run).get("format")
    return 1.0 if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt >= 2 else 1.0 / 255.0


def model_inputs(run: Run, pixels: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W, C) as the float32 batch the run's model takes."""
    return pixels.astype(np.float32) * np.float32(input_scale(run))


def load_model(run: Run, required: bool = True) -> tuple[Any, str]:
    """The run's model.keras, or best.keras for a run that did not finish; (None, why) when neither is there
    and `required` is false."""
    names = [MODEL] + ([BEST] if run.status in INCOMPLETE else [])
    for name in names:
        if run_file(run.path, name).is_file():
            return run.load_model(name), name
    why = f"{run.path / MODEL}: missing" + (f" (the run's status is {run.status!r})" if run.status != "complete" else "")
    if required:
        raise CnnError(why)
    return None, why


def read_metrics(run: Run) -> dict:
    """metrics.json, or {} when the run has not written it yet."""
    path = run_file(run.path, METRICS)
    if not path.exists():
        return {}
    data = read_json_file(path)
    return data if isinstance(data, dict) else {}


def read_history(run: Run) -> list[dict[str, float | None]]:
    """history.csv as rows of numbers (None for an empty or unreadable cell); [] when there is none."""
    return read_history_file(run_file(run.path, HISTORY))


def read_history_file(path: Path) -> list[dict[str, float | None]]:
    """A history.csv file (see `read_history`)."""
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [{key: _number(value) for key, value in row.items() if key} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CnnError(f"{path}: cannot be read as CSV ({exc})") from None


def config_text(run: Run) -> str:
    return run_file(run.path, CONFIG_FILE).read_text(encoding="utf-8", errors="replace")


def write_atomic(path: str | Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path` and renames it over `path` (never half a file)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise CnnError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def output_path(run: Run, out: str | None, default: str) -> Path:
    """`out` as given, else `default` inside the run directory (refused when it is a symlink leading out)."""
    return Path(out) if out else run_file(run.path, default)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def analysis(run: Run):
    """The run's shapes, params, MACs and activation memory per layer and block (as `cnn summary` prints), and
    the bytes per activation value under the run's precision."""
    from cnn_cli.model.analysis import analyze
    from cnn_cli.summary import BYTES_PER_ELEMENT

    found = analyze(run.config.model, run.input_shape, run.num_classes, run.config_source)
    return found, BYTES_PER_ELEMENT.get(run.config.train.precision, 4)


def human_bytes(count: float) -> str:
    """400 B, 100.4 KB, 6.4 MB (powers of 1000, as `cnn summary` prints them)."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""
