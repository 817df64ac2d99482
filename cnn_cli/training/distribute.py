"""Training under a `tf.distribute` strategy: `distribute.strategy` in the config (see docs/distributed.md).

What the trainer calls, in this order:

- `local_run_dir` / `local_resume_dir`: under `multi_worker` only the chief writes the run directory; every
  other worker writes to a temporary folder that is deleted when it exits (on `--resume` that folder starts
  as a copy of the chief's backup and history, so that every worker restores the same epoch, weights,
  optimizer state and callback counters from the run directory on shared storage).
- `start`: makes the strategy (once per process, before TensorFlow's runtime starts) and checks that
  `train.batch_size`, the global batch, splits evenly over the replicas.
- `scope`: the model and optimizer are built and compiled inside it.
- `fit` / `evaluate`: Keras' `model.fit` / `model.evaluate`, or -- where they do not work under the strategy,
  see `fit_works_under` -- the custom loop of `cnn_cli.training.custom_loop`, with the same callbacks.
- `describe`: strategy, replicas and workers, for metrics.json.

Apart from `start` and its callers, this module does not import TensorFlow at import time.
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

from cnn_cli.errors import CnnError, ConfigError, WorkerLostError

# `CNN_KEEP_WORKER_DIR=1` keeps a non-chief worker's temporary run folder (for debugging, and the tests
# that compare the workers' final weights); its path is the "Run directory:" the worker prints.
KEEP_ENV = "CNN_KEEP_WORKER_DIR"


def fit_works_under(strategy) -> bool:
    """Whether Keras' own `model.fit` and `model.evaluate` train correctly under `strategy`.

    THE ONE SWITCH. With TensorFlow 2.21 and Keras 3.15:
    - under MultiWorkerMirroredStrategy both fail ("Attempt to convert a value (PerReplica:{...}) with an
      unsupported type ... to a Tensor", https://github.com/keras-team/keras/issues/20585);
    - under MirroredStrategy over more than one device, `fit` with steps_per_execution > 1 (this tool's
      default, 32) fails in its multi-step while loop ("You must feed a value for placeholder tensor
      'while/body/.../Placeholder_1'").
    Those go through `cnn_cli.training.custom_loop` (`strategy.run(model.train_step, ...)` in a
    `tf.function` over `strategy.experimental_distribute_dataset`). When a Keras release fixes them,
    return True here (for that version on) and every strategy trains with `model.fit` again.
    """
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False  # keras-team/keras#20585
    return not (isinstance(strategy, tf.distribute.MirroredStrategy) and strategy.num_replicas_in_sync > 1)


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


def _multi_worker(config) -> bool:
    return config.distribute.strategy == "multi_worker"


_STATE: dict[str, Any] = {"key": None, "strategy": None, "name": "default", "worker": None, "run_dir": None}


def _temp_run_dir(worker: Worker) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"cnn-{worker.task.replace(':', '')}-"))
    if not os.environ.get(KEEP_ENV):
        atexit.register(shutil.rmtree, folder, True)
    return folder


def local_run_dir(config, run_dir: Path) -> Path:
    """The folder this process writes its run to: `run_dir`, or a temporary one on a non-chief worker."""
    _STATE["run_dir"], _STATE["worker"] = run_dir, None
    if not _multi_worker(config):
        return run_dir
    worker = _STATE["worker"] = cluster_worker()
    return run_dir if worker.is_chief else _temp_run_dir(worker)


def local_resume_dir(config, run_dir: Path, record):
    """`local_run_dir` for `--resume`: a non-chief worker gets a temporary copy of the chief's backup and
    history (and a record of its own), so that it restores exactly what the chief restores."""
    from cnn_cli import rundir as R

    _STATE["run_dir"], _STATE["worker"] = run_dir, None
    if not _multi_worker(config):
        return run_dir, record
    worker = _STATE["worker"] = cluster_worker()
    if worker.is_chief:
        return run_dir, record
    local = _temp_run_dir(worker)
    if (run_dir / R.BACKUP).is_dir():
        shutil.copytree(run_dir / R.BACKUP, local / R.BACKUP)
    for name in (R.HISTORY, R.CONFIG):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, local / name)
    return local, R.RunRecord(local, dict(record.data))


# ---------------------------------------------------------------- the strategy


def _cpu_count_wanted(devices: list[str]) -> int:
    cpus = [int(d.rsplit(":", 1)[1]) for d in devices if "cpu" in d.lower()]
    return max(cpus) + 1 if cpus else 0


def _logical_cpus(tf, wanted: int) -> None:
    """Splits the CPU into `wanted` logical devices (for mirrored over '/cpu:0', '/cpu:1', ...)."""
    cpus = tf.config.list_physical_devices("CPU")
    if wanted <= len(tf.config.get_logical_device_configuration(cpus[0]) or [None]):
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * wanted)
    except RuntimeError as exc:
        raise CnnError(f"distribute.devices: cannot make {wanted} logical CPU devices ({exc})") from None


def _make(config, tf):
    d = config.distribute
    name = d.strategy
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return None, "default"
    if name == "one_device":
        device = d.devices[0] if d.devices else ("/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0")
        _logical_cpus(tf, _cpu_count_wanted([device]))
        return tf.distribute.OneDeviceStrategy(device), name
    if name == "mirrored":
        if d.devices:
            _logical_cpus(tf, _cpu_count_wanted(d.devices))
        return tf.distribute.MirroredStrategy(devices=d.devices), name
    worker = _STATE["worker"] or cluster_worker()
    _STATE["worker"] = worker
    if worker.source == "Slurm":
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=int(os.environ.get("CNN_SLURM_PORT_BASE", "8888")),
            gpus_per_node=None if shutil.which("nvidia-smi") else 0,
        )
    else:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=d.timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options), name


def start(config, source: str):
    """Makes the config's strategy (None for TensorFlow's default) and checks the global batch against it."""
    from cnn_cli.tf_runtime import import_tensorflow

    tf = import_tensorflow()
    key = config.distribute.model_dump_json()
    if _STATE.get("key") != key:  # one strategy per process and setting (a MultiWorkerMirroredStrategy only once)
        try:
            _STATE["strategy"], _STATE["name"] = _make(config, tf)
        except (ValueError, RuntimeError) as exc:
            raise CnnError(f"distribute.strategy {config.distribute.strategy}: {exc}") from None
        _STATE["key"] = key
    strategy = _STATE["strategy"]
    replicas = replica_count()
    batch = config.train.batch_size
    if batch % replicas:
        raise ConfigError(
            source, "train.batch_size",
            f"expected a multiple of the {replicas} replicas of distribute.strategy {_STATE['name']} "
            f"(the global batch is split evenly; {batch} / {replicas} is not whole)", batch,
        )
    return strategy


def current():
    """The strategy `start` made, or TensorFlow's default strategy."""
    if _STATE["strategy"] is not None:
        return _STATE["strategy"]
    import tensorflow as tf

    return tf.distribute.get_strategy()


def scope():
    """The strategy's scope (the default strategy's, a no-op, when there is none)."""
    return current().scope()


def replica_count() -> int:
    return int(current().num_replicas_in_sync)


def is_chief() -> bool:
    worker = _STATE["worker"]
    return worker is None or worker.is_chief


def describe() -> dict:
    """For metrics.json: the strategy, its replicas (the global batch is split over them) and workers."""
    worker = _STATE["worker"]
    return {"strategy": _STATE["name"], "replicas": replica_count(),
            "workers": worker.workers if worker is not None and _STATE["name"] == "multi_worker" else 1}


# ---------------------------------------------------------------- fit and evaluate


def _worker_lost(exc: Exception) -> WorkerLostError:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    run_dir = _STATE["run_dir"]
    return WorkerLostError(
        f"multi-worker training stopped: a collective operation failed or timed out, so another worker died "
        f"or cannot be reached ({type(exc).__name__}: {first}); restart every worker with: "
        f"cnn train --resume {run_dir}"
    )


def _lost_worker_errors():
    import tensorflow as tf

    e = tf.errors
    return (e.UnavailableError, e.DeadlineExceededError, e.CancelledError, e.AbortedError, e.InternalError)


def fit(model, train_ds, **kwargs):
    """`model.fit(train_ds, **kwargs)`, or the custom loop where `fit` does not work under the strategy."""
    strategy = current()
    if fit_works_under(strategy):
        return model.fit(train_ds, **kwargs)
    from cnn_cli.training import custom_loop

    try:
        return custom_loop.fit(model, strategy, train_ds, chief=is_chief(), **kwargs)
    except _lost_worker_errors() as exc:
        raise _worker_lost(exc) from None


def evaluate(model, ds, **kwargs):
    """`model.evaluate(ds, **kwargs)`, or the custom loop's evaluation (results reduced over all workers)."""
    strategy = current()
    if fit_works_under(strategy):
        return model.evaluate(ds, **kwargs)
    from cnn_cli.training import custom_loop

    try:
        return custom_loop.evaluate(model, strategy, ds)
    except _lost_worker_errors() as exc:
        raise _worker_lost(exc) from None
