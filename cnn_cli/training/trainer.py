"""A training run from start to end: config, seed and precision, data, model, callbacks, `fit`, and the
files of the run directory (see `cnn_cli.rundir` for their names).

Resuming (`resume=True`) goes on with an interrupted (or killed) run from its last finished epoch, through
`callbacks.RunBackup` (model and optimizer state, epoch number, the callbacks' counters: one generation per
epoch, committed atomically, the previous one kept as a fallback). Every file of the run directory is
written atomically (`files.save_atomic`); the data order and random draws of epoch e depend on (seed, e)
only (`data_order`), so with `train.deterministic` a resumed run ends with an uninterrupted run's weights.
A write that fails (disk full, no permission) ends the run with one line and exit code 2, run.json `failed`.
"""

from __future__ import annotations

import math
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_cli import rundir as R
from cnn_cli.config import Config, config_from_dict
from cnn_cli.errors import CnnError, DivergedError
from cnn_cli.rundir.atomic import write_atomic, write_json
from cnn_cli.training import distribute as D
from cnn_cli.training.seeding import choose_precision, choose_seed, seed_everything, set_precision
from cnn_cli.yaml_io import dump_yaml


@dataclass
class TrainOptions:
    config_path: str | None = None
    overrides: Sequence[str] = ()
    data_path: str | None = None
    epochs: int | None = None
    subset: int | None = None
    seed: int | None = None
    run_dir: str | None = None
    resume: bool = False
    verbose: int = 2
    argv: list[str] = field(default_factory=list)


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


# ---------------------------------------------------------------- configs


def _apply_flags(config: Config, opts: TrainOptions) -> Config:
    """`--epochs`, `--seed`, `--subset` on top of the config (validated on assignment)."""
    if opts.epochs is not None:
        config.train.epochs = opts.epochs
    if opts.seed is not None:
        config.seed = opts.seed
    if opts.subset is not None and config.data is not None:
        config.data.subset = opts.subset
    return config


def config_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted key paths where two dumped configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in list(a) + [k for k in b if k not in a]:
            out += config_differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += config_differences(x, y, f"{prefix}[{i}]")
        return out
    return [] if a == b else [prefix or "(whole config)"]


def dump_config(config: Config) -> dict:
    """The resolved config as plain data, every default written out -- except `data.npz_keys`, where only
    the keys the user gave are kept: the data loader treats a given key as a split that must exist."""
    raw = config.model_dump(mode="json")
    if config.data is not None:
        keys = config.data.npz_keys
        given = keys.model_dump(mode="json", include=set(keys.model_fields_set))
        if given:
            raw["data"]["npz_keys"] = given
        else:
            raw["data"].pop("npz_keys", None)
    return raw


def _check_same_config(saved: Config, given: Config, run_dir: Path, what: str) -> None:
    """Refuses a resume whose config differs from the run's own `config.yaml`."""
    if given.model.input_shape is None:
        given.model.input_shape = saved.model.input_shape
    if given.model.num_classes is None:
        given.model.num_classes = saved.model.num_classes
    if given.seed is None:
        given.seed = saved.seed
    diff = config_differences(saved.model_dump(mode="json"), given.model_dump(mode="json"))
    if diff:
        shown = ", ".join(diff[:8]) + (f" and {len(diff) - 8} more" if len(diff) > 8 else "")
        raise CnnError(f"cannot resume {run_dir}: {what} differs from the run's {R.CONFIG} at {shown}")


def _resumable(run_dir: Path) -> R.RunRecord:
    """run.json of a run that may be resumed (not complete, not diverged)."""
    record = R.RunRecord.load(run_dir)
    if record.status == "complete":
        raise CnnError(f"cannot resume {run_dir}: the run is already complete")
    if record.status == "diverged":
        raise CnnError(f"cannot resume {run_dir}: the run diverged (NaN loss); start a new run with other settings")
    return record


def _resume_setup(opts: TrainOptions) -> tuple[Config, str, Path, R.RunRecord]:
    if not opts.run_dir:
        raise CnnError("--resume needs the run directory: --resume RUN_DIR (or --resume --run-dir RUN_DIR)")
    from cnn_cli.resolve import config_for

    run_dir = Path(opts.run_dir)
    from cnn_cli.rundir.layout import run_file

    for name in (R.CONFIG, R.RUN):  # a run directory's own files stay inside it
        run_file(run_dir, name)
    saved, source = config_for(str(run_dir), None, ())
    record = _resumable(run_dir)
    if opts.config_path:
        from cnn_cli.config import load_config

        given = _apply_flags(load_config(opts.config_path, opts.overrides), opts)
        _check_same_config(saved, given, run_dir, opts.config_path)
    elif opts.overrides or opts.epochs is not None or opts.seed is not None or opts.subset is not None:
        from cnn_cli.config.loader import apply_overrides

        given = _apply_flags(config_from_dict(apply_overrides(saved.model_dump(mode="json"), opts.overrides, "--set"), "--set"), opts)
        _check_same_config(saved, given, run_dir, "the config with --set/--epochs/--seed/--subset")
    recorded = record.data.get("data_path")
    if opts.data_path is not None and recorded is not None and str(opts.data_path) != str(recorded):
        raise CnnError(f"cannot resume {run_dir}: --data {opts.data_path} differs from the run's data {recorded}")
    opts.data_path = opts.data_path if opts.data_path is not None else recorded
    if opts.subset is None:
        opts.subset = record.data.get("subset")
    return saved, source, run_dir, record


# ---------------------------------------------------------------- the run

EVAL_BATCH = 256  # about this many examples per validation and test batch


def train(opts: TrainOptions, echo: Callable[[str], None] = print) -> TrainResult:
    started = time.perf_counter()
    if opts.resume:
        config, source, run_dir, record = _resume_setup(opts)
        run_dir, record = D.local_resume_dir(config, run_dir, record)  # [distribute] non-chief: a temp copy
        seed = config.seed
    else:
        if not opts.config_path:
            raise CnnError("no config: give --config FILE (or --resume RUN_DIR)")
        from cnn_cli.resolve import config_for

        config, source = config_for(None, opts.config_path, opts.overrides)
        config = _apply_flags(config, opts)
        seed = choose_seed(config.seed)
        config.seed = seed
        run_dir = Path(opts.run_dir) if opts.run_dir else R.default_run_dir(config.name)
        run_dir = D.local_run_dir(config, run_dir)  # [distribute] non-chief workers write to a temp dir
        record = None
    with R.RunLock(run_dir, new=not opts.resume):  # one writer per run directory; refuses a non-empty new one
        if opts.resume and record.path.parent == Path(opts.run_dir):  # the status now, under the lock
            record = _resumable(run_dir)
        return _train_locked(config, source, run_dir, record, seed, opts, started, echo)


def _train_locked(config, source, run_dir, record, seed, opts, started, echo) -> TrainResult:
    from cnn_cli.tf_runtime import import_tensorflow

    import_tensorflow()
    D.start(config, source)  # [distribute] the strategy, before TensorFlow's runtime starts
    import keras

    _check_tensorboard(config)
    seed_everything(seed, config.train.deterministic)
    policy = choose_precision(config.train.precision)
    previous_policy = keras.mixed_precision.global_policy().name
    set_precision(policy)

    from cnn_cli.data import load_dataset
    from cnn_cli.data.compat import check_model_fits_data

    subset = opts.subset if opts.subset is not None else (config.data.subset if config.data else None)
    dataset = load_dataset(config, data_path=opts.data_path, subset=subset, source=source)
    check_model_fits_data(config, dataset, source)

    try:
        return _start_and_fit(config, source, dataset, run_dir, record, seed, policy, subset, opts, started, echo, keras)
    except OSError as exc:  # the run directory cannot be written (permissions, disk full, a path that is a file)
        raise CnnError(_write_error(exc, run_dir)) from None
    finally:
        set_precision(previous_policy)  # a caller in the same process (compare, tests) gets Keras as it was


def _mark(record, **fields) -> None:
    """Updates run.json where it can: after a failed write, run.json may not be writable either."""
    try:
        record.update(**fields)
    except OSError:
        pass


def _write_error(exc: OSError, run_dir: Path) -> str:
    import errno

    where = exc.filename or run_dir
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why += " (the disk is full)"
    resume = f"; the files written before are intact, resume with: cnn train --resume {run_dir}" if (
        Path(run_dir) / R.RUN).is_file() else ""
    return f"{where}: cannot write: {why}{resume}"


def _start_and_fit(config, source, dataset, run_dir, record, seed, policy, subset, opts, started, echo, keras):
    if not opts.resume:
        config.model.input_shape = tuple(int(d) for d in dataset.input_shape)
        config.model.num_classes = int(dataset.num_classes)
        raw = dump_config(config)
        config = config_from_dict(raw, source)  # the run's config must load back as it is written
        run_dir = R.create_run_dir(run_dir)
        write_atomic(run_dir / R.CONFIG, dump_yaml(raw))
        record = R.RunRecord(run_dir, {
            "name": config.name,
            "config_file": opts.config_path,
            "overrides": list(opts.overrides),
            "data_path": opts.data_path,
            "subset": subset,
            "seed": seed,
            "command": opts.argv,
            "status": "running",
            "started": R.now(),
            "finished": None,
            "resumed": [],
        })
        record.update()
    else:
        from cnn_cli.rundir.atomic import remove_stale_temps

        remove_stale_temps(run_dir)  # the temp files of a killed run
        record.update(status="running", finished=None, resumed=[*record.data.get("resumed", []), R.now()])

    try:
        return _fit_and_report(config, source, dataset, run_dir, record, seed, policy, opts, started, echo, keras)
    except KeyboardInterrupt:
        _mark(record, status="interrupted", finished=R.now())
        echo(f"Training interrupted; resume with: cnn train --resume {run_dir}")
        raise
    except DivergedError:
        raise
    except CnnError:
        _mark(record, status="failed", finished=R.now())
        raise
    except OSError as exc:
        _mark(record, status="failed", finished=R.now(), error=f"{type(exc).__name__}: {exc}")
        raise  # train() reports it in one line
    except Exception as exc:
        _mark(record, status="failed", finished=R.now(), error=f"{type(exc).__name__}: {exc}")
        raise


def _check_tensorboard(config: Config) -> None:
    tb = config.train.callbacks.tensorboard
    if tb is None or not tb.enabled:
        return
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise CnnError(
            "train.callbacks.tensorboard: the tensorboard package is not installed "
            "(pip install tensorboard, or set train.callbacks.tensorboard.enabled: false)"
        )


def _callbacks(config: Config, run_dir: Path, has_val: bool, keras):
    from cnn_cli.training import callbacks as C

    cb = config.train.callbacks
    history = C.HistoryWriter(run_dir / R.HISTORY)
    guard = C.DivergenceGuard()
    checkpoint = early = reduce_lr = None
    listed: list = [history, guard]
    if cb.checkpoint.enabled:
        checkpoint = C.AtomicCheckpoint(run_dir / R.BEST, cb.checkpoint.monitor, cb.checkpoint.save_best_only)
        listed.append(checkpoint)
    if cb.early_stopping is not None:
        es = cb.early_stopping
        early = keras.callbacks.EarlyStopping(
            monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights, mode=C.monitor_mode(es.monitor), verbose=0,
        )
        listed.append(early)
    if cb.reduce_lr_on_plateau is not None:
        rl = cb.reduce_lr_on_plateau
        reduce_lr = keras.callbacks.ReduceLROnPlateau(
            monitor=rl.monitor, factor=rl.factor, patience=rl.patience, min_lr=rl.min_lr,
            mode=C.monitor_mode(rl.monitor), verbose=1,
        )
        listed.append(reduce_lr)
    if cb.tensorboard is not None and cb.tensorboard.enabled:
        listed.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / R.TENSORBOARD), histogram_freq=cb.tensorboard.histogram_freq))
    # The backup a resume starts from: one atomic generation per epoch, the last two kept (see C.RunBackup).
    listed.append(C.RunBackup(run_dir / R.BACKUP, checkpoint, early, reduce_lr, guard))
    for hook in (C.stop_hook_from_env(), C.kill_hook_from_env()):  # test-only, inert unless their variable is set
        if hook is not None:
            listed.append(hook)
    return listed, history, guard, checkpoint, early


def _fit_and_report(config, source, dataset, run_dir: Path, record, seed, policy, opts, started, echo, keras) -> TrainResult:
    from cnn_cli.data.pipeline import make_dataset, one_hot_for
    from cnn_cli.model.builder import build_model

    train_cfg = config.train
    input_shape, num_classes = tuple(dataset.input_shape), int(dataset.num_classes)
    with D.scope():  # [distribute] the model's and optimizer's variables are made under the strategy
        model = build_model(config.model, input_shape, num_classes, source, name=config.name)
        optimizer = keras.optimizers.get({"class_name": train_cfg.optimizer.name, "config": train_cfg.optimizer.arguments()})
        model.compile(optimizer=optimizer, loss=train_cfg.loss, metrics=list(train_cfg.metrics),
                      steps_per_execution=train_cfg.steps_per_execution)

    one_hot = one_hot_for(train_cfg.loss)
    augment = config.data.augment if config.data is not None else None

    # Validation and test batches: larger (fewer steps, same numbers), and a multiple of the training batch so
    # that they split evenly over a strategy's replicas too.
    eval_batch = train_cfg.batch_size * max(1, EVAL_BATCH // train_cfg.batch_size)

    def pipeline(x, y, training: bool):
        return make_dataset(x, y, batch_size=train_cfg.batch_size if training else eval_batch, num_classes=num_classes,
                            one_hot=one_hot, shuffle=training, seed=seed, augment=augment if training else None,
                            training=training)

    from cnn_cli.training.data_order import EpochSeeds, TrainData

    # Epoch e's data order and random draws (dropout, augmentation) depend on (seed, e) only: a resumed run
    # sees what an uninterrupted one sees.
    train_data = TrainData(dataset.x_train, dataset.y_train, batch_size=train_cfg.batch_size, num_classes=num_classes,
                           one_hot=one_hot, seed=seed, augment=augment, deterministic=train_cfg.deterministic)
    train_ds = train_data.dataset
    has_val = dataset.x_val is not None and len(dataset.x_val) > 0
    val_ds = pipeline(dataset.x_val, dataset.y_val, False) if has_val else None
    callbacks, history, guard, checkpoint, early = _callbacks(config, run_dir, has_val, keras)
    callbacks.insert(0, EpochSeeds(train_data))

    from cnn_cli.training.callbacks import CtrlC

    # [distribute] D.fit: model.fit, or the custom loop where fit fails under the strategy (D.fit_works_under)
    with CtrlC() as ctrl_c:
        D.fit(model, train_ds, validation_data=val_ds, epochs=train_cfg.epochs, verbose=opts.verbose,
              callbacks=[ctrl_c, *callbacks], shuffle=False)  # the pipeline shuffles

    if guard.diverged is not None:
        epoch, batch, loss = guard.diverged
        shutil.rmtree(run_dir / R.BACKUP, ignore_errors=True)
        record.update(status="diverged", finished=R.now())
        where = f"epoch {epoch}, batch {batch}" if batch else f"epoch {epoch}"
        raise DivergedError(
            f"training diverged: the loss became {loss} at {where}; try a lower train.optimizer.learning_rate "
            f"(run directory: {run_dir})"
        )

    from cnn_cli.rundir.atomic import save_atomic
    from cnn_cli.training.callbacks import read_history

    save_atomic(run_dir / R.MODEL, lambda tmp: model.save(tmp), point="final_save")

    def evaluate(x, y):
        if x is None or len(x) == 0:
            return None
        result = D.evaluate(model, pipeline(x, y, False), verbose=0, return_dict=True)  # [distribute]
        return {k: float(v) for k, v in result.items()} | {"examples": int(len(x))}

    val = evaluate(dataset.x_val, dataset.y_val) if has_val else None
    test = evaluate(dataset.x_test, dataset.y_test)
    rows = read_history(run_dir / R.HISTORY)
    monitor = (checkpoint.monitor if checkpoint is not None else early.monitor if early is not None
               else ("val_loss" if has_val else "loss"))
    best_epoch, best_value = _best_epoch(rows, monitor)
    early_stopped = bool(early is not None and early.stopped_epoch > 0)

    import tensorflow as tf

    from cnn_cli import __version__

    metrics = {
        "val_loss": val and val.get("loss"), "val_accuracy": val and val.get("accuracy"),
        "val_examples": val and val["examples"],
        "test_loss": test and test.get("loss"), "test_accuracy": test and test.get("accuracy"),
        "test_examples": test and test["examples"],
        "train_examples": int(len(dataset.x_train)),
        "best_epoch": best_epoch, "best_monitor": monitor, "best_value": best_value,
        "epochs_run": len(rows), "epochs_planned": train_cfg.epochs, "early_stopped": early_stopped,
        "restored_best_weights": bool(early is not None and early.restore_best_weights and early.best_weights is not None),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "train_seconds": round(sum(float(r["seconds"] or 0) for r in rows), 3),
        "seed": seed, "precision": policy, "resumed": len(record.data.get("resumed", [])),
        "distribute": D.describe(),  # [distribute] strategy, replicas, workers
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "cnn": __version__},
    }
    write_json(run_dir / R.METRICS, metrics)
    write_json(run_dir / R.LABELS, {"classes": dataset.class_map.to_json()})

    from cnn_cli.summary import summarize

    report = summarize(config, input_shape, num_classes, source, batch_size=train_cfg.batch_size)
    write_atomic(run_dir / R.SUMMARY, report.to_text() + "\n")
    from cnn_cli.training.plots import plot_curves

    plot_curves(rows, run_dir / R.CURVES, title=config.name)
    record.update(status="complete", finished=R.now())
    shutil.rmtree(run_dir / R.BACKUP, ignore_errors=True)  # after "complete": a kill between leaves a finished run

    if early_stopped:
        echo(f"Early stopping after epoch {len(rows)} (best epoch {best_epoch}, {monitor})")
    final, label = (test, "Test") if test else (val, "Validation") if val else (None, "")
    if final is not None and "accuracy" in final:
        echo(f"{label} accuracy: {final['accuracy']:.4f} (loss {final['loss']:.4f}) on {final['examples']} examples")
    elif final is not None:
        echo(f"{label} loss: {final['loss']:.4f} on {final['examples']} examples")
    else:
        echo(f"Final training loss: {rows[-1]['loss'] if rows else 'n/a'} (no validation or test split)")
    echo(f"Run directory: {run_dir}")
    sys.stdout.flush()
    return TrainResult(run_dir, metrics)


def _best_epoch(rows: list[dict], monitor: str) -> tuple[int | None, float | None]:
    best: tuple[int | None, float | None] = (None, None)
    sign = -1 if monitor.endswith("accuracy") else 1
    for row in rows:
        try:
            value = float(row.get(monitor) or "nan")
        except ValueError:
            continue
        if math.isfinite(value) and (best[1] is None or sign * value < sign * best[1]):
            best = (int(row["epoch"]), value)
    return best
