"""What JAX and PyTorch share: one device per run (tf.distribute exists on TensorFlow only), a strategy
stand-in whose scope does nothing, the refusal of the `distribute` settings they cannot honour, and the part
of the backend interface (`cnn_cli.backends.base.Backend`) that is the same for both: `OneDeviceBackend`.
Neither declares `tf_distribute` or `custom_fit`."""

from __future__ import annotations

import contextlib

from cnn_cli.backends import device, installed
from cnn_cli.backends.base import Backend
from cnn_cli.errors import CnnError


class OneDevice:
    """The default 'strategy' of a backend without tf.distribute: one replica, a scope that does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def refuse_strategy(settings, label: str, instead: str = "leave distribute.strategy at auto (one device)") -> None:
    """One line for a `distribute` section that needs tf.distribute under a backend (`label`) without it;
    `instead`: what this backend offers."""
    if settings.strategy == "data_parallel":
        raise CnnError(
            f"distribute.strategy data_parallel: Keras' distribution engine runs on JAX only (this run uses "
            f"{label}); use --backend jax, or leave distribute.strategy at auto (one device)"
        )
    if settings.strategy != "auto":
        raise CnnError(
            f"distribute.strategy {settings.strategy}: tf.distribute strategies need the TensorFlow backend "
            f"(this run uses {label}); {instead} or use --backend tensorflow"
        )


def check_gpu_index(device: str, gpus: int) -> None:
    """Refuses a '/gpu:N' that this machine does not have, in one line."""
    kind, _, index = device.lower().replace("/device:", "/").lstrip("/").partition(":")
    if kind == "gpu" and int(index) >= gpus:
        have = f"{gpus} GPU{'s' if gpus != 1 else ''}" if gpus else "no GPU"
        raise CnnError(f"distribute.devices: {device} does not exist: this machine has {have} "
                       f"that the backend can use")


def tensorboard_problem(label: str, tensorflow_installed: bool) -> str | None:
    """Keras' TensorBoard callback writes its logs with TensorFlow's summary writer, on every backend."""
    if tensorflow_installed:
        return None
    return (f"train.callbacks.tensorboard: TensorBoard logs are written with TensorFlow, which is not installed "
            f"(this run uses {label}); pip install 'cnn-cli[tensorflow]' tensorboard, or set "
            f"train.callbacks.tensorboard.enabled: false")


class OneDeviceBackend(Backend):
    """A backend that computes on one device: its first GPU (`gpu_names()`), else the CPU."""

    def default_strategy(self) -> OneDevice:
        return OneDevice()

    def devices_used(self, strategy) -> device.Devices:
        """Keras computes on the backend's first device: the first GPU, else the CPU."""
        return device.Devices(gpus=tuple(self.gpu_names()[:1]))

    def check_devices(self, settings) -> None:
        refuse_strategy(settings, self.LABEL)

    def make_strategy(self, settings, *, slurm: bool = False, worker=None) -> tuple:
        """(None, 'default'): training runs on one device; any other strategy is refused in one line."""
        self.check_devices(settings)
        return None, "default"

    def tensorboard_problem(self) -> str | None:
        return tensorboard_problem(self.LABEL, installed("tensorflow"))
