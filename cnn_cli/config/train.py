"""The `train` section: optimizer, loss, batch size, epochs, callbacks and numerics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cnn_cli.config.base import Section

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd", "adagrad", "adadelta", "adamax", "nadam")


class Optimizer(Section):
    """An optimizer and its arguments. A plain name (`optimizer: adam`) takes Keras' defaults."""

    name: Literal[OPTIMIZERS]  # type: ignore[valid-type]
    learning_rate: float | None = Field(None, gt=0)
    momentum: float | None = Field(None, ge=0, lt=1)
    nesterov: bool | None = None
    rho: float | None = Field(None, gt=0, lt=1)
    beta_1: float | None = Field(None, gt=0, lt=1)
    beta_2: float | None = Field(None, gt=0, lt=1)
    epsilon: float | None = Field(None, gt=0)
    weight_decay: float | None = Field(None, ge=0)
    clipnorm: float | None = Field(None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value):
        return {"name": value} if isinstance(value, str) else value

    def arguments(self) -> dict:
        return {k: v for k, v in self.model_dump(exclude={"name"}).items() if v is not None}


Monitor = Literal["val_loss", "val_accuracy", "loss", "accuracy"]


def monitor_mode(monitor: str) -> Literal["min", "max"]:
    """Which way a monitored metric improves: accuracies up, losses down (the one place that says so)."""
    return "max" if monitor.endswith("accuracy") else "min"


def improves(monitor: str, value: float, best: float | None) -> bool:
    """Whether `value` of `monitor` is better than `best` (None: nothing yet)."""
    if best is None:
        return True
    return value > best if monitor_mode(monitor) == "max" else value < best


class Checkpoint(Section):
    enabled: bool = True
    monitor: Monitor = "val_loss"
    save_best_only: bool = True


class EarlyStopping(Section):
    monitor: Monitor = "val_loss"
    patience: Annotated[int, Field(ge=0)] = 2
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True


class ReduceLROnPlateau(Section):
    monitor: Monitor = "val_loss"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: Annotated[int, Field(ge=0)] = 2
    min_lr: float = Field(0.0, ge=0)


class TensorBoard(Section):
    enabled: bool = True
    histogram_freq: Annotated[int, Field(ge=0)] = 0


class Callbacks(Section):
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    early_stopping: EarlyStopping | None = None
    reduce_lr_on_plateau: ReduceLROnPlateau | None = None
    tensorboard: TensorBoard | None = None


class TrainConfig(Section):
    optimizer: Optimizer = Field(default_factory=lambda: Optimizer(name="rmsprop"))
    loss: Literal["categorical_crossentropy", "sparse_categorical_crossentropy"] = Field(
        "sparse_categorical_crossentropy",
        description="categorical_crossentropy takes one-hot labels, sparse_ takes class indices.",
    )
    metrics: list[Literal["accuracy"]] = Field(default_factory=lambda: ["accuracy"])
    batch_size: Annotated[int, Field(gt=0)] = 32
    epochs: Annotated[int, Field(gt=0)] = 10
    steps_per_execution: Annotated[int, Field(gt=0)] = Field(
        32, description="Training steps run per call into TensorFlow: fewer Python round trips, same results."
    )
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "auto",
        description="Numeric precision of the layers: auto picks mixed_bfloat16 or mixed_float16 where the hardware "
        "computes them fast, float32 elsewhere. The output softmax and the loss stay float32.",
    )
    deterministic: bool = Field(False, description="Turn on TensorFlow's op determinism (slower, repeatable).")
    callbacks: Callbacks = Field(default_factory=Callbacks)
