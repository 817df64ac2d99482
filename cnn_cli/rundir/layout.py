"""The run directory's layout: the one place that knows its file names (`RunLayout`), choosing a new run
directory's path (`default_run_dir`), creating a new or empty one (`create_run_dir`), and `run_file`, which
refuses a run file that is a symlink leading out of its run directory."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from cnn_cli.errors import CnnError
from cnn_cli.model.file_safety import UnsafeFileError

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
EVALUATION = "evaluation.json"
CONFUSION = "confusion_matrix.png"
MISTAKES = "mistakes.png"
TASK_FIGURE = "evaluation.png"  # a multi-label run's precision-recall curves, a regression's predicted against true
REPORT = "report.html"
INSPECT = "inspect"
LOCK = ".lock"
SKIPPED = "skipped_images.txt"
SPLITS = "splits.csv"
EXPORT = "export"


class RunLayout:
    """The paths of one run directory's files: `RunLayout(path).model`, `.history`, ... (nothing is read); a
    file that is a symlink leading out of the folder is refused (`run_file`). Outside `cnn_cli.rundir` a run
    directory is a `RunDir`, which adds the lock and the typed records."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        """`path/name`, refused when it is a symlink that leads outside the run directory (`run_file`)."""
        return run_file(self.path, name)

    config = property(lambda self: run_file(self.path, CONFIG), doc="config.yaml: the resolved config, written once")
    run = property(lambda self: run_file(self.path, RUN), doc="run.json: how the run was made and where it stands")
    model = property(lambda self: run_file(self.path, MODEL), doc="model.keras: the final model")
    best = property(lambda self: run_file(self.path, BEST), doc="best.keras: the best checkpoint")
    history = property(lambda self: run_file(self.path, HISTORY), doc="history.csv: one row per epoch")
    metrics = property(lambda self: run_file(self.path, METRICS), doc="metrics.json: the final scores")
    labels = property(lambda self: run_file(self.path, LABELS), doc="labels.json: the class map")
    summary = property(lambda self: run_file(self.path, SUMMARY), doc="summary.txt: the model's table")
    curves = property(lambda self: run_file(self.path, CURVES), doc="training_curves.png")
    backup = property(lambda self: run_file(self.path, BACKUP), doc="backup/: resume state while the run is unfinished")
    tensorboard = property(lambda self: run_file(self.path, TENSORBOARD), doc="tensorboard/: logs, when enabled")
    evaluation = property(lambda self: run_file(self.path, EVALUATION), doc="evaluation.json: written by cnn evaluate")
    confusion = property(lambda self: run_file(self.path, CONFUSION), doc="confusion_matrix.png: written by cnn evaluate")
    skipped = property(lambda self: run_file(self.path, SKIPPED), doc="skipped_images.txt: image files left out (bad_images: skip)")
    splits = property(lambda self: run_file(self.path, SPLITS), doc="splits.csv: which image went to which split")
    task_figure = property(lambda self: run_file(self.path, TASK_FIGURE), doc="evaluation.png: a multi-label run's "
                           "precision-recall curves or a regression's predicted against true, by cnn evaluate")
    mistakes = property(lambda self: run_file(self.path, MISTAKES), doc="mistakes.png: misclassified examples, by cnn evaluate")
    report = property(lambda self: run_file(self.path, REPORT), doc="report.html: written by cnn report")
    inspect = property(lambda self: run_file(self.path, INSPECT), doc="inspect/<image>/: written by cnn inspect")
    lock_file = property(lambda self: run_file(self.path, LOCK), doc=".lock: held by the process writing the run (its pid)")
    export = property(lambda self: run_file(self.path, EXPORT), doc="export/: the default place of cnn export's files")


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


def is_new_or_empty(path: str | Path) -> bool:
    """True for a path that does not exist or an empty folder (a lone lock file counts as empty)."""
    path = Path(path)
    if not path.exists():
        return True
    return path.is_dir() and all(item.name == LOCK for item in path.iterdir())


def check_new_or_empty(path: str | Path) -> None:
    """Refuses a path that is a file, or a folder with files in it (use --resume to go on with that run)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CnnError(f"{path}: exists and is not a directory")
    if not is_new_or_empty(path):
        raise CnnError(f"{path}: run directory exists and is not empty (use --resume {path} to continue that run)")


def create_run_dir(path: str | Path) -> Path:
    """Creates a new run directory; an existing non-empty one is refused (`check_new_or_empty`)."""
    path = Path(path)
    check_new_or_empty(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnError(f"{path}: cannot create the run directory ({exc.strerror or exc})") from None
    return path


def run_file(run_dir: str | Path, name: str) -> Path:
    """`run_dir/name`, refused when it is a symlink (or inside a symlinked folder) that leads outside `run_dir`."""
    run_dir = Path(run_dir)
    path = run_dir / name
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=False)
        inside = target.is_relative_to(run_dir.resolve(strict=False))
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafeFileError(f"{path}: a symlink loop; a run directory's own files must be files inside it") from None
    if not inside:
        raise UnsafeFileError(
            f"{path}: a symlink to {target}, outside the run directory; a run directory's own files must lie "
            "inside it (copy the file in instead of linking it)"
        )
    return path
