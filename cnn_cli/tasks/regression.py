"""Regression: one or more numbers per image (an age, an angle, a count). The output layer is linear, one unit
per target (`units: num_targets`); the targets are standardised with the training split's mean and standard
deviation, kept in the run (labels.json), so the model learns numbers of unit scale and every reader (predict,
evaluate, export's check, `load_run`) turns its outputs back into the data's units. Losses mse, mae, huber (of
the standardised targets); metrics MAE and RMSE (standardised in training's history; in units in evaluation)."""

from __future__ import annotations

import numpy as np

from cnn_cli.errors import ConfigError
from cnn_cli.tasks.base import NO_STATE, TargetState, Task

MAX_DIFFERENCE = 1e-3  # export verification: the largest difference, in target standard deviations


class Regression(Task):
    NAME = "regression"
    UNIT = "target"
    COUNT_KEY = "num_targets"
    HEAD_ACTIVATION = "linear"
    HEADS = ("linear", None)
    METRIC = "mae"
    MONITOR = "val_mae"
    MONITORS = ("val_loss", "val_mae", "val_rmse", "loss", "mae", "rmse")
    HISTORY_METRICS = ("mae", "rmse")
    LOSSES = ("mse", "mae", "huber")
    REPORT_SECTIONS = ("targets", "residuals", "worst", "inside")
    FIGURES = {"mae": "MAE", "r2": "R²"}
    SEVERAL = True
    TRAINING_UNITS = "of the standardised targets, in the training split's standard deviations"
    CURVES_NOTE = ("The loss, MAE and RMSE of training are of the standardised targets (in the training split's "
                   "standard deviations); the figures after training are in the data's units.")

    # ------------------------------------------------------------ training

    def loss_name(self, config) -> str:
        return config.train.loss

    def loss(self, config, weights=None):
        if config.train.loss == "huber":
            import keras

            return keras.losses.Huber()
        return config.train.loss

    def loss_words(self, config) -> str:
        words = {"mse": "mean squared error", "mae": "mean absolute error", "huber": "Huber loss"}[config.train.loss]
        return f"{words} of the standardised targets"

    def metrics(self, config) -> list:
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]

    def one_hot(self, config) -> bool:
        return False

    def encode_targets(self, labels: np.ndarray, num_classes: int, one_hot: bool) -> np.ndarray:
        return np.asarray(labels, dtype=np.float32)

    def fit_state(self, labels: np.ndarray, config) -> TargetState:
        labels = np.asarray(labels, dtype=np.float64)
        mean, std = labels.mean(axis=0), labels.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return TargetState(mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std))

    def _scale(self, state: TargetState, k: int) -> tuple[np.ndarray, np.ndarray]:
        mean = np.asarray(state.mean if state.mean is not None else [0.0] * k, dtype=np.float64)
        std = np.asarray(state.std if state.std is not None else [1.0] * k, dtype=np.float64)
        return mean, std

    def targets(self, labels: np.ndarray, state: TargetState) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.float64)
        mean, std = self._scale(state, labels.shape[-1])
        return ((labels - mean) / std).astype(np.float32)

    def check_config(self, config, source: str) -> None:
        data = config.data
        invariant = data is not None and data.flip_invariant
        augment = data.augment if data is not None else None
        if not invariant:
            for key in ("horizontal_flip", "vertical_flip"):
                if augment is not None and getattr(augment, key):
                    raise ConfigError(source, f"data.augment.{key}", "a flip can change a regression target (an "
                                      "angle changes sign, a position moves); set data.flip_invariant: true when "
                                      "the targets stay the same under a flip", True)
            if config.train.tta == "flip":
                raise ConfigError(source, "train.tta", "flip TTA averages an image's and its mirror's numbers, "
                                  "which differ when a flip changes the target; set data.flip_invariant: true "
                                  "when the targets stay the same under a flip", "flip")
        for key in ("label_smoothing",):
            if getattr(config.train, key):
                raise ConfigError(source, f"train.{key}", "not for regression (it smooths class labels)",
                                  getattr(config.train, key))
        if config.train.class_weight is not None:
            raise ConfigError(source, "train.class_weight", "not for regression (it weighs classes)",
                              config.train.class_weight)
        if augment is not None and (augment.mixup or augment.cutmix):
            raise ConfigError(source, "data.augment.mixup" if augment.mixup else "data.augment.cutmix",
                              "not for regression (a mixed image's number is not the mix of the numbers)",
                              augment.mixup or augment.cutmix)

    # ------------------------------------------------------------ reading a model's outputs

    def outputs(self, scores: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        mean, std = self._scale(state, scores.shape[-1])
        return scores * std + mean

    def predicted(self, outputs: np.ndarray, state: TargetState = NO_STATE) -> np.ndarray:
        return np.asarray(outputs, dtype=np.float64)

    def mistakes(self, y_true, outputs, names, state=NO_STATE):
        """Every example with a target predicted further off than one standard deviation of the training
        split's targets (labels.json's `target_std`: what predicting the mean would miss by, typically);
        `<target>_true`, `<target>_predicted` for each target and `error`, the largest absolute error in
        standard deviations (the largest first)."""
        y, p = np.asarray(y_true, dtype=np.float64), np.asarray(outputs, dtype=np.float64)
        _, std = self._scale(state, y.shape[-1])
        error = (np.abs(p - y) / std).max(axis=1) if len(y) else np.zeros(0)
        order = [int(i) for i in np.argsort(-error, kind="stable") if error[i] > 1.0]
        columns = [f"{n}_{kind}" for n in names for kind in ("true", "predicted")] + ["error"]
        return columns, [(i, {**{f"{n}_{kind}": round(float(v[i, j]), 6) for j, n in enumerate(names)
                                 for kind, v in (("true", y), ("predicted", p))},
                              "error": round(float(error[i]), 4)}) for i in order]

    def per_class(self, y_true, y_pred, names, ids):
        rows = [{"name": names[i], "id": ids[i], "index": i} for i in range(len(names))]
        return rows, np.zeros((0, 0), dtype=np.int64)

    def evaluate(self, y_true, outputs, state, names) -> dict:
        """MAE, RMSE and R² over every target (means of the targets'), and each target's, in the data's units."""
        y = np.asarray(y_true, dtype=np.float64)
        p = np.asarray(outputs, dtype=np.float64)
        error = p - y
        mae = np.abs(error).mean(axis=0) if len(y) else np.zeros(y.shape[1])
        rmse = np.sqrt((error ** 2).mean(axis=0)) if len(y) else np.zeros(y.shape[1])
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0) if len(y) else np.zeros(y.shape[1])
        residual = (error ** 2).sum(axis=0)
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
        return {"mae": float(mae.mean()), "rmse": float(rmse.mean()), "r2": float(r2.mean()),
                "per_target": [{"target": names[j], "mae": float(mae[j]), "rmse": float(rmse[j]), "r2": float(r2[j])}
                               for j in range(y.shape[1])]}

    def evaluation_text(self, figures: dict) -> list[str]:
        lines = [f"MAE: {figures['mae']:.4g}   RMSE: {figures['rmse']:.4g}   R²: {figures['r2']:.4f}", "",
                 "Per target (in the data's units):"]
        width = max([len("target"), *(len(str(r["target"])) for r in figures["per_target"])])
        lines.append(f"  {'target':<{width}}  {'MAE':>10}  {'RMSE':>10}  {'R²':>7}")
        for r in figures["per_target"]:
            lines.append(f"  {r['target']:<{width}}  {r['mae']:>10.4g}  {r['rmse']:>10.4g}  {r['r2']:>7.4f}")
        return lines

    def agreement(self, expected, got, state) -> dict:
        k = np.asarray(expected).shape[-1]
        _, std = self._scale(state, k)
        # both in the data's units: their difference in each target's standard deviations
        difference = float(np.max(np.abs(np.asarray(expected, np.float64) - np.asarray(got, np.float64)) / std)) \
            if np.asarray(expected).size else 0.0
        return {"measure": "largest difference (target standard deviations)", "value": difference,
                "passed": difference <= MAX_DIFFERENCE,
                "rule": f"largest difference at most {MAX_DIFFERENCE:g} target standard deviations"}

    def prediction(self, outputs: np.ndarray, classes: list[tuple], top_k: int, state: TargetState = NO_STATE) -> dict:
        """`{"values": [{"target", "value"}]}`: each target's number in the data's units."""
        return {"values": [{"target": classes[j][2], "value": float(outputs[j])} for j in range(len(classes))]}

    def prediction_text(self, prediction: dict) -> str:
        values = prediction["values"]
        if len(values) == 1:
            return f"{values[0]['value']:.4g}"
        return ", ".join(f"{v['target']} {v['value']:.4g}" for v in values)
