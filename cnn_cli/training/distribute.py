"""Training under a strategy: `distribute.strategy` in the config (see docs/distributed.md): tf.distribute's
on TensorFlow, Keras' own engine (`DataParallel`, the `keras_distribution` capability) on JAX.

What the trainer does, in this order:
- `worker_of(config)`: this process's place in a multi-worker cluster (None otherwise), read from TF_CONFIG
  or Slurm without TensorFlow (`multi_worker`), or from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
  JAX_PROCESS_ID or Slurm (`data_parallel`);
- `local_run_dir` / `local_resume_dir`: with several workers only the chief writes the run directory; every
  other worker writes to a temporary folder that is deleted when it exits (on `--resume` that folder starts
  as a copy of the chief's backup and history, so that every worker restores the same epoch, weights,
  optimizer state and callback counters from the run directory on shared storage);
- `Distribution.start`: the strategy (made by the backend, once per process and setting) and the check that
  `train.batch_size`, the global batch, splits evenly over the replicas. The run holds the `Distribution`:
- `scope()`: the model and optimizer are built and compiled inside it; `run_scope()`: what the whole run
  runs in (Keras' distribution engine is made current for all of it: fit, evaluate, predict);
- `shard()`: under Keras' engine, the part of every batch this process feeds (`cnn_cli.data.batches.Shard`);
- `fit` / `evaluate`: Keras' `model.fit` / `model.evaluate`, or -- where they do not work under the strategy
  (the backend's `fit_works_under`, on a backend that offers `custom_fit`) -- the backend's custom loop, with
  the same callbacks;
- `describe()`: strategy, replicas and workers, for metrics.json.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_cli import rundir, tasks
from cnn_cli.backends import current as backend
from cnn_cli.data.batches import Shard
from cnn_cli.errors import CnnError, ConfigError, WorkerLostError
from cnn_cli.training import supervisor

# `CNN_KEEP_WORKER_DIR=1` keeps a non-chief worker's temporary run folder (for debugging, and the tests
# that compare the workers' final weights); its path is the "Run directory:" the worker prints.
KEEP_ENV = "CNN_KEEP_WORKER_DIR"


# ---------------------------------------------------------------- the cluster, without TensorFlow


@dataclass(frozen=True)
class Worker:
    """This process's place in a multi-worker cluster."""

    source: str  # "TF_CONFIG", "Slurm" or "JAX"
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


JAX_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def jax_worker() -> Worker | None:
    """This process's place among several JAX processes: from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
    JAX_PROCESS_ID (all three, or none), else from Slurm's variables with more than one task; None for one."""
    given = [name for name in JAX_ENV if os.environ.get(name, "").strip()]
    if given:
        if len(given) < len(JAX_ENV):
            missing = ", ".join(n for n in JAX_ENV if n not in given)
            raise CnnError(f"distribute.strategy data_parallel: {', '.join(given)} set but not {missing}; set all "
                           f"three on every process (see docs/distributed.md)")
        try:
            count, rank = int(os.environ["JAX_NUM_PROCESSES"]), int(os.environ["JAX_PROCESS_ID"])
        except ValueError:
            raise CnnError("JAX_NUM_PROCESSES and JAX_PROCESS_ID: expected whole numbers, received "
                           f"{os.environ['JAX_NUM_PROCESSES']!r} and {os.environ['JAX_PROCESS_ID']!r}") from None
        if count < 1 or not 0 <= rank < count:
            raise CnnError(f"JAX_PROCESS_ID: expected 0 to {count - 1} (JAX_NUM_PROCESSES={count}), received {rank}")
        return Worker("JAX", count, rank, f"process:{rank}") if count > 1 else None
    if _slurm_env():
        tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ["SLURM_NTASKS"])
        rank = int(os.environ["SLURM_PROCID"])
        return Worker("Slurm", tasks, rank, f"process:{rank}") if tasks > 1 else None
    return None


def worker_of(config) -> Worker | None:
    """This process's place in the cluster under `multi_worker` or `data_parallel` over several processes;
    None for every other strategy and for one process."""
    if config.distribute.strategy == "multi_worker":
        return cluster_worker()
    if config.distribute.strategy != "data_parallel":
        return None
    if not backend().supports("keras_distribution"):  # before the framework starts and the run directory is made
        raise CnnError(f"distribute.strategy data_parallel: Keras' distribution engine runs on JAX only (this "
                       f"run uses {backend().LABEL}); use --backend jax, or mirrored / multi_worker on TensorFlow")
    return jax_worker()


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
        strategy, name = backend().make_strategy(config.distribute, slurm=slurm, worker=worker)
        made = cls(strategy, name, worker, run_dir)
        if made.keras_engine() and strategy.processes > 1:
            _refuse_per_process_outputs(config, source)
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

    def keras_engine(self) -> bool:
        """Whether the run trains under Keras' own distribution engine (`data_parallel` on JAX)."""
        return self.strategy is not None and backend().supports("keras_distribution")

    def run_scope(self):
        """What the whole run runs in: Keras' distribution made current (fit, evaluate and predict all run
        over its devices), or nothing under tf.distribute and one device (`scope()` is used where needed)."""
        return self.strategy.scope() if self.keras_engine() else contextlib.nullcontext()

    def shard(self):
        """Under Keras' engine, the part of every global batch this process feeds (a `Shard`); else None."""
        if not self.keras_engine():
            return None
        return Shard(self.strategy.processes, self.strategy.process_index, self.replicas())

    def predict(self, model, x, batch_size: int):
        """`model.predict(x)`; under Keras' engine (one process) `x` padded to whole batches of the replicas
        and the padding's rows dropped again (a row's output depends on that row only)."""
        if not self.keras_engine():
            return model.predict(x, batch_size=batch_size, verbose=0)
        import numpy as np

        replicas, rows = self.replicas(), len(x)
        batch = -(-batch_size // replicas) * replicas
        pad = -rows % replicas
        if pad:
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), dtype=x.dtype)])
        return np.asarray(model.predict(x, batch_size=batch, verbose=0))[:rows]

    @property
    def is_chief(self) -> bool:
        return self.worker is None or self.worker.is_chief

    def describe(self) -> dict:
        """For metrics.json: the strategy, its replicas (the global batch is split over them) and workers."""
        workers = self.worker.workers if self.worker is not None and self.name in ("multi_worker", "data_parallel") else 1
        return {"strategy": self.name, "replicas": self.replicas(), "workers": workers}

    def custom_loop(self) -> bool:
        """Whether training goes through the backend's own loop: it offers `custom_fit` and Keras' `fit` fails
        under the strategy."""
        return backend().supports("custom_fit") and not backend().fit_works_under(self.strategy)

    def fit(self, model, train_ds, **kwargs):
        """`model.fit(train_ds, **kwargs)`, or the backend's own loop (`custom_fit`) where `fit` does not work
        under the strategy."""
        if not self.custom_loop():
            with self._lost_processes():
                return model.fit(train_ds, **kwargs)
        try:
            return backend().custom_fit(model, self.strategy, train_ds, chief=self.is_chief, **kwargs)
        except backend().lost_worker_errors() as exc:
            raise self._worker_lost(exc) from None

    def evaluate(self, model, ds, **kwargs) -> dict:
        """`model.evaluate(ds, **kwargs)`, or the custom loop's evaluation (reduced over all workers)."""
        if not self.custom_loop():
            with self._lost_processes():
                return model.evaluate(ds, **kwargs)
        try:
            return backend().custom_evaluate(model, self.strategy, ds)
        except backend().lost_worker_errors() as exc:
            raise self._worker_lost(exc) from None

    @contextlib.contextmanager
    def _lost_processes(self):
        """Under Keras' engine over several processes: a collective that fails because another process died
        ends this one with exit code 4 and one line (JAX may also end it from C++: `supervisor`)."""
        if not (self.keras_engine() and self.strategy.processes > 1):
            yield
            return
        try:
            yield
        except backend().lost_worker_errors() as exc:
            if not _lost_words(str(exc)):
                raise
            supervisor.note_lost()
            raise self._worker_lost(exc) from None

    def _worker_lost(self, exc: Exception) -> WorkerLostError:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        if self.keras_engine():
            return WorkerLostError(
                f"multi-process training stopped: a collective operation failed, so another process died or "
                f"cannot be reached ({type(exc).__name__}: {first}); restart every process with: "
                f"cnn train --resume {self.run_dir}")
        return WorkerLostError(
            f"multi-worker training stopped: a collective operation failed or timed out, so another worker died "
            f"or cannot be reached ({type(exc).__name__}: {first}); restart every worker with: "
            f"cnn train --resume {self.run_dir}"
        )


def _refuse_per_process_outputs(config, source: str) -> None:
    """Over several JAX processes the model's outputs are spread over the processes: what needs them gathered
    on one (the multi-label and regression tasks' figures, flip TTA) is refused in one line."""
    if tasks.of(config).SEVERAL:
        raise ConfigError(source, "task", "a classification task under distribute.strategy data_parallel over "
                          "several processes (the model's outputs stay spread over the processes; train on one "
                          "process, or on TensorFlow with multi_worker)", config.task)
    if config.train.tta == "flip":
        raise ConfigError(source, "train.tta", "none under distribute.strategy data_parallel over several "
                          "processes (its predictions stay spread over the processes)", config.train.tta)


def _lost_words(message: str) -> bool:
    """Whether a JAX error's message says a peer is gone (gloo's or the coordination service's words)."""
    return any(w in message for w in ("Gloo", "gloo", "UNAVAILABLE", "heartbeat", "Connection reset", "DEADLINE",
                                      "Barrier", "coordination service"))
