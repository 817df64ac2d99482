"""JAX as Keras' backend: start-up without preallocating the GPU's memory, devices, seeding and the
precision `auto` picks. One device per run: tf.distribute strategies are refused in one line
(`single.refuse_strategy`). The class `Jax` is its `Backend` (`cnn_cli.backends.base`); it declares no optional
capability."""

from __future__ import annotations

import os
from types import ModuleType

from cnn_cli.backends import device, register
from cnn_cli.backends.single import OneDeviceBackend


@register
class Jax(OneDeviceBackend):
    NAME, LABEL, PACKAGE = "jax", "JAX", "jax"

    def start(self) -> ModuleType:
        """Returns the `jax` module; GPU memory is taken as needed (XLA_PYTHON_CLIENT_PREALLOCATE=false, unless
        set), so that an evaluation can run beside a training on one GPU."""
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax

        return jax

    def versions(self) -> dict:
        import jaxlib

        return {"jax": self.version(), "jaxlib": jaxlib.__version__}

    def seed_everything(self, seed: int, deterministic: bool = False) -> None:
        """Seeds Python's `random`, NumPy and Keras' generators. JAX's random numbers are functions of their
        keys, and its CPU kernels are deterministic; `deterministic` asks XLA for deterministic GPU kernels too
        (it takes effect where JAX has not compiled anything yet)."""
        import keras

        keras.utils.set_random_seed(seed)
        if deterministic and "--xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()

    def _gpus(self) -> list:
        jax = self.start()
        try:
            return list(jax.devices("gpu"))
        except RuntimeError:  # no GPU platform
            return []

    def gpu_names(self) -> list[str]:
        return [getattr(d, "device_kind", "GPU") for d in self._gpus()]

    def gpu_precision(self) -> str | None:
        """The mixed policy for the first GPU (bf16 from compute capability 8.0, fp16 on 7.x); None without one."""
        gpus = self._gpus()
        if not gpus:
            return None
        major = int(str(getattr(gpus[0], "compute_capability", "0")).split(".")[0] or 0)
        return device.gpu_policy(major)

    def cpu_precision(self) -> str:
        """`precision: auto` on a CPU: float32. XLA's CPU backend computes bfloat16 convolutions slower than
        float32 even on CPUs with AVX512_BF16 (measured: README "Precision")."""
        return "float32"

    def steps_per_execution(self, wanted: int) -> int:
        """Training steps per call into the compiled function: as configured (a device loop in Keras on JAX)."""
        return wanted
