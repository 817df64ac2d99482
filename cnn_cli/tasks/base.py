"""What every task offers (`Task`). A task is what the model predicts for one image: one class among many
(`classification`), later several labels at once or numbers. Everything that depends on it asks the run's task
(`cnn_cli.tasks.of(config)`), so that a new task is one module of this package."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


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
    METRIC: ClassVar[str]
    MONITOR: ClassVar[str]
    REPORT_SECTIONS: ClassVar[tuple[str, ...]] = ()

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

    # ------------------------------------------------------------ reading a model's outputs

    @abstractmethod
    def outputs(self, scores: np.ndarray) -> np.ndarray:
        """The model's outputs (N, K) as the task reads them (classification: probabilities)."""

    @abstractmethod
    def predicted(self, outputs: np.ndarray) -> np.ndarray:
        """What the model predicts for each example, from `outputs`, in the labels' encoding."""

    @abstractmethod
    def per_class(self, y_true: np.ndarray, y_pred: np.ndarray, names: list[str],
                  ids: list) -> tuple[list[dict], np.ndarray]:
        """Evaluation's per-class figures (one dict per class) and the matrix that goes with them."""

    @abstractmethod
    def prediction(self, outputs: np.ndarray, classes: list[tuple], top_k: int) -> dict:
        """`cnn predict`'s entry for one example's `outputs` (the keys it adds to the entry); `classes` are the
        class map's (index, id, name) entries."""

    @abstractmethod
    def prediction_text(self, prediction: dict) -> str:
        """What `cnn predict` prints after the input's name for one prediction entry."""
