"""The whole config: `name`, `seed`, and the `model`, `data`, `train` and `distribute` sections."""

from __future__ import annotations

from pydantic import Field

from cnn_cli.config.base import Section
from cnn_cli.config.data import DataConfig
from cnn_cli.config.distribute import DistributeConfig
from cnn_cli.config.model import ModelConfig
from cnn_cli.config.train import TrainConfig


class Config(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Name of the experiment; names run folders.")
    seed: int | None = Field(None, ge=0, description="Random seed for Python, NumPy and TensorFlow.")
    model: ModelConfig
    data: DataConfig | None = None
    train: TrainConfig = Field(default_factory=TrainConfig)
    distribute: DistributeConfig = Field(default_factory=DistributeConfig)
