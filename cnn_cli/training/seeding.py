"""The run's random seed and numeric settings: seeds for Python, NumPy and TensorFlow, op determinism,
and the Keras dtype policy."""

from __future__ import annotations

import secrets

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def choose_seed(seed: int | None) -> int:
    """The seed to use: the given one, or a fresh random one (which the run then records)."""
    return seed if seed is not None else secrets.randbelow(2**31 - 1)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seeds Python's `random`, NumPy and TensorFlow; `deterministic` turns on TF's op determinism."""
    from cnn_cli.tf_runtime import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def choose_precision(setting: str) -> str:
    """The Keras dtype policy for `train.precision`.

    `auto` means float32 for now; this is the place to detect bfloat16-capable hardware (and pick
    `mixed_bfloat16` there) later.
    """
    if setting == "auto":
        return "float32"
    if setting not in PRECISIONS:
        raise ValueError(f"unknown precision {setting!r}")
    return setting


def set_precision(policy: str) -> None:
    """Sets Keras' global dtype policy (before the model is built)."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
