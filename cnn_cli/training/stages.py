"""The stages of `cnn train`, each made once and handed on, never changed:

    TrainOptions (the flags) -> RunPlan (plan.py: the config with its seed, the run directory, the data; decided
    before TensorFlow starts) -> PreparedRun (trainer.py: the config resolved with the data's shape, the model's
    graph, the run directory opened, the strategy and the data) -> TrainResult (fit.py and finish.py).

The options object stops at the plan: what the run needs of the command line is copied into `RunPlan`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_cli import rundir
from cnn_cli.config import Config
from cnn_cli.resolve.run_config import RunFlags
from cnn_cli.training.tracking import UNTRACKED, Untracked

if TYPE_CHECKING:
    from cnn_cli.model.analysis import Analysis
    from cnn_cli.training.distribute import Distribution


@dataclass(frozen=True)
class TrainOptions:
    """`cnn train`'s flags, as given."""

    config_path: str | None = None
    overrides: Sequence[str] = ()
    data_path: str | None = None
    epochs: int | None = None
    subset: int | None = None
    seed: int | None = None
    run_dir: str | None = None
    resume: bool = False
    init_from: str | None = None  # a run directory whose model's matching layers start the new run's
    verbose: int = 2
    time_limit: float | None = None  # seconds: end at the first epoch boundary past it (--time-limit)
    argv: Sequence[str] = field(default_factory=tuple)
    callbacks: Sequence[Any] = ()  # Keras callbacks of a caller in the same process (cnn tune's pruning), run last
    ctrl_c_at_epoch_end: bool = False  # Ctrl-C lets the epoch under way finish (cnn tune), rather than the step
    track_parent: str | None = None  # the MLflow run this run's is nested under (cnn tune's study)
    track: bool = True  # False: no MLflow run even if the config asks (a study whose own run failed to open)

    @property
    def flags(self) -> RunFlags:
        return RunFlags(epochs=self.epochs, seed=self.seed, subset=self.subset, data=self.data_path)


@dataclass(frozen=True)
class Extension:
    """A resume that changes `train.epochs`: the run was planned for `planned` epochs, had run `done`, and now
    goes on to `epochs`. Schedules planned over the epochs (learning rate, ...) re-plan over `epochs`: the
    config the run trains with says `train.epochs: epochs` (the hook for them is `RunPlan.extension`)."""

    planned: int
    done: int
    epochs: int
    was_complete: bool
    last_phase: tuple[int, int] | None = None  # a run in phases: (the last phase's number, its epochs now)

    def describe(self) -> str:
        what = "complete" if self.was_complete else "interrupted"
        phase = (f"; phase {self.last_phase[0]}, the last, now runs {self.last_phase[1]} epochs"
                 if self.last_phase is not None else "")
        return (f"Extending the {what} run from epoch {self.done} to {self.epochs} (planned {self.planned}{phase}): "
                f"the last epoch's weights and optimizer state, history appended")


@dataclass(frozen=True)
class RunPlan:
    """A run about to start: `config` has its seed; the data decides its input shape and class count later."""

    config: Config
    source: str  # the file the config came from, for errors
    run_dir: Path
    data_path: str | None
    subset: int | None
    record: rundir.RunRecord | None  # the run's record when resuming
    extension: Extension | None = None  # a resume with more (or other) epochs than the run's config planned
    # What the run keeps of the command line (the options object stops here): for run.json, and the flags that
    # steer the run itself.
    config_file: str | None = None
    overrides: tuple[str, ...] = ()
    init_from: str | None = None
    verbose: int = 2
    time_limit: float | None = None
    argv: tuple[str, ...] = ()
    callbacks: tuple[Any, ...] = ()
    ctrl_c_at_epoch_end: bool = False
    track_parent: str | None = None
    track: bool = True

    @property
    def seed(self) -> int:
        return int(self.config.seed)

    @property
    def resume(self) -> bool:
        return self.record is not None


EVAL_BATCH = 256  # about this many examples per validation and test batch
EVAL_BATCH_BYTES = 32_000_000  # at most this much float32 pixels per validation batch, beyond one training batch


@dataclass(frozen=True)
class PreparedRun:
    """A started run: its plan, the config resolved with the data's shape and class count, the model's graph
    (expanded once, for the builder, the phases and the summary), where this process writes, its record
    (run.json), its strategy, its data and precision."""

    plan: RunPlan
    config: Config
    analysis: Analysis
    dir: rundir.RunDir  # where this process writes (a non-chief worker: a folder of its own)
    record: rundir.RunRecord
    dist: Distribution
    dataset: Any
    policy: str
    started: float
    devices: str = ""  # what it computes on, in words ('CPU (AMD EPYC, 2 cores)')
    targets: Any = None  # the task's training targets of every example (None: the data's labels as they are)
    state: Any = None  # what the run keeps of its targets (`tasks.base.TargetState`: thresholds, mean and std)
    tracker: Untracked = UNTRACKED  # its MLflow run (`tracking.Tracker`, made by the trainer), or none

    @property
    def run_dir(self) -> Path:
        return self.dir.path

    @property
    def eval_batch(self) -> int:
        """Validation and test batches: larger (fewer steps, same numbers), and a multiple of the training batch
        so that they split evenly over a strategy's replicas too; no larger than the training batch for large
        images (160x160 RGB at 256 a batch holds 79 MB of pixels, and the model's activations several times that)."""
        size = self.config.train.batch_size
        image_bytes = 4 * int(np.prod(self.dataset.input_shape))
        return size * max(1, min(EVAL_BATCH // size, EVAL_BATCH_BYTES // (size * image_bytes)))


@dataclass(frozen=True)
class TrainResult:
    """A finished run: where it is and its metrics.json."""

    run_dir: Path
    metrics: dict[str, Any]
