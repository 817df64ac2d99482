"""The middle of a run: the model built and compiled under the run's strategy, the backup restored, `fit` on
the one input pipeline (`cnn_cli.data.pipeline`), then the final save, the evaluation and the reports."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import keras

from cnn_cli import rundir as R
from cnn_cli.backends import current as backend
from cnn_cli.data.pipeline import TrainingBatches, eval_batches, one_hot_for
from cnn_cli.errors import DivergedError
from cnn_cli.rundir.atomic import save_atomic
from cnn_cli.training import report
from cnn_cli.training.callbacks import CtrlC, read_history
from cnn_cli.training.run_callbacks import RunCallbacks, make_callbacks

if TYPE_CHECKING:
    from cnn_cli.training.trainer import Run, TrainResult


def build_model(run: Run):
    """The config's model, compiled, its variables made under the run's strategy."""
    from cnn_cli.model.builder import build_model as build

    config, dataset = run.config, run.dataset
    train_cfg = config.train
    with run.dist.scope():
        model = build(config.model, tuple(dataset.input_shape), int(dataset.num_classes), run.plan.source,
                      name=config.name)
        optimizer = keras.optimizers.get({"class_name": train_cfg.optimizer.name, "config": train_cfg.optimizer.arguments()})
        model.compile(optimizer=optimizer, loss=train_cfg.loss, metrics=list(train_cfg.metrics),
                      steps_per_execution=backend().steps_per_execution(train_cfg.steps_per_execution))
    return model


ADAPT_EXAMPLES = 2048  # training images that `normalization: {adapt: true}` layers take their statistics from


def _adapt(run: Run, model, echo: Callable[[str], None]) -> None:
    """Fits the mean and variance of `normalization` layers with `adapt: true` to the first training images
    (a resume restores them from the backup instead)."""
    from cnn_cli.model.builder import adapt_normalization

    images = run.dataset.images[run.dataset.train[:ADAPT_EXAMPLES]]
    adapted = adapt_normalization(model, images)
    if adapted:
        echo(f"Adapted {', '.join(adapted)} to the mean and variance of {len(images)} training images")


def training_batches(run: Run) -> TrainingBatches:
    config, dataset = run.config, run.dataset
    return TrainingBatches(
        dataset.images, dataset.labels, indices=dataset.train, batch_size=config.train.batch_size,
        num_classes=int(dataset.num_classes),
        one_hot=one_hot_for(config.train.loss), seed=run.plan.seed,
        augment=config.data.augment if config.data is not None else None, in_order=config.train.deterministic,
        face=_face(run),
    )


def _face(run: Run) -> str | None:
    """tf.data under a tf.distribute strategy (its dataset distribution needs one), else the pipeline's default."""
    return "tf.data" if run.dist.strategy is not None else None


def _eval_batches(run: Run, indices):
    dataset = run.dataset
    return eval_batches(dataset.images, dataset.labels, indices=indices, batch_size=run.eval_batch,
                        num_classes=int(dataset.num_classes), one_hot=one_hot_for(run.config.train.loss),
                        face=_face(run))


def _has(x) -> bool:
    return x is not None and len(x) > 0


def fit_and_report(run: Run, echo: Callable[[str], None]) -> TrainResult:
    model = build_model(run)
    _adapt(run, model, echo)
    batches = training_batches(run)
    cbs = make_callbacks(run.config, run.run_dir, batches)
    epochs = run.config.train.epochs
    with run.dist.scope():
        initial_epoch = cbs.backup.restore(model, epochs)
    batches.set_epoch(initial_epoch)  # before fit: a pipeline may fetch ahead before the first epoch's callbacks
    dataset = run.dataset
    val_ds = _eval_batches(run, dataset.validation) if _has(dataset.validation) else None
    with CtrlC() as ctrl_c:
        run.dist.fit(model, batches.dataset, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                     verbose=run.plan.options.verbose, callbacks=[ctrl_c, *cbs.listed], shuffle=False)
    if cbs.guard.diverged is not None:
        _diverged(run, cbs)
    save_atomic(run.run_dir / R.MODEL, lambda tmp: model.save(tmp), point="final_save")
    return _report(run, model, cbs, echo)


def _diverged(run: Run, cbs: RunCallbacks) -> None:
    epoch, batch, loss = cbs.guard.diverged
    shutil.rmtree(run.run_dir / R.BACKUP, ignore_errors=True)
    run.record.update(status="diverged", finished=R.now())
    where = f"epoch {epoch}, batch {batch}" if batch else f"epoch {epoch}"
    raise DivergedError(
        f"training diverged: the loss became {loss} at {where}; try a lower train.optimizer.learning_rate "
        f"(run directory: {run.run_dir})"
    )


def _scores(run: Run, model) -> report.FinalScores:
    def evaluate(indices):
        if not _has(indices):
            return None
        result = run.dist.evaluate(model, _eval_batches(run, indices), verbose=0, return_dict=True)
        return {k: float(v) for k, v in result.items()} | {"examples": int(len(indices))}

    dataset = run.dataset
    return report.FinalScores(val=evaluate(dataset.validation), test=evaluate(dataset.test))


def _report(run: Run, model, cbs: RunCallbacks, echo: Callable[[str], None]) -> TrainResult:
    from cnn_cli import __version__
    from cnn_cli.summary import summarize
    from cnn_cli.training.trainer import TrainResult

    scores = _scores(run, model)
    rows = read_history(run.run_dir / R.HISTORY)
    monitor = cbs.monitor or ("val_loss" if _has(run.dataset.validation) else "loss")
    early = cbs.early
    metrics = report.metrics_record(scores=scores, rows=rows, monitor=monitor, run={
        "train_examples": int(len(run.dataset.train)), "epochs_planned": run.config.train.epochs,
        "early_stopped": cbs.early_stopped,
        "restored_best_weights": bool(early is not None and early.restore_best_weights and early.best_weights is not None),
        "started": run.started, "seed": run.plan.seed, "precision": run.policy,
        "resumed": len(run.record.data.get("resumed", [])), "distribute": run.dist.describe(),
        "backend": backend().NAME, "device": run.devices,
        "versions": {**backend().versions(), "keras": keras.__version__, "cnn": __version__},
    })
    summary = summarize(run.config, tuple(run.dataset.input_shape), int(run.dataset.num_classes), run.plan.source,
                        batch_size=run.config.train.batch_size, model=model)
    report.write_reports(run.run_dir, metrics=metrics, class_map=run.dataset.class_map, summary_text=summary.to_text(),
                         rows=rows, title=run.config.name)
    run.record.update(status="complete", finished=R.now())
    shutil.rmtree(run.run_dir / R.BACKUP, ignore_errors=True)  # after "complete": a kill between leaves a finished run
    report.tell_result(echo, scores=scores, rows=rows, run_dir=run.run_dir, early_stopped=cbs.early_stopped,
                       best=metrics["best_epoch"], monitor=monitor)
    sys.stdout.flush()
    return TrainResult(run.run_dir, metrics)
