"""Classification: one class per image. The output layer is a softmax over the classes; the loss is
(sparse) categorical cross-entropy, with label smoothing on one-hot targets, or Keras' categorical focal
cross-entropy; the metric is accuracy; evaluation
gives each class's precision, recall, F1 and support and the confusion matrix; `cnn predict` lists the top-k
class names with their probabilities."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cnn_cli.config.train import focal_gamma
from cnn_cli.errors import ConfigError
from cnn_cli.tasks import calibration
from cnn_cli.tasks.base import NO_STATE, TargetState, Task

ONE_HOT_LOSS = "categorical_crossentropy"
FOCAL_LOSS = "categorical_focal_crossentropy"
ONE_HOT_LOSSES = frozenset({ONE_HOT_LOSS, FOCAL_LOSS})


def target_loss(config) -> str:
    """The loss the model is trained with: the config's, or categorical cross-entropy on one-hot targets when
    label smoothing, mixup or cutmix need them (the tool switches by itself; evaluation follows); the focal
    loss takes one-hot targets always."""
    train, augment = config.train, (config.data.augment if config.data is not None else None)
    if train.loss == FOCAL_LOSS:
        return FOCAL_LOSS
    mixing = augment is not None and (augment.mixup > 0 or augment.cutmix > 0)
    return ONE_HOT_LOSS if (train.label_smoothing > 0 or mixing) else train.loss


def loss_words(config) -> str:
    """What every loss figure of a run is (training's, `cnn evaluate`'s, `cnn report`'s), said beside it: the
    cross-entropy the model trained with, label smoothing included."""
    train = config.train
    smoothing = train.label_smoothing
    words = "cross-entropy"
    if train.loss == FOCAL_LOSS:
        words = f"focal cross-entropy (gamma {focal_gamma(train):g}, alpha {focal_alpha(config):g})"
    return f"{words} with label smoothing {smoothing:g}" if smoothing > 0 else words


def focal_alpha(config) -> float:
    """categorical_focal_crossentropy's alpha: the config's, else Keras' default (0.25)."""
    return 0.25 if config.train.focal_alpha is None else float(config.train.focal_alpha)


def one_hot_for(loss: str) -> bool:
    """Whether the loss takes one-hot labels (categorical_crossentropy) rather than class indices."""
    return loss in ONE_HOT_LOSSES


def as_probabilities(scores: np.ndarray) -> np.ndarray:
    """The model's outputs when they are probabilities already (a softmax layer), else their softmax."""
    if scores.size and np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def class_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], ids: list) -> tuple[list[dict], np.ndarray]:
    """Per-class precision, recall, F1 and support (scikit-learn; 0 where undefined), and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0,
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    rows = [
        {"name": names[i], "id": _plain(ids[i]), "index": i, "precision": float(precision[i]), "recall": float(recall[i]),
         "f1": float(f1[i]), "support": int(support[i])}
        for i in labels
    ]
    return rows, matrix


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Classification(Task):
    NAME = "classification"
    HEAD_ACTIVATION = "softmax"
    HEADS = ("softmax", "linear", None)  # linear: logits, read through a softmax
    METRIC = "accuracy"
    MONITOR = "val_accuracy"
    MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
    HISTORY_METRICS = ("accuracy",)
    LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", FOCAL_LOSS)
    REPORT_SECTIONS = ("classes", "confusion", "confused", "hardest", "reliability", "inside")
    FIGURES = {"accuracy": "accuracy"}
    BEST_FROM_HISTORY = True

    def loss_name(self, config) -> str:
        return target_loss(config)

    def loss(self, config):
        """The config's loss name, categorical cross-entropy with its label smoothing, or Keras' categorical focal
        cross-entropy with the config's gamma, alpha and label smoothing."""
        if config.train.loss == FOCAL_LOSS:
            import keras

            return keras.losses.CategoricalFocalCrossentropy(alpha=focal_alpha(config), gamma=focal_gamma(config.train),
                                                             label_smoothing=config.train.label_smoothing)
        if config.train.label_smoothing > 0:
            import keras

            return keras.losses.CategoricalCrossentropy(label_smoothing=config.train.label_smoothing)
        return target_loss(config)

    def loss_words(self, config) -> str:
        return loss_words(config)

    def one_hot(self, config) -> bool:
        return one_hot_for(target_loss(config))

    def encode_targets(self, labels: np.ndarray, num_classes: int, one_hot: bool) -> np.ndarray:
        """Class indices as they are, or one-hot rows (float32)."""
        return np.eye(num_classes, dtype=np.float32)[labels] if one_hot else labels

    def check_config(self, config, source: str) -> None:
        if config.model.num_classes is not None and config.model.num_classes < 2:
            raise ConfigError(source, "model.num_classes", "expected at least 2 classes for classification (one "
                              "label per image that may be there or not is task: multilabel)", config.model.num_classes)

    def counts(self, labels: np.ndarray, num_classes: int) -> tuple[int, ...]:
        return tuple(int(c) for c in np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes))

    def calibrate(self, state: TargetState, outputs: np.ndarray, labels: np.ndarray, config) -> TargetState:
        if config.train.calibrate != "temperature":
            return state
        return dataclasses.replace(state, temperature=calibration.fit_temperature(outputs, labels, "softmax"))

    def ece(self, y_true: np.ndarray, outputs: np.ndarray) -> float:
        return calibration.ece(*calibration.confidences(y_true, outputs, "softmax"))

    def evaluate(self, y_true, outputs, state, names) -> dict:
        """Balanced accuracy (the mean recall of the classes), macro F1 and the expected calibration error,
        beside the per-class figures."""
        from sklearn.metrics import f1_score, recall_score

        predicted = self.predicted(outputs)
        labels = list(range(len(names)))
        present = sorted(set(np.asarray(y_true).tolist()))
        return {"balanced_accuracy": float(recall_score(y_true, predicted, labels=present, average="macro",
                                                        zero_division=0)) if present else 0.0,
                "macro_f1": float(f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
                "ece": self.ece(y_true, outputs)}

    def agreement(self, expected, got, state) -> dict:
        same = float(np.mean(expected.argmax(axis=1) == got.argmax(axis=1))) if len(expected) else 1.0
        return {"measure": "top-1 agreement", "value": same}

    def outputs(self, scores: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        """The probabilities, at the run's temperature when it was calibrated (probabilities given again are
        only scaled by it)."""
        return calibration.softmax_at(as_probabilities(scores), state.temperature)

    def predicted(self, outputs: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        return outputs.argmax(axis=1).astype(np.int32)

    def mistakes(self, y_true, outputs, names, state=NO_STATE):
        """Every example whose predicted class (the highest probability) is not its own; `score`: the predicted
        class's probability. The most confident first."""
        predicted = np.asarray(outputs).argmax(axis=1)
        wrong = np.flatnonzero(predicted != np.asarray(y_true))
        score = np.asarray(outputs)[wrong, predicted[wrong]]
        order = wrong[np.argsort(-score, kind="stable")]
        return ["true", "predicted", "score"], [
            (int(i), {"true": names[int(y_true[i])], "predicted": names[int(predicted[i])],
                      "score": round(float(outputs[i, predicted[i]]), 6)}) for i in order]

    def per_class(self, y_true, y_pred, names, ids):
        return class_metrics(y_true, y_pred, names, ids)

    def prediction(self, outputs: np.ndarray, classes: list[tuple], top_k: int, state: TargetState = NO_STATE) -> dict:
        """`{"top": [{"name", "id", "index", "probability"}]}`, the `top_k` most probable classes first."""
        k = max(1, min(int(top_k), len(classes)))
        order = np.argsort(-outputs, kind="stable")[:k]
        return {"top": [{"name": classes[j][2], "id": classes[j][1], "index": int(j),
                         "probability": float(outputs[j])} for j in order]}

    def prediction_text(self, prediction: dict) -> str:
        return ", ".join(f"{t['name']} {t['probability']:.4f}" for t in prediction["top"])
