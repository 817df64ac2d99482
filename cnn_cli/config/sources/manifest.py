"""A manifest of image paths and labels (`source: manifest`): `data.path` is a .csv, .jsonl or .json file, one
row per image; `data.image_column` names the column of image paths (relative to the manifest's folder, or
absolute), `data.label_columns` the label columns, and an optional `split` column (train, validation, test)
places each row in a split.

What the label columns hold says the task when the config names none (`manifest_task`): one column of class
names or integer ids is classification; one column of labels joined by `data.label_separator` (or lists, in
JSON) is multilabel; several columns of 0/1 are multilabel; numbers that are not all integers are regression.
The config loader asks it before validation, so a run's config.yaml records the task. The manifest is read
here with the standard library only (`read_manifest`); the reader that decodes its images is
`cnn_cli.data.sources.manifest`."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.errors import ConfigError, DataError

SUFFIXES = (".csv", ".jsonl", ".json")
IMAGE_COLUMNS = ("path", "image", "filename", "file")
SPLIT_COLUMN = "split"
SPLIT_VALUES = ("train", "validation", "test")


class Manifest(SourceSchema):
    name: ClassVar[str] = "manifest"
    order: ClassVar[int] = 55
    splits_from: ClassVar[str] = "from the manifest's split column"
    needs: ClassVar[str] = "a manifest file (.csv, .jsonl or .json) of image paths and labels"
    own_validation: ClassVar[bool] = True  # the split column may hold validation rows

    image_column: str | None = Field(
        None, description="Manifest column of image paths (relative to the manifest's folder, or absolute); not "
        "given: the first of path, image, filename, file found.")
    label_columns: list[str] | None = Field(
        None, min_length=1, description="Manifest columns of labels: one column of class names or ids "
        "(classification) or of labels joined by data.label_separator (multilabel); several 0/1 columns "
        "(multilabel) or number columns (regression), named by their columns. Not given: every column but the "
        "image and split columns.")
    label_separator: str = Field(
        ";", min_length=1, description="What joins the labels of one image in a single label column (multilabel).")

    @classmethod
    def check(cls, data: Any, source: str) -> None:
        super().check(data, source)
        if data.path is not None and Path(data.path).suffix.lower() not in SUFFIXES:
            raise ConfigError(source, "data.path", "expected a .csv, .jsonl or .json manifest for source manifest",
                              data.path)


@dataclass
class Table:
    """A manifest as read: its columns, and each row's where (`line 5`, `entry 3`) and cells."""

    path: str
    columns: list[str]
    rows: list[tuple[str, dict[str, Any]]]


def read_manifest(path: str) -> Table:
    """The manifest at `path`; unreadable or malformed is a DataError naming it (and the line)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(path, "no such file" if not file.exists() else "not a file")
    suffix = file.suffix.lower()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read the manifest: {exc}") from None
    rows: list[tuple[str, dict[str, Any]]] = []
    columns: list[str] = []
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        try:
            for row in reader:
                if all(v in (None, "") for v in row.values()):
                    continue
                if None in row:
                    raise DataError(path, f"line {reader.line_num}: more cells than the header's {len(columns)}")
                rows.append((f"line {reader.line_num}", {k: (v.strip() if isinstance(v, str) else v)
                                                         for k, v in row.items()}))
        except csv.Error as exc:
            raise DataError(path, f"line {reader.line_num}: {exc}") from None
    elif suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"line {number}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise DataError(path, f"line {number}: expected a JSON object")
            rows.append((f"line {number}", row))
            columns += [k for k in row if k not in columns]
    else:
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"line {exc.lineno}: not JSON: {exc.msg}") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DataError(path, "expected a JSON list of objects, one per image")
        for number, row in enumerate(entries, 1):
            rows.append((f"entry {number}", row))
            columns += [k for k in row if k not in columns]
    if not rows:
        raise DataError(path, "no rows: the manifest lists no images")
    return Table(path, columns, rows)


def image_column(table: Table, given: str | None) -> str:
    if given is not None:
        if given not in table.columns:
            raise DataError(table.path, f"no image column {given!r} (data.image_column); columns: {_shown(table)}")
        return given
    found = next((c for c in IMAGE_COLUMNS if c in table.columns), None)
    if found is None:
        raise DataError(table.path, f"no image column: none of {', '.join(IMAGE_COLUMNS)}; name it with "
                        f"data.image_column (columns: {_shown(table)})")
    return found


def label_columns(table: Table, image: str, given: list[str] | None) -> list[str]:
    if given is not None:
        missing = [c for c in given if c not in table.columns]
        if missing:
            raise DataError(table.path, f"no label column {missing[0]!r} (data.label_columns); columns: {_shown(table)}")
        return list(given)
    found = [c for c in table.columns if c not in (image, SPLIT_COLUMN)]
    if not found:
        raise DataError(table.path, f"no label column beside the image column {image!r}")
    return found


def _shown(table: Table) -> str:
    return ", ".join(repr(c) for c in table.columns)


def empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def number(value: Any) -> float | None:
    """The cell as a number, None when it is not one."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def several(value: Any, separator: str) -> bool:
    """Whether a single label cell holds several labels (a list, or text with the separator)."""
    return isinstance(value, list) or (isinstance(value, str) and separator in value)


def possible_tasks(table: Table, columns: list[str], separator: str) -> tuple[str | None, set[str], str]:
    """(the task the label columns say, or None when they leave a doubt; the tasks they allow; in words, what
    they hold)."""
    cells = [row[c] for _, row in table.rows for c in columns if not empty(row.get(c))]
    numbers = [number(v) for v in cells]
    numeric = bool(cells) and all(n is not None for n in numbers)
    integers = numeric and all(float(n).is_integer() for n in numbers)
    if len(columns) == 1:
        if any(several(v, separator) for v in cells):
            return "multilabel", {"multilabel"}, f"labels joined by {separator!r} in column {columns[0]!r}"
        if numeric and not integers:
            return "regression", {"regression"}, f"numbers that are not all integers in column {columns[0]!r}"
        return "classification", {"classification", "multilabel", "regression"}, f"one label column {columns[0]!r}"
    named = ", ".join(repr(c) for c in columns)
    if numeric and set(numbers) <= {0.0, 1.0}:
        return "multilabel", {"multilabel", "regression"}, f"0/1 columns {named}"
    if numeric and not integers:
        return "regression", {"regression"}, f"number columns {named}"
    if numeric:
        return None, {"regression"}, f"integer columns {named}"
    return None, {"regression"}, f"columns {named}, not all 0/1"


def manifest_task(raw: dict, source: str) -> dict:
    """`raw` (a config as read, overrides set) with `task` said by its manifest's label columns when it names
    none; a task the columns contradict, or columns that leave a doubt, is a ConfigError. A config of another
    source, or whose manifest cannot be read yet, is returned as it is (the reader says what is wrong)."""
    data = raw.get("data")
    if not isinstance(data, dict) or data.get("source") != Manifest.name or not isinstance(data.get("path"), str):
        return raw
    try:
        table = read_manifest(os.path.expanduser(data["path"]))
        image = image_column(table, data.get("image_column"))
        columns = label_columns(table, image, data.get("label_columns"))
    except (DataError, TypeError):
        return raw
    separator = data.get("label_separator", ";")
    said, allowed, what = possible_tasks(table, columns, separator if isinstance(separator, str) else ";")
    task = raw.get("task")
    if task is None:
        if said is None:
            raise ConfigError(source, "task", f"required key is missing: the manifest {data['path']} holds {what}; "
                              "give task: regression (or multilabel for 0/1 columns)")
        return {**raw, "task": said}
    if isinstance(task, str) and task not in allowed:
        raise ConfigError(source, "task", f"the manifest {data['path']} holds {what}, which is not {task}; expected "
                          f"{' or '.join(sorted(allowed))}", task)
    return raw


def names_an_image_column(path: Path) -> bool:
    """Whether a CSV file's header line has one of the image columns (a manifest, not pixels)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            header = next(csv.reader([file.readline()]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return any(cell.strip() in IMAGE_COLUMNS for cell in header)


def data_flag_task(raw: dict, data_path: str) -> str | None:
    """The task a manifest given as `--data PATH` says, for a config (`raw`, overrides set) that names none, as
    `manifest_task` reads a config's manifest: its label columns are the manifest's own (`--data` replaces the
    config's source keys), its `data.label_separator` the config's. None: PATH is no manifest (a CSV of pixels,
    another kind of file), cannot be read yet (the reader says why), or the config names its task; a task its
    columns contradict, or columns that leave a doubt, is a ConfigError of `--data`."""
    path = Path(os.path.expanduser(str(data_path)))
    if path.suffix.lower() not in SUFFIXES or not path.is_file():
        return None
    if path.suffix.lower() == ".csv" and not names_an_image_column(path):
        return None
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    probe: dict = {"data": {"source": Manifest.name, "path": str(data_path)}}
    if isinstance(data.get("label_separator"), str):
        probe["data"]["label_separator"] = data["label_separator"]
    if raw.get("task") is not None:
        probe["task"] = raw["task"]
    found = manifest_task(probe, "--data")
    return found.get("task") if raw.get("task") is None else None
