"""The Keras callbacks of a training run.

- `HistoryWriter`: writes `history.csv` after every epoch (atomically), so an interrupted run keeps its
  epochs and a resumed one appends without repeating any.
- `DivergenceGuard`: stops training at the first NaN or infinite loss.
- `AtomicCheckpoint`: ModelCheckpoint that saves to a temp file in the run folder, then `os.replace`s.
- `CallbackState`: saves the state Keras' `BackupAndRestore` does not keep (the checkpoint's best value,
  EarlyStopping's and ReduceLROnPlateau's counters and best values, EarlyStopping's best weights) into the
  backup folder, and puts it back on resume, so a resumed run stops where an uninterrupted one would.
- `StopAfterEpoch`: test hook, see `STOP_ENV`.

Imported only by the trainer, after TensorFlow has been started.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from pathlib import Path

from cnn_cli.tf_runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from cnn_cli.training.files import read_json, save_atomic, write_atomic, write_json  # noqa: E402

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")

# Test-only hook: `CNN_TEST_STOP_AFTER_EPOCH=N` raises KeyboardInterrupt at the end of epoch N (1-based),
# after every other callback (history, checkpoint, backup) has run -- as if the user pressed Ctrl-C there.
STOP_ENV = "CNN_TEST_STOP_AFTER_EPOCH"


def monitor_mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def _float(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_history(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in HISTORY_COLUMNS})
    write_atomic(path, out.getvalue())


class HistoryWriter(keras.callbacks.Callback):
    """One row per epoch (1-based), rewritten atomically; on resume, rows from the resumed epoch on are dropped."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] = []
        self._started: float | None = None
        self._first = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first:
            self._first = False
            self.rows = [r for r in read_history(self.path) if int(r["epoch"]) <= epoch]
            self.initial_epoch = epoch
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = _float(logs.get(key))
            row[key] = None if value is None else f"{value:.6g}"
        row["learning_rate"] = f"{float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)):.6g}"
        row["seconds"] = f"{time.perf_counter() - (self._started or time.perf_counter()):.3f}"
        self.rows = [r for r in self.rows if int(r["epoch"]) < epoch + 1] + [row]
        write_history(self.path, self.rows)


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite; `diverged` says where."""

    def __init__(self):
        super().__init__()
        self.diverged: tuple[int, int, float] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = _float((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.diverged = (self._epoch + 1, batch + 1, loss)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        loss = _float((logs or {}).get("loss"))
        if self.diverged is None and loss is not None and not math.isfinite(loss):
            self.diverged = (epoch + 1, 0, loss)
            self.model.stop_training = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` after an epoch that improves `monitor` (or after every epoch when
    `save_best_only` is false), through a temp file in the same folder and `os.replace`."""

    def __init__(self, path: Path, monitor: str, save_best_only: bool = True):
        super().__init__()
        self.path, self.monitor, self.save_best_only = Path(path), monitor, save_best_only
        self.mode = monitor_mode(monitor)
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = _float((logs or {}).get(self.monitor))
        if value is None or not math.isfinite(value):
            return
        if self._improves(value):
            self.best, self.best_epoch = value, epoch
        elif self.save_best_only:
            return
        save_atomic(self.path, lambda tmp: self.model.save(tmp))


class CallbackState(keras.callbacks.Callback):
    """Keeps the state of the checkpoint, early-stopping and LR-plateau callbacks across a resume."""

    FILE = "callback_state.json"
    WEIGHTS = "early_stopping_best.weights.h5"

    def __init__(self, backup_dir: Path, checkpoint=None, early_stopping=None, reduce_lr=None):
        super().__init__()
        self.dir = Path(backup_dir)
        self.checkpoint, self.early_stopping, self.reduce_lr = checkpoint, early_stopping, reduce_lr
        self._first = True
        self.restored_epoch: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first:
            return
        self._first = False
        path = self.dir / self.FILE
        if epoch == 0 or not path.is_file():
            return
        state = read_json(path)
        if state.get("epoch") != epoch:
            return  # interrupted between this file and Keras' backup: start the counters afresh
        if self.checkpoint is not None and state.get("checkpoint"):
            s = state["checkpoint"]
            self.checkpoint.best, self.checkpoint.best_epoch = s["best"], s["best_epoch"]
        es = self.early_stopping
        if es is not None and state.get("early_stopping"):
            s = state["early_stopping"]
            es.wait, es.best, es.best_epoch = s["wait"], s["best"], s["best_epoch"]
            weights = self.dir / self.WEIGHTS
            if es.restore_best_weights and weights.is_file():
                clone = keras.models.clone_model(self.model)
                clone.load_weights(weights)
                es.best_weights = clone.get_weights()
        rl = self.reduce_lr
        if rl is not None and state.get("reduce_lr"):
            s = state["reduce_lr"]
            rl.wait, rl.best, rl.cooldown_counter = s["wait"], s["best"], s["cooldown_counter"]
        self.restored_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.dir.mkdir(parents=True, exist_ok=True)
        state: dict = {"epoch": epoch + 1}
        if self.checkpoint is not None:
            state["checkpoint"] = {"best": _float(self.checkpoint.best), "best_epoch": self.checkpoint.best_epoch}
        es = self.early_stopping
        if es is not None:
            state["early_stopping"] = {"wait": es.wait, "best": _float(es.best), "best_epoch": es.best_epoch}
            if es.restore_best_weights and es.best_epoch == epoch:
                save_atomic(self.dir / self.WEIGHTS, lambda tmp: self.model.save_weights(tmp))
        rl = self.reduce_lr
        if rl is not None:
            state["reduce_lr"] = {"wait": rl.wait, "best": _float(rl.best), "cooldown_counter": rl.cooldown_counter}
        write_json(self.dir / self.FILE, state)


class StopAfterEpoch(keras.callbacks.Callback):
    """Test hook: raises KeyboardInterrupt after epoch `n` (1-based) has been fully recorded."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.n:
            raise KeyboardInterrupt


def stop_hook_from_env() -> StopAfterEpoch | None:
    value = os.environ.get(STOP_ENV, "").strip()
    return StopAfterEpoch(int(value)) if value.isdigit() and int(value) > 0 else None
