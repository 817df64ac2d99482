"""The run directory: `RunDir` (`run_dir`) is how every other module writes and reads one. Inside, the only code
that knows its file names (`layout`), its writer's lock (`lock`), the
schemas of its records (`records`) and atomic writes (`atomic`). The trainer and the readers ask it for paths
and records; nothing here imports TensorFlow or Keras."""

from cnn_cli.rundir.layout import RunLayout, default_run_dir, now
from cnn_cli.rundir.lock import RunLock, RunLockedError
from cnn_cli.rundir.records import (
    FORMAT,
    STATUSES,
    HistoryRow,
    LabelsJson,
    MetricsJson,
    RunJson,
    RunRecord,
    input_scale,
    models_record,
)
from cnn_cli.rundir.run_dir import History, RunDir

__all__ = [
    "FORMAT", "STATUSES", "History", "HistoryRow", "LabelsJson", "MetricsJson", "RunDir", "RunJson", "RunLayout", "RunLock",
    "RunLockedError", "RunRecord", "default_run_dir", "input_scale", "models_record", "now",
]
