"""The `train` section: optimizer, loss, batch size, epochs, callbacks and numerics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cnn_cli.config.phases import Freeze, Phase, fill_epochs
from cnn_cli.config.schedule import LrSchedule
from cnn_cli.config.section import Section
from cnn_cli.config.track import Track

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd", "adagrad", "adadelta", "adamax", "nadam")


class Optimizer(Section):
    """An optimizer and its arguments. A plain name (`optimizer: adam`) takes Keras' defaults."""

    name: Literal[OPTIMIZERS] = Field(description="The Keras optimizer.")  # type: ignore[valid-type]
    learning_rate: Annotated[float, Field(gt=0)] | Literal["auto"] | None = Field(
        None, description="The rate (Keras' default for the optimizer when not given), or auto: a learning-rate range "
        "test before training chooses it (the steepest descent of the loss; recorded in run.json as "
        "learning_rate_found); with a schedule, the rate found is its peak.")
    momentum: float | None = Field(None, ge=0, lt=1, description="sgd, rmsprop: momentum (Keras' default when not set).")
    nesterov: bool | None = Field(None, description="sgd: Nesterov momentum.")
    rho: float | None = Field(None, gt=0, lt=1, description="rmsprop, adadelta: decay of the moving average of squared gradients.")
    beta_1: float | None = Field(None, gt=0, lt=1, description="adam family: decay of the first-moment estimate.")
    beta_2: float | None = Field(None, gt=0, lt=1, description="adam family: decay of the second-moment estimate.")
    epsilon: float | None = Field(None, gt=0, description="The small constant added to denominators for numerical stability.")
    weight_decay: float | None = Field(None, ge=0, description="Decoupled weight decay applied by the optimizer (adamw's is 0.004 by default).")
    clipnorm: float | None = Field(None, gt=0, description="Each weight's gradient is clipped to this norm.")
    use_ema: bool | None = Field(
        None, description="Keep an exponential moving average of the weights; validation, the checkpoint, early "
        "stopping and the saved model see the averaged weights.")
    ema_momentum: float | None = Field(None, gt=0, lt=1, description="Weight of the old average at each step (Keras: 0.99).")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value):
        return {"name": value} if isinstance(value, str) else value

    def arguments(self) -> dict:
        if self.learning_rate == "auto":  # training replaces it with the rate found before any optimizer is made
            raise RuntimeError("learning_rate: auto reached an optimizer unresolved")
        return {k: v for k, v in self.model_dump(exclude={"name"}).items() if v is not None}


Monitor = Literal["val_loss", "val_accuracy", "loss", "accuracy", "val_auc", "val_f1", "auc", "f1",
                  "val_mae", "val_rmse", "mae", "rmse"]
"""Every task's monitors (each task allows its own: `cnn_cli.tasks`' `MONITORS`)."""
HIGHER_IS_BETTER = ("accuracy", "auc", "f1", "balanced_accuracy", "micro_f1", "macro_f1", "mean_average_precision",
                    "subset_accuracy", "r2")
"""The metrics and evaluation figures that improve upwards (every other one, a loss or an error, downwards)."""
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
          "binary_crossentropy", "binary_focal_crossentropy", "mse", "mae", "huber")
"""Every task's losses (each task allows its own: `cnn_cli.tasks`' `LOSSES`)."""
FOCAL_LOSSES = ("categorical_focal_crossentropy", "binary_focal_crossentropy")
FOCAL_GAMMA = 2.0  # Keras' default gamma of both focal losses


def focal_gamma(train) -> float:
    """The focal losses' gamma: the config's, else Keras' default."""
    return FOCAL_GAMMA if train.focal_gamma is None else float(train.focal_gamma)


def monitor_mode(monitor: str) -> Literal["min", "max"]:
    """Which way a monitored metric improves: accuracies, AUC and F1 up, losses and errors down (the one place
    that says so)."""
    return "max" if monitor.removeprefix("val_").removeprefix("test_").removeprefix("best_") in HIGHER_IS_BETTER \
        else "min"


def improves(monitor: str, value: float, best: float | None) -> bool:
    """Whether `value` of `monitor` is better than `best` (None: nothing yet)."""
    if best is None:
        return True
    return value > best if monitor_mode(monitor) == "max" else value < best


class Checkpoint(Section):
    enabled: bool = Field(True, description="Write best.keras, the best epoch's model by the monitor.")
    monitor: Monitor = Field(
        "val_loss", description="The metric best.keras is chosen by; default early stopping's monitor when "
        "early_stopping is set (so best.keras and the restored model.keras agree), else val_loss.",
    )
    save_best_only: bool = Field(True, description="Write best.keras only when the monitored metric improves (else every epoch).")


class EarlyStopping(Section):
    monitor: Monitor = Field("val_loss", description="The metric watched (the task's monitors: val_loss, val_accuracy, val_auc, val_f1, val_mae, val_rmse, ...).")
    patience: Annotated[int, Field(ge=0)] = Field(2, description="Epochs without improvement before training stops.")
    min_delta: float = Field(0.0, ge=0, description="The least change that counts as an improvement.")
    restore_best_weights: bool = Field(True, description="At the stop, put the best epoch's weights back in the model (model.keras then holds them).")


class ReduceLROnPlateau(Section):
    monitor: Monitor = Field("val_loss", description="The metric watched.")
    factor: float = Field(0.1, gt=0, lt=1, description="The learning rate is multiplied by this when the metric stalls.")
    patience: Annotated[int, Field(ge=0)] = Field(2, description="Epochs without improvement before the rate is lowered.")
    min_lr: float = Field(0.0, ge=0, description="The rate is never lowered below this.")


class TensorBoard(Section):
    enabled: bool = Field(True, description="Write TensorBoard logs into RUN_DIR/tensorboard/ (needs TensorFlow).")
    histogram_freq: Annotated[int, Field(ge=0)] = Field(0, description="Every N epochs, weight histograms (0: none).")


class Callbacks(Section):
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    early_stopping: EarlyStopping | None = None
    reduce_lr_on_plateau: ReduceLROnPlateau | None = None
    tensorboard: TensorBoard | None = None

    @model_validator(mode="before")
    @classmethod
    def _checkpoint_follows_early_stopping(cls, value):
        """checkpoint.monitor, when not given, is early stopping's monitor (when early stopping is set)."""
        if not isinstance(value, dict) or not isinstance(value.get("early_stopping"), dict):
            return value
        monitor = value["early_stopping"].get("monitor")
        checkpoint = value.get("checkpoint", {})
        if monitor is None or not isinstance(checkpoint, dict) or "monitor" in checkpoint:
            return value
        return {**value, "checkpoint": {**checkpoint, "monitor": monitor}}


ClassId = Annotated[int, Field(ge=0)] | str


class TrainConfig(Section):
    optimizer: Optimizer = Field(default_factory=lambda: Optimizer(name="rmsprop"))
    loss: Literal[LOSSES] = Field(  # type: ignore[valid-type]
        "sparse_categorical_crossentropy",
        description="The loss, one the task allows: classification categorical_crossentropy (one-hot labels) or "
        "sparse_categorical_crossentropy (class indices, the default) or categorical_focal_crossentropy; "
        "multilabel binary_crossentropy (the default) or binary_focal_crossentropy; regression mse (the default), "
        "mae or huber.",
    )
    focal_gamma: float | None = Field(
        None, ge=0, description="The focusing parameter of a focal loss (Keras' gamma): how much the well-classified "
        "examples are weighed down (0: plain cross-entropy; not given: 2, Keras' default). Only with a focal loss.")
    focal_alpha: float | None = Field(
        None, ge=0, le=1, description="The balancing weight of a focal loss (Keras' alpha): "
        "categorical_focal_crossentropy's weight of every class (Keras: 0.25); binary_focal_crossentropy's weight "
        "of the positives (negatives weigh 1 - alpha; not given: no balancing, as Keras). Only with a focal loss.")
    metrics: list[Literal["accuracy"]] = Field(default_factory=lambda: ["accuracy"], description="Metrics reported beside the loss (the task adds its own).")
    batch_size: Annotated[int, Field(gt=0)] = Field(32, description="Images per training step: the global batch, split over the replicas when distributed.")
    epochs: Annotated[int, Field(gt=0)] = Field(
        10, description="Epochs of the run; with phases, their sum (leave it out; --epochs N gives the last phase "
        "the rest).")
    steps_per_execution: Annotated[int, Field(gt=0)] = Field(
        32, description="Training steps run per call into TensorFlow: fewer Python round trips, same results."
    )
    jit_compile: Literal["auto"] | bool = Field(
        "auto", description="Compile the training step: true: XLA on TensorFlow and JAX, torch.compile on PyTorch "
        "(it needs a C++ compiler at run time and costs a warm-up at the start); false: run it op by op; auto: "
        "Keras' choice (XLA on JAX, off on PyTorch and on TensorFlow without a GPU). docs/backends.md says when "
        "compiling pays.")
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "auto",
        description="Numeric precision of the layers: auto picks mixed_bfloat16 or mixed_float16 where the hardware "
        "computes them fast, float32 elsewhere. The output softmax and the loss stay float32.",
    )
    deterministic: bool = Field(False, description="Turn on TensorFlow's op determinism (slower, repeatable).")
    callbacks: Callbacks = Field(default_factory=Callbacks)
    lr_schedule: LrSchedule | None = Field(
        None, description="Learning rate over the run (constant, step, exponential, cosine, one_cycle); its rate is "
        "the optimizer's learning_rate. Not with callbacks.reduce_lr_on_plateau.")
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="Label smoothing of the cross-entropy (the targets become one-hot by themselves).")
    class_weight: Literal["balanced"] | dict[ClassId, Annotated[float, Field(ge=0)]] | None = Field(
        None, description="Weight of each class's training examples in the loss: balanced (n / (classes x count), "
        "from the training counts) or a map from class id or name to weight (classes not named weigh 1).")
    thresholds: Literal["tuned"] | Annotated[float, Field(gt=0, lt=1)] | list[Annotated[float, Field(gt=0, lt=1)]] | None = Field(
        None, description="multilabel only: the score above which a label is predicted, one for every label, one "
        "per label, or tuned: each label's threshold chosen on the validation split to maximise its F1 (default "
        "0.5). Kept in the run; evaluate, predict, export and load_run use them.")
    calibrate: Literal["temperature"] | None = Field(
        None, description="After training, fit a temperature on the validation split that makes the probabilities "
        "honest (classification: the softmax's logits divided by it; multilabel: one temperature shared by every "
        "label's sigmoid). Kept in the run; predict, evaluate, report, export and load_run apply it.")
    stop_at: dict[Monitor, float] | None = Field(
        None, min_length=1, description="End the run at the first epoch where every metric given reaches its value "
        "(accuracies, AUC and F1 at least, losses and errors at most), e.g. {val_accuracy: 0.93}; a regression's mae "
        "and rmse are of the standardised targets (in the training split's standard deviations).")
    tta: Literal["none", "flip"] = Field(
        "none", description="Test-time augmentation of the final evaluation: flip also scores the average of each "
        "image's and its mirror's predictions (both figures reported). Wrong for digits and signs.")
    freeze: Freeze | None = Field(
        None, description="Layers that do not train, {until: LAYER} or {fraction: 0.8}; their batch norms run in "
        "inference mode. Not with phases (each phase has its own).")
    phases: list[Phase] | None = Field(
        None, min_length=1, description="The run in phases, one after the other, each with its epochs, freeze and "
        "learning rate (e.g. the head alone, then every layer at a lower rate); history.csv says each epoch's phase.")
    track: Track | None = Field(
        None, description="Where the run is also recorded besides its run directory: {mlflow: {tracking_uri, "
        "experiment}} (docs/tracking.md).")

    @model_validator(mode="before")
    @classmethod
    def _epochs_of_phases(cls, value):
        return fill_epochs(value)
