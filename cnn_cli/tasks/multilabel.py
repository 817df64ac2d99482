"""Multi-label: any number of labels per image (tags, attributes, the objects present), a multi-hot row per
example. The output layer is a sigmoid per label; the loss binary cross-entropy (with label smoothing; with
`class_weight`, a positive weight per label: the tool's own `cnn>WeightedBinaryCrossentropy`) or Keras' binary
focal cross-entropy; the metrics AUC (`multi_label=True`) and micro F1; a label is predicted when its score
reaches the label's threshold (0.5, a value of `train.thresholds`, or each label's F1-best on the validation
split with `train.thresholds: tuned`), kept in the run (labels.json)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cnn_cli.config.data import source_schema
from cnn_cli.config.train import focal_gamma
from cnn_cli.errors import ConfigError
from cnn_cli.tasks import calibration
from cnn_cli.tasks.base import NO_STATE, TargetState, Task

DEFAULT_THRESHOLD = 0.5
AGREEMENT = 0.999  # export verification: equal decisions on at least this share of the label decisions


def _sigmoid_outputs(scores: np.ndarray) -> np.ndarray:
    """Scores as they are when they are probabilities (a sigmoid head), else their sigmoid."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        return 1.0 / (1.0 + np.exp(-scores))
    return scores


def best_thresholds(outputs: np.ndarray, labels: np.ndarray) -> list[float]:
    """Each label's threshold that maximises its F1 on (`outputs`, `labels`): the midpoint between the score
    that decides and the next one down (0.5 for a label without positives)."""
    found = []
    for j in range(labels.shape[1]):
        y, s = labels[:, j].astype(bool), outputs[:, j]
        if not y.any() or y.all():
            found.append(DEFAULT_THRESHOLD)
            continue
        order = np.argsort(-s, kind="stable")
        ys, ss = y[order], s[order]
        tp = np.cumsum(ys)
        predicted = np.arange(1, len(ys) + 1)
        f1 = 2 * tp / (predicted + ys.sum())
        distinct = np.r_[ss[1:] != ss[:-1], True]  # a cut between different scores only
        f1 = np.where(distinct, f1, -1)
        k = int(np.argmax(f1))
        below = ss[k + 1] if k + 1 < len(ss) else 0.0
        found.append(float(np.clip((ss[k] + below) / 2, 1e-6, 1 - 1e-6)))
    return found


class Multilabel(Task):
    NAME = "multilabel"
    UNIT = "label"
    HEAD_ACTIVATION = "sigmoid"
    HEADS = ("sigmoid",)
    METRIC = "auc"
    MONITOR = "val_auc"
    MONITORS = ("val_loss", "val_auc", "val_f1", "loss", "auc", "f1")
    HISTORY_METRICS = ("auc", "f1")
    LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")
    REPORT_SECTIONS = ("labels", "pr_curves", "missed", "reliability", "inside")
    FIGURES = {"micro_f1": "micro F1", "mean_average_precision": "mAP"}
    SEVERAL = True

    # ------------------------------------------------------------ training

    def loss_name(self, config) -> str:
        return config.train.loss

    def loss(self, config, weights: np.ndarray | None = None):
        """Keras' binary (focal) cross-entropy with the config's label smoothing; with positive weights per label
        (`class_weight`), the tool's weighted binary cross-entropy."""
        import keras

        smoothing = config.train.label_smoothing
        if weights is not None:
            from cnn_cli.layers.custom.weighted_bce import WeightedBinaryCrossentropy

            return WeightedBinaryCrossentropy(pos_weight=[float(w) for w in weights], label_smoothing=smoothing)
        if config.train.loss == "binary_focal_crossentropy":  # alpha given: Keras' class balancing with it
            alpha = config.train.focal_alpha
            return keras.losses.BinaryFocalCrossentropy(
                apply_class_balancing=alpha is not None, alpha=0.25 if alpha is None else alpha,
                gamma=focal_gamma(config.train), label_smoothing=smoothing)
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)

    def loss_words(self, config) -> str:
        train = config.train
        words = "binary cross-entropy"
        if train.loss == "binary_focal_crossentropy":
            balance = f", alpha {train.focal_alpha:g}" if train.focal_alpha is not None else ""
            words = f"binary focal cross-entropy (gamma {focal_gamma(train):g}{balance})"
        if config.train.class_weight is not None:
            words += " with positive weights per label"
        smoothing = config.train.label_smoothing
        return f"{words} with label smoothing {smoothing:g}" if smoothing > 0 else words

    def metrics(self, config) -> list:
        import keras

        return [keras.metrics.AUC(multi_label=True, name="auc"),
                keras.metrics.F1Score(average="micro", threshold=DEFAULT_THRESHOLD, name="f1")]

    def one_hot(self, config) -> bool:
        return False  # the targets are rows already

    def encode_targets(self, labels: np.ndarray, num_classes: int, one_hot: bool) -> np.ndarray:
        return np.asarray(labels, dtype=np.float32)

    def targets(self, labels: np.ndarray, state: TargetState) -> np.ndarray:
        return np.asarray(labels, dtype=np.float32)

    def fit_state(self, labels: np.ndarray, config) -> TargetState:
        setting, k = config.train.thresholds, int(np.asarray(labels).shape[1])
        if isinstance(setting, list):
            return TargetState(thresholds=tuple(float(t) for t in setting))
        value = setting if isinstance(setting, float) else DEFAULT_THRESHOLD
        return TargetState(thresholds=(float(value),) * k)

    def tune(self, state: TargetState, outputs: np.ndarray, labels: np.ndarray, config) -> TargetState:
        if config.train.thresholds != "tuned" or outputs is None or not len(outputs):
            return state
        return dataclasses.replace(state, thresholds=tuple(best_thresholds(np.asarray(outputs), np.asarray(labels))))

    def counts(self, labels: np.ndarray, num_classes: int) -> tuple[int, ...]:
        return tuple(int(c) for c in (np.asarray(labels) > 0.5).sum(axis=0))

    def calibrate(self, state: TargetState, outputs: np.ndarray, labels: np.ndarray, config) -> TargetState:
        """One temperature shared by every label (per-label ones would overfit the rare labels' few positives)."""
        if config.train.calibrate != "temperature":
            return state
        return dataclasses.replace(state, temperature=calibration.fit_temperature(outputs, labels, "sigmoid"))

    def ece(self, y_true: np.ndarray, outputs: np.ndarray) -> float:
        """Over all label decisions: each score against whether the label is there."""
        return calibration.ece(*calibration.confidences(y_true, outputs, "sigmoid"))

    def check_config(self, config, source: str) -> None:
        setting = config.train.thresholds
        k = config.model.num_classes
        if isinstance(setting, list) and k is not None and len(setting) != k:
            raise ConfigError(source, "train.thresholds", f"expected one threshold per label ({k}), received "
                              f"{len(setting)}", setting)
        if isinstance(config.train.class_weight, dict):
            raise ConfigError(source, "train.class_weight", "expected balanced for multilabel (a positive weight "
                              "per label from the training counts)", config.train.class_weight)
        if setting == "tuned" and config.data is not None:
            data = config.data
            if not source_schema(data).own_validation and data.validation is None and data.validation_split == 0:
                raise ConfigError(source, "train.thresholds", "tuned needs a validation split to tune on "
                                  "(data.validation_split is 0)", setting)

    # ------------------------------------------------------------ reading a model's outputs

    def outputs(self, scores: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        """Each label's score, at the run's temperature when it was calibrated."""
        return calibration.sigmoid_at(_sigmoid_outputs(scores), state.temperature)

    def thresholds(self, state: TargetState, k: int) -> np.ndarray:
        values = state.thresholds if state.thresholds is not None and len(state.thresholds) == k else None
        return np.asarray(values if values is not None else [DEFAULT_THRESHOLD] * k, dtype=np.float64)

    def predicted(self, outputs: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        outputs = np.asarray(outputs)
        return (outputs >= self.thresholds(state, outputs.shape[-1])).astype(np.uint8)

    def mistakes(self, y_true, outputs, names, state=NO_STATE):
        """Every example whose predicted labels (scores at their thresholds) are not its labels; `true` and
        `predicted` list the labels joined by `;`, `wrong` counts the labels that differ (the most first)."""
        y, predicted = np.asarray(y_true).astype(bool), self.predicted(outputs, state).astype(bool)
        wrong = (y != predicted).sum(axis=1)
        order = [int(i) for i in np.argsort(-wrong, kind="stable") if wrong[i] > 0]

        def joined(row) -> str:
            return ";".join(names[j] for j in np.flatnonzero(row))

        return ["true", "predicted", "wrong"], [
            (i, {"true": joined(y[i]), "predicted": joined(predicted[i]), "wrong": int(wrong[i])}) for i in order]

    def per_class(self, y_true, y_pred, names, ids):
        from sklearn.metrics import precision_recall_fscore_support

        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
        rows = [{"name": names[i], "id": ids[i], "index": i, "precision": float(precision[i]),
                 "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])} for i in range(len(names))]
        return rows, np.zeros((0, 0), dtype=np.int64)

    def evaluate(self, y_true, outputs, state, names) -> dict:
        """micro and macro F1, mean average precision (over the labels with positives), subset accuracy, Hamming
        loss and each label's precision, recall, F1, average precision, support and threshold."""
        from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

        y_true = np.asarray(y_true, dtype=np.int64)
        predicted = self.predicted(outputs, state).astype(np.int64)
        thresholds = self.thresholds(state, y_true.shape[1])
        precision, recall, f1, support = precision_recall_fscore_support(y_true, predicted, zero_division=0)
        ap = [float(average_precision_score(y_true[:, j], outputs[:, j])) if y_true[:, j].any() else None
              for j in range(y_true.shape[1])]
        known = [a for a in ap if a is not None]
        per_label = [{"label": names[j], "precision": float(precision[j]), "recall": float(recall[j]),
                      "f1": float(f1[j]), "average_precision": ap[j], "support": int(support[j]),
                      "threshold": float(thresholds[j])} for j in range(y_true.shape[1])]
        return {
            "micro_f1": float(f1_score(y_true, predicted, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(y_true, predicted, average="macro", zero_division=0)),
            "mean_average_precision": float(np.mean(known)) if known else None,
            "subset_accuracy": float(np.mean(np.all(y_true == predicted, axis=1))) if len(y_true) else 0.0,
            "hamming_loss": float(np.mean(y_true != predicted)) if y_true.size else 0.0,
            "ece": self.ece(y_true, outputs),
            "per_label": per_label,
        }

    def evaluation_text(self, figures: dict) -> list[str]:
        def number(value):
            return "n/a" if value is None else f"{value:.4f}"

        ratio = figures.get("imbalance_ratio")
        imbalanced = calibration.is_imbalanced(ratio)
        lines = [f"Micro F1: {figures['micro_f1']:.4f}   Macro F1: {figures['macro_f1']:.4f}   "
                 f"mAP: {number(figures['mean_average_precision'])}",
                 f"Subset accuracy: {figures['subset_accuracy']:.4f}   Hamming loss: {figures['hamming_loss']:.4f}"]
        if imbalanced:  # the rare labels' figures lead
            lines[0] = (f"Macro F1: {figures['macro_f1']:.4f}   Micro F1: {figures['micro_f1']:.4f}   mAP: "
                        f"{number(figures['mean_average_precision'])}   (the labels are {ratio:.0f}x apart in frequency)")
        if figures.get("ece") is not None:
            before = figures.get("ece_before")
            lines.append(f"Calibration error (ECE over all label decisions, 15 bins): {figures['ece']:.4f}" + (
                f" at temperature {figures['temperature']:.3f} (before: {before:.4f})" if before is not None else ""))
        lines += ["", "Per label (worst F1 first):" if imbalanced else "Per label:"]
        rows = sorted(figures["per_label"], key=lambda r: (r["f1"], r["recall"])) if imbalanced else figures["per_label"]
        width = max([len("label"), *(len(str(r["label"])) for r in figures["per_label"])])
        lines.append(f"  {'label':<{width}}  precision  recall      f1      AP  support  threshold")
        for r in rows:
            lines.append(f"  {r['label']:<{width}}  {r['precision']:>9.4f}  {r['recall']:>6.4f}  {r['f1']:>6.4f}  "
                         f"{number(r['average_precision']):>6}  {r['support']:>7d}  {r['threshold']:>9.4f}")
        return lines

    def agreement(self, expected, got, state) -> dict:
        k = np.asarray(expected).shape[-1]
        same = self.predicted(self.outputs(expected), state) == self.predicted(self.outputs(got), state)
        value = float(np.mean(same)) if same.size else 1.0
        return {"measure": "equal label decisions", "value": value, "passed": value >= AGREEMENT - 1e-12,
                "rule": f"equal decisions on at least {AGREEMENT * 100:g}% of the {same.size} label decisions "
                        f"({k} labels, the run's thresholds)"}

    def prediction(self, outputs: np.ndarray, classes: list[tuple], top_k: int, state: TargetState = NO_STATE) -> dict:
        """`{"labels": [names above their thresholds], "scores": [{"name", "id", "index", "score", "threshold",
        "predicted"}]}`, the scores highest first."""
        thresholds = self.thresholds(state, len(classes))
        order = np.argsort(-outputs, kind="stable")
        scores = [{"name": classes[j][2], "id": classes[j][1], "index": int(j), "score": float(outputs[j]),
                   "threshold": float(thresholds[j]), "predicted": bool(outputs[j] >= thresholds[j])} for j in order]
        return {"labels": [s["name"] for s in scores if s["predicted"]], "scores": scores}

    def prediction_text(self, prediction: dict) -> str:
        chosen = [s for s in prediction["scores"] if s["predicted"]]
        if not chosen:
            best = prediction["scores"][0]
            return f"no label (highest: {best['name']} {best['score']:.4f})"
        return ", ".join(f"{s['name']} {s['score']:.4f}" for s in chosen)
