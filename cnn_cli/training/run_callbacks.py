"""The callbacks of one run, made from the config's `train.callbacks`, in the order they must run: the
epoch seeds first, then history (and a tracked run's MLflow callback, which logs history's row), divergence
guard, the swap to the averaged weights (`use_ema`: what the checkpoint and early stopping then see),
checkpoint, early stopping, LR plateau, the stops at a target or time limit, the averages put back when
training stops early, TensorBoard, the backup (after the callbacks whose counters it saves), and the test-only
fault hooks last."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from cnn_cli import faults, rundir
from cnn_cli.config import Config
from cnn_cli.config.train import monitor_mode
from cnn_cli.data.pipeline import TrainingBatches
from cnn_cli.training import callbacks
from cnn_cli.training.backup import RunBackup
from cnn_cli.training.epoch_seeds import EpochSeeds
from cnn_cli.training.recipe import EmaAtStop, StopAt
from cnn_cli.training.tracking import UNTRACKED, Untracked


@dataclass
class RunCallbacks:
    history: callbacks.HistoryWriter
    guard: callbacks.DivergenceGuard
    backup: RunBackup
    checkpoint: callbacks.AtomicCheckpoint | None = None
    early: keras.callbacks.EarlyStopping | None = None
    stop: StopAt | None = None
    listed: list = field(default_factory=list)

    @property
    def monitor(self) -> str | None:
        """The metric the run's best epoch is chosen by (checkpoint's, else early stopping's), if any."""
        source = self.checkpoint or self.early
        return source.monitor if source is not None else None

    @property
    def early_stopped(self) -> bool:
        return bool(self.early is not None and self.early.stopped_epoch > 0)


def make_callbacks(config: Config, run_dir: rundir.RunDir, batches: TrainingBatches, *, started: float,
                   time_limit: float | None = None, tracker: Untracked = UNTRACKED) -> RunCallbacks:
    """`started`: the run's start (`time.perf_counter()`), from which stop_at and `time_limit` count seconds;
    `tracker`: the run's MLflow run, whose callback logs each history.csv row as soon as it is written."""
    cb = config.train.callbacks
    history, guard = callbacks.HistoryWriter(run_dir.history), callbacks.DivergenceGuard()
    listed: list = [EpochSeeds(batches), history, *tracker.callbacks(history), guard]
    ema = bool(config.train.optimizer.use_ema)
    if ema:
        listed.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    checkpoint = early = reduce_lr = None
    if cb.checkpoint.enabled:
        checkpoint = callbacks.AtomicCheckpoint(run_dir.best_path, cb.checkpoint.monitor, cb.checkpoint.save_best_only)
        listed.append(checkpoint)
    if cb.early_stopping is not None:
        es = cb.early_stopping
        early = keras.callbacks.EarlyStopping(
            monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights, mode=monitor_mode(es.monitor), verbose=0,
        )
        listed.append(early)
    if cb.reduce_lr_on_plateau is not None:
        rl = cb.reduce_lr_on_plateau
        reduce_lr = keras.callbacks.ReduceLROnPlateau(
            monitor=rl.monitor, factor=rl.factor, patience=rl.patience, min_lr=rl.min_lr,
            mode=monitor_mode(rl.monitor), verbose=1,
        )
        listed.append(reduce_lr)
    stop = None
    if config.train.stop_at or time_limit is not None:
        stop = StopAt(config.train.stop_at, time_limit, started)
        listed.append(stop)
    if ema:
        listed.append(EmaAtStop())
    if cb.tensorboard is not None and cb.tensorboard.enabled:
        listed.append(keras.callbacks.TensorBoard(log_dir=str(run_dir.tensorboard_path),
                                                  histogram_freq=cb.tensorboard.histogram_freq))
    # The backup a resume starts from: one atomic generation per epoch, the last two kept (see training/backup.py).
    backup = RunBackup(run_dir.backup_path, checkpoint, early, reduce_lr, guard, history=run_dir.history_path)
    listed.append(backup)
    if faults.active():  # test-only hooks, after every other callback
        listed.append(callbacks.FaultHooks())
    return RunCallbacks(history=history, guard=guard, backup=backup, checkpoint=checkpoint, early=early,
                        stop=stop, listed=listed)
