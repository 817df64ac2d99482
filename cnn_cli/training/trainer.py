"""A training run from start to end, one stage after another (`stages.py`): the plan (`plan.py`: config
resolved once, run directory, data, seed), then the prepared run (the backend and strategy, the data, the config
resolved with the data's shape and its model's graph expanded once, the run directory's config.yaml and
run.json), then `fit.py` (the model, `fit`, the reports).

Resuming goes on with an interrupted (or killed) run from its last finished epoch, through
`backup.RunBackup` (restored before `fit`, which starts at the restored epoch). Every file of the run
directory is written atomically, through `rundir.RunDir`; epoch e's data order and random draws depend on
(seed, e) only (`epoch_seeds`), so with `train.deterministic` a resumed run ends with an uninterrupted run's
weights. A write that fails (disk full, no permission) ends the run with one line and exit code 2, run.json
`failed`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from cnn_cli import rundir
from cnn_cli.backends import current as backend
from cnn_cli.backends import keras_version
from cnn_cli.backends import start as start_backend
from cnn_cli.backends.device import start_line
from cnn_cli.config import Config
from cnn_cli.config.yaml_io import dump_yaml
from cnn_cli.errors import CnnError, DivergedError
from cnn_cli.resolve.model_checks import model_graph
from cnn_cli.resolve.run_config import dump_config
from cnn_cli.rundir.atomic import remove_stale_temps
from cnn_cli.training import distribute, supervisor, tracking
from cnn_cli.training.data_summary import data_lines
from cnn_cli.training.plan import plan, resumable
from cnn_cli.training.precision import choose_precision, set_precision
from cnn_cli.training.stages import PreparedRun, RunPlan, TrainOptions, TrainResult

__all__ = ["TrainOptions", "TrainResult", "train"]


def train(opts: TrainOptions, echo: Callable[[str], None] = print) -> TrainResult:
    started = time.perf_counter()
    the_plan = plan(opts)
    supervisor.note_run_dir(the_plan.run_dir)  # a supervised JAX process: its parent names it on a lost process
    worker = distribute.worker_of(the_plan.config)  # [distribute] non-chief workers write to a temp dir
    if the_plan.resume:
        run_dir, record = distribute.local_resume_dir(worker, the_plan.run_dir, the_plan.record)
    else:
        run_dir, record = distribute.local_run_dir(worker, the_plan.run_dir), None
    with rundir.RunDir(run_dir).lock(new=not the_plan.resume):  # one writer per run directory; refuses a used new one
        if the_plan.resume and run_dir == the_plan.run_dir:
            record = resumable(run_dir, extending=the_plan.extension is not None)  # its status now, under the lock: a run finished meanwhile is not resumed
        return _train_locked(the_plan, worker, run_dir, record, started, echo)


def _train_locked(the_plan: RunPlan, worker, run_dir: Path, record: rundir.RunRecord | None, started: float,
                  echo: Callable[[str], None]) -> TrainResult:
    start_backend()
    dist = distribute.Distribution.start(the_plan.config, source=the_plan.source, worker=worker, run_dir=the_plan.run_dir)
    backend().seed_everything(the_plan.seed, the_plan.config.train.deterministic)
    policy = choose_precision(the_plan.config.train.precision)
    devices = backend().devices_used(dist.strategy)
    echo(start_line(devices, policy, backend().LABEL, backend().version(), keras_version()))
    with _precision(policy):
        dataset = _load_data(the_plan)

        for line in data_lines(dataset):
            echo(line)
        left = [key for key in ("input_shape", "num_classes", "num_targets")
                if not the_plan.resume and the_plan.config.origin(f"model.{key}") == "--data"]
        if left:
            echo(f"  model.{' and model.'.join(left)} of {the_plan.source}: left to this data (--data)")
        config = the_plan.config if the_plan.resume else the_plan.config.resolved(
            input_shape=dataset.input_shape, num_classes=dataset.num_classes)
        analysis = model_graph(config, tuple(dataset.input_shape), int(dataset.num_classes))
        try:
            record = _open_record(the_plan, config, run_dir, record)
            _note_skipped(dataset, run_dir, echo)
            _write_splits(dataset, run_dir)
            run = PreparedRun(plan=the_plan, config=config, analysis=analysis, dir=rundir.RunDir(run_dir),
                              record=record, dist=dist, dataset=dataset, policy=policy, started=started,
                              devices=devices.describe())
            with dist.run_scope():
                return _guarded(run, echo)
        except OSError as exc:  # the run directory cannot be written (permissions, disk full, a path that is a file)
            raise CnnError(_write_error(exc, run_dir)) from None


@contextmanager
def _precision(policy: str):
    """Keras' dtype policy for the run; a caller in the same process (compare, tests) gets Keras as it was."""
    import keras

    previous = keras.mixed_precision.global_policy().name
    set_precision(policy)
    try:
        yield
    finally:
        set_precision(previous)


def _load_data(the_plan: RunPlan):
    from cnn_cli.data import load_dataset
    from cnn_cli.data.model_fit import check_model_fits_data

    dataset = load_dataset(the_plan.config, data_path=the_plan.data_path, subset=the_plan.subset,
                           source=the_plan.source)
    check_model_fits_data(the_plan.config, dataset)  # a shape or class count given with --set names the --set
    return dataset


def _open_record(the_plan: RunPlan, config: Config, run_dir: Path, record: rundir.RunRecord | None) -> rundir.RunRecord:
    """A new run: its config (with the data's input shape and class count) and run.json, written once.
    A resume: its record marked running again (and config.yaml's new epochs for an extension)."""
    if record is not None:
        remove_stale_temps(run_dir)  # the temp files of a killed run
        extended = record.data.get("extended", [])
        if the_plan.extension is not None:  # config.yaml says the new total, so a later resume goes on to it
            rundir.RunDir(run_dir).write_config(dump_yaml(dump_config(the_plan.config)))
            ext = the_plan.extension
            extended = [*extended, {"from_epochs": ext.planned, "to_epochs": ext.epochs, "at_epoch": ext.done,
                                    "time": rundir.now()}]
        record.update(status="running", finished=None, resumed=[*record.data.get("resumed", []), rundir.now()],
                      **({"extended": extended} if extended else {}))
        return record
    run = rundir.RunDir(run_dir)
    run.write_config(dump_yaml(dump_config(config)))
    return run.start_record(rundir.RunJson(
        format=rundir.FORMAT, name=config.name, config_file=the_plan.config_file, overrides=list(the_plan.overrides),
        data_path=the_plan.data_path, subset=the_plan.subset, seed=the_plan.seed,
        command=list(the_plan.argv), status="running", started=rundir.now(), finished=None, resumed=[],
        **({"init_from": str(the_plan.init_from)} if the_plan.init_from is not None else {}),
    ))


def _note_skipped(dataset, run_dir: Path, echo: Callable[[str], None]) -> None:
    """With data.bad_images: skip, the files left out: counted on screen, listed in the run directory."""
    if dataset.skipped:
        run = rundir.RunDir(run_dir)
        run.write_skipped(dataset.skipped)
        path = run.skipped
        count = len(dataset.skipped)
        echo(f"Skipped {count} unreadable image file{'s' if count != 1 else ''} (listed in {path})")


def _write_splits(dataset, run_dir: Path) -> None:
    """splits.csv: which image (file, row or index) went to which split."""
    rows = [(source, name) for name in ("train", "validation", "test") if dataset.split(name) is not None
            for source in dataset.source_of(dataset.split(name))]
    rundir.RunDir(run_dir).write_splits(rows)


def _mark(record: rundir.RunRecord, status: str, **fields) -> None:
    """Marks run.json where it can: after a failed write, run.json may not be writable either."""
    try:
        record.mark(status, **fields)
    except OSError:
        pass


def _write_error(exc: OSError, run_dir: Path) -> str:
    import errno

    where = exc.filename or run_dir
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why += " (the disk is full)"
    resume = f"; the files written before are intact, resume with: cnn train --resume {run_dir}" if rundir.RunDir(run_dir).is_run() else ""
    return f"{where}: cannot write: {why}{resume}"


def _guarded(run: PreparedRun, echo: Callable[[str], None]) -> TrainResult:
    """Trains and reports; run.json (and the MLflow run of a tracked run) says how a run that does not finish
    ended."""
    run = dataclasses.replace(run, tracker=tracking.start(run))
    state = "FAILED"
    try:
        from cnn_cli.training.fit import fit_and_report

        result = fit_and_report(run, echo)
        state = "FINISHED"
        return result
    except KeyboardInterrupt:
        state = "KILLED"
        _mark(run.record, "interrupted")
        echo(f"Training interrupted; resume with: cnn train --resume {run.run_dir}")
        raise
    except DivergedError:
        raise
    except CnnError:
        _mark(run.record, "failed")
        raise
    except Exception as exc:  # OSError included: train() reports it in one line
        _mark(run.record, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        run.tracker.set_tag("status", str(run.record.status))
        run.tracker.end(state)  # nothing more when the run's end (`tracking.finish_run`) ended it
