"""The run's numeric precision: the Keras dtype policy for
`train.precision` (what the hardware computes fast on the backend in use, which says so)."""

from __future__ import annotations

import os

from cnn_cli.backends import current as backend

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def choose_precision(setting: str) -> str:
    """The Keras dtype policy for `train.precision`.

    `auto` picks what the backend computes fastest, as measured (docs/backends.md, "Precision"): on a GPU
    `mixed_bfloat16` from compute capability 8.0, `mixed_float16` on 7.x, float32 before; on a CPU the
    backend's `cpu_precision()` (TensorFlow: `mixed_bfloat16` on CPUs with AVX512_BF16 or AMX; PyTorch:
    `mixed_bfloat16` with AMX; JAX: float32). Set CNN_PRECISION to force a policy for `auto` (e.g. to compare).
    """
    if setting == "auto":
        forced = os.environ.get("CNN_PRECISION")
        if forced in PRECISIONS:
            return forced
        on_gpu = backend().gpu_precision()
        if on_gpu is not None:
            return on_gpu
        return backend().cpu_precision()
    if setting not in PRECISIONS:
        raise ValueError(f"unknown precision {setting!r}")
    return setting


def set_precision(policy: str) -> None:
    """Sets Keras' global dtype policy (before the model is built)."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
