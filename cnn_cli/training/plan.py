"""What a `cnn train` will do, decided before TensorFlow starts: the resolved config, the run directory, the
data and subset, the seed -- for a new run, or for `--resume` (which checks that nothing has changed).

A `RunPlan` is frozen; the trainer reads it and changes none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cnn_cli import rundir as R
from cnn_cli.config import Config
from cnn_cli.config.resolve import RunFlags, load_resolved, resume_differences, with_flags
from cnn_cli.errors import CnnError
from cnn_cli.training.seeding import choose_seed


@dataclass(frozen=True)
class TrainOptions:
    """`cnn train`'s flags, as given."""

    config_path: str | None = None
    overrides: Sequence[str] = ()
    data_path: str | None = None
    epochs: int | None = None
    subset: int | None = None
    seed: int | None = None
    run_dir: str | None = None
    resume: bool = False
    verbose: int = 2
    argv: Sequence[str] = field(default_factory=tuple)

    @property
    def flags(self) -> RunFlags:
        return RunFlags(epochs=self.epochs, seed=self.seed, subset=self.subset)


@dataclass(frozen=True)
class RunPlan:
    """A run about to start: `config` has its seed; the data decides its input shape and class count later."""

    config: Config
    source: str  # the file the config came from, for errors
    run_dir: Path
    data_path: str | None
    subset: int | None
    record: R.RunRecord | None  # the run's record when resuming
    options: TrainOptions

    @property
    def seed(self) -> int:
        return int(self.config.seed)

    @property
    def resume(self) -> bool:
        return self.record is not None


def plan(opts: TrainOptions) -> RunPlan:
    return plan_resume(opts) if opts.resume else plan_new(opts)


def _subset(config: Config, flags: RunFlags) -> int | None:
    return flags.subset if flags.subset is not None else (config.data.subset if config.data else None)


def plan_new(opts: TrainOptions) -> RunPlan:
    if not opts.config_path:
        raise CnnError("no config: give --config FILE (or --resume RUN_DIR)")
    config = load_resolved(opts.config_path, opts.overrides, opts.flags)
    config = config.resolved(seed=choose_seed(config.seed))
    run_dir = Path(opts.run_dir) if opts.run_dir else R.default_run_dir(config.name)
    return RunPlan(config=config, source=opts.config_path, run_dir=run_dir, data_path=opts.data_path,
                   subset=_subset(config, opts.flags), record=None, options=opts)


def resumable(run_dir: Path) -> R.RunRecord:
    """run.json of a run that may be resumed (not complete, not diverged)."""
    record = R.RunRecord.load(run_dir)
    if record.status == "complete":
        raise CnnError(f"cannot resume {run_dir}: the run is already complete")
    if record.status == "diverged":
        raise CnnError(f"cannot resume {run_dir}: the run diverged (NaN loss); start a new run with other settings")
    return record


def plan_resume(opts: TrainOptions) -> RunPlan:
    if not opts.run_dir:
        raise CnnError("--resume needs the run directory: --resume RUN_DIR (or --resume --run-dir RUN_DIR)")
    from cnn_cli.resolve import config_for

    run_dir = Path(opts.run_dir)
    for name in (R.CONFIG, R.RUN):  # a run directory's own files stay inside it
        R.run_file(run_dir, name)
    saved, source = config_for(str(run_dir), None, ())
    record = resumable(run_dir)
    _check_unchanged(saved, opts, run_dir)
    recorded = record.data.get("data_path")
    if opts.data_path is not None and recorded is not None and str(opts.data_path) != str(recorded):
        raise CnnError(f"cannot resume {run_dir}: --data {opts.data_path} differs from the run's data {recorded}")
    subset = opts.subset if opts.subset is not None else record.data.get("subset")
    return RunPlan(config=saved, source=source, run_dir=run_dir,
                   data_path=opts.data_path if opts.data_path is not None else recorded,
                   subset=subset, record=record, options=opts)


def _check_unchanged(saved: Config, opts: TrainOptions, run_dir: Path) -> None:
    """A resume with `--config`, `--set` or the flags: the config they make must be the run's."""
    if opts.config_path:
        given, what = load_resolved(opts.config_path, opts.overrides, opts.flags), opts.config_path
    elif opts.overrides or opts.flags.given():
        given = with_flags(saved.model_dump(mode="json"), opts.overrides, opts.flags, "--set")
        what = "the config with --set/--epochs/--seed/--subset"
    else:
        return
    diff = resume_differences(saved, given)
    if diff:
        shown = ", ".join(diff[:8]) + (f" and {len(diff) - 8} more" if len(diff) > 8 else "")
        raise CnnError(f"cannot resume {run_dir}: {what} differs from the run's {R.CONFIG} at {shown}")
