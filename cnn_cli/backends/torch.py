"""PyTorch as Keras' backend: start-up, devices, seeding and the precision `auto` picks. One device per
run: tf.distribute strategies are refused in one line (`single.refuse_strategy`). PyTorch's CUDA allocator
takes GPU memory as needed by itself. The class `Torch` is its `Backend` (`cnn_cli.backends.base`); it declares
no optional capability."""

from __future__ import annotations

import os
import shutil
from types import ModuleType

from cnn_cli.backends import device, register
from cnn_cli.backends.single import OneDeviceBackend


@register
class Torch(OneDeviceBackend):
    NAME, LABEL, PACKAGE = "torch", "PyTorch", "torch"

    def start(self) -> ModuleType:
        import torch

        return torch

    def seed_everything(self, seed: int, deterministic: bool = False) -> None:
        """Seeds Python's `random`, NumPy, Keras' generators and PyTorch's; `deterministic` asks PyTorch for
        deterministic kernels (an error where an operation has none)."""
        torch = self.start()
        import keras

        keras.utils.set_random_seed(seed)
        torch.manual_seed(seed)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)

    def _gpu_count(self) -> int:
        torch = self.start()
        return torch.cuda.device_count() if torch.cuda.is_available() else 0

    def gpu_names(self) -> list[str]:
        torch = self.start()
        return [torch.cuda.get_device_name(i) for i in range(self._gpu_count())]

    def gpu_precision(self) -> str | None:
        """The mixed policy for the first GPU (bf16 from compute capability 8.0, fp16 on 7.x); None without one."""
        if not self._gpu_count():
            return None
        major, _ = self.start().cuda.get_device_capability(0)
        return device.gpu_policy(major)

    def cpu_precision(self) -> str:
        """`precision: auto` on a CPU: float32 (docs/backends.md, "Precision": PyTorch's CPU bf16 convolutions were not
        faster for these small nets)."""
        return "float32"

    def jit_compile_problem(self) -> str | None:
        """torch.compile builds its kernels with a C++ compiler at run time (`CXX`, g++ or clang++)."""
        if os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++"):
            return None
        return ("true compiles the step with torch.compile, which needs a C++ compiler at run time (g++ or "
                "clang++, or CXX): install one, or set train.jit_compile: auto")

    def steps_per_execution(self, wanted: int) -> int:
        """Keras on PyTorch runs one step per call (it refuses more)."""
        return 1
