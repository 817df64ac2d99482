"""Searching a config's settings: `cnn tune`, one Optuna study of `--param KEY=DIST` values.

Every trial is an ordinary run directory `DIR/trial-NNNN` (its parameters in run.json under `tune`), trained
in this process through `training.trainer.train` with a Keras callback that reports each epoch's metric to
Optuna and stops a pruned trial at the epoch boundary (run.json `pruned`). Each sampled config is checked first:
one that the config's rules refuse is a failed trial with its one-line reason. The study lives in the SQLite
file `DIR/study.db`, so the same command again goes on with it: `--trials N` is the number of finished
(complete or pruned) trials the study should hold; a trial left running by a killed process is marked failed.
The best trial's config (with its seed) is written to `DIR/best.yaml`.

Optuna is imported inside the functions (a heavy package): `cnn tune --help` and bad input import none of it.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_cli import tasks
from cnn_cli.errors import CnnError
from cnn_cli.reports.tune_page import write_tune_page
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import choose_seed
from cnn_cli.rundir.records import RunRecord, first_line
from cnn_cli.studies.compare import _split_top_level
from cnn_cli.training.trainer import TrainOptions, train

KINDS = ("loguniform", "uniform", "int", "choice")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
STUDY_DB = "study.db"
BEST_YAML = "best.yaml"
MINIMIZED = ("loss", "mae", "rmse")
_PARAM = re.compile(r"^\s*([^=]+?)\s*=\s*([a-z]+)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Param:
    """One `--param KEY=DIST`: the key as `--set` takes it and its distribution."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: int | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.key}=choice({','.join(self.choices)})"
        args = [_num(self.low), _num(self.high)] + ([str(self.step)] if self.step is not None else [])
        return f"{self.key}={self.kind}({','.join(args)})"

    def edges(self) -> list[str]:
        """The values to check through the config loader: the range's ends, or every choice."""
        return list(self.choices) if self.kind == "choice" else [_num(self.low), _num(self.high)]

    def suggest(self, trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=self.step or 1)
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform")

    def grid(self) -> list:
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" and self.step is not None:
            return list(range(int(self.low), int(self.high) + 1, self.step))
        raise CnnError(f"--param {self.describe()}: --sampler grid takes only choice(...) and int(a,b,step)")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def parse_param(text: str) -> Param:
    """`KEY=loguniform(a,b)`, `uniform(a,b)`, `int(a,b)`, `int(a,b,step)` or `choice(x,y,...)`."""
    match = _PARAM.match(text)
    if not match:
        raise CnnError(f"--param {text}: expected KEY=DIST, DIST one of loguniform(a,b), uniform(a,b), int(a,b[,step]), "
                       f"choice(x,y,...)")
    key, kind, inner = match.group(1), match.group(2), match.group(3)
    if kind not in KINDS:
        raise CnnError(f"--param {text}: unknown distribution {kind}(...), expected one of {', '.join(KINDS)}")
    args = [a.strip() for a in _split_top_level(inner)] if inner.strip() else []
    if kind == "choice":
        if not args or any(a == "" for a in args):
            raise CnnError(f"--param {text}: choice() needs one or more values, none empty")
        if len(set(args)) != len(args):
            raise CnnError(f"--param {text}: choice() values must differ")
        return Param(key, kind, choices=tuple(args))
    want = (2, 3) if kind == "int" else (2,)
    if len(args) not in want:
        raise CnnError(f"--param {text}: {kind}() takes {' or '.join(map(str, want))} numbers, received {len(args)}")
    try:
        numbers = [int(a) for a in args] if kind == "int" else [float(a) for a in args]
    except ValueError:
        raise CnnError(f"--param {text}: {kind}() takes {'integers' if kind == 'int' else 'numbers'}") from None
    low, high = numbers[0], numbers[1]
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise CnnError(f"--param {text}: expected a < b")
    if kind == "loguniform" and low <= 0:
        raise CnnError(f"--param {text}: loguniform() needs 0 < a")
    step = numbers[2] if len(numbers) == 3 else None
    if step is not None and (step < 1 or (high - low) % step):
        raise CnnError(f"--param {text}: expected a step of 1 or more that divides b - a")
    return Param(key, kind, low=low, high=high, step=step)


@dataclass
class TuneOptions:
    config_path: str
    params: Sequence[str]
    trials: int
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 5
    metric: str = "val_accuracy"
    study_dir: str | None = None
    seed: int | None = None
    overrides: Sequence[str] = ()
    epochs: int | None = None
    subset: int | None = None
    data_path: str | None = None


@dataclass
class Trial:
    number: int
    state: str  # complete, pruned, failed, running
    value: float | None
    params: dict[str, Any]
    run_dir: str = ""
    error: str = ""


@dataclass
class TuneResult:
    folder: Path
    trials: list[Trial]
    best: Trial | None
    direction: str
    ran: int = 0
    notes: list[str] = field(default_factory=list)


def check(opts: TuneOptions) -> tuple[list[Param], str, int, Any]:
    """Everything that can be wrong before a trial runs: one line (exit 2). Returns the parameters, the
    direction, the seed and the base config."""
    if opts.trials < 1:
        raise CnnError(f"--trials {opts.trials}: expected 1 or more")
    if not opts.params:
        raise CnnError("no --param: give one or more KEY=DIST")
    params = [parse_param(p) for p in opts.params]
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise CnnError(f"--param: a key given twice ({next(k for k in keys if keys.count(k) > 1)})")
    if opts.sampler == "grid":
        for p in params:
            p.grid()
    base = load_config(opts.config_path, opts.overrides)
    for p in params:
        for value in p.edges():
            try:
                load_config(opts.config_path, [*opts.overrides, f"{p.key}={value}"])
            except CnnError as exc:
                raise CnnError(f"--param {p.describe()}: {p.key}={value} is refused: {first_line(exc)}") from None
    _check_metric(base, opts)
    direction = "minimize" if opts.metric.removeprefix("val_") in MINIMIZED else "maximize"
    seed = choose_seed(opts.seed if opts.seed is not None else base.seed)
    return params, direction, seed, base


def _check_metric(config, opts: TuneOptions) -> None:
    task = tasks.of(config)
    names = ["loss", task.METRIC, *task.HISTORY_METRICS]
    data = config.data
    has_validation = data is not None and (data.validation is not None or data.validation_split > 0)
    reported = list(dict.fromkeys(names + ([f"val_{n}" for n in names] if has_validation else [])))
    if opts.metric not in reported:
        why = " (the config has no validation split)" if opts.metric.startswith("val_") and not has_validation else ""
        raise CnnError(f"--metric {opts.metric}: not reported by this run{why}; expected one of {', '.join(reported)}")


def _sampler(name: str, params: list[Param], seed: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler({p.key: p.grid() for p in params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(name: str, startup: int):
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def _space(params: list[Param], metric: str) -> str:
    return json.dumps({"params": sorted(p.describe() for p in params), "metric": metric})


def open_study(folder: Path, name: str, params: list[Param], opts: TuneOptions, direction: str, seed: int,
               echo: Callable[[str], None]):
    """The study in `folder/study.db`, made or found again; a different search space is refused; trials left
    running by a killed process are marked failed."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{(folder / STUDY_DB).resolve()}")
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True, direction=direction,
                                sampler=_sampler(opts.sampler, params, seed), pruner=_pruner(opts.pruner, opts.startup_trials))
    space = _space(params, opts.metric)
    held = study.user_attrs.get("space")
    if held is None:
        study.set_user_attr("space", space)
        study.set_user_attr("seed", seed)
    elif held != space:
        before = json.loads(held)
        raise CnnError(f"{folder / STUDY_DB}: the study searches {' '.join(before['params'])} for "
                       f"{before['metric']}, not this; give another --study-dir, or the same --param and --metric")
    study_id = storage.get_study_id_from_name(name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "error", "its process ended before it finished")
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        echo(f"Trial {trial.number} was left running by a process that ended: marked failed")
    return study, int(study.user_attrs.get("seed", seed))


def _pruning_callback(trial, metric: str):
    import keras

    class ReportMetric(keras.callbacks.Callback):
        """Reports each epoch's `metric` to the trial; stops training at the epoch's end when it is pruned."""

        def __init__(self):
            super().__init__()
            self.values: list[float] = []
            self.pruned = False

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(metric)
            if value is None:
                return
            value = float(value)
            self.values.append(value)
            trial.report(value, epoch)
            if trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    return ReportMetric()


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else _num(value) if isinstance(value, float) else str(value)


class TrialFailed(Exception):
    """A trial that did not finish: its reason is in the trial's `error` attribute."""


def run_trial(trial, params: list[Param], opts: TuneOptions, folder: Path, seed: int, direction: str,
              echo: Callable[[str], None]) -> float:
    """One trial: the objective Optuna calls. Returns the best epoch's metric; raises `optuna.TrialPruned` for a
    pruned trial and `TrialFailed` for one that failed (Optuna marks both; an interrupt ends the study)."""
    import optuna

    values = {p.key: p.suggest(trial) for p in params}
    settings = [f"{k}={_value_text(v)}" for k, v in values.items()]
    run_dir = folder / f"trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    echo(f"Trial {trial.number}: {' '.join(settings)}")
    overrides = [*opts.overrides, *settings]
    try:
        load_config(opts.config_path, overrides)
    except CnnError as exc:
        _fail(trial, f"invalid config: {first_line(exc)}", echo)
    callback = _pruning_callback(trial, opts.metric)
    train_opts = TrainOptions(config_path=opts.config_path, overrides=tuple(overrides), data_path=opts.data_path,
                              epochs=opts.epochs, subset=opts.subset, seed=seed, run_dir=str(run_dir), verbose=0,
                              argv=("cnn", "tune", "trial", str(trial.number)), callbacks=(callback,))
    try:
        train(train_opts, echo=lambda line: None)
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted")
        echo(f"Trial {trial.number}: interrupted (recorded as failed)")
        raise
    except CnnError as exc:
        _fail(trial, first_line(exc), echo)
    record = RunRecord.load(run_dir)
    record.update(tune={"study": trial.study.study_name, "trial": trial.number, "params": values,
                        "metric": opts.metric})
    if not callback.values:
        _fail(trial, f"the run reported no {opts.metric}", echo)
    best = (min if direction == "minimize" else max)(callback.values)
    if callback.pruned:
        record.mark("pruned")
        echo(f"Trial {trial.number}: pruned after {len(callback.values)} epochs ({opts.metric} {best:.4f})")
        raise optuna.TrialPruned()
    echo(f"Trial {trial.number}: {opts.metric} {best:.4f}")
    return best


def _fail(trial, reason: str, echo: Callable[[str], None]) -> typing.NoReturn:
    trial.set_user_attr("error", reason)
    echo(f"Trial {trial.number}: failed: {reason}")
    raise TrialFailed(reason)


def tune(opts: TuneOptions, echo: Callable[[str], None] = print) -> TuneResult:
    from optuna.trial import TrialState

    params, direction, seed, base = check(opts)
    folder = Path(opts.study_dir) if opts.study_dir else Path("runs") / f"tune-{base.name}"
    study, seed = open_study(folder, base.name, params, opts, direction, seed, echo)
    finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    to_run = max(0, opts.trials - finished)
    if opts.sampler == "grid":
        size = math.prod(len(p.grid()) for p in params)
        to_run = min(to_run, max(0, size - finished))
    if finished:
        echo(f"The study in {folder} holds {finished} finished trials; running {to_run} more")
    if to_run:
        study.optimize(lambda trial: run_trial(trial, params, opts, folder, seed, direction, echo), n_trials=to_run,
                       catch=(TrialFailed,))
    result = results(study, folder, direction)
    result.ran = to_run
    if result.best is not None:
        shutil.copyfile(Path(result.best.run_dir) / "config.yaml", folder / BEST_YAML)
    write_tune_page(result, opts.metric)
    return result


def results(study, folder: Path, direction: str) -> TuneResult:
    trials = [Trial(number=t.number, state=t.state.name.lower(), value=t.value, params=dict(t.params),
                    run_dir=t.user_attrs.get("run_dir", ""), error=t.user_attrs.get("error", ""))
              for t in study.get_trials(deepcopy=False)]
    sign = 1 if direction == "minimize" else -1
    trials.sort(key=lambda t: (t.value is None, sign * t.value if t.value is not None else 0, t.number))
    best = next((t for t in trials if t.state == "complete" and t.value is not None), None)
    return TuneResult(folder=folder, trials=trials, best=best, direction=direction)


def table(result: TuneResult, metric: str) -> str:
    keys = list(dict.fromkeys(k for t in result.trials for k in t.params))
    header = ["trial", "state", metric, *keys, "run_dir"]
    rows = [[str(t.number), t.state, "" if t.value is None else f"{t.value:.4f}",
             *(_value_text(t.params[k]) if k in t.params else "" for k in keys),
             t.run_dir + (f"  ({t.error})" if t.error else "")] for t in result.trials]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])
