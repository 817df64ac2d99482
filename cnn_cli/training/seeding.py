"""The run's random seed and numeric precision: the seed a run uses, and the Keras dtype policy for
`train.precision` (what the hardware computes fast; the backend says what its GPU has)."""

from __future__ import annotations

import os
import secrets

from cnn_cli.backends import current as backend

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def choose_seed(seed: int | None) -> int:
    """The seed to use: the given one, or a fresh random one (which the run then records)."""
    return seed if seed is not None else secrets.randbelow(2**31 - 1)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX), read from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def choose_precision(setting: str) -> str:
    """The Keras dtype policy for `train.precision`.

    `auto` picks mixed precision where the hardware has fast low-precision math: `mixed_bfloat16` on
    CPUs with AVX512_BF16 or AMX and on GPUs from compute capability 8.0, `mixed_float16` on 7.x GPUs,
    float32 elsewhere. Set CNN_PRECISION to force a policy for `auto` (e.g. to compare).
    """
    if setting == "auto":
        forced = os.environ.get("CNN_PRECISION")
        if forced in PRECISIONS:
            return forced
        on_gpu = backend().gpu_precision()
        if on_gpu is not None:
            return on_gpu
        return "mixed_bfloat16" if cpu_has_fast_bf16() else "float32"
    if setting not in PRECISIONS:
        raise ValueError(f"unknown precision {setting!r}")
    return setting


def set_precision(policy: str) -> None:
    """Sets Keras' global dtype policy (before the model is built)."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
