"""What every backend offers (`Backend`), and the optional capabilities a backend declares rather than callers
discover (`CAPABILITIES`). Imports no framework: a backend's class imports its framework inside its methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import ClassVar

CAPABILITIES: dict[str, str] = {
    "gradcam": "feature_gradients(sub, x, score): the gradient of a score with respect to feature maps (Grad-CAM)",
    "custom_fit": "custom_fit / custom_evaluate: a training loop of its own for the strategies under which "
                  "Keras' fit fails (fit_works_under says which)",
    "tf_distribute": "tf.distribute strategies (distribute.strategy other than auto: one_device, mirrored, "
                     "multi_worker)",
    "keras_distribution": "Keras' own distribution engine (distribute.strategy data_parallel): the strategy is a "
                          "backends.jax_distribution.KerasEngine, made current for the whole run, each process "
                          "feeding its own part of every global batch",
}
"""The names `Backend.supports` answers for, each with what a backend that declares it offers."""


class Unsupported(NotImplementedError):
    """A capability's method called on a backend that does not declare it (a bug in the caller, which asks
    `supports` first)."""


class Backend(ABC):
    """One compute backend behind Keras 3. A backend is a class, registered by its `NAME`
    (`cnn_cli.backends.register`), of which the registry keeps one instance per process.

    Every backend: `NAME`, `LABEL`, `PACKAGE` (what pip installs), `start()` (the framework, started quietly,
    GPU memory taken as needed), `version()`, `versions()`; `seed_everything(seed, deterministic)`,
    `gpu_precision()` / `cpu_precision()` (what `precision: auto` picks, decided by measurement:
    docs/backends.md, "Precision"); `devices_used(strategy)` (a `device.Devices`, for the start line and metrics.json),
    `check_devices(settings)`; `steps_per_execution(wanted)`; `make_strategy(settings, slurm=, worker=)`,
    `default_strategy()`, `fit_works_under(strategy)`, `lost_worker_errors()`; `tensorboard_problem()`: why
    TensorBoard logging cannot run here, or None; `jit_compile_problem()`: why a compiled step cannot.

    Optional: the capabilities in `CAPABILITIES` that the class lists in its own `CAPABILITIES`; callers ask
    `supports(name)` before they call a capability's methods, which raise `Unsupported` on a backend without it.
    """

    NAME: ClassVar[str]
    LABEL: ClassVar[str]
    PACKAGE: ClassVar[str]
    CAPABILITIES: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        unknown = set(cls.CAPABILITIES) - set(CAPABILITIES)
        if unknown:
            raise AssertionError(f"backend {cls.__name__} declares unknown capabilities {sorted(unknown)}; "
                                 f"expected some of {', '.join(CAPABILITIES)}")

    def supports(self, capability: str) -> bool:
        """Whether this backend offers `capability` (one of `CAPABILITIES`; any other name is a bug)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown backend capability {capability!r}; expected one of {', '.join(CAPABILITIES)}")
        return capability in self.CAPABILITIES

    def __repr__(self) -> str:
        return f"<backend {self.NAME}>"

    # ------------------------------------------------------------ every backend

    @abstractmethod
    def start(self) -> ModuleType: ...

    def version(self) -> str:
        return self.start().__version__

    def versions(self) -> dict:
        return {self.PACKAGE: self.version()}

    @abstractmethod
    def seed_everything(self, seed: int, deterministic: bool = False) -> None: ...

    @abstractmethod
    def gpu_names(self) -> list[str]: ...

    @abstractmethod
    def gpu_precision(self) -> str | None: ...

    @abstractmethod
    def cpu_precision(self) -> str: ...

    @abstractmethod
    def steps_per_execution(self, wanted: int) -> int: ...

    @abstractmethod
    def devices_used(self, strategy): ...

    @abstractmethod
    def check_devices(self, settings) -> None: ...

    @abstractmethod
    def make_strategy(self, settings, *, slurm: bool = False, worker=None) -> tuple:
        """(strategy or None, its name) for a `distribute` section; `slurm`: the cluster comes from Slurm;
        `worker`: this process's place in a multi-process run (`cnn_cli.training.distribute.Worker`), or None."""

    @abstractmethod
    def default_strategy(self): ...

    def fit_works_under(self, strategy) -> bool:
        """Whether Keras' own `model.fit` and `model.evaluate` train correctly under `strategy`."""
        return True

    def lost_worker_errors(self) -> tuple[type[Exception], ...]:
        """The errors a collective operation raises when another worker died or cannot be reached."""
        return ()

    @abstractmethod
    def tensorboard_problem(self) -> str | None: ...

    def jit_compile_problem(self) -> str | None:
        """Why `train.jit_compile: true` cannot run here, or None."""
        return None

    # ------------------------------------------------------------ optional capabilities

    def feature_gradients(self, sub, x, score):
        """`gradcam`: `sub(x)` = (feature maps, head) and the gradient of `score(head)` (one number per input)
        with respect to the feature maps, both float32 NumPy arrays (the gradient None when the score does not
        depend on them)."""
        raise Unsupported(f"{self.LABEL} does not offer gradcam")

    def custom_fit(self, model, strategy, train_ds, **kwargs):
        """`custom_fit`: `model.fit`'s work under a strategy where Keras' own fails."""
        raise Unsupported(f"{self.LABEL} does not offer custom_fit")

    def custom_evaluate(self, model, strategy, ds):
        """`custom_fit`: `model.evaluate`'s work under such a strategy (reduced over all workers)."""
        raise Unsupported(f"{self.LABEL} does not offer custom_fit")
