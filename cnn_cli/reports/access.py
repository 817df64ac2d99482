"""What `inspect` and `report` take from the run reader, evaluation and prediction (`cnn_cli.inference`) and
from the run directory (`cnn_cli.rundir`): the run, its model, its metrics and history, its images as model
inputs, and where to write. Kept in one module so the two commands have one seam with the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.inference.evaluation import Split, class_metrics, load_split, most_confused  # noqa: F401  (re-exported)
from cnn_cli.inference.prediction import as_probabilities, read_image  # noqa: F401  (re-exported)
from cnn_cli.model.analysis import analyze
from cnn_cli.reports.summary import BYTES_PER_ELEMENT
from cnn_cli.rundir import atomic
from cnn_cli.rundir.records import read_history
from cnn_cli.rundir.run_reader import Run, read_run

INCOMPLETE = ("running", "interrupted", "failed")


def open_run(run_dir: str | Path) -> Run:
    """The run directory read back; a run that diverged is refused in one line (exit 2): it has no usable model."""
    run = read_run(run_dir)
    if run.status == "diverged":
        raise CnnError(f"{run.dir.run}: the run diverged (its loss became NaN or infinite), so it has no "
                       "usable model to look inside; train again with other settings (e.g. a lower learning rate)")
    return run


def record(run: Run) -> dict:
    """run.json's fields as a dict (the schema's and any others the run wrote)."""
    return run.record.model_dump()


def model_inputs(run: Run, pixels: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W, C) as the float32 batch the run's model takes (scaled to [0, 1] for a format-1
    run only; from format 2 on the model scales its own input)."""
    return run.model_inputs(pixels)


def load_model(run: Run, required: bool = True) -> tuple[Any, str]:
    """The run's model.keras, or best.keras for a run that did not finish; (None, why) when neither is there
    and `required` is false."""
    paths = [run.dir.model_path] + ([run.dir.best_path] if run.status in INCOMPLETE else [])
    for path in paths:
        if path.is_file():
            return run.load_model(path.name), path.name
    why = f"{run.dir.model}: missing" + (f" (the run's status is {run.status!r})" if run.status != "complete" else "")
    if required:
        raise CnnError(why)
    return None, why


def read_metrics(run: Run) -> dict:
    """metrics.json (checked against its schema), or {} when the run has not written it yet."""
    return run.dir.read_metrics().model_dump() if run.dir.metrics.exists() else {}


def read_history_file(path: Path) -> list[dict[str, Any]]:
    """A history.csv file's rows (checked against their schema; an empty cell is None); [] when there is none."""
    return [row.model_dump() for row in read_history(path)]


def read_history_of(run: Run) -> list[dict[str, Any]]:
    return [row.model_dump() for row in run.dir.history.rows()]


def config_text(run: Run) -> str:
    return run.dir.config_text()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path` and renames it over `path` (never half a file)."""
    try:
        atomic.write_atomic(path, data)
    except OSError as exc:
        raise CnnError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def output_path(out: str | None, default: Path) -> Path:
    """`out` as given, else `default`, a path of the run directory's (`RunDir`: refused when it is a symlink
    leading out)."""
    return Path(out) if out else default


def analysis(run: Run):
    """The run's shapes, params, MACs and activation memory per layer and block (as `cnn summary` prints), and
    the bytes per activation value under the run's precision."""

    found = analyze(run.config.model, run.input_shape, run.num_classes, run.config_source)
    return found, BYTES_PER_ELEMENT.get(run.config.train.precision, 4)
