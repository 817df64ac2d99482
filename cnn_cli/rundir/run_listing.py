"""The run directories under some folders, read for a table (`cnn runs`): run.json, metrics.json and config.yaml
only (JSON and YAML, no Keras, config.yaml through libyaml's C parser where present), one `RunRow` per run,
filtered by `--where` conditions, sorted by a key, with the config keys whose values differ among the runs.

A run directory is a folder holding run.json; the folders under one are not searched (a study's trials are
folders beside each other under the study's folder, which holds no run.json). A run whose run.json or
metrics.json cannot be read is still listed (status `unreadable`, or without its figures), and the problem
is said in one warning line naming the file, so that no run is left out in silence.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_cli.config.yaml_io import parse_scalar, read_yaml
from cnn_cli.errors import CnnError
from cnn_cli.rundir.layout import CONFIG, METRICS, RUN, SUMMARY, RunLayout
from cnn_cli.rundir.lock import writer_alive

HEADLINE = {"classification": ("accuracy",), "multilabel": ("micro_f1", "mean_average_precision"),
            "regression": ("mae", "rmse")}
"""The test figure a task's row shows, the first that metrics.json holds (`test_<name>`)."""

FIELDS = ("path", "name", "status", "task", "epochs_run", "epochs_planned", "best_monitor", "best_value",
          "test_metric", "test_value", "params", "macs", "wall_seconds", "backend", "device", "started", "seed")
"""The keys of a row (besides the config's own keys, which `--where` and `--sort` take as well)."""


@dataclass
class RunRow:
    """One run as listed: its `fields` (`FIELDS`, None where the run has none) and its config flattened to key
    paths (`model.layers[0].filters`), the way `--set` writes them."""

    path: Path
    fields: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> tuple[bool, Any]:
        """(whether the run has `key`, its value): a field, else a config key."""
        if key in self.fields:
            return self.fields[key] is not None, self.fields[key]
        if key in self.config:
            return True, self.config[key]
        return False, None


@dataclass
class RunList:
    """The runs listed, and the config keys whose values differ among them (in the config's order)."""

    rows: list[RunRow]
    differing: list[str]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One object per run: its fields (`path` and `status` among them) and `config`, the differing keys."""
        return [{**row.fields, "path": str(row.path), "config": {k: row.config.get(k) for k in self.differing}}
                for row in self.rows]


def find_runs(folders: Sequence[str | Path]) -> list[Path]:
    """The run directories at or under each folder (a folder that holds run.json), each once, in path order
    within a folder; symlinked folders are not followed. A folder that does not exist is a `CnnError`."""
    found: list[Path] = []
    seen: set[str] = set()
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise CnnError(f"{folder}: no such folder" if not root.exists() else f"{folder}: not a folder")
        for path in _walk(root):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(path)
    return found


def _walk(root: Path) -> list[Path]:
    if (root / RUN).is_file():
        return [root]
    try:
        entries = sorted((e for e in os.scandir(root) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)
    except OSError:
        return []
    out: list[Path] = []
    for entry in entries:
        out += _walk(Path(entry.path))
    return out


def read_row(path: Path, warn: Callable[[str], None]) -> RunRow:
    """What the listing shows of one run directory; a file that cannot be read is one `warn` line."""
    record = _json(path / RUN, warn)
    metrics = _json(path / METRICS, warn) if (path / METRICS).exists() else {}
    config = _config(path / CONFIG, warn)
    status = record.get("status") if record is not None else "unreadable"
    metrics = metrics or {}
    task = metrics.get("task") or config.get("task") or ("classification" if config else None)
    test_metric, test_value = _test_figure(metrics, task)
    params, macs = metrics.get("params"), metrics.get("macs")
    if (params is None or macs is None) and (path / SUMMARY).is_file():
        params, macs = _costs_from_summary(path / SUMMARY, params, macs)
    fields = {
        "path": str(path), "name": (record or {}).get("name") or config.get("name"), "status": status, "task": task,
        "epochs_run": metrics.get("epochs_run"),
        "epochs_planned": metrics.get("epochs_planned") or config.get("train.epochs"),
        "best_monitor": metrics.get("best_monitor"), "best_value": metrics.get("best_value"),
        "test_metric": test_metric, "test_value": test_value, "params": params, "macs": macs,
        "wall_seconds": metrics.get("wall_seconds"), "backend": metrics.get("backend"),
        "device": metrics.get("device"), "started": (record or {}).get("started"),
        "seed": (record or {}).get("seed", config.get("seed")),
    }
    if status == "running":  # run.json says so; a killed run's says so too: is its writer still there?
        fields["writer_alive"] = writer_alive(RunLayout(path))
    if (record or {}).get("learning_rate_found") is not None:
        fields["learning_rate_found"] = record["learning_rate_found"]
    return RunRow(path=path, fields=fields, config=config)


def _json(path: Path, warn: Callable[[str], None]) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        warn(f"{path}: cannot be read as JSON ({' '.join(str(exc).split())[:120]}); listed without it")
        return None
    if not isinstance(data, dict):
        warn(f"{path}: expected a JSON object, found {type(data).__name__}; listed without it")
        return None
    return data


def _config(path: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = read_yaml(path, fast=True)
    except CnnError as exc:
        warn(f"{exc}; listed without its config")
        return {}
    return flatten(data) if isinstance(data, dict) else {}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A config as key paths: mappings by `.key`, lists of mappings by `[i]`; a list of plain values (an input
    shape, a list of rates) is one value."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and any(isinstance(item, (dict, list)) for item in data):
        for i, item in enumerate(data):
            out.update(flatten(item, f"{prefix}[{i}]"))
    else:
        out[prefix] = data
    return out


def _test_figure(metrics: dict, task: str | None) -> tuple[str | None, float | None]:
    for name in HEADLINE.get(task or "classification", ()):
        value = metrics.get(f"test_{name}")
        if isinstance(value, (int, float)):
            return name, value
    return None, None


_TOTAL = re.compile(r"^Total params:\s+([\d,]+)\s*$", re.M)
_MACS = re.compile(r"^MACs per example:\s+([\d,]+)\s*$", re.M)


def _costs_from_summary(path: Path, params: int | None, macs: int | None) -> tuple[int | None, int | None]:
    """The parameter and MAC counts of summary.txt's cost table (runs written before metrics.json held them)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return params, macs
    totals, found = _TOTAL.findall(text), _MACS.findall(text)
    if params is None and totals:
        params = int(totals[-1].replace(",", ""))
    if macs is None and found:
        macs = int(found[-1].replace(",", ""))
    return params, macs


def differing_keys(rows: Sequence[RunRow]) -> list[str]:
    """The config keys whose values are not the same in every row. A row without the key differs when it holds
    the key's place in another shape (`train.lr_schedule: null` against `train.lr_schedule.type: cosine`); one
    whose config has nothing there was written before the key existed, and does not count."""
    if len(rows) < 2:
        return []
    order: dict[str, None] = {}
    for row in rows:
        order.update(dict.fromkeys(row.config))
    places: list[set[str]] | None = None  # made when a key is missing from some row
    out = []
    for key in order:
        held = [row.config[key] for row in rows if key in row.config]
        first = held[0]
        if any(value != first for value in held):
            out.append(key)
        elif len(held) < len(rows):
            places = places if places is not None else [_places(row.config) for row in rows]
            prefixes = _prefixes(key)
            if any(key not in row.config and (key in place or not prefixes.isdisjoint(row.config))
                   for row, place in zip(rows, places)):
                out.append(key)
    return out


_STEP = re.compile(r"[.\[]")


def _prefixes(key: str) -> set[str]:
    """`a.b[0].c` -> {`a`, `a.b`, `a.b[0]`}."""
    return {key[:m.start()] for m in _STEP.finditer(key) if m.start() > 0}


def _places(config: dict[str, Any]) -> set[str]:
    """Every proper prefix of the config's keys: the places that hold more keys under them."""
    out: set[str] = set()
    for key in config:
        out |= _prefixes(key)
    return out


_ABSENT = object()
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.\[\]-]*)\s*(!=|<=|>=|=|<|>)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """`--where KEY OP VALUE` (OP one of = != < <= > >=); the value read as YAML (`complete`, `0.001`, `null`)."""

    key: str
    op: str
    value: Any
    text: str

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.match(text)
        if match is None:
            raise CnnError(f"--where {text!r}: expected KEY=VALUE (or KEY!=VALUE, KEY<VALUE, KEY<=VALUE, KEY>VALUE, "
                           "KEY>=VALUE), e.g. status=complete or train.optimizer.name=adam")
        key, op, raw = match.groups()
        value = parse_scalar(raw, f"--where {text!r}")
        if op in ("<", "<=", ">", ">=") and not _number(value):
            raise CnnError(f"--where {text!r}: {op} compares numbers, received {raw!r}")
        return cls(key=key, op=op, value=value, text=text)

    def holds(self, row: RunRow) -> bool:
        has, value = row.get(self.key)
        if self.op in ("=", "!="):
            same = _equal(value, self.value) if has else self.value is None
            return same if self.op == "=" else not same
        if not has or not _number(value):
            return False
        return {"<": value < self.value, "<=": value <= self.value, ">": value > self.value,
                ">=": value >= self.value}[self.op]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _equal(a: Any, b: Any) -> bool:
    if _number(a) and _number(b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or a == b
    return a == b or (isinstance(a, str) != isinstance(b, str) and str(a) == str(b))


def list_runs(folders: Sequence[str | Path], where: Sequence[str] = (), sort: str | None = None,
              warn: Callable[[str], None] = lambda line: None) -> RunList:
    """The runs under `folders` that meet every `where` condition, sorted by `sort` (a field or config key;
    `-KEY` for descending; default: when they started), with the config keys that differ among them. A
    condition or sort key that no run found holds is a `CnnError` (a misspelt key would list nothing, or an
    unsorted table, in silence)."""
    conditions = [Condition.parse(text) for text in where]
    key, descending = (sort[1:], True) if sort and sort.startswith("-") else (sort, False)
    if key is not None and not _CONDITION.match(f"{key}=x"):
        raise CnnError(f"--sort {sort!r}: expected a key (a column such as wall_seconds, or a config key such as "
                       "train.optimizer.learning_rate), with - before it for descending order")
    rows = [read_row(path, warn) for path in find_runs(folders)]
    for condition in conditions:
        if rows and not any(row.get(condition.key)[0] or condition.key in FIELDS for row in rows):
            raise CnnError(f"--where {condition.text!r}: no run listed has the key {condition.key!r} "
                           f"(the columns: {', '.join(FIELDS)}; or a config key such as train.optimizer.name)")
    rows = [row for row in rows if all(c.holds(row) for c in conditions)]
    if key is not None and rows:
        if not any(row.get(key)[0] for row in rows):
            raise CnnError(f"--sort {sort!r}: no run listed has a value for {key!r} (the columns: "
                           f"{', '.join(FIELDS)}; or a config key such as train.optimizer.learning_rate)")
        rows = _sorted(rows, key, descending)
    elif key is None:
        rows.sort(key=lambda row: (row.fields.get("started") or "", str(row.path)))
    return RunList(rows=rows, differing=differing_keys(rows))


def _sorted(rows: list[RunRow], key: str, descending: bool) -> list[RunRow]:
    """Runs with a value for `key` in its order (numbers before text), those without last."""
    held = [row for row in rows if row.get(key)[0]]
    missing = [row for row in rows if not row.get(key)[0]]

    def order(row: RunRow):
        value = row.get(key)[1]
        return (0, float(value), "") if _number(value) else (1, 0.0, json.dumps(value, sort_keys=True, default=str))

    return sorted(held, key=order, reverse=descending) + missing
