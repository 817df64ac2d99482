"""PyTorch as Keras' backend: start-up, devices, seeding and the precision `auto` picks. One device per
run: tf.distribute strategies are refused in one line (`single.refuse_strategy`). PyTorch's CUDA allocator
takes GPU memory as needed by itself. The interface is the one every backend module offers
(`cnn_cli.backends`)."""

from __future__ import annotations

from types import ModuleType

from cnn_cli.backends import device, single

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
    return "mixed_bfloat16" if major >= 8 else "mixed_float16" if major >= 7 else "float32"


def cpu_precision() -> str:
    """`precision: auto` on a CPU: float32 (README "Precision": PyTorch's CPU bf16 convolutions were not
    faster for these small nets)."""
    return "float32"


def devices_used(strategy) -> device.Devices:
    """Keras on PyTorch computes on the first CUDA device when there is one, else the CPU."""
    return device.Devices(gpus=tuple(gpu_names()[:1]))


def check_devices(settings) -> None:
    single.refuse_strategy(settings, LABEL)


def make_strategy(settings, *, slurm: bool = False) -> tuple:
    """(None, 'default'): PyTorch trains on one device here; any other strategy is refused in one line."""
    check_devices(settings)
    return None, "default"


def default_strategy():
    return single.OneDevice()


def steps_per_execution(wanted: int) -> int:
    """Keras on PyTorch runs one step per call (it refuses more)."""
    return 1


def fit_works_under(strategy) -> bool:
    return True


def lost_worker_errors() -> tuple[type[Exception], ...]:
    return ()


def tensorboard_problem() -> str | None:
    from cnn_cli.backends import installed

    return single.tensorboard_problem(LABEL, installed("tensorflow"))
