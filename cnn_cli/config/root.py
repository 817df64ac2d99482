"""The whole config: `name`, `seed`, and the `model`, `data`, `train` and `distribute` sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from cnn_cli.config.data import DataConfig
from cnn_cli.config.distribute import DistributeConfig
from cnn_cli.config.model import ModelConfig
from cnn_cli.config.section import Section
from cnn_cli.config.train import TrainConfig
from cnn_cli.errors import ConfigError, ConfigErrors


def given_by(path: str, given) -> str | None:
    """The flag of the last override (`config.overrides.Override`) that gave the value at the dotted `path`: one
    set at or above it, else, for a whole model layer, one that changed a key of it; None: none did."""
    for override in reversed(given):
        if path and override.covers(path):
            return override.flag
    for override in reversed(given):
        if path and path.startswith("model.") and override.key.startswith(path + "."):
            return override.flag
    return None

TASKS = ("classification", "multilabel", "regression")
"""The tasks a config may name (`cnn_cli.tasks`' modules; `tests/test_task_registry.py` checks they agree)."""
DEFAULT_LOSS = {"classification": "sparse_categorical_crossentropy", "multilabel": "binary_crossentropy",
                "regression": "mse"}
"""The loss of a config that names none, by task (each task's module says which losses it allows)."""


class Config(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Name of the experiment; names run folders.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed for Python, NumPy and TensorFlow "
                             "(0 to 2**32 - 1, as NumPy takes).")
    model: ModelConfig
    data: DataConfig | None = None
    train: TrainConfig = Field(default_factory=TrainConfig)
    distribute: DistributeConfig = Field(default_factory=DistributeConfig)
    task: Literal[TASKS] | None = Field(  # type: ignore[valid-type]
        None,
        description="What the model predicts for an image: one class among many (classification), any number of "
        "labels at once (multilabel: a sigmoid per label), or one or more numbers (regression: a linear output "
        "per target). Sets the head's activation (activation: auto), the losses allowed, the metrics, the "
        "monitors and what evaluate, predict and the report say. Not given: classification.")
    # Where the values came from, recorded by the loader: the file (or what stands for it) and the command
    # line's overrides that went into it, so that a check made later names the flag that set a value (`origin`).
    _source: str = PrivateAttr(default="<config file>")
    _given: tuple = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _task_loss(cls, value):
        """`train.loss`, when not given, is the task's default (classification keeps its own)."""
        if not isinstance(value, dict) or value.get("task") in (None, "classification"):
            return value
        default = DEFAULT_LOSS.get(value["task"])
        train = value.get("train", {})
        if default is None or not isinstance(train, dict) or "loss" in train:
            return value
        return {**value, "train": {**train, "loss": default}}

    @property
    def outputs(self) -> int | None:
        """The model's output count the config states: `model.num_targets` for regression, else
        `model.num_classes` (None: the data says)."""
        return self.model.num_targets if self.task == "regression" else self.model.num_classes

    def origin(self, path: str) -> str:
        """What gave the value at the dotted `path`: the flag of the last override that set it (`--set`,
        `--epochs`...), else the config's file. Copies (`resolved`) keep it."""
        return given_by(path, self._given) or self._source

    def blame(self, error: ConfigError) -> ConfigError:
        """`error` (or each of `ConfigErrors`) named after what gave the value it is about (`origin`)."""
        if isinstance(error, ConfigErrors):
            return ConfigErrors.of([self.blame(one) for one in error.errors])
        source = self.origin(error.path)
        return error.from_source(source) if source != self._source else error

    def with_origin(self, source: str, given: tuple = ()) -> Config:
        """This config, recording that it came from `source` with the overrides `given` (the loader's)."""
        self._source, self._given = source, tuple(given)
        return self

    def resolved(self, *, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None,
                 seed: int | None = None) -> Config:
        """A frozen copy with what the data and the run decided: the model's input shape and class count (a
        regression's: `num_targets`), the seed. A value left None keeps the config's own."""
        count = "num_targets" if self.task == "regression" else "num_classes"  # what the data counts
        model = {k: v for k, v in (("input_shape", input_shape), (count, num_classes)) if v is not None}
        if "input_shape" in model:
            model["input_shape"] = tuple(int(d) for d in model["input_shape"])
        if count in model:
            model[count] = int(model[count])
        update: dict = {"model": self.model.model_copy(update=model)} if model else {}
        if seed is not None:
            update["seed"] = int(seed)
        return self.model_copy(update=update)
