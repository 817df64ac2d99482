"""What JAX and PyTorch share: one device per run (tf.distribute exists on TensorFlow only), a strategy
stand-in whose scope does nothing, and the refusal of the `distribute` settings they cannot honour."""

from __future__ import annotations

import contextlib

from cnn_cli.errors import CnnError


class OneDevice:
    """The default 'strategy' of a backend without tf.distribute: one replica, a scope that does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def refuse_strategy(settings, label: str) -> None:
    """One line for a `distribute` section that needs tf.distribute under a backend (`label`) without it."""
    if settings.strategy != "auto":
        raise CnnError(
            f"distribute.strategy {settings.strategy}: tf.distribute strategies need the TensorFlow backend "
            f"(this run uses {label}); leave distribute.strategy at auto (one device) or use --backend tensorflow"
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
