"""The middle of a run: the model built and compiled under the run's strategy, the backup restored, `fit` on
the one input pipeline (`cnn_cli.data.pipeline`), then the final save, the evaluation and the reports."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import keras
import numpy as np

from cnn_cli import __version__, rundir, tasks
from cnn_cli.backends import current as backend
from cnn_cli.config.phases import spans
from cnn_cli.data.batches import SplitImages, chunk_rows
from cnn_cli.data.pipeline import TrainingBatches, eval_batches
from cnn_cli.errors import CnnError, ConfigError, DivergedError
from cnn_cli.inference import tta
from cnn_cli.inference.background import training_border_mean
from cnn_cli.reports.summary import summarize
from cnn_cli.tasks import calibration
from cnn_cli.training import finish, lr_find, pretrained, recipe, tracking
from cnn_cli.training.callbacks import CtrlC
from cnn_cli.training.phase_fit import Phases
from cnn_cli.training.plan import has_saved_epoch
from cnn_cli.training.progress import Throughput, progress_callbacks
from cnn_cli.training.run_callbacks import RunCallbacks, make_callbacks
from cnn_cli.training.stages import PreparedRun as Run
from cnn_cli.training.stages import TrainResult
from cnn_cli.training.warm_start import warm_start


def build_model(run: Run):
    """The config's model from the run's graph, its variables made under the run's strategy
    (`phase_fit.Phases` compiles it)."""
    from cnn_cli.model.builder import build_model as build

    config, dataset = run.config, run.dataset
    with run.dist.scope():
        return build(config.model, tuple(dataset.input_shape), int(dataset.num_classes), run.plan.source,
                     name=config.name, graph=run.analysis.graph, head_activation=tasks.of(config).HEAD_ACTIVATION)


ADAPT_EXAMPLES = 2048  # training images that `normalization: {adapt: true}` layers take their statistics from


def _adapt(run: Run, model, echo: Callable[[str], None], loaded: list[str]) -> None:
    """Fits the mean and variance of `normalization` layers with `adapt: true` to the first training images,
    except those given starting weights (`loaded`; a resume restores them all from the backup instead)."""
    from cnn_cli.model.builder import adapt_normalization

    images = run.dataset.images[run.dataset.train[:ADAPT_EXAMPLES]]
    adapted = adapt_normalization(model, images, skip=loaded)
    if adapted:
        echo(f"Adapted {', '.join(adapted)} to the mean and variance of {len(images)} training images")


def _starting_weights(run: Run, model, echo: Callable[[str], None]) -> list[str]:
    """A new run's layers set from --init-from or model.weights; their names. A resume restores its backup
    instead -- unless the run saved no epoch (its weights failed to load, or it stopped inside epoch 1): it
    starts as new, from the starting weights it was given."""
    init_from = run.plan.init_from
    if run.plan.resume:
        if has_saved_epoch(run.run_dir):
            return []
        if init_from is not None or run.config.model.weights is not None:
            echo("The run saved no epoch: it starts as new, from its starting weights")
    if init_from is not None:
        return warm_start(model, init_from, echo)[0]
    if run.config.model.weights is not None:
        return pretrained.load(model, run.config, tuple(run.dataset.input_shape), echo)
    return []


def _targets(run: Run):
    """The batches' targets: the task's (multi-hot rows as float32, standardised numbers), else the labels."""
    return run.targets if getattr(run, "targets", None) is not None else run.dataset.labels


def training_batches(run: Run, class_weights=None) -> TrainingBatches:
    config, dataset = run.config, run.dataset
    return TrainingBatches(
        dataset.images, _targets(run), indices=dataset.train, batch_size=config.train.batch_size,
        num_classes=int(dataset.num_classes),
        one_hot=tasks.of(config).one_hot(config), seed=run.plan.seed,
        augment=config.data.augment if config.data is not None else None, in_order=config.train.deterministic,
        class_weights=class_weights, sampling=config.data.sampling if config.data is not None else None,
        face=_face(run), shard=run.dist.shard(),
    )


def _face(run: Run) -> str | None:
    """tf.data under a tf.distribute strategy (its dataset distribution needs one), else the pipeline's default."""
    return "tf.data" if run.dist.strategy is not None and backend().supports("tf_distribute") else None


def _eval_batches(run: Run, indices):
    dataset = run.dataset
    return eval_batches(dataset.images, _targets(run), indices=indices, batch_size=run.eval_batch,
                        num_classes=int(dataset.num_classes), one_hot=tasks.of(run.config).one_hot(run.config),
                        face=_face(run), shard=run.dist.shard())


def _has(x) -> bool:
    return x is not None and len(x) > 0


def fit_and_report(run: Run, echo: Callable[[str], None]) -> TrainResult:
    if run.config.train.calibrate is not None and not _has(run.dataset.validation):
        raise ConfigError(run.plan.source, "train.calibrate", "temperature needs a validation split to fit on, and "
                          "the data has none (set data.validation_split)", run.config.train.calibrate)
    model = build_model(run)
    _adapt(run, model, echo, _starting_weights(run, model, echo))
    if run.config.train.tta == "flip":
        data = run.config.data
        warning = tta.flip_warning(run.config.name, data and data.source, data and data.path, run.plan.data_path)
        if warning:
            echo(warning)
    task = tasks.of(run.config)
    state = task.fit_state(run.dataset.y_train, run.config)  # a regression's mean and std, from the training split
    state = dataclasses.replace(state, train_counts=task.counts(run.dataset.y_train, int(run.dataset.num_classes)))
    run = dataclasses.replace(run, state=state, targets=task.targets(run.dataset.labels, state) if task.SEVERAL else None)
    weights = recipe.class_weights(run.config, run.dataset.y_train, run.dataset.class_map, run.plan.source)
    loss = task.loss(run.config, weights) if task.SEVERAL and weights is not None else None  # positive weights
    batches = training_batches(run, None if loss is not None else weights)
    run = lr_find.resolve_auto(run, model, batches, loss, echo)  # learning_rate: auto -> the range test's rate
    cbs = make_callbacks(run.config, run.dir, batches, started=run.started, time_limit=run.plan.time_limit,
                         tracker=run.tracker)
    epochs = run.config.train.epochs
    extension = run.plan.extension
    phases = Phases(run, model, echo, loss=loss)
    phases.enter(phases.spans[0], say=False)
    with run.dist.scope():
        initial_epoch = cbs.backup.restore(model, epochs, extend=extension is not None, prepare=phases.prepare)
    _mend_history(run, cbs, echo)
    if extension is not None:
        echo(extension.describe())
        line = phases.plan_line()
        if line:
            echo(f"  {line}")
    if run.config.train.optimizer.use_ema and phases.inside(initial_epoch):
        recipe.exchange_ema(model)  # the backup holds the averages in the model (see recipe.EmaAtStop)
    batches.set_epoch(initial_epoch)  # before fit: a pipeline may fetch ahead before the first epoch's callbacks
    dataset = run.dataset
    val_ds = _eval_batches(run, dataset.validation) if _has(dataset.validation) else None
    throughput = Throughput(len(dataset.train), echo if run.plan.verbose else None)
    planner = _time_plan(run, phases, echo)
    with CtrlC(at_epoch_end=run.plan.ctrl_c_at_epoch_end) as ctrl_c:
        phases.fit(batches, cbs, initial_epoch=initial_epoch, validation_data=val_ds, first=[ctrl_c],
                   last=[*progress_callbacks(run.plan.verbose), throughput, *planner, *run.plan.callbacks])
    if ctrl_c.stopped:  # the epoch under Ctrl-C finished and was saved: the run ends as interrupted
        raise KeyboardInterrupt
    if cbs.guard.diverged is not None:
        _diverged(run, cbs)
    run.dir.save_model(lambda tmp: model.save(tmp), point="final_save")
    return _report(run, model, cbs, echo, weights, speed=throughput.record())


def _time_plan(run: Run, phases: Phases, echo: Callable[[str], None]) -> list:
    """With --time-limit, a one-cycle or cosine schedule re-planned from a measured epoch time (`time_plan.py`)."""
    if not phases.timed or phases.schedule is None:
        return []
    from cnn_cli.training.schedules import steps_per_epoch
    from cnn_cli.training.time_plan import TimePlan

    train = run.config.train
    return [TimePlan(time_limit=run.plan.time_limit, started=run.started, epochs=train.epochs,
                     per_epoch=steps_per_epoch(len(run.dataset.train), train.batch_size),
                     schedule_config=train.lr_schedule, schedule=lambda: phases.schedule, record=run.record, echo=echo)]


def _mend_history(run: Run, cbs: RunCallbacks, echo: Callable[[str], None]) -> None:
    """history.csv must hold every epoch the restored backup has run: one emptied, cut or deleted is rebuilt
    from the backup's copy of it, or the resume is refused -- never goes on with the earlier epochs lost."""
    done = cbs.backup.restored_epoch
    if not done:
        return
    path = run.dir.history_path
    try:
        held = {int(r["epoch"]) for r in run.dir.history.text_rows()}
    except CnnError:
        held = set()  # a damaged file: the backup's copy replaces it, if there is one
    if held >= set(range(1, done + 1)):
        return
    copy = cbs.backup.history_copy()
    rows = rundir.History(copy).text_rows() if copy is not None else []
    if {int(r["epoch"]) for r in rows} < set(range(1, done + 1)):
        raise CnnError(f"{path}: holds {len(held)} of the {done} epochs the run's backup has run, and the backup "
                       f"keeps no copy of them; put the file back, or start a new run from this one's weights with "
                       f"--init-from {run.run_dir}")
    run.dir.history.write(rows)
    echo(f"{path} held {len(held)} of the {done} epochs run; rebuilt from the backup of epoch {done}")


def _diverged(run: Run, cbs: RunCallbacks) -> None:
    epoch, batch, loss = cbs.guard.diverged
    run.dir.drop_backup()
    run.record.mark("diverged")
    where = f"epoch {epoch}, batch {batch}" if batch else f"epoch {epoch}"
    raise DivergedError(
        f"training diverged: the loss became {loss} at {where}; try a lower train.optimizer.learning_rate "
        f"(run directory: {run.run_dir})"
    )


def _outputs(run: Run, model, indices, flip: bool = False):
    """The task's outputs of the model on `images[indices]`, a chunk at a time (in the data's units); with `flip`,
    of the mean of each image's and its mirror's scores (flip TTA)."""
    rows = chunk_rows(run.dataset.images.shape[1:], run.eval_batch)

    def predict(pixels):
        return np.asarray(run.dist.predict(model, pixels.astype(np.float32), run.eval_batch))

    scores = [tta.flip_probabilities(predict, pixels) if flip else predict(pixels)
              for _, pixels in SplitImages(run.dataset.images, indices).chunks(rows)]
    return tasks.of(run.config).outputs(np.concatenate(scores), run.state)


def _tuned(run: Run, model, echo: Callable[[str], None]) -> Run:
    """The run with its state fitted on the validation split: the temperature (`train.calibrate`), then a
    multi-label run's thresholds on the calibrated scores (`train.thresholds: tuned`)."""
    task, dataset = tasks.of(run.config), run.dataset
    calibrating = run.config.train.calibrate is not None
    if not _has(dataset.validation) or not (task.SEVERAL or calibrating):
        return run
    outputs, labels = _outputs(run, model, dataset.validation), dataset.labels[dataset.validation]
    state = task.calibrate(run.state, outputs, labels, run.config)
    if calibrating:
        calibrated = task.outputs(outputs, state)  # the outputs given again: only scaled by the temperature
        echo(f"Calibrated: temperature {state.temperature:.4f} fitted on the validation split (ECE "
             f"{task.ece(labels, outputs):.4f} -> {task.ece(labels, calibrated):.4f})")
        outputs = calibrated
    state = task.tune(state, outputs, labels, run.config)
    return dataclasses.replace(run, state=state)


def _scores(run: Run, model) -> finish.FinalScores:
    task = tasks.of(run.config)
    dataset = run.dataset

    def evaluate(indices):
        if not _has(indices):
            return None
        result = run.dist.evaluate(model, _eval_batches(run, indices), verbose=0, return_dict=True)
        scores = {k: float(v) for k, v in result.items()} | {"examples": int(len(indices))}
        if task.SEVERAL:  # the task's figures, in the data's units (regression) and at the run's thresholds
            figures = task.evaluate(dataset.labels[indices], _outputs(run, model, indices), run.state,
                                    dataset.class_map.names)
            scores |= {k: v for k, v in figures.items() if isinstance(v, (int, float)) or v is None}
            if run.config.train.tta == "flip":  # the task's figures of the mean of each image's and its mirror's
                flipped = task.evaluate(dataset.labels[indices], _outputs(run, model, indices, flip=True), run.state,
                                        dataset.class_map.names)
                scores |= {f"{key}_tta": flipped[key] for key in task.FIGURES}
        if not task.SEVERAL and (run.config.train.calibrate is not None or calibration.is_imbalanced(
                calibration.imbalance_ratio(run.state.train_counts))):  # balanced accuracy, macro F1, ECE
            outputs = _outputs(run, model, indices)
            scores |= task.evaluate(dataset.labels[indices], outputs, run.state, dataset.class_map.names)
        if task.SEVERAL or run.config.train.calibrate is not None:
            scores |= _ece_before(run, model, indices)
        if run.config.train.tta == "flip" and not task.SEVERAL:  # a chunk of the split at a time, gathered from the store
            scores["accuracy_tta"] = tta.flip_accuracy(predict, dataset.images, dataset.labels, indices,
                                                       rows=chunk_rows(dataset.images.shape[1:], run.eval_batch))
        return scores

    def predict(x):
        return run.dist.predict(model, x, run.eval_batch)

    return finish.FinalScores(val=evaluate(dataset.validation), test=evaluate(dataset.test))


def _ece_before(run: Run, model, indices) -> dict:
    """A calibrated run's ECE before its temperature (`ece_before`); nothing for another run."""
    if run.state.temperature is None:
        return {}
    task = tasks.of(run.config)
    plain = dataclasses.replace(run, state=dataclasses.replace(run.state, temperature=None))
    return {"ece_before": task.ece(run.dataset.labels[indices], _outputs(plain, model, indices)),
            "temperature": run.state.temperature}


def _recipe_record(run: Run, scores: finish.FinalScores, cbs: RunCallbacks, weights) -> dict:
    """metrics.json's keys of the recipe: the TTA figures, the class weights, the stops."""
    out: dict = {}
    if run.config.train.tta == "flip":
        out["tta"] = "flip"
        for name, split in (("val", scores.val), ("test", scores.test)):
            for key in tasks.of(run.config).FIGURES:  # classification: val_accuracy_tta; multilabel: val_micro_f1_tta
                out[f"{name}_{key}_tta"] = split and split.get(f"{key}_tta")
    if weights is not None:
        out["class_weights"] = recipe.weights_by_name(weights, run.dataset.class_map)
    if cbs.stop is not None:
        out.update(cbs.stop.record())
    return out


def _report(run: Run, model, cbs: RunCallbacks, echo: Callable[[str], None], weights=None,
            speed: dict | None = None) -> TrainResult:
    run = _tuned(run, model, echo)
    scores = _scores(run, model)
    rows = run.dir.history.text_rows()
    monitor = cbs.monitor or ("val_loss" if _has(run.dataset.validation) else "loss")
    early = cbs.early
    restored = bool(early is not None and early.restore_best_weights and early.best_weights is not None)
    models = finish.which_models(rows, checkpoint=cbs.checkpoint.monitor if cbs.checkpoint is not None else None,
                                 restored_by=early.monitor if restored else None,
                                 watched_from=spans(run.config.train)[-1].start + 1)
    metrics = finish.metrics_record(scores=scores, rows=rows, monitor=monitor, run={
        "train_examples": int(len(run.dataset.train)), "epochs_planned": run.config.train.epochs,
        "early_stopped": cbs.early_stopped, "models": models,
        "training_images": {"border_mean": training_border_mean(run.dataset.images, run.dataset.train)},
        "restored_best_weights": restored, "params": run.analysis.total_params, "macs": run.analysis.total_macs,
        "started": run.started, "seed": run.plan.seed, "precision": run.policy,
        "resumed": len(run.record.data.get("resumed", [])), "distribute": run.dist.describe(),
        "backend": backend().NAME, "device": run.devices,
        "versions": {**backend().versions(), "keras": keras.__version__, "cnn": __version__},
    }) | _recipe_record(run, scores, cbs, weights) | finish.phases_record(run.config.train, rows) \
        | finish.task_record(tasks.of(run.config).NAME, scores) | (speed or {})
    summary = summarize(run.config, tuple(run.dataset.input_shape), int(run.dataset.num_classes), run.plan.source,
                        batch_size=run.config.train.batch_size, model=model, analysis=run.analysis)
    finish.write_reports(run.dir, metrics=metrics, class_map=run.dataset.class_map, summary_text=summary.to_text(),
                         rows=rows, title=run.config.name, task=run.config.task, state=run.state)
    run.record.mark("complete")
    cbs.backup.keep_last()  # after "complete": the last epoch's generation, which `--resume R --epochs N` extends
    finish.tell_result(echo, scores=scores, rows=rows, run_dir=run.run_dir, early_stopped=cbs.early_stopped,
                       best=metrics["best_epoch"], monitor=monitor, loss=tasks.of(run.config).loss_words(run.config),
                       task=tasks.of(run.config).NAME)
    finish.tell_recipe(echo, metrics)
    tracking.finish_run(run.tracker, run.dir, metrics, run.config, echo)
    sys.stdout.flush()
    return TrainResult(run.run_dir, metrics)
