"""`RunBackup`: the backup a resume starts from, written atomically as a whole generation per epoch (model
and optimizer variables, epoch, and the state Keras' `BackupAndRestore` does not keep: the checkpoint's best
value, EarlyStopping's and ReduceLROnPlateau's counters and best values, EarlyStopping's best weights), so a
resumed run goes on, and stops, where an uninterrupted one would."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import keras

from cnn_cli.number_format import to_float
from cnn_cli.rundir.atomic import TMP_PREFIX, fsync_dir, fsync_file, kill_point, read_json, remove_stale_temps


class RunBackup(keras.callbacks.Callback):
    """The run's backup, in place of Keras' `BackupAndRestore` (whose two files, weights then metadata, are
    written in place one after the other: a kill between or during them leaves a torn or mismatched backup).

    After every epoch a whole generation is written into `backup/.tmp-epoch-NNNNNN/` -- the model's and
    optimizer's variables, the epoch number, the state of the checkpoint, early-stopping and LR-plateau
    callbacks (and early stopping's best weights) -- each file synced to disk, then the folder is renamed
    to `backup/epoch-NNNNNN` (the commit) and every generation but the last two is deleted. `restore`, called
    before training, loads the newest generation that reads back, falling back to the previous one when it
    does not.
    An epoch whose loss diverged is not backed up. When early stopping has ended training, the generation
    says so and a resume goes straight to the final save.
    """

    PREFIX = "epoch-"
    WEIGHTS = "latest.weights.h5"
    META = "training_metadata.json"
    STATE = "callback_state.json"
    ES_WEIGHTS = "early_stopping_best.weights.h5"
    HISTORY = "history.csv"  # the run's history.csv as it was after the generation's epoch, under its name
    KEEP = 2

    def __init__(self, backup_dir: Path, checkpoint=None, early_stopping=None, reduce_lr=None, guard=None,
                 history: Path | None = None):
        super().__init__()
        self.dir = Path(backup_dir)
        self.history = Path(history) if history is not None else None  # history.csv, copied into each generation
        self.restored_from: Path | None = None  # the generation `restore` read
        self.checkpoint, self.early_stopping, self.reduce_lr, self.guard = checkpoint, early_stopping, reduce_lr, guard
        self.restored_epoch: int | None = None
        self.extend = False  # restoring for an extension: early stopping's end is not the run's end
        self.skipped: list[str] = []  # generations that did not read back
        self._pending: dict | None = None  # callback counters read by `restore`, set in `on_train_begin`
        self._prepare = None  # `restore`'s `prepare`

    def generations(self) -> list[Path]:
        """Committed generations, newest first."""
        if not self.dir.is_dir():
            return []
        found = [p for p in self.dir.iterdir() if p.is_dir() and p.name.startswith(self.PREFIX)
                 and p.name[len(self.PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.name[len(self.PREFIX):]), reverse=True)

    # ------------------------------------------------------------ restore

    def restore(self, model, epochs: int, extend: bool = False, prepare=None) -> int:
        """Before training: loads the newest generation that reads back into `model` (weights and optimizer
        state) and returns the epoch to start from, for `fit(initial_epoch=...)` -- 0 without a backup, `epochs`
        when early stopping had ended the run (unless the run is being extended: `extend`, which goes on from
        the last epoch with early stopping's counters as they were). The callbacks' counters are set in
        `on_train_begin` (Keras' callbacks reset theirs there). `prepare(epochs_done)`, when given, compiles the
        model as it was when a generation of `epochs_done` epochs was written (its phase's trainable layers and
        optimizer), before that generation is read."""
        self.set_model(model)
        self.extend = extend
        self._pending = None
        self._prepare = prepare
        remove_stale_temps(self.dir)
        gens = self.generations()
        if not gens and (self.dir / self.META).is_file() and (self.dir / self.STATE).is_file():
            gens = [self.dir]  # a backup written by an earlier version: Keras' BackupAndRestore and CallbackState
        if not gens:
            return 0
        self._build_optimizer()
        fresh = [v.numpy() for v in self._variables()]
        for gen in gens:
            try:
                return self._restore(gen, epochs)
            except Exception as exc:  # a torn or corrupt generation: fall back to the previous one
                self.skipped.append(f"{gen.name}: {type(exc).__name__}: {exc}")
                print(f"Warning: backup {gen} cannot be read ({type(exc).__name__}); trying the previous one", flush=True)
        if prepare is not None:
            prepare(0)  # the first phase's compile: its optimizer's variables are the ones `fresh` holds
            self._build_optimizer()
        for var, value in zip(self._variables(), fresh):
            var.assign(value)  # none reads back: start afresh, from the initial weights
        return 0

    def _build_optimizer(self) -> None:
        opt = self.model.optimizer
        if opt is not None and not opt.built:
            opt.build(self.model.trainable_variables)

    def _variables(self) -> list:
        opt = self.model.optimizer
        return list(self.model.weights) + (list(opt.variables) if opt is not None else [])

    def _restore(self, gen: Path, epochs: int) -> int:
        meta = read_json(gen / self.META)
        state = read_json(gen / self.STATE)
        epoch = int(meta["epoch"])
        if self._prepare is not None:
            self._prepare(epoch)
            self._build_optimizer()
        pending: dict = {}
        es = self.early_stopping
        if es is not None and es.restore_best_weights and (gen / self.ES_WEIGHTS).is_file():
            self.model.load_weights(gen / self.ES_WEIGHTS)
            pending["es_best_weights"] = self.model.get_weights()
        self.model.load_weights(gen / self.WEIGHTS)
        if self.checkpoint is not None and state.get("checkpoint"):
            s = state["checkpoint"]
            pending["checkpoint"] = {"best": _unjson(s["best"]), "best_epoch": s["best_epoch"]}
        if es is not None and state.get("early_stopping"):
            s = state["early_stopping"]
            pending["early_stopping"] = {"wait": s["wait"], "best": _unjson(s["best"]), "best_epoch": s["best_epoch"],
                                         "stopped_epoch": 0 if self.extend else s.get("stopped_epoch", 0)}
        if self.reduce_lr is not None and state.get("reduce_lr"):
            s = state["reduce_lr"]
            pending["reduce_lr"] = {"wait": s["wait"], "best": _unjson(s["best"]), "cooldown_counter": s["cooldown_counter"]}
        self._pending = pending
        self.restored_epoch, self.restored_from = epoch, gen
        if meta.get("stopped") and not self.extend:
            return max(epoch, epochs)  # early stopping had ended the run
        return epoch

    def on_train_begin(self, logs=None):
        """The restored callbacks' counters, after those callbacks have reset them (they are listed before)."""
        pending, self._pending = self._pending or {}, None
        for name, target in (("checkpoint", self.checkpoint), ("early_stopping", self.early_stopping),
                             ("reduce_lr", self.reduce_lr)):
            for key, value in pending.get(name, {}).items():
                setattr(target, key, value)
        if "es_best_weights" in pending and "early_stopping" in pending:
            self.early_stopping.best_weights = pending["es_best_weights"]

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
        if self.history is not None and self.history.is_file():  # written before this callback runs
            shutil.copyfile(self.history, tmp / self.HISTORY)
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

    def history_copy(self) -> Path | None:
        """The restored generation's copy of history.csv (generations written before it was kept have none)."""
        if self.restored_from is None or not (self.restored_from / self.HISTORY).is_file():
            return None
        return self.restored_from / self.HISTORY

    def keep_last(self) -> None:
        """A complete run keeps only its last epoch's generation (weights and optimizer state, about three times
        the weights' size with Adam): enough to extend the run with `--resume RUN_DIR --epochs N`."""
        for old in self.generations()[1:]:
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
