"""What a `cnn train` will do, decided before TensorFlow starts: the resolved config, the run directory, the
data and subset, the seed -- for a new run (optionally warm-started `--init-from` another run's model), or for
`--resume` (which checks that nothing has changed but `RESUMABLE_KEYS`: `--epochs N` extends the run; with
`train.phases`, its last phase).

A `RunPlan` is frozen; the trainer reads it and changes none of it.
"""

from __future__ import annotations

from pathlib import Path

from cnn_cli import rundir
from cnn_cli.backends import current as backend
from cnn_cli.config import Config
from cnn_cli.errors import CnnError, ConfigError
from cnn_cli.resolve.model_inputs import config_for
from cnn_cli.resolve.run_config import RunFlags, choose_seed, load_resolved, resume_differences, with_epochs, with_flags
from cnn_cli.training.pretrained import check as check_weights
from cnn_cli.training.stages import Extension, RunPlan, TrainOptions
from cnn_cli.training.warm_start import check_source


def plan(opts: TrainOptions) -> RunPlan:
    the_plan = plan_resume(opts) if opts.resume else plan_new(opts)
    _check_tensorboard(the_plan.config, the_plan.source)
    check_tracking(the_plan.config, the_plan.source)
    _check_jit_compile(the_plan.config, the_plan.source)
    return the_plan


def _check_jit_compile(config: Config, source: str) -> None:
    """`train.jit_compile: true` where the backend cannot compile its step (PyTorch without a C++ compiler)."""
    if config.train.jit_compile is True:
        problem = backend().jit_compile_problem()
        if problem is not None:
            raise ConfigError(source, "train.jit_compile", problem)


def check_tracking(config: Config, source: str) -> None:
    """`train.track.mlflow` needs the mlflow package, an extra of this one."""
    track = config.train.track
    if track is None or track.mlflow is None:
        return
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(source, "train.track.mlflow", "the mlflow package is not installed: pip install "
                          "'cnn-cli[mlflow]' (or leave train.track out)")


def _check_tensorboard(config: Config, source: str) -> None:
    """TensorBoard logs need the tensorboard package, an extra of this one."""
    tb = config.train.callbacks.tensorboard
    if tb is None or not tb.enabled:
        return

    problem = backend().tensorboard_problem()  # TensorBoard's writer needs TensorFlow
    if problem is not None:
        raise CnnError(problem)
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(source, "train.callbacks.tensorboard", "the tensorboard package is not installed: "
                          "pip install 'cnn-cli[tensorboard]' (or set train.callbacks.tensorboard.enabled: false)")


def _subset(config: Config, flags: RunFlags) -> int | None:
    return flags.subset if flags.subset is not None else (config.data.subset if config.data else None)


def plan_new(opts: TrainOptions) -> RunPlan:
    if not opts.config_path:
        raise CnnError("no config: give --config FILE (or --resume RUN_DIR)")
    config = load_resolved(opts.config_path, opts.overrides, opts.flags, new_run=True)
    config = config.resolved(seed=choose_seed(config.seed))
    if opts.init_from is not None:
        check_source(opts.init_from)

    check_weights(config, opts.init_from)  # a missing file given with --set names the --set (config.origin)
    run_dir = Path(opts.run_dir) if opts.run_dir else rundir.default_run_dir(config.name)
    return RunPlan(config=config, source=opts.config_path, run_dir=run_dir, data_path=opts.data_path,
                   subset=_subset(config, opts.flags), record=None, init_from=opts.init_from, **_kept(opts))


def _kept(opts: TrainOptions) -> dict:
    """What a run keeps of its options beyond the config: for run.json, and the flags that steer it."""
    return {"config_file": opts.config_path, "overrides": tuple(opts.overrides), "verbose": opts.verbose,
            "time_limit": opts.time_limit, "argv": tuple(opts.argv),
            "callbacks": tuple(opts.callbacks), "ctrl_c_at_epoch_end": opts.ctrl_c_at_epoch_end,
            "track_parent": opts.track_parent, "track": opts.track}


def epochs_done(run_dir: Path) -> int:
    """How many epochs the run has run: history.csv's rows, or its backup's newest epoch when history.csv lost
    some (emptied, cut or deleted; the resume rebuilds it from the backup, see `fit._mend_history`)."""
    return max(_history_rows(run_dir), _newest_generation(run_dir)[0])


def _history_rows(run_dir: Path) -> int:
    try:
        return len(rundir.RunDir(run_dir).history.text_rows())
    except CnnError:
        return 0


def _newest_generation(run_dir: Path) -> tuple[int, Path | None]:
    """The epoch of the backup's newest generation and its folder; (0, None) without one."""
    backup = rundir.RunDir(run_dir).backup_path
    found = [(int(p.name[len("epoch-"):]), p) for p in backup.iterdir() if p.is_dir() and p.name.startswith("epoch-")
             and p.name[len("epoch-"):].isdigit()] if backup.is_dir() else []
    return max(found, default=(0, None))


def check_history(run_dir: Path) -> None:
    """A resume needs every epoch the backup has run in history.csv, or the backup's copy to rebuild it from
    (a generation keeps history.csv under its own name, `backup.HISTORY_COPY`)."""
    epoch, generation = _newest_generation(run_dir)
    rows = _history_rows(run_dir)
    history = rundir.RunDir(run_dir).history_path
    if rows < epoch and not (generation / history.name).is_file():
        raise CnnError(f"{history}: holds {rows} of the {epoch} epochs the run's backup has run, and the "
                       f"backup keeps no copy of them; put the file back, or start a new run from this one's "
                       f"weights with --init-from {run_dir}")


def resumable(run_dir: Path, extending: bool = False) -> rundir.RunRecord:
    """run.json of a run that may be resumed (not diverged; not complete, unless it is being extended)."""
    record = rundir.RunDir(run_dir).record()
    if record.status == "complete" and not extending:
        raise CnnError(f"cannot resume {run_dir}: the run is already complete")
    if record.status == "diverged":
        raise CnnError(f"cannot resume {run_dir}: the run diverged (NaN loss); start a new run with other settings")
    return record


def plan_resume(opts: TrainOptions) -> RunPlan:
    if not opts.run_dir:
        raise CnnError("--resume needs the run directory: --resume RUN_DIR (or --resume --run-dir RUN_DIR)")
    if opts.init_from is not None:
        raise CnnError("--init-from starts a new run from another run's weights; it cannot be used with --resume")

    run_dir = Path(opts.run_dir)
    _check_started(run_dir)
    rundir.RunDir(run_dir).check_own_files()
    saved, source = config_for(str(run_dir), None, ())
    given = _given_config(saved, opts, run_dir)
    extension = _extension(saved, given, run_dir)
    record = resumable(run_dir, extending=extension is not None)
    check_history(run_dir)
    if record.status == "complete" and extension is None:
        raise CnnError(f"cannot resume {run_dir}: the run is already complete")
    recorded = record.data.get("data_path")
    if opts.data_path is not None and recorded is not None and str(opts.data_path) != str(recorded):
        raise CnnError(f"cannot resume {run_dir}: --data {opts.data_path} differs from the run's data {recorded}")
    subset = opts.subset if opts.subset is not None else record.data.get("subset")
    config = with_epochs(saved, extension.epochs, source) if extension is not None else saved
    return RunPlan(config=config, source=source, run_dir=run_dir,
                   data_path=opts.data_path if opts.data_path is not None else recorded,
                   subset=subset, record=record, extension=extension, init_from=record.data.get("init_from"),
                   **_kept(opts))


def _check_started(run_dir: Path) -> None:
    """A run killed before it wrote its config.yaml left its lock (and perhaps a temporary file) only: there is
    nothing to resume, and the command that started it can simply be run again."""
    run = rundir.RunDir(run_dir)
    left = run.left_before_config()
    if left:
        raise CnnError(f"{run_dir}: {run.config.name}: missing; the run was stopped before it wrote its config (only "
                       f"{', '.join(left)} there), so there is nothing to resume: run the command that started it "
                       "again, without --resume (it starts afresh in this folder)")


def _given_config(saved: Config, opts: TrainOptions, run_dir: Path) -> Config | None:
    """A resume with `--config`, `--set` or the flags: the config they make, which must be the run's but for
    `RESUMABLE_KEYS`; None when none of them is given."""
    if opts.config_path:
        given, what = load_resolved(opts.config_path, opts.overrides, opts.flags), opts.config_path
    elif opts.overrides or opts.flags.given():
        given = with_flags(saved.model_dump(mode="json"), opts.overrides, opts.flags, "--set")
        what = "the config with --set/--epochs/--seed/--subset"
    else:
        return None
    diff = resume_differences(saved, given)
    if diff:
        shown = ", ".join(diff[:8]) + (f" and {len(diff) - 8} more" if len(diff) > 8 else "")
        raise CnnError(f"cannot resume {run_dir}: {what} differs from the run's {rundir.RunDir(run_dir).config.name} at {shown} "
                       f"(a resume may change only train.epochs; start a new run, e.g. with --init-from {run_dir})")
    return given


def _extension(saved: Config, given: Config | None, run_dir: Path) -> Extension | None:
    """The extension that `given` asks for: other epochs than the run's config planned (checked against the
    epochs already run and the backup a complete run keeps for it)."""
    if given is None or given.train.epochs == saved.train.epochs:
        return None
    record = rundir.RunDir(run_dir).record()
    done, complete = epochs_done(run_dir), record.status == "complete"
    epochs = given.train.epochs
    if epochs < done or (complete and epochs == done):
        raise CnnError(f"cannot extend {run_dir} to {epochs} epochs: it has run {done} already "
                       f"(give --epochs N with N > {done})")
    if complete and not _has_backup(run_dir):
        raise CnnError(f"cannot extend {run_dir}: it kept no backup of its last epoch (it completed before runs "
                       f"kept one); start a new run from its weights with --init-from {run_dir}")
    phases = saved.train.phases
    last = (len(phases), epochs - sum(p.epochs for p in phases[:-1])) if phases else None
    return Extension(planned=saved.train.epochs, done=done, epochs=epochs, was_complete=complete, last_phase=last)


def _has_backup(run_dir: Path) -> bool:
    backup = rundir.RunDir(run_dir).backup_path
    return backup.is_dir() and any(p.is_dir() and p.name.startswith("epoch-") for p in backup.iterdir())


def has_saved_epoch(run_dir: Path) -> bool:
    """Whether a run's backup holds an epoch to resume from (a generation, or an earlier version's backup)."""
    from cnn_cli.training.backup import RunBackup

    backup = rundir.RunDir(run_dir).backup_path
    return _has_backup(run_dir) or ((backup / RunBackup.META).is_file() and (backup / RunBackup.STATE).is_file())
