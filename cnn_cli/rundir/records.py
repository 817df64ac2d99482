"""The schemas of a run directory's records -- run.json, metrics.json, labels.json and history.csv's rows --
and the one way to read them: a damaged field is one `CnnError` naming the file and the key (or row).

run.json carries `format`: 2 since pixel scaling moved into the model (a format-2 model takes pixels
0..255); a run.json without it was written before and is format 1 (its model expects pixels in [0, 1]).
`RunRecord` is the writer's run.json: updated atomically whenever the run's status changes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cnn_cli.errors import CnnError, show_value
from cnn_cli.rundir.atomic import write_json
from cnn_cli.rundir.layout import BEST, HISTORY, LABELS, METRICS, MODEL, RUN, now, run_file

FORMAT = 2  # the format this code writes; 1 = a run.json without `format`
STATUSES = ("running", "complete", "interrupted", "diverged", "failed", "pruned")
Status = Literal["running", "complete", "interrupted", "diverged", "failed", "pruned"]
# history.csv's columns, in order; a run in phases adds `phase` last
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
TASK_METRICS = ("accuracy", "auc", "f1", "mae", "rmse")
"""The metrics a task's history may hold (classification: accuracy; multilabel: auc, f1; regression: mae, rmse)."""


def history_columns(rows) -> tuple[str, ...]:
    """history.csv's columns for `rows`: epoch, loss, the task's metrics, val_loss, their val_ ones, learning
    rate, seconds (and `phase` for a run in phases). A classification run's are `HISTORY_COLUMNS`."""
    def held(metric: str) -> bool:
        return any(row.get(key) not in (None, "") for row in rows for key in (metric, f"val_{metric}"))

    metrics = [m for m in TASK_METRICS if m != "accuracy" and held(m)]
    if not metrics:
        return HISTORY_COLUMNS
    return ("epoch", "loss", *metrics, "val_loss", *(f"val_{m}" for m in metrics), "learning_rate", "seconds")


def history_metrics(rows) -> tuple[str, ...]:
    """The task's metrics that `rows` hold beside the loss, as training logged them (classification, and a
    history without any: accuracy; multilabel: auc, f1; regression: mae, rmse): what the curves draw."""
    columns = history_columns(rows)
    return columns[2:columns.index("val_loss")]


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class RunJson(_Record):
    """run.json: how the run was made (config, data, seed, command) and where it stands (status, times)."""

    format: int = Field(default=1, ge=1, le=FORMAT)
    name: str | None = None
    config_file: str | None = None
    overrides: list[str] = []
    data_path: str | None = None
    subset: int | None = Field(default=None, ge=1)
    seed: int | None = None
    command: list[str] | None = None
    status: Status | None = None
    started: str | None = None
    finished: str | None = None
    resumed: list[str] = []
    error: str | None = None
    mlflow: dict[str, str] | None = None  # a tracked run's MLflow run: run_id, experiment_id, tracking_uri

    @field_validator("data_path")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\0" in value):
            raise ValueError("expected a path (a string) or null")
        return value


class PhaseFreeze(_Record):
    """What a phase froze, as its config says: `until` a layer's name, or the first `fraction` of the layers."""

    until: str | None = None
    fraction: float | None = Field(default=None, gt=0, lt=1)


class PhaseRecord(_Record):
    """metrics.json's record of one phase of a run in phases (`train.phases`)."""

    phase: int = Field(ge=1)  # 1-based, as history.csv's `phase` column
    first_epoch: int = Field(ge=1)  # the epochs the config planned for it, 1-based, inclusive
    last_epoch: int = Field(ge=1)
    epochs_run: int = Field(default=0, ge=0)  # history.csv's rows of this phase (fewer: the run stopped early)
    freeze: PhaseFreeze | None = None  # None: every layer trained
    learning_rate: float | None = Field(default=None, gt=0)  # as configured; None: the optimizer's default
    lr_schedule: str | None = None  # the phase's train.phases[i].lr_schedule type, if it has one


class MetricsJson(_Record):
    """metrics.json: the final scores and how the run went; `task` (what the model predicts) from the runs
    that record it on (a run without it is classification), and the task's figures beside the loss
    (`val_auc`, `test_mae`, ...). `phases` is there for a run in phases only (two or
    more `train.phases`); a run without phases, and every run written before the key, has no `phases`."""

    task: str | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_examples: int | None = Field(default=None, ge=0)
    test_loss: float | None = None
    test_accuracy: float | None = None
    test_examples: int | None = Field(default=None, ge=0)
    train_examples: int | None = Field(default=None, ge=0)
    best_epoch: int | None = None
    epochs_run: int | None = Field(default=None, ge=0)
    epochs_planned: int | None = Field(default=None, ge=0)
    train_seconds: float | None = None
    wall_seconds: float | None = None
    images_per_second: float | None = Field(default=None, ge=0)  # the median epoch's training steps (this process's)
    epoch_images_per_second: list[float] | None = None
    seed: int | None = None
    phases: list[PhaseRecord] | None = None


class ClassEntry(_Record):
    index: int = Field(ge=0)
    id: int | str
    name: str | int


class LabelsJson(_Record):
    """labels.json: the class map, indices 0..K-1 in order, ids all different, K >= 2 for classification (a
    multi-label run's labels or a regression's targets may be one). `task` and what the run keeps of its targets
    (`cnn_cli.tasks.base.TargetState`): a multi-label run's `thresholds` (one per label), a regression's
    `target_mean` and `target_std` (the training split's, per target); a classification or multi-label run's
    `temperature` (`train.calibrate`) and `train_counts` (training examples per class or label); a run without
    `task` is classification."""

    classes: list[ClassEntry] = Field(min_length=1)
    task: str | None = None
    thresholds: list[float] | None = None
    target_mean: list[float] | None = None
    target_std: list[float] | None = None
    temperature: float | None = Field(default=None, gt=0)
    train_counts: list[int] | None = None

    @model_validator(mode="after")
    def _in_order(self) -> LabelsJson:
        if self.task in (None, "classification") and len(self.classes) < 2:
            raise ValueError(f"classes: expected at least 2 classes, as a list of {{\"index\", \"id\", \"name\"}} "
                             f"objects, received {len(self.classes)}")
        for key in ("thresholds", "target_mean", "target_std", "train_counts"):
            values = getattr(self, key)
            if values is not None and len(values) != len(self.classes):
                raise ValueError(f"{key}: expected {len(self.classes)} numbers, one per entry of classes, received "
                                 f"{len(values)}")
        if self.target_std is not None and any(not v > 0 for v in self.target_std):
            raise ValueError("target_std: expected positive numbers")
        seen: dict[str, int] = {}
        for i, entry in enumerate(self.classes):
            if entry.index != i:
                raise ValueError(f"classes[{i}].index: expected {i} (indices run 0..K-1 in order), "
                                 f"received {entry.index}")
            if str(entry.id) in seen:
                raise ValueError(f"classes[{i}].id: {entry.id!r} is also the id of classes[{seen[str(entry.id)]}]")
            seen[str(entry.id)] = i
        return self


class HistoryRow(BaseModel):
    """One row of history.csv (CSV text: an empty cell is null)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    epoch: int = Field(ge=1)
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    seconds: float | None = None
    phase: int | None = Field(default=None, ge=1)  # a run in phases (train.phases): the epoch's, 1-based
    auc: float | None = None  # the task's metrics (multilabel: auc, f1; regression: mae, rmse)
    f1: float | None = None
    mae: float | None = None
    rmse: float | None = None
    val_auc: float | None = None
    val_f1: float | None = None
    val_mae: float | None = None
    val_rmse: float | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_null(cls, value: Any) -> Any:
        return None if value == "" else value


def read_json_file(path: Path) -> Any:
    """A JSON file of a run directory; missing or unparsable is one line naming it."""
    if not path.is_file():
        raise CnnError(f"{path}: missing from the run directory" if not path.exists() else f"{path}: not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CnnError(f"{path}: cannot be read as JSON ({first_line(exc)})") from None


def read_record(path: str | Path, schema: type[BaseModel]) -> Any:
    """`path` (run.json, metrics.json or labels.json) read and checked against `schema`."""
    path = Path(path)
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise CnnError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return check(data, schema, str(path))


def check(data: Any, schema: type[BaseModel], where: str) -> Any:
    """`schema.model_validate(data)`, its first error as one line: `where: key: problem, received value`."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise CnnError(schema_error(where, exc)) from None


def check_optional(run_dir: str | Path, names: tuple[str, ...] = (LABELS, METRICS, HISTORY)) -> None:
    """Reads each of `names` (labels.json, metrics.json, history.csv) that the run directory holds through its
    schema, so that a damaged field is reported before anything is written."""
    schemas = {LABELS: LabelsJson, METRICS: MetricsJson}
    for name in names:
        path = run_file(run_dir, name)
        if not path.exists():
            continue
        if name == HISTORY:
            read_history_text(path)
        else:
            read_record(path, schemas[name])


def read_history(path: str | Path) -> list[HistoryRow]:
    """history.csv's rows (none when the file is missing); a bad cell names its row (the header is row 1)."""
    path = Path(path)
    return [check(row, HistoryRow, f"{path}: row {i + 2}") for i, row in enumerate(read_history_text(path))]


def read_history_text(path: str | Path) -> list[dict[str, str]]:
    """history.csv's rows as the text they hold, after each was checked against `HistoryRow`."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CnnError(f"{path}: cannot be read as CSV ({first_line(exc)})") from None
    for i, row in enumerate(rows):
        if None in row or None in row.values():
            raise CnnError(f"{path}: row {i + 2}: {len(row) - (None in row)} columns named in the header, "
                           "but this row has a different number of cells")
        check(row, HistoryRow, f"{path}: row {i + 2}")
    return rows


# What a key holds, said the way a person would check it (keys with list indices written as [i]).
EXPECTED = {
    "format": f"a format version 1..{FORMAT}",
    "data_path": "a path (a string) or null",
    "subset": "a positive integer or null",
    "status": "a string: one of " + ", ".join(STATUSES),
    "overrides": "a list of strings (the --set values)",
    "resumed": "a list of times (strings)",
    "resumed[i]": "a time (a string)",
    "overrides[i]": "a string (a --set value)",
    "command[i]": "a string",
    "command": "a list of strings (the command line)",
    "classes": "at least 2 classes, as a list of {\"index\", \"id\", \"name\"} objects",
    "classes[i]": "an object with index, id and name",
    "classes[i].index": "a non-negative integer",
    "classes[i].id": "an integer or a string",
    "classes[i].name": "a string",
    "epoch": "an integer from 1 on",
}
_UNION_TAGS = {"int", "str", "float", "bool", "none", "dict", "list"}


def schema_error(where: str, exc: ValidationError) -> str:
    """The first of pydantic's errors as one line: `where: key: expected ..., received value`."""
    error = exc.errors(include_url=False)[0]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"] if not _union_tag(p)).lstrip(".")
    if error["type"] == "value_error" and not key:
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"  # a whole-record check names its own key
    if error["type"] == "missing":
        return f"{where}: {key}: missing"
    pattern = "".join("[i]" if isinstance(p, int) else f".{p}" for p in error["loc"] if not _union_tag(p)).lstrip(".")
    if pattern in EXPECTED:
        problem = f"expected {EXPECTED[pattern]}"
    elif error["type"] in ("float_type", "float_parsing", "finite_number"):
        problem = "expected a number"
    elif error["type"] in ("int_type", "int_parsing", "int_from_float"):
        problem = "expected an integer"
    elif error["type"] == "string_type":
        problem = "expected a string"
    else:
        problem = error["msg"].removeprefix("Value error, ").replace("Input should be", "expected")
    return f"{where}: {key}: {problem}, received {show_value(error.get('input'))}"


def _union_tag(part: Any) -> bool:
    """Pydantic names the member of a union that failed (`int`, `literal['a']`...): not a key."""
    return isinstance(part, str) and (part in _UNION_TAGS or "[" in part)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def models_record(final: str, best: str | None) -> dict[str, str]:
    """metrics.json's `models`: what model.keras holds, and best.keras when the run has one."""
    return {MODEL: final, **({BEST: best} if best is not None else {})}


def input_scale(record: RunJson) -> float:
    """What a reader multiplies 0..255 pixels by before the model: format 1 models expect [0, 1] (the
    input pipeline scaled them); from format 2 on the model scales its own input."""
    return 1.0 / 255.0 if record.format < 2 else 1.0


class RunRecord:
    """run.json as its writer holds it: updated (atomically) whenever the run's status changes."""

    def __init__(self, run_dir: Path, data: dict[str, Any]):
        self.path = Path(run_dir) / RUN
        self.data = data

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        path = Path(run_dir) / RUN
        if not path.is_file():
            raise CnnError(f"{run_dir}: not a run directory ({RUN} is missing)")
        record = read_record(path, RunJson)
        check_optional(run_dir)
        return cls(run_dir, record.model_dump(exclude_unset=True))

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        write_json(self.path, self.data)

    def mark(self, status: Status, **fields: Any) -> None:
        """The run's status now; a run that stopped (complete, interrupted, diverged, failed) gets its time."""
        if status != "running":
            fields.setdefault("finished", now())
        self.update(status=status, **fields)

    @property
    def status(self) -> str | None:
        return self.data.get("status")
