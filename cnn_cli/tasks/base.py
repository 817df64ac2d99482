"""What every task offers (`Task`). A task is what the model predicts for one image: one class among many
(`classification`), later several labels at once or numbers. Everything that depends on it asks the run's task
(`cnn_cli.tasks.of(config)`), so that a new task is one module of this package."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cnn_cli.errors import ConfigError


@dataclass(frozen=True)
class TargetState:
    """What a run keeps of its targets beyond the class map (labels.json): a multi-label run's decision
    thresholds (one per label), a regression run's standardisation (the training split's mean and standard
    deviation per target); for classification and multilabel, the `temperature` fitted on the validation split
    (`train.calibrate: temperature`: the probabilities' logits are divided by it) and the training split's
    examples per class or label (`train_counts`: how imbalanced the classes are). None: the task keeps none,
    or a run written before it did."""

    thresholds: tuple[float, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    temperature: float | None = None
    train_counts: tuple[int, ...] | None = None

    def to_json(self) -> dict:
        out = {"thresholds": self.thresholds, "target_mean": self.mean, "target_std": self.std}
        out = {k: [float(x) for x in v] for k, v in out.items() if v is not None}
        if self.temperature is not None:
            out["temperature"] = float(self.temperature)
        if self.train_counts is not None:
            out["train_counts"] = [int(c) for c in self.train_counts]
        return out

    @classmethod
    def from_json(cls, record) -> TargetState:
        def get(key):
            value = getattr(record, key, None) if not isinstance(record, dict) else record.get(key)
            return None if value is None else tuple(float(x) for x in value)

        def one(key):
            value = getattr(record, key, None) if not isinstance(record, dict) else record.get(key)
            return value

        temperature, counts = one("temperature"), one("train_counts")
        return cls(thresholds=get("thresholds"), mean=get("target_mean"), std=get("target_std"),
                   temperature=None if temperature is None else float(temperature),
                   train_counts=None if counts is None else tuple(int(c) for c in counts))


NO_STATE = TargetState()


class Task(ABC):
    """One kind of target. Class attributes:

    - `NAME`: its name (`task:` of a config, `tasks.lookup`);
    - `HEAD_ACTIVATION`: the activation of the model's output layer whose outputs `outputs` takes as they are
      (softmax for classification; sigmoid for multi-label, linear for regression);
    - `METRIC`: the headline metric, compiled for evaluation, reported as `val_<METRIC>` / `test_<METRIC>`;
    - `MONITOR`: the validation figure that says best (what early stopping would watch for the task);
    - `REPORT_SECTIONS`: the run page's sections over an evaluation that make sense for the task, in order
      (`cnn_cli.reports.run_page` offers "classes", "confusion", "confused", "hardest", "inside").

    Methods: the loss and metrics `compile` gets (`loss`, `loss_name`, `metrics`), the target encoding
    (`one_hot`, `encode_targets`), the model's scores as outputs (`outputs`, `predicted`), evaluation's
    per-class figures (`per_class`) and `cnn predict`'s entry and line (`prediction`, `prediction_text`).
    """

    NAME: ClassVar[str]
    HEAD_ACTIVATION: ClassVar[str]
    HEADS: ClassVar[tuple[str | None, ...]] = ()
    """The last layer's activations that agree with the task (`auto` always does: it becomes HEAD_ACTIVATION)."""
    METRIC: ClassVar[str]
    MONITOR: ClassVar[str]
    MONITORS: ClassVar[tuple[str, ...]] = ("val_loss", "loss")
    """What callbacks and stop_at may watch (the history's columns of the task's metrics, and the loss)."""
    HISTORY_METRICS: ClassVar[tuple[str, ...]] = ()
    """The compiled metrics' names as history.csv's columns (and `val_` ones)."""
    LOSSES: ClassVar[tuple[str, ...]] = ()
    """The `train.loss` values the task allows."""
    REPORT_SECTIONS: ClassVar[tuple[str, ...]] = ()
    FIGURES: ClassVar[dict[str, str]] = {}
    """Evaluation's figures that a comparison of runs shows (`cnn compare`), the headline first (the one it ranks
    by, in the direction `config.train.monitor_mode` says), each with its words: metrics.json's `val_<key>` and
    `test_<key>`."""
    BEST_FROM_HISTORY: ClassVar[bool] = False
    """Whether a comparison's validation figure is the best epoch's of history.csv (training logs the headline in
    evaluation's units: classification's accuracy), rather than metrics.json's `val_<headline>` of the final model
    (a regression's history is of standardised targets; a multi-label history's F1 is at 0.5, not the run's
    thresholds)."""
    TRAINING_UNITS: ClassVar[str] = ""
    """What training's logged figures (history.csv, the monitors, `stop_at`) are in, when not evaluation's own
    units (regression: the standardised targets)."""
    CURVES_NOTE: ClassVar[str] = ""
    """What the training curves' figures are, said under them when it is not plain (regression: standardised)."""
    SEVERAL: ClassVar[bool] = False
    COUNT_KEY: ClassVar[str] = "num_classes"
    """The model key that says how many outputs the model gives (`num_targets` for regression)."""
    UNIT: ClassVar[str] = "class"
    """What one output of the model is (class, label, target)."""
    """Whether the labels are one row per example (N, L) (multilabel, regression) rather than one index."""

    def __repr__(self) -> str:
        return f"<task {self.NAME}>"

    # ------------------------------------------------------------ training

    @abstractmethod
    def loss_name(self, config) -> str:
        """The name of the loss the model is trained with (what a compiled model.keras records)."""

    def loss(self, config) -> Any:
        """What `model.compile(loss=...)` gets: a Keras loss object or its name."""
        return self.loss_name(config)

    def loss_words(self, config) -> str:
        """What the loss figures of a run are, said beside them (training's, `cnn evaluate`'s, the report's)."""
        return self.loss_name(config)

    def metrics(self, config) -> list:
        """What `model.compile(metrics=...)` gets in training."""
        return list(config.train.metrics)

    @abstractmethod
    def one_hot(self, config) -> bool:
        """Whether the batches' targets are one vector per example (True) or one index (False)."""

    @abstractmethod
    def encode_targets(self, labels: np.ndarray, num_classes: int, one_hot: bool) -> np.ndarray:
        """The targets of a batch from the data's labels."""

    def fit_state(self, labels: np.ndarray, config) -> TargetState:
        """What the run keeps of the training split's targets `labels` (before `tune`)."""
        return NO_STATE

    def counts(self, labels: np.ndarray, num_classes: int) -> tuple[int, ...] | None:
        """The training split's examples per class (label) -- how imbalanced they are --; None: not counted."""
        return None

    def calibrate(self, state: TargetState, outputs: np.ndarray, labels: np.ndarray, config) -> TargetState:
        """The state with the temperature fitted on the validation split's `outputs` (`train.calibrate`)."""
        return state

    def ece(self, y_true: np.ndarray, outputs: np.ndarray) -> float | None:
        """The expected calibration error of `outputs` (15 equal bins); None: not a task of probabilities."""
        return None

    def tune(self, state: TargetState, outputs: np.ndarray, labels: np.ndarray, config) -> TargetState:
        """The state after training, from the validation split's `outputs` and `labels` (multilabel: thresholds)."""
        return state

    def targets(self, labels: np.ndarray, state: TargetState) -> np.ndarray:
        """The training targets of the data's labels (regression: standardised); classification's as they are."""
        return labels

    def check_outputs(self, shape: tuple, layer: str, path: str, count: int | None, source: str) -> None:
        """The model's output, `shape`, is one number per class (label, target) for `count` of them; else a
        ConfigError at `path` naming the last layer, `layer` (found before TensorFlow starts)."""
        if count is None or tuple(shape) == (count,):
            return
        got = shape[0] if len(shape) == 1 else list(shape)
        gives = f"{got} outputs" if len(shape) == 1 else f"an output of shape {got}"
        raise ConfigError(source, path, f"expected one output per {self.UNIT} (the last layer, {layer!r}, gives "
                          f"{gives}): model.{self.COUNT_KEY} = {count}", got)

    def check_config(self, config, source: str) -> None:
        """The task's own rules of a config (beyond losses, monitors and the head): ConfigError."""
        return None

    def evaluate(self, y_true: np.ndarray, outputs: np.ndarray, state: TargetState, names: list[str]) -> dict:
        """Evaluation's figures (`cnn evaluate --json`'s task keys) of `outputs` against `y_true`."""
        raise NotImplementedError

    def evaluation_text(self, figures: dict) -> list[str]:
        """`cnn evaluate`'s lines of the task's figures."""
        raise NotImplementedError

    def agreement(self, expected: np.ndarray, got: np.ndarray, state: TargetState) -> dict:
        """Export verification: how far an exported model's `got` outputs are from Keras' `expected`
        (`{"passed", "rule", "measure", "value"}`)."""
        raise NotImplementedError

    # ------------------------------------------------------------ reading a model's outputs

    @abstractmethod
    def outputs(self, scores: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        """The model's outputs (N, K) as the task reads them (classification: probabilities; multilabel: each
        label's score; regression: numbers in the data's units)."""

    @abstractmethod
    def predicted(self, outputs: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        """What the model predicts for each example, from `outputs`, in the labels' encoding."""

    @abstractmethod
    def mistakes(self, y_true: np.ndarray, outputs: np.ndarray, names: list[str],
                 state: TargetState = NO_STATE) -> tuple[list[str], list[tuple[int, dict]]]:
        """`cnn evaluate --mistakes`: the columns after `source` and the wrong predictions, by the task's own rule,
        as (position in the split, row of those columns), the worst first."""

    @abstractmethod
    def per_class(self, y_true: np.ndarray, y_pred: np.ndarray, names: list[str],
                  ids: list) -> tuple[list[dict], np.ndarray]:
        """Evaluation's per-class figures (one dict per class) and the matrix that goes with them."""

    @abstractmethod
    def prediction(self, outputs: np.ndarray, classes: list[tuple], top_k: int, state: TargetState = NO_STATE) -> dict:
        """`cnn predict`'s entry for one example's `outputs` (the keys it adds to the entry); `classes` are the
        class map's (index, id, name) entries."""

    @abstractmethod
    def prediction_text(self, prediction: dict) -> str:
        """What `cnn predict` prints after the input's name for one prediction entry."""
