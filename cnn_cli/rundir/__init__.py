"""The run directory: the only code that knows its file names (`layout`), its writer's lock (`lock`), the
schemas of its records (`records`) and atomic writes (`atomic`). The trainer and the readers ask it for paths
and records; nothing here imports TensorFlow or Keras."""

from cnn_cli.rundir.layout import (
    BACKUP,
    BEST,
    CONFIG,
    CURVES,
    HISTORY,
    LABELS,
    METRICS,
    MODEL,
    RUN,
    SUMMARY,
    TENSORBOARD,
    RunLayout,
    check_new_or_empty,
    create_run_dir,
    default_run_dir,
    now,
    run_file,
)
from cnn_cli.rundir.lock import RunLock, RunLockedError
from cnn_cli.rundir.records import FORMAT, STATUSES, RunRecord, input_scale

__all__ = [
    "BACKUP", "BEST", "CONFIG", "CURVES", "FORMAT", "HISTORY", "LABELS", "METRICS", "MODEL", "RUN", "STATUSES",
    "SUMMARY", "TENSORBOARD", "RunLayout", "RunLock", "RunLockedError", "RunRecord", "check_new_or_empty",
    "create_run_dir", "default_run_dir", "input_scale", "now", "run_file",
]
