"""The Keras callbacks of a training run.

- `HistoryWriter`: writes `history.csv` after every epoch (atomically), so an interrupted run keeps its
  epochs and a resumed one appends without repeating any; a run in phases gets a `phase` column.
- `DivergenceGuard`: stops training at the first NaN or infinite loss.
- `AtomicCheckpoint`: ModelCheckpoint that saves to a temp file in the run folder, then `os.replace`s.
- `FaultHooks`: the test-only fault points of a step and an epoch (`cnn_cli.faults`).

Imported only by the trainer, after TensorFlow has been started.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from cnn_cli import faults
from cnn_cli.backends import start as start_backend
from cnn_cli.config.train import improves, monitor_mode
from cnn_cli.number_format import to_float
from cnn_cli.rundir.atomic import save_atomic
from cnn_cli.rundir.records import TASK_METRICS
from cnn_cli.rundir.run_dir import History

start_backend()  # quietly, before Keras imports it
import keras  # noqa: E402


class HistoryWriter(keras.callbacks.Callback):
    """One row per epoch (1-based), rewritten atomically; on resume, rows from the resumed epoch on are dropped.
    `phase`: the phase the next epochs belong to (set by `phase_fit.Phases.fit`; None for a run without phases)."""

    def __init__(self, history: History):
        super().__init__()
        self.history = history
        self.rows: list[dict] = []
        self.phase: int | None = None
        self._started: float | None = None
        self._first = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first:
            self._first = False
            self.rows = [r for r in self.history.text_rows() if int(r["epoch"]) <= epoch]
            self.initial_epoch = epoch
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = to_float(logs.get(key))
            row[key] = None if value is None else f"{value:.6g}"
        for metric in TASK_METRICS:  # another task's metrics (multilabel: auc, f1; regression: mae, rmse)
            for key in (metric, f"val_{metric}"):
                value = to_float(logs.get(key))
                if value is not None and key not in row:
                    row[key] = f"{value:.6g}"
        row["learning_rate"] = f"{float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)):.6g}"
        row["seconds"] = f"{time.perf_counter() - (self._started or time.perf_counter()):.3f}"
        if self.phase is not None:
            row["phase"] = self.phase
        self.rows = [r for r in self.rows if int(r["epoch"]) < epoch + 1] + [row]
        self.history.write(self.rows)


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite; `diverged` says where."""

    def __init__(self):
        super().__init__()
        self.diverged: tuple[int, int, float] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = to_float((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.diverged = (self._epoch + 1, batch + 1, loss)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        loss = to_float((logs or {}).get("loss"))
        if self.diverged is None and loss is not None and not math.isfinite(loss):
            self.diverged = (epoch + 1, 0, loss)
            self.model.stop_training = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` after an epoch that improves `monitor` (or after every epoch when
    `save_best_only` is false), through a temp file in the same folder and `os.replace`."""

    def __init__(self, path: Path, monitor: str, save_best_only: bool = True):
        super().__init__()
        self.path, self.monitor, self.save_best_only = Path(path), monitor, save_best_only
        self.best = -math.inf if monitor_mode(monitor) == "max" else math.inf
        self.best_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        return improves(self.monitor, value, self.best)

    def on_epoch_end(self, epoch, logs=None):
        value = to_float((logs or {}).get(self.monitor))
        if value is None or not math.isfinite(value):
            return
        if self._improves(value):
            self.best, self.best_epoch = value, epoch
        elif self.save_best_only:
            return
        save_atomic(self.path, lambda tmp: self.model.save(tmp), point="checkpoint_write")


class FaultHooks(keras.callbacks.Callback):
    """Test-only: `cnn_cli.faults`' step and epoch-end points. Listed last, so an epoch's hooks run after every
    other callback (history, checkpoint, backup) has recorded it. The trainer lists it only when
    `faults.active()`."""

    def on_train_batch_end(self, batch, logs=None):
        faults.point("mid_epoch")

    def on_epoch_end(self, epoch, logs=None):
        faults.epoch_end(epoch + 1)


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) during training, taken between steps rather than inside TensorFlow.

    Python raises KeyboardInterrupt wherever the signal lands, also while TensorFlow's C++ runtime is in
    the middle of a step, which can leave its heap corrupt (the process then aborts instead of saving). While
    `fit` runs, this callback's handler only takes note of the signal, and the next batch end raises
    KeyboardInterrupt in Python, where the run's own handling (run.json `interrupted`, exit 130, the last
    finished epoch's backup kept) follows. A second Ctrl-C interrupts at once. With `at_epoch_end` (`cnn
    tune`'s trials), the epoch under way runs to its end, and the run stops there as interrupted.
    """

    def __init__(self, at_epoch_end: bool = False):
        super().__init__()
        self.requested = False
        self.at_epoch_end = at_epoch_end  # cnn tune: the epoch under way finishes (saved, reported), then the stop
        self.stopped = False  # at_epoch_end: training stopped at an epoch's end for a Ctrl-C
        self._previous = None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def __exit__(self, *exc):
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _note(self, signum, frame):
        if self.requested:  # the second Ctrl-C: at once
            raise KeyboardInterrupt
        self.requested = True

    def _check(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    def _check_step(self, *args, **kwargs):
        if not self.at_epoch_end:
            self._check()

    def on_epoch_end(self, epoch, logs=None):
        if self.requested and self.at_epoch_end:  # the epoch's other callbacks still run (backup, history)
            self.stopped = True
            self.model.stop_training = True
            return
        self._check()

    on_epoch_begin = _check
    on_train_batch_end = on_test_batch_end = _check_step
