"""Keras 3's own distribution engine on JAX (`keras.distribution.DataParallel`): `distribute.strategy:
data_parallel` over this process's devices and, with several processes, over every process's devices
(`jax.distributed.initialize`, the cluster from `JAX_COORDINATOR_ADDRESS` / `JAX_NUM_PROCESSES` /
`JAX_PROCESS_ID` or Slurm, read by `cnn_cli.training.distribute.worker_of`).

`KerasEngine` is the strategy the run holds: `scope()` (Keras' distribution made current: the variables are
replicated over the devices, every batch is split over them), `num_replicas_in_sync` (devices in all),
`processes` and `process_index`. Each process feeds its own part of every global batch (Keras' automatic
sharding takes only a tf.data.Dataset, so it is off); the pipeline cuts that part (`cnn_cli.data.batches.Shard`).
"""

from __future__ import annotations

import os

from cnn_cli.errors import CnnError

_joined: dict = {}  # jax.distributed is started once per process: the cluster it joined


class KerasEngine:
    """A `keras.distribution.DataParallel` over `devices`, with the process layout."""

    def __init__(self, distribution, devices: list, processes: int, process_index: int):
        self.distribution = distribution
        self.devices = list(devices)
        self.num_replicas_in_sync = len(self.devices)
        self.processes, self.process_index = int(processes), int(process_index)

    def scope(self):
        return self.distribution.scope()

    def __repr__(self) -> str:
        return f"<data_parallel over {self.num_replicas_in_sync} devices in {self.processes} processes>"


def join(worker) -> None:
    """Starts `jax.distributed` for this process of a multi-process run (before JAX computes anything), once;
    CPU devices talk through gloo. `worker`: the `Worker` (its source "JAX" or "Slurm", count and rank)."""
    key = (worker.workers, worker.rank)
    if _joined:
        if _joined.get("key") != key:
            raise CnnError(f"distribute.strategy data_parallel: this process joined a cluster as process "
                           f"{_joined['key'][1]} of {_joined['key'][0]} already")
        return
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeout = int(os.environ.get("CNN_JAX_HEARTBEAT_SECONDS", "30"))
    try:
        if worker.source == "Slurm":
            jax.distributed.initialize(heartbeat_timeout_seconds=timeout, shutdown_timeout_seconds=timeout)
        else:
            jax.distributed.initialize(
                coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"], num_processes=worker.workers,
                process_id=worker.rank, initialization_timeout=int(os.environ.get("CNN_JAX_JOIN_SECONDS", "300")),
                heartbeat_timeout_seconds=timeout, shutdown_timeout_seconds=timeout,
            )
    except (RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CnnError(f"distribute.strategy data_parallel: cannot join the JAX cluster as process {worker.rank} "
                       f"of {worker.workers} ({first}); check JAX_COORDINATOR_ADDRESS and that every process "
                       f"was started") from None
    _joined["key"] = key


def real_accelerators() -> int:
    """The GPUs or TPUs JAX sees in this process (host devices forced by XLA_FLAGS are not counted)."""
    import jax

    return 0 if jax.default_backend() == "cpu" else jax.local_device_count()


def make(worker) -> KerasEngine:
    """Keras' DataParallel over every device of every process (`worker` None: this process alone)."""
    if worker is not None:
        join(worker)
    import jax
    import keras

    devices = jax.devices()
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    return KerasEngine(distribution, devices, jax.process_count(), jax.process_index())
