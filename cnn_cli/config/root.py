"""The whole config: `name`, `seed`, and the `model`, `data`, `train` and `distribute` sections."""

from __future__ import annotations

from pydantic import Field, PrivateAttr

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


class Config(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Name of the experiment; names run folders.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed for Python, NumPy and TensorFlow "
                             "(0 to 2**32 - 1, as NumPy takes).")
    model: ModelConfig
    data: DataConfig | None = None
    train: TrainConfig = Field(default_factory=TrainConfig)
    distribute: DistributeConfig = Field(default_factory=DistributeConfig)
    # Where the values came from, recorded by the loader: the file (or what stands for it) and the command
    # line's overrides that went into it, so that a check made later names the flag that set a value (`origin`).
    _source: str = PrivateAttr(default="<config file>")
    _given: tuple = PrivateAttr(default=())

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
        """A frozen copy with what the data and the run decided: the model's input shape and class count, the
        seed. A value left None keeps the config's own."""
        model = {k: v for k, v in (("input_shape", input_shape), ("num_classes", num_classes)) if v is not None}
        if "input_shape" in model:
            model["input_shape"] = tuple(int(d) for d in model["input_shape"])
        if "num_classes" in model:
            model["num_classes"] = int(model["num_classes"])
        update: dict = {"model": self.model.model_copy(update=model)} if model else {}
        if seed is not None:
            update["seed"] = int(seed)
        return self.model_copy(update=update)
