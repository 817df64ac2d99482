"""The checks of a config against its task (`cnn_cli.tasks`): the loss the task allows, the monitors it has, the
last layer's activation (`auto` takes the task's; another must agree with it), `train.thresholds` (multilabel
only), and each task's own rules (`Task.check_config`: regression's flips, ...). Run with the config's own
checks, before any data is read or TensorFlow starts."""

from __future__ import annotations

from cnn_cli import tasks
from cnn_cli.config import Config
from cnn_cli.config.data import source_schema
from cnn_cli.config.train import FOCAL_LOSSES
from cnn_cli.errors import ConfigError

MONITORED = ("early_stopping", "reduce_lr_on_plateau", "checkpoint")  # the checkpoint follows early stopping


def check_task(config: Config, source: str) -> None:
    """The first disagreement between the config and its task: ConfigError."""
    task = tasks.of(config)
    train = config.train
    if task.LOSSES and train.loss not in task.LOSSES:
        raise ConfigError(source, "train.loss", f"expected a loss the {task.NAME} task allows: "
                          f"{', '.join(task.LOSSES)}", train.loss)
    for key in MONITORED:
        callback = getattr(train.callbacks, key)
        if callback is not None and callback.monitor not in task.MONITORS:
            raise ConfigError(source, f"train.callbacks.{key}.monitor", f"expected a monitor of the {task.NAME} "
                              f"task: {', '.join(task.MONITORS)}", callback.monitor)
    for key in train.stop_at or {}:
        if key not in task.MONITORS:
            raise ConfigError(source, f"train.stop_at.{key}", f"expected a metric of the {task.NAME} task: "
                              f"{', '.join(task.MONITORS)}", key)
    if train.thresholds is not None and task.NAME != "multilabel":
        raise ConfigError(source, "train.thresholds", f"only for task: multilabel (decision thresholds of labels); "
                          f"this config's task is {task.NAME}", train.thresholds)
    _check_head(config, task, source)
    _check_imbalance(config, task, source)
    task.check_config(config, source)


def _check_imbalance(config: Config, task, source: str) -> None:
    """`data.sampling` (classification and multilabel, not with `class_weight`), the focal keys (with a focal
    loss only) and `train.calibrate` (classification and multilabel, with a validation split)."""
    train, data = config.train, config.data
    sampling = data.sampling if data is not None else None
    if sampling is not None and task.NAME == "regression":
        raise ConfigError(source, "data.sampling", "only for classification and multilabel (it draws by class or "
                          "label frequency); this config's task is regression", sampling)
    if sampling is not None and train.class_weight is not None:
        raise ConfigError(source, "data.sampling", "not with train.class_weight: both make up for the classes' "
                          "sizes, together they count it twice; keep one of them", sampling)
    for key in ("focal_gamma", "focal_alpha"):
        if getattr(train, key) is not None and train.loss not in FOCAL_LOSSES:
            raise ConfigError(source, f"train.{key}", f"only with a focal loss ({' or '.join(FOCAL_LOSSES)}); "
                              f"train.loss is {train.loss}", getattr(train, key))
    if train.calibrate is None:
        return
    if task.NAME == "regression":
        raise ConfigError(source, "train.calibrate", "only for classification and multilabel (it scales "
                          "probabilities); this config's task is regression", train.calibrate)
    if data is not None and not source_schema(data).own_validation and data.validation is None \
            and data.validation_split == 0:
        raise ConfigError(source, "train.calibrate", "temperature needs a validation split to fit on "
                          "(data.validation_split is 0)", train.calibrate)


def _check_head(config: Config, task, source: str) -> None:
    """`activation: auto` on the last layer only; the last layer's activation agrees with the task's head."""
    layers = config.model.layers
    last = len(layers) - 1
    for index, layer in enumerate(layers):
        if getattr(layer, "activation", None) == "auto" and index != last:
            raise ConfigError(source, f"model.layers[{index}].activation", "auto is the task's head activation: the "
                              "last layer's only", "auto")
    layer = layers[last]
    if layer.type not in ("dense", "activation") or not task.HEADS:
        return
    activation = getattr(layer, "activation", None)
    if activation == "auto" or activation in task.HEADS:
        return
    raise ConfigError(source, f"model.layers[{last}].activation",
                      f"expected the {task.NAME} task's head, {task.HEAD_ACTIVATION} (or auto), since "
                      f"{_why(task.NAME)}", activation)


def _why(name: str) -> str:
    return {"classification": "one class per image takes a softmax over the classes",
            "multilabel": "each label is there or not on its own: a sigmoid per label (a softmax makes them compete)",
            "regression": "a number may be any value: a linear output"}.get(name, "the task says so")
