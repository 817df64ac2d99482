"""Training under a `tf.distribute` strategy: `distribute.strategy` in the config (see docs/distributed.md).

What the trainer does, in this order:
- `worker_of(config)`: this process's place in a multi-worker cluster (None otherwise), read from TF_CONFIG
  or Slurm without TensorFlow;
- `local_run_dir` / `local_resume_dir`: under `multi_worker` only the chief writes the run directory; every
  other worker writes to a temporary folder that is deleted when it exits (on `--resume` that folder starts
  as a copy of the chief's backup and history, so that every worker restores the same epoch, weights,
  optimizer state and callback counters from the run directory on shared storage);
- `Distribution.start`: the strategy (made by the backend, once per process and setting) and the check that
  `train.batch_size`, the global batch, splits evenly over the replicas. The run holds the `Distribution`:
- `scope()`: the model and optimizer are built and compiled inside it;
- `fit` / `evaluate`: Keras' `model.fit` / `model.evaluate`, or -- where they do not work under the strategy
  (the backend's `fit_works_under`, on a backend that offers `custom_fit`) -- the backend's custom loop, with
  the same callbacks;
- `describe()`: strategy, replicas and workers, for metrics.json.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_cli import rundir
from cnn_cli.backends import current as backend
from cnn_cli.errors import CnnError, ConfigError, WorkerLostError

# `CNN_KEEP_WORKER_DIR=1` keeps a non-chief worker's temporary run folder (for debugging, and the tests
# that compare the workers' final weights); its path is the "Run directory:" the worker prints.
KEEP_ENV = "CNN_KEEP_WORKER_DIR"


# ---------------------------------------------------------------- the cluster, without TensorFlow


@dataclass(frozen=True)
class Worker:
    """This process's place in a multi-worker cluster."""

    source: str  # "TF_CONFIG" or "Slurm"
    workers: int  # tasks in the cluster (chief included)
    rank: int  # 0 for the chief
    task: str  # e.g. "worker:1"

    @property
    def is_chief(self) -> bool:
        return self.rank == 0


def _slurm_env() -> bool:
    return "SLURM_PROCID" in os.environ and any(
        k in os.environ for k in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
    ) and "SLURM_STEP_NODELIST" in os.environ


def cluster_worker() -> Worker:
    """Reads TF_CONFIG (first) or Slurm's variables; a CnnError when neither describes a cluster."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if raw:
        try:
            tf_config = json.loads(raw)
            cluster, task = tf_config["cluster"], tf_config.get("task", {})
            kind, index = str(task["type"]), int(task["index"])
            chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        except (ValueError, KeyError, TypeError) as exc:
            raise CnnError(f"TF_CONFIG: expected {{\"cluster\": {{\"worker\": [...]}}, \"task\": {{\"type\": ..., \"index\": ...}}}} "
                           f"({type(exc).__name__}: {exc})") from None
        if kind not in ("chief", "worker") or index < 0 or index >= len(cluster.get(kind, [])):
            raise CnnError(f"TF_CONFIG: task {kind}:{index} is not in the cluster (expected a chief or worker task)")
        rank = index if kind == "chief" else len(chiefs) + index
        return Worker("TF_CONFIG", len(chiefs) + len(workers), rank, f"{kind}:{index}")
    if _slurm_env():
        tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ["SLURM_NTASKS"])
        rank = int(os.environ["SLURM_PROCID"])
        return Worker("Slurm", tasks, rank, f"worker:{rank}")
    raise CnnError(
        "distribute.strategy multi_worker: no cluster found; set TF_CONFIG on every worker, or start the "
        "workers with Slurm's srun (see docs/distributed.md)"
    )


def worker_of(config) -> Worker | None:
    """This process's place in the cluster under `multi_worker`; None for every other strategy."""
    return cluster_worker() if config.distribute.strategy == "multi_worker" else None


def _temp_run_dir(worker: Worker) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"cnn-{worker.task.replace(':', '')}-"))
    if not os.environ.get(KEEP_ENV):
        atexit.register(shutil.rmtree, folder, True)
    return folder


def local_run_dir(worker: Worker | None, run_dir: Path) -> Path:
    """The folder this process writes its run to: `run_dir`, or a temporary one on a non-chief worker."""
    return run_dir if worker is None or worker.is_chief else _temp_run_dir(worker)


def local_resume_dir(worker: Worker | None, run_dir: Path, record):
    """`local_run_dir` for `--resume`: a non-chief worker gets a temporary copy of the chief's backup and
    history (and a record of its own), so that it restores exactly what the chief restores."""

    if worker is None or worker.is_chief:
        return run_dir, record
    local = rundir.RunDir(run_dir).copy_for_worker(_temp_run_dir(worker))
    return local.path, rundir.RunRecord(local.path, dict(record.data))


# ---------------------------------------------------------------- the strategy a run holds


@dataclass(frozen=True)
class Distribution:
    """The run's strategy (None: the backend's default), its name, this worker, and the shared run directory."""

    strategy: Any
    name: str
    worker: Worker | None
    run_dir: Path

    @classmethod
    def start(cls, config, *, source: str, worker: Worker | None, run_dir: Path) -> Distribution:
        """Makes the config's strategy and checks the global batch against its replicas."""
        slurm = worker is not None and worker.source == "Slurm"
        strategy, name = backend().make_strategy(config.distribute, slurm=slurm)
        made = cls(strategy, name, worker, run_dir)
        replicas, batch = made.replicas(), config.train.batch_size
        if batch % replicas:
            raise ConfigError(
                source, "train.batch_size",
                f"expected a multiple of the {replicas} replicas of distribute.strategy {name} "
                f"(the global batch is split evenly; {batch} / {replicas} is not whole)", batch,
            )
        return made

    def _current(self):
        return self.strategy if self.strategy is not None else backend().default_strategy()

    def scope(self):
        """The strategy's scope (the default strategy's, a no-op, when there is none)."""
        return self._current().scope()

    def replicas(self) -> int:
        return int(self._current().num_replicas_in_sync)

    @property
    def is_chief(self) -> bool:
        return self.worker is None or self.worker.is_chief

    def describe(self) -> dict:
        """For metrics.json: the strategy, its replicas (the global batch is split over them) and workers."""
        workers = self.worker.workers if self.worker is not None and self.name == "multi_worker" else 1
        return {"strategy": self.name, "replicas": self.replicas(), "workers": workers}

    def custom_loop(self) -> bool:
        """Whether training goes through the backend's own loop: it offers `custom_fit` and Keras' `fit` fails
        under the strategy."""
        return backend().supports("custom_fit") and not backend().fit_works_under(self.strategy)

    def fit(self, model, train_ds, **kwargs):
        """`model.fit(train_ds, **kwargs)`, or the backend's own loop (`custom_fit`) where `fit` does not work
        under the strategy."""
        if not self.custom_loop():
            return model.fit(train_ds, **kwargs)
        try:
            return backend().custom_fit(model, self.strategy, train_ds, chief=self.is_chief, **kwargs)
        except backend().lost_worker_errors() as exc:
            raise self._worker_lost(exc) from None

    def evaluate(self, model, ds, **kwargs) -> dict:
        """`model.evaluate(ds, **kwargs)`, or the custom loop's evaluation (reduced over all workers)."""
        if not self.custom_loop():
            return model.evaluate(ds, **kwargs)
        try:
            return backend().custom_evaluate(model, self.strategy, ds)
        except backend().lost_worker_errors() as exc:
            raise self._worker_lost(exc) from None

    def _worker_lost(self, exc: Exception) -> WorkerLostError:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return WorkerLostError(
            f"multi-worker training stopped: a collective operation failed or timed out, so another worker died "
            f"or cannot be reached ({type(exc).__name__}: {first}); restart every worker with: "
            f"cnn train --resume {self.run_dir}"
        )
