"""The `distribute` section: which strategy trains the model -- tf.distribute's on TensorFlow, Keras'
`DataParallel` on JAX (see docs/distributed.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from cnn_cli.config.section import Section

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "data_parallel")
_DEVICE = re.compile(r"^/(device:)?(cpu|gpu|CPU|GPU):\d+$")


class DistributeConfig(Section):
    strategy: Literal[STRATEGIES] = Field(  # type: ignore[valid-type]
        "auto",
        description="auto: over every local GPU when more than one is visible (mirrored on TensorFlow, "
        "data_parallel on JAX), else no strategy; "
        "one_device: one device (devices[0], default the first GPU, else the CPU); mirrored: every local GPU "
        "(or the given devices); multi_worker: MultiWorkerMirroredStrategy, the cluster read from TF_CONFIG "
        "or from Slurm's SLURM_* variables (TensorFlow); data_parallel: Keras' DataParallel over every device "
        "JAX sees, in one process or several (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID, or "
        "Slurm). train.batch_size is the global batch, split evenly over the replicas.",
    )
    devices: list[str] | None = Field(
        None, min_length=1,
        description="Local devices for mirrored and one_device, e.g. ['/gpu:0', '/gpu:1'] or ['/cpu:0', '/cpu:1'] "
        "(CPU numbers past the first become logical CPU devices).",
    )
    timeout_seconds: float = Field(
        600.0, gt=0,
        description="multi_worker: a collective operation that waits longer than this for another worker fails "
        "the job (a lost worker) instead of hanging; restart every worker with --resume.",
    )

    @field_validator("devices")
    @classmethod
    def _device_names(cls, value):
        for name in value or ():
            if not _DEVICE.match(name):
                raise ValueError(f"expected local device names such as '/gpu:0' or '/cpu:1' ({name!r} is not one)")
        if value is not None and len(set(n.lower().replace("/device:", "/") for n in value)) != len(value):
            raise ValueError(f"expected each device once, received {value}")
        return value

    @model_validator(mode="after")
    def _devices_fit_strategy(self):
        if self.devices is not None:
            if self.strategy not in ("mirrored", "one_device"):
                raise ValueError(f"devices are for strategy mirrored or one_device, not {self.strategy}")
            if self.strategy == "one_device" and len(self.devices) != 1:
                raise ValueError(f"one_device takes exactly one device, received {self.devices}")
        return self
