"""The Keras callbacks of a training run.

- `HistoryWriter`: writes `history.csv` after every epoch (atomically), so an interrupted run keeps its
  epochs and a resumed one appends without repeating any.
- `DivergenceGuard`: stops training at the first NaN or infinite loss.
- `AtomicCheckpoint`: ModelCheckpoint that saves to a temp file in the run folder, then `os.replace`s.
- `RunBackup`: the backup a resume starts from, written atomically as a whole generation per epoch (model
  and optimizer variables, epoch, and the state Keras' `BackupAndRestore` does not keep: the checkpoint's
  best value, EarlyStopping's and ReduceLROnPlateau's counters and best values, EarlyStopping's best
  weights), so a resumed run goes on, and stops, where an uninterrupted one would.
- `StopAfterEpoch`, `KillPoints`: test hooks, see `STOP_ENV` and `cnn_cli.training.files.KILL_ENV`.

Imported only by the trainer, after TensorFlow has been started.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path

from cnn_cli.numbers import to_float
from cnn_cli.tf_runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from cnn_cli.training.files import (  # noqa: E402
    KILL_ENV,
    TMP_PREFIX,
    fsync_dir,
    fsync_file,
    kill_point,
    read_json,
    remove_stale_temps,
    save_atomic,
    write_atomic,
)

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")

# Test-only hook: `CNN_TEST_STOP_AFTER_EPOCH=N` raises KeyboardInterrupt at the end of epoch N (1-based),
# after every other callback (history, checkpoint, backup) has run -- as if the user pressed Ctrl-C there.
STOP_ENV = "CNN_TEST_STOP_AFTER_EPOCH"


def monitor_mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


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
            value = to_float(logs.get(key))
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
        self.mode = monitor_mode(monitor)
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = to_float((logs or {}).get(self.monitor))
        if value is None or not math.isfinite(value):
            return
        if self._improves(value):
            self.best, self.best_epoch = value, epoch
        elif self.save_best_only:
            return
        save_atomic(self.path, lambda tmp: self.model.save(tmp), point="checkpoint_write")


class RunBackup(keras.callbacks.Callback):
    """The run's backup, in place of Keras' `BackupAndRestore` (whose two files, weights then metadata, are
    written in place one after the other: a kill between or during them leaves a torn or mismatched backup).

    After every epoch a whole generation is written into `backup/.tmp-epoch-NNNNNN/` -- the model's and
    optimizer's variables, the epoch number, the state of the checkpoint, early-stopping and LR-plateau
    callbacks (and early stopping's best weights) -- each file synced to disk, then the folder is renamed
    to `backup/epoch-NNNNNN` (the commit) and every generation but the last two is deleted. `on_train_begin`
    restores the newest generation that reads back, falling back to the previous one when it does not.
    An epoch whose loss diverged is not backed up. When early stopping has ended training, the generation
    says so and a resume goes straight to the final save.
    """

    PREFIX = "epoch-"
    WEIGHTS = "latest.weights.h5"
    META = "training_metadata.json"
    STATE = "callback_state.json"
    ES_WEIGHTS = "early_stopping_best.weights.h5"
    KEEP = 2

    def __init__(self, backup_dir: Path, checkpoint=None, early_stopping=None, reduce_lr=None, guard=None):
        super().__init__()
        self.dir = Path(backup_dir)
        self.checkpoint, self.early_stopping, self.reduce_lr, self.guard = checkpoint, early_stopping, reduce_lr, guard
        self.restored_epoch: int | None = None
        self.skipped: list[str] = []  # generations that did not read back

    def generations(self) -> list[Path]:
        """Committed generations, newest first."""
        if not self.dir.is_dir():
            return []
        found = [p for p in self.dir.iterdir() if p.is_dir() and p.name.startswith(self.PREFIX)
                 and p.name[len(self.PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.name[len(self.PREFIX):]), reverse=True)

    # ------------------------------------------------------------ restore

    def on_train_begin(self, logs=None):
        remove_stale_temps(self.dir)
        gens = self.generations()
        if not gens and (self.dir / self.META).is_file() and (self.dir / self.STATE).is_file():
            gens = [self.dir]  # a backup written by an earlier version: Keras' BackupAndRestore and CallbackState
        if not gens:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        fresh = [v.numpy() for v in self._variables()]
        for gen in gens:
            try:
                self._restore(gen)
                return
            except Exception as exc:  # a torn or corrupt generation: fall back to the previous one
                self.skipped.append(f"{gen.name}: {type(exc).__name__}: {exc}")
                print(f"Warning: backup {gen} cannot be read ({type(exc).__name__}); trying the previous one", flush=True)
        for var, value in zip(self._variables(), fresh):
            var.assign(value)  # none reads back: start afresh, from the initial weights

    def _variables(self) -> list:
        opt = self.model.optimizer
        return list(self.model.weights) + (list(opt.variables) if opt is not None else [])

    def _restore(self, gen: Path) -> None:
        meta = read_json(gen / self.META)
        state = read_json(gen / self.STATE)
        epoch = int(meta["epoch"])
        es = self.early_stopping
        best_weights = None
        if es is not None and es.restore_best_weights and (gen / self.ES_WEIGHTS).is_file():
            self.model.load_weights(gen / self.ES_WEIGHTS)
            best_weights = self.model.get_weights()
        self.model.load_weights(gen / self.WEIGHTS)
        if self.checkpoint is not None and state.get("checkpoint"):
            s = state["checkpoint"]
            self.checkpoint.best, self.checkpoint.best_epoch = _unjson(s["best"]), s["best_epoch"]
        if es is not None and state.get("early_stopping"):
            s = state["early_stopping"]
            es.wait, es.best, es.best_epoch = s["wait"], _unjson(s["best"]), s["best_epoch"]
            es.stopped_epoch = s.get("stopped_epoch", 0)
            if best_weights is not None:
                es.best_weights = best_weights
        rl = self.reduce_lr
        if rl is not None and state.get("reduce_lr"):
            s = state["reduce_lr"]
            rl.wait, rl.best, rl.cooldown_counter = s["wait"], _unjson(s["best"]), s["cooldown_counter"]
        self.restored_epoch = epoch
        # Early stopping had ended the run: go straight to the final save.
        self.model._initial_epoch = max(epoch, int(self.params.get("epochs") or epoch)) if meta.get("stopped") else epoch

    # ------------------------------------------------------------ save

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.diverged is not None:
            return  # never back up NaN weights
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.PREFIX}{epoch + 1:06d}"
        tmp = self.dir / f"{TMP_PREFIX}{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        previous = self.generations()
        self.model.save_weights(tmp / self.WEIGHTS)
        state: dict = {"epoch": epoch + 1}
        if self.checkpoint is not None:
            state["checkpoint"] = {"best": _json(self.checkpoint.best), "best_epoch": self.checkpoint.best_epoch}
        es = self.early_stopping
        if es is not None:
            state["early_stopping"] = {"wait": es.wait, "best": _json(es.best), "best_epoch": es.best_epoch,
                                       "stopped_epoch": es.stopped_epoch}
            if es.restore_best_weights and es.best_weights is not None:
                self._save_es_weights(tmp / self.ES_WEIGHTS, epoch, previous)
        rl = self.reduce_lr
        if rl is not None:
            state["reduce_lr"] = {"wait": rl.wait, "best": _json(rl.best), "cooldown_counter": rl.cooldown_counter}
        (tmp / self.STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        meta = {"epoch": epoch + 1, "batch": 0, "stopped": bool(self.model.stop_training)}
        (tmp / self.META).write_text(json.dumps(meta) + "\n", encoding="utf-8")
        for item in tmp.iterdir():
            fsync_file(item)
        fsync_dir(tmp)
        kill_point("backup_write")
        final = self.dir / name
        if final.exists():  # a redone epoch (its first backup did not read back)
            shutil.rmtree(final)
        os.rename(tmp, final)  # the commit
        fsync_dir(self.dir)
        for old in self.generations()[self.KEEP:]:
            shutil.rmtree(old, ignore_errors=True)

    def _save_es_weights(self, target: Path, epoch: int, previous: list[Path]) -> None:
        es = self.early_stopping
        if es.best_epoch == epoch:
            self.model.save_weights(target)
            return
        for gen in previous:
            if (gen / self.ES_WEIGHTS).is_file():
                shutil.copyfile(gen / self.ES_WEIGHTS, target)
                return
        current = self.model.get_weights()  # no earlier copy (e.g. it did not read back): write them out
        try:
            self.model.set_weights(es.best_weights)
            self.model.save_weights(target)
        finally:
            self.model.set_weights(current)


def _json(value):
    """A float for JSON: infinities as strings (JSON has none)."""
    value = to_float(value)
    return value if value is None or math.isfinite(value) else str(value)


def _unjson(value):
    return float(value) if isinstance(value, str) else value


class KillPoints(keras.callbacks.Callback):
    """Test hook: `CNN_TEST_KILL_AT=mid_epoch[:n]` SIGKILLs the process after the n-th training step call
    (steps_per_execution steps) -- inside an epoch, before its end (see `cnn_cli.training.files.KILL_ENV`)."""

    def on_train_batch_end(self, batch, logs=None):
        kill_point("mid_epoch")


def kill_hook_from_env() -> KillPoints | None:
    return KillPoints() if os.environ.get(KILL_ENV, "").startswith("mid_epoch") else None


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


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) during training, taken between steps rather than inside TensorFlow.

    Python raises KeyboardInterrupt wherever the signal lands, also while TensorFlow's C++ runtime is in
    the middle of a step, which can leave its heap corrupt (the process then aborts instead of saving). While
    `fit` runs, this callback's handler only takes note of the signal, and the next batch end raises
    KeyboardInterrupt in Python, where the run's own handling (run.json `interrupted`, exit 130, the last
    finished epoch's backup kept) follows. A second Ctrl-C interrupts at once.
    """

    def __init__(self):
        super().__init__()
        self.requested = False
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

    on_train_batch_end = on_test_batch_end = on_epoch_begin = on_epoch_end = _check
