"""`cnn runs`' table: one row per run (`cnn_cli.rundir.run_listing.RunList`), as text or CSV."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from cnn_cli.rundir.run_listing import FIELDS, RunList, RunRow


def _count(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return str(value)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _value(value: Any) -> str:
    """A config value in a cell: as YAML's flow style would write it, short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _shown_path(path: Path) -> str:
    """The run's folder as given, relative to the working folder where it lies under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _pair(rows: list[RunRow], metric: str, value: str, label: str) -> tuple[str, list[str]]:
    """A column of (metric, value): `best val_loss` and the values when every run names the same metric, else
    `best` and `val_loss 0.1234` in each cell."""
    metrics = {row.fields.get(metric) for row in rows if row.fields.get(value) is not None}
    if len(metrics) <= 1:
        name = next(iter(metrics), None)
        return (f"{label} {name}" if name else label), [_number(row.fields.get(value)) for row in rows]
    return label, [f"{row.fields.get(metric)} {_number(row.fields.get(value))}" if row.fields.get(value) is not None
                   else "" for row in rows]


def _status(fields: dict) -> str:
    """run.json's status; a run that says `running` but whose process is gone (killed) says so."""
    status = fields.get("status") or ""
    return f"{status} (no process)" if status == "running" and fields.get("writer_alive") is False else status


def columns(listing: RunList) -> list[tuple[str, list[str]]]:
    rows = listing.rows
    f = [row.fields for row in rows]

    def epochs(fields: dict) -> str:
        run, planned = fields.get("epochs_run"), fields.get("epochs_planned")
        return f"{run if run is not None else '-'}/{planned}" if planned is not None else ""

    cols = [
        ("run", [_shown_path(row.path) for row in rows]),
        ("status", [_status(x) for x in f]),
        ("task", [x.get("task") or "" for x in f]),
        ("epochs", [epochs(x) for x in f]),
        _pair(rows, "best_monitor", "best_value", "best"),
        _pair(rows, "test_metric", "test_value", "test"),
        ("params", [_count(x.get("params")) for x in f]),
        ("MACs", [_count(x.get("macs")) for x in f]),
        ("wall s", [f"{x['wall_seconds']:.1f}" if isinstance(x.get("wall_seconds"), (int, float)) else "" for x in f]),
        ("backend", [x.get("backend") or "" for x in f]),
        ("device", [x.get("device") or "" for x in f]),
    ]
    cols += [(key, [_value(row.config[key]) if key in row.config else "-" for row in rows])
             for key in listing.differing]
    return cols


NUMERIC = ("params", "MACs", "wall s")


def to_text(listing: RunList) -> str:
    """The table, columns aligned (numbers to the right); the config keys that differ after the fixed columns."""
    if not listing.rows:
        return "No runs found."
    cols = columns(listing)
    widths = [max(len(name), *(len(cell) for cell in cells)) for name, cells in cols]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if name in NUMERIC or name.startswith(("best", "test")) else cell.ljust(w)
                         for (name, _), cell, w in zip(cols, cells, widths)).rstrip()

    out = [line([name for name, _ in cols])]
    out += [line([cells[i] for _, cells in cols]) for i in range(len(listing.rows))]
    count = len(listing.rows)
    out.append(f"{count} run{'s' if count != 1 else ''}" + (
        f"; config keys that differ: {len(listing.differing)}" if listing.differing else ""))
    return "\n".join(out)


def to_csv(listing: RunList) -> str:
    """One row per run: every field (raw values), then the config keys that differ."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIELDS, *listing.differing])
    for row in listing.rows:
        writer.writerow([*("" if row.fields.get(k) is None else row.fields[k] for k in FIELDS),
                         *(_value(row.config[k]) if k in row.config else "" for k in listing.differing)])
    return buffer.getvalue()
