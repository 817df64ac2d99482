"""`RunDir`: one run directory, for its writer and its readers alike. It holds the layout (the paths of its
files, which no other module spells), the writer's lock, and the typed records: a writer hands it a
`MetricsJson`, a `LabelsJson`, `HistoryRow`s or a `RunJson`, a reader gets them back checked.

    run = RunDir("runs/mnist-20260101-120000")
    with run.lock(new=True):
        record = run.start_record(RunJson(format=FORMAT, name="mnist", status="running", ...))
        run.history.write([HistoryRow(epoch=1, loss=0.3, ...)])
        run.write_metrics(MetricsJson(test_accuracy=0.98, ...))
        record.mark("complete")

Paths that Keras or the backup write into themselves (`model_path`, `best_path`, `backup_path`,
`tensorboard_path`) are handed out as paths; a run file that is a symlink leading out of the folder is refused
(`layout.run_file`).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cnn_cli.rundir import layout as names
from cnn_cli.rundir.atomic import TMP_PREFIX, save_atomic, write_atomic, write_json
from cnn_cli.rundir.layout import RunLayout, now, run_file
from cnn_cli.rundir.lock import RunLock
from cnn_cli.rundir.records import (
    HistoryRow,
    LabelsJson,
    MetricsJson,
    RunJson,
    RunRecord,
    history_columns,
    read_history,
    read_history_text,
    read_record,
)


class History:
    """history.csv: one row per epoch, replaced whole (atomically) at each write. Rows are written as the text
    they hold (the writer formats its numbers), each checked against `HistoryRow` first."""

    def __init__(self, path: Path):
        self._path = path

    def exists(self) -> bool:
        return self._path.is_file()

    def rows(self) -> list[HistoryRow]:
        """Every row, typed (none when the file is missing); a bad cell names its row."""
        return read_history(self._path)

    def text_rows(self) -> list[dict[str, str]]:
        """Every row as the text it holds (checked as `rows` are)."""
        return read_history_text(self._path)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Replaces the file with `rows`: the columns of `HISTORY_COLUMNS` (another task's metrics in place of
        accuracy: `records.history_columns`), and `phase` last for a run in
        phases. A row that `HistoryRow` refuses is a bug of the writer, refused before anything is written."""
        for row in rows:
            HistoryRow.model_validate({k: v for k, v in row.items() if v is not None})
        write_atomic(self._path, history_csv(rows))


def history_csv(rows: Sequence[dict[str, Any]]) -> str:
    """history.csv's text for `rows`."""
    columns = history_columns(rows) + (("phase",) if any(row.get("phase") not in (None, "") for row in rows) else ())
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return out.getvalue()


class RunDir(RunLayout):
    """One run directory: its paths (`RunLayout`'s), its lock and its records, written and read typed."""

    # -- the writer's lock and run.json
    def lock(self, new: bool = False) -> RunLock:
        """`with run.lock(new=...)`: one writer at a time (see `RunLock`)."""
        return RunLock(self, new=new)

    def check_own_files(self) -> None:
        """Refuses a config.yaml or run.json that is a symlink leading out of the run directory."""
        for name in (names.CONFIG, names.RUN):
            self.file(name)

    def left_before_config(self) -> list[str]:
        """What a run killed before it wrote its config.yaml left (its lock, a temporary file), or [] for a
        folder that holds anything else, or nothing, or is missing."""
        if not self.path.is_dir() or (self.path / names.CONFIG).exists() or (self.path / names.RUN).exists():
            return []
        left = sorted(p.name for p in self.path.iterdir())
        return left if left and all(n == names.LOCK or n.startswith(TMP_PREFIX) for n in left) else []

    def is_run(self) -> bool:
        """Whether run.json is there (a run started here)."""
        return self.run.is_file()

    def start_record(self, record: RunJson) -> RunRecord:
        """A new run's run.json, written now; the writer keeps the `RunRecord` to mark the run's status."""
        started = RunRecord(self.path, record.model_dump(exclude_unset=True))
        started.update()
        return started

    def record(self) -> RunRecord:
        """The run.json of a run to go on with (checked, with labels.json, metrics.json and history.csv)."""
        return RunRecord.load(self.path)

    def read_run(self) -> RunJson:
        return read_record(self.file(names.RUN), RunJson)

    # -- the files the run's writer writes
    def write_config(self, text: str) -> None:
        write_atomic(self.config, text)

    def config_text(self) -> str:
        return self.file(names.CONFIG).read_text(encoding="utf-8", errors="replace")

    def write_metrics(self, metrics: MetricsJson) -> None:
        write_json(self.metrics, metrics.model_dump(mode="json", exclude_unset=True))

    def read_metrics(self) -> MetricsJson:
        return read_record(self.file(names.METRICS), MetricsJson)

    def write_labels(self, labels: LabelsJson) -> None:
        write_json(self.labels, labels.model_dump(mode="json", exclude_none=True))

    def read_labels(self) -> LabelsJson:
        return read_record(self.file(names.LABELS), LabelsJson)

    def write_summary(self, text: str) -> None:
        write_atomic(self.summary, text if text.endswith("\n") else text + "\n")

    def write_skipped(self, lines: Sequence[str]) -> None:
        write_atomic(self.skipped, "".join(f"{line}\n" for line in lines))

    def write_splits(self, rows: Sequence[tuple[str, str]]) -> None:
        """splits.csv: `source,split`, one row per image the run uses (its file, row or index; train, validation
        or test)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["source", "split"])
        writer.writerows(rows)
        write_atomic(self.splits, out.getvalue())

    def save_curves(self, save: Callable[[str], Any]) -> None:
        save_atomic(self.curves, save)

    def save_model(self, save: Callable[[str], Any], point: str | None = None) -> None:
        """model.keras, written by `save(temporary_path)` and renamed into place."""
        save_atomic(self.model, save, point=point)

    @property
    def history(self) -> History:
        return History(self.file(names.HISTORY))

    # -- paths that Keras and the backup write into themselves
    @property
    def model_path(self) -> Path:
        return self.file(names.MODEL)

    @property
    def best_path(self) -> Path:
        return self.file(names.BEST)

    @property
    def history_path(self) -> Path:
        return self.file(names.HISTORY)

    @property
    def backup_path(self) -> Path:
        return self.file(names.BACKUP)

    @property
    def tensorboard_path(self) -> Path:
        return self.file(names.TENSORBOARD)

    def inspect_path(self, image: str) -> Path:
        """inspect/<image>/: where `cnn inspect` writes its pictures of one image."""
        return self.file(f"{names.INSPECT}/{image}")

    def has_backup(self) -> bool:
        return self.backup_path.is_dir()

    def drop_backup(self) -> None:
        shutil.rmtree(self.backup_path, ignore_errors=True)

    def shared_files(self) -> list[Path]:
        """The run's own files that are worth handing on (to MLflow as artifacts): every file at the top of the
        folder (config, records, history, models, summary, curves, report page, ...), sorted, less the lock and
        unfinished temporary files; the backup, TensorBoard logs, inspect/ and export/ folders stay."""
        return sorted(p for p in self.path.iterdir() if p.is_file() and not p.is_symlink()
                      and p.name != names.LOCK and not p.name.startswith(TMP_PREFIX))

    def copy_for_worker(self, local: str | os.PathLike) -> RunDir:
        """The files a non-chief worker of a distributed run reads (backup, history, config), copied into its
        own folder `local`, so that it never writes into the chief's run directory."""
        target = RunDir(local)
        target.path.mkdir(parents=True, exist_ok=True)
        if self.has_backup():
            shutil.copytree(self.backup_path, target.backup_path, dirs_exist_ok=True)
        for name in (names.HISTORY, names.CONFIG):
            if (self.path / name).is_file():
                shutil.copy2(self.path / name, target.path / name)
        return target


__all__ = ["History", "RunDir", "history_csv", "now", "run_file"]
