"""The training recipes' parts of a run that are not the optimizer, the batches or the loss (the task's:
`cnn_cli.tasks`): class weights, the weight average (EMA) in the callbacks, and the stops at a target or at
a time limit."""

from __future__ import annotations

import time
from collections.abc import Mapping

import keras
import numpy as np

from cnn_cli.config import Config
from cnn_cli.config.train import improves
from cnn_cli.errors import ConfigError
from cnn_cli.number_format import to_float


def class_weights(config: Config, y_train: np.ndarray, class_map, source: str) -> np.ndarray | None:
    """One weight per class index for `train.class_weight`: balanced, n / (classes x count) over the training
    labels (a class without examples weighs 0), or the map's by class id or name (others 1)."""
    setting = config.train.class_weight
    if setting is None:
        return None
    k = len(class_map)
    if setting == "balanced" and np.asarray(y_train).ndim == 2:  # multi-hot rows: a positive weight per label
        return positive_weights(np.asarray(y_train))
    if setting == "balanced":
        counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=k).astype(np.float64)
        weights = np.where(counts > 0, len(y_train) / (k * np.maximum(counts, 1)), 0.0)
        return weights.astype(np.float32)
    return _from_map(setting, class_map, source)


def positive_weights(rows: np.ndarray) -> np.ndarray:
    """A multi-label run's `class_weight: balanced`: each label's positive examples weigh negatives / positives
    of the training rows (1 for a label without positives or negatives), for the weighted binary cross-entropy."""
    positives = rows.sum(axis=0).astype(np.float64)
    negatives = len(rows) - positives
    return np.where((positives > 0) & (negatives > 0), negatives / np.maximum(positives, 1), 1.0).astype(np.float32)


def _from_map(setting: Mapping, class_map, source: str) -> np.ndarray:
    ids, names = [str(i) for i in class_map.ids], list(class_map.names)
    weights = np.ones(len(ids), dtype=np.float32)
    for key, value in setting.items():
        text = str(key)
        if text in ids:
            weights[ids.index(text)] = value
        elif text in names:
            weights[names.index(text)] = value
        else:
            raise ConfigError(source, f"train.class_weight.{key}",
                              f"not a class of the data; expected a class id or name: {', '.join(names)}", key)
    return weights


def weights_by_name(weights: np.ndarray | None, class_map) -> dict | None:
    return None if weights is None else {n: round(float(w), 6) for n, w in zip(class_map.names, weights)}


def exchange_ema(model) -> None:
    """Exchanges the model's weights with the optimizer's averages (Keras' SwapEMAWeights, called once)."""
    swap = keras.callbacks.SwapEMAWeights()
    swap.set_model(model)
    swap.on_test_begin()


class EmaAtStop(keras.callbacks.Callback):
    """With `use_ema`, `SwapEMAWeights(swap_on_epoch=True)` holds the averaged weights in the model after each
    epoch, so the checkpoint and early stopping see them; Keras makes them final only after the last planned
    epoch. When training stops sooner (early stopping, `stop_at`, `--time-limit`), this puts the averages back
    where `fit`'s finalizing reads them, so the saved model is the averaged one. Listed after the callbacks that
    stop training, before the backup (whose generation then holds the weights in their usual places)."""

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and epoch < self.params["epochs"] - 1:
            exchange_ema(self.model)


class StopAt(keras.callbacks.Callback):
    """Ends training at the first epoch where every `targets` metric reaches its value, or at the first epoch
    end past `time_limit` seconds from `started` (a `time.perf_counter()` value); `reached` and `timed_out`
    say when (1-based epoch, seconds since `started`)."""

    def __init__(self, targets: Mapping[str, float] | None, time_limit: float | None, started: float):
        super().__init__()
        self.targets, self.time_limit, self.started = dict(targets or {}), time_limit, started
        self.reached: dict | None = None
        self.timed_out: dict | None = None

    def _meets(self, key: str, value: float | None, target: float) -> bool:
        return value is not None and (value == target or improves(key, value, target))

    def on_epoch_end(self, epoch, logs=None):
        logs, seconds = logs or {}, round(time.perf_counter() - self.started, 3)
        if self.targets and self.reached is None and all(
                self._meets(k, to_float(logs.get(k)), t) for k, t in self.targets.items()):
            self.reached = {"epoch": epoch + 1, "seconds": seconds}
            self.model.stop_training = True
        if self.time_limit is not None and seconds > self.time_limit and not self.model.stop_training:
            self.timed_out = {"epoch": epoch + 1, "seconds": seconds}
            self.model.stop_training = True

    def record(self) -> dict:
        """metrics.json's account of the stops."""
        out: dict = {}
        if self.targets:
            out["stop_at"] = {"target": self.targets, "reached": self.reached is not None,
                              **(self.reached or {"epoch": None, "seconds": None})}
        if self.time_limit is not None:
            out["time_limit"] = {"seconds": self.time_limit, "stopped": self.timed_out is not None,
                                 **({"epoch": self.timed_out["epoch"]} if self.timed_out else {})}
        return out
