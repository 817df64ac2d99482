"""JAX as Keras' backend: start-up without preallocating the GPU's memory, devices, seeding and the
precision `auto` picks, and Keras' own distribution engine (`distribute.strategy: data_parallel`, and `auto`
where JAX sees several GPUs: `jax_distribution.py`); tf.distribute's strategies are refused in one line
(`single.refuse_strategy`). The class `Jax` is its `Backend` (`cnn_cli.backends.base`); it declares the
`keras_distribution` capability."""

from __future__ import annotations

import os
from types import ModuleType

from cnn_cli.backends import device, jax_distribution, register
from cnn_cli.backends.single import OneDeviceBackend, refuse_strategy


@register
class Jax(OneDeviceBackend):
    NAME, LABEL, PACKAGE = "jax", "JAX", "jax"
    CAPABILITIES = frozenset({"keras_distribution"})

    def check_devices(self, settings) -> None:
        if settings.strategy != "data_parallel":
            refuse_strategy(settings, self.LABEL, "use distribute.strategy data_parallel (Keras' own engine),")

    def make_strategy(self, settings, *, slurm: bool = False, worker=None) -> tuple:
        """(None, 'default') for one device; (a `jax_distribution.KerasEngine`, 'data_parallel') for
        `data_parallel`, and for `auto` where this process sees several GPUs (host devices made with XLA_FLAGS
        count only when data_parallel is asked for); `worker`: this process's place in a multi-process run."""
        self.check_devices(settings)
        if settings.strategy == "auto" and worker is None:
            if jax_distribution.real_accelerators() < 2:
                return None, "default"
        return jax_distribution.make(worker), "data_parallel"

    def lost_worker_errors(self) -> tuple[type[Exception], ...]:
        """What a collective raises when another process died: JAX's runtime error, or a ValueError wrapping
        gloo's (`training.distribute` reads its words before calling it a lost process)."""
        import jax

        return (jax.errors.JaxRuntimeError, ValueError)

    def devices_used(self, strategy) -> device.Devices:
        """The first GPU (else the CPU), or every device of this process under data_parallel."""
        if strategy is None:
            return super().devices_used(strategy)
        import jax

        local = [d for d in strategy.devices if d.process_index == jax.process_index()]
        if jax.default_backend() == "cpu":
            return device.Devices(cpus=len(local))
        return device.Devices(gpus=tuple(getattr(d, "device_kind", "GPU") for d in local))

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
        float32 even on CPUs with AVX512_BF16 (measured: docs/backends.md, "Precision")."""
        return "float32"

    def steps_per_execution(self, wanted: int) -> int:
        """Training steps per call into the compiled function: as configured (a device loop in Keras on JAX)."""
        return wanted
