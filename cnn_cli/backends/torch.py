"""PyTorch as Keras' backend: start-up, devices, seeding and the precision `auto` picks. One device per
run: tf.distribute strategies are refused in one line (`single.refuse_strategy`). PyTorch's CUDA allocator
takes GPU memory as needed by itself. The interface is the one every backend module offers
(`cnn_cli.backends`)."""

from __future__ import annotations

from types import ModuleType

from cnn_cli.backends import device, single
from cnn_cli.backends.single import default_strategy, fit_works_under, lost_worker_errors  # noqa: F401 (interface)

NAME, LABEL, PACKAGE = "torch", "PyTorch", "torch"


def start() -> ModuleType:
    import torch

    return torch


def version() -> str:
    return start().__version__


def versions() -> dict:
    return {"torch": start().__version__}


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seeds Python's `random`, NumPy, Keras' generators and PyTorch's; `deterministic` asks PyTorch for
    deterministic kernels (an error where an operation has none)."""
    torch = start()
    import keras

    keras.utils.set_random_seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def _gpu_count() -> int:
    torch = start()
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_names() -> list[str]:
    torch = start()
    return [torch.cuda.get_device_name(i) for i in range(_gpu_count())]


def gpu_precision() -> str | None:
    """The mixed policy for the first GPU (bf16 from compute capability 8.0, fp16 on 7.x); None without one."""
    if not _gpu_count():
        return None
    major, _ = start().cuda.get_device_capability(0)
    return device.gpu_policy(major)


def cpu_precision() -> str:
    """`precision: auto` on a CPU: float32 (README "Precision": PyTorch's CPU bf16 convolutions were not
    faster for these small nets)."""
    return "float32"


def steps_per_execution(wanted: int) -> int:
    """Keras on PyTorch runs one step per call (it refuses more)."""
    return 1


_one_device = single.OneDeviceInterface(LABEL, lambda: gpu_names())
devices_used = _one_device.devices_used
check_devices = _one_device.check_devices
make_strategy = _one_device.make_strategy
tensorboard_problem = _one_device.tensorboard_problem
