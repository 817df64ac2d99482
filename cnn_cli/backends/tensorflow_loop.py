"""A training loop for strategies under which Keras' `model.fit` does not work (see
`cnn_cli.backends.tensorflow.TensorFlow.fit_works_under`): MultiWorkerMirroredStrategy with Keras 3.15.

It does what `fit` does for this tool, with the same Keras callbacks (history, checkpoint, early stopping,
LR plateau, TensorBoard, backup and restore, callback state):

- the data is distributed with `strategy.experimental_distribute_dataset`, sharded over the workers by
  tf.data's DATA auto-shard policy (every worker reads the same shuffled order, and each takes its own
  part of every global batch); the batches of `train.batch_size` are the global batches;
- each step runs `strategy.run(model.train_step, args=(batch,))` inside a `tf.function`; gradients are
  summed over all replicas by the optimizer, as under `fit`;
- the logs are the compiled metrics read in cross-replica context, so their (sync-on-read) totals and
  counts are summed over every worker: every worker sees the same loss and accuracy, and the callbacks
  take the same decisions (stop early, lower the learning rate) on every worker;
- validation runs after each epoch the same way (`model.test_step`), reduced over the workers.

Every worker runs every callback: the non-chief ones write into their temporary run folder, which keeps
the collective operations (variable reads while saving) in the same order on every worker.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cnn_cli import private_api


def _sharded(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _results(model) -> dict:
    """The compiled metrics' results, flattened as `fit` logs them (called in cross-replica context)."""
    out = {}
    for metric in model.metrics:
        result = metric.result()
        if isinstance(result, dict):
            out.update(result)
        else:
            out[metric.name] = result
    return out


class _Steps:
    """The model's distributed train and test steps, traced once per model, strategy and optimizer."""

    def __init__(self, model, strategy):
        @tf.function
        def train(batch):
            strategy.run(model.train_step, args=(batch,))
            return _results(model)

        @tf.function
        def test(batch):
            strategy.run(model.test_step, args=(batch,))
            return _results(model)

        self.strategy, self.train, self.test = strategy, train, test
        self.optimizer = model.optimizer  # a recompile (a run's next phase) traces them again


def _steps(model, strategy) -> _Steps:
    steps = getattr(model, "_cnn_distributed_steps", None)
    if steps is None or steps.strategy is not strategy or steps.optimizer is not model.optimizer:
        steps = _Steps(model, strategy)
        model._cnn_distributed_steps = steps
    return steps


def _floats(logs: dict) -> dict:
    return {k: float(v) for k, v in logs.items()}


def _run_test(model, strategy, dist_ds) -> dict:
    steps = _steps(model, strategy)
    model.reset_metrics()
    logs: dict = {}
    for batch in dist_ds:
        logs = steps.test(batch)
    return _floats(logs)


def evaluate(model, strategy, ds) -> dict:
    """Loss and metrics over `ds` (sharded over the workers, reduced over all of them), as a dict."""
    with strategy.scope():
        return _run_test(model, strategy, strategy.experimental_distribute_dataset(_sharded(ds)))


def fit(model, strategy, train_ds, *, validation_data=None, epochs: int = 1, initial_epoch: int = 0, verbose=2,
        callbacks=(), shuffle=False, chief: bool = True):
    """`model.fit(train_ds, validation_data=..., epochs=..., callbacks=...)` for a batched tf.data dataset."""
    del shuffle  # the pipeline shuffles (the same order on every worker, so that DATA sharding splits it)
    listed = list(callbacks)
    with strategy.scope():
        train_dist = strategy.experimental_distribute_dataset(_sharded(train_ds))
        val_dist = (strategy.experimental_distribute_dataset(_sharded(validation_data))
                    if validation_data is not None else None)
        # Builds the compiled loss and metrics and the optimizer (as `fit` does) before any step: variables
        # made inside a replicated tf.function fail under MirroredStrategy, and the run backup restores
        # the optimizer's slots into these.
        for batch in train_ds.take(1):
            private_api.build_for_batch(model, batch)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        steps = _steps(model, strategy)
        cbs = keras.callbacks.CallbackList(
            listed, add_history=True, add_progbar=bool(verbose) and chief, model=model,
            verbose=verbose if chief else 0, epochs=epochs, steps=None,
        )
        model.stop_training = False
        cbs.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, batch in enumerate(train_dist):
                cbs.on_train_batch_begin(step)
                logs = _floats(steps.train(batch))
                cbs.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            epoch_logs = dict(logs)
            if val_dist is not None:
                epoch_logs.update({f"val_{k}": v for k, v in _run_test(model, strategy, val_dist).items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if model.stop_training:
                break
        cbs.on_train_end(logs)
    return model.history
