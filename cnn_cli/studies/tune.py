"""Searching a config's settings: `cnn tune`, one Optuna study of `--param KEY=DIST` values (or `--space FILE`).

Every trial is an ordinary run directory `DIR/trial-NNNN` (its parameters in run.json under `tune`), trained
in this process through `training.trainer.train` with a Keras callback that reports each epoch's metric to
Optuna and stops a pruned trial at the epoch boundary (run.json `pruned`). In this process rather than as a
`cnn train` subprocess (as compare runs its variants): the callback asks the live trial after every epoch, with
nothing to pass between processes, and Ctrl-C reaches one process, whose trial finishes its epoch (saved, as an
interrupted run) and ends the study. Each sampled config is checked first: one that the config's rules refuse is
a failed trial with its one-line reason. The study lives in the SQLite file `DIR/study.db` (or the database of
`--storage`, which several processes may share), so the same command again goes on with it: `--trials N` is the
number of finished (complete or pruned) trials the study should hold; a trial left running by a process that
was killed is marked failed (at once on this machine, from its process id; elsewhere once its heartbeat is
stale). The best trial's config (with its seed) is written to `DIR/best.yaml`, the study's page to
`DIR/study.html`.

Optuna is imported inside the functions (a heavy package): `cnn tune --help` and bad input import none of it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import socket
import time
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_cli import tasks
from cnn_cli.config.yaml_io import dump_yaml, read_yaml
from cnn_cli.errors import CnnError
from cnn_cli.reports.tune_page import STUDY_HTML, write_tune_page
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import choose_seed
from cnn_cli.rundir.records import RunRecord, first_line
from cnn_cli.rundir.run_dir import RunDir
from cnn_cli.studies.compare import _split_top_level, check_folds
from cnn_cli.training import tracking
from cnn_cli.training.plan import check_tracking
from cnn_cli.training.trainer import TrainOptions, train

KINDS = ("loguniform", "uniform", "int", "choice")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
STUDY_DB = "study.db"
BEST_YAML = "best.yaml"
MINIMIZED = ("loss", "mae", "rmse")
HEARTBEAT_S, GRACE_S = 10, 60  # a trial of another machine whose heartbeat is older than GRACE_S is marked failed
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


def read_space(path: str) -> list[str]:
    """`--space FILE`: a YAML mapping of config keys to distributions, as `--param` writes them
    (`train.optimizer.learning_rate: loguniform(1e-4, 1e-2)`); a list is a choice."""
    where = f"--space {path}"
    if not Path(path).is_file():
        raise CnnError(f"{where}: no such file")
    try:
        data = read_yaml(path)
    except CnnError as exc:
        raise CnnError(f"{where}: {first_line(exc)}") from None
    if not isinstance(data, dict) or not data:
        raise CnnError(f"{where}: expected a mapping of config keys to distributions, such as "
                       f"'train.batch_size: choice(32, 64)'")
    texts = []
    for key, dist in data.items():
        if isinstance(dist, list):
            dist = f"choice({','.join(_value_text(v) for v in dist)})"
        if not isinstance(dist, str):
            raise CnnError(f"{where}: {key}: expected a distribution such as uniform(0.1, 0.5) or a list of "
                           f"choices, received {dist!r}")
        texts.append(f"{key}={dist}")
    return texts


@dataclass
class TuneOptions:
    config_path: str
    params: Sequence[str]
    trials: int
    space_file: str | None = None
    time_limit: float | None = None  # seconds: no trial starts past it
    study_name: str | None = None
    storage: str | None = None
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
    argv: Sequence[str] = ("cnn", "tune")
    folds: int | None = None  # k-fold cross-validation of every trial (`data.fold`): its value is the folds' mean


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


@dataclass(frozen=True)
class Checked:
    """A study ready to open: the parameters, the metric's direction, the seed, the base config, the study's
    name and folder."""

    params: list[Param]
    direction: str
    seed: int
    base: Any
    name: str
    folder: Path


def check(opts: TuneOptions) -> Checked:
    """Everything that can be wrong before a trial runs but the storage's connection: one line (exit 2)."""
    missing = [name for name, module in (("optuna", "optuna"), ("sqlalchemy", "sqlalchemy"))
               if importlib.util.find_spec(module) is None]
    if opts.storage and opts.storage.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
        missing.append("psycopg")
    if missing:
        raise CnnError(f"cnn tune needs {', '.join(missing)}: pip install 'cnn-cli[tune]'")
    if opts.trials < 1:
        raise CnnError(f"--trials {opts.trials}: expected 1 or more")
    texts = [*opts.params, *(read_space(opts.space_file) if opts.space_file else [])]
    if not texts:
        raise CnnError("no --param: give one or more KEY=DIST, or --space FILE")
    if opts.study_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", opts.study_name):
        raise CnnError(f"--study {opts.study_name}: expected letters, digits, '.', '_' or '-' (at most 100)")
    if opts.storage is not None:
        storage_url(opts.storage, Path("."))
    params = [parse_param(p) for p in texts]
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise CnnError(f"--param: a key given twice ({next(k for k in keys if keys.count(k) > 1)})")
    if opts.sampler == "grid":
        for p in params:
            p.grid()
    base = load_config(opts.config_path, opts.overrides)
    check_tracking(base, opts.config_path)
    for p in params:
        for value in p.edges():
            try:
                load_config(opts.config_path, [*opts.overrides, f"{p.key}={value}"])
            except CnnError as exc:
                raise CnnError(f"--param {p.describe()}: {p.key}={value} is refused: {first_line(exc)}") from None
    _check_metric(base, opts)
    if opts.folds is not None:
        check_folds(opts.folds, opts.config_path, opts.overrides, subset=opts.subset, data_path=opts.data_path)
    direction = "minimize" if opts.metric.removeprefix("val_") in MINIMIZED else "maximize"
    seed = choose_seed(opts.seed if opts.seed is not None else base.seed)
    name = opts.study_name or base.name
    folder = Path(opts.study_dir) if opts.study_dir else Path("runs") / (
        f"tune-{base.name}" if name == base.name else f"tune-{base.name}-{name}")
    return Checked(params, direction, seed, base, name, folder)


def storage_url(text: str | None, folder: Path) -> str:
    """The study's database: `sqlite:///DIR/study.db` by default, else `--storage` (sqlite or postgresql),
    checked for its form; the password is never shown."""
    if text is None:
        return f"sqlite:///{(folder / STUDY_DB).resolve()}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise CnnError(f"--storage {_hidden(text)}: expected a database URL such as sqlite:///study.db or "
                       f"postgresql://USER:PASSWORD@HOST/DATABASE") from None
    if url.get_backend_name() not in ("sqlite", "postgresql") or url.drivername not in (
            "sqlite", "postgresql", "postgresql+psycopg"):
        raise CnnError(f"--storage {_hidden(text)}: expected a sqlite:/// or postgresql:// URL, received "
                       f"{url.drivername}://")
    if url.get_backend_name() == "postgresql" and not url.database:
        raise CnnError(f"--storage {_hidden(text)}: names no database (postgresql://USER@HOST/DATABASE)")
    if url.get_backend_name() == "sqlite" and not url.database:
        raise CnnError(f"--storage {_hidden(text)}: names no file (sqlite:///PATH)")
    return text


def storage_shown(text: str | None) -> str | None:
    """`--storage` as the screen shows it (no password)."""
    return None if text is None else _hidden(text)


def _hidden(text: str) -> str:
    """A URL as messages show it: any password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", text)


def _check_metric(config, opts: TuneOptions) -> None:
    task = tasks.of(config)
    names = ["loss", task.METRIC, *task.HISTORY_METRICS]
    data = config.data
    has_validation = data is not None and (data.validation is not None or data.validation_split > 0) or bool(opts.folds)
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
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def _space(params: list[Param], metric: str) -> str:
    return json.dumps({"params": sorted(p.describe() for p in params), "metric": metric})


def open_storage(url: str, folder: Path):
    """Optuna's relational storage of `url`, connected (its tables made when new), with the trials' heartbeat;
    a URL it cannot reach is one line."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial's end is our own line
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    engine = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=GRACE_S)
        except (IntegrityError, ProgrammingError):  # another process is making the new database's tables
            if attempt == 3:
                raise
            time.sleep(1 + attempt)
        except Exception as exc:  # SQLAlchemy's and the driver's errors: the database is not there
            reason = first_line(getattr(exc, "orig", None) or exc)
            raise CnnError(f"--storage {_hidden(url)}: cannot open the study's database: {_hidden(reason)}") from None
    raise AssertionError("unreachable")


def _here() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _dead(attrs: dict) -> bool:
    """Whether a trial's process ran on this machine and has ended."""
    if attrs.get("host") != socket.gethostname() or not isinstance(attrs.get("pid"), int):
        return False
    try:
        os.kill(attrs["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def open_study(checked: Checked, opts: TuneOptions, echo: Callable[[str], None]):
    """The study, made or found again; a different search space is refused; trials left running by a process
    that was killed are marked failed. Returns the study and the seed it was made with."""
    import optuna
    from optuna.trial import TrialState

    url = storage_url(opts.storage, checked.folder)
    if opts.storage is not None:
        storage = open_storage(url, checked.folder)  # before the folder exists: a bad URL leaves nothing behind
        checked.folder.mkdir(parents=True, exist_ok=True)
    else:
        checked.folder.mkdir(parents=True, exist_ok=True)
        storage = open_storage(url, checked.folder)
    study = optuna.create_study(study_name=checked.name, storage=storage, load_if_exists=True,
                                direction=checked.direction,
                                sampler=_sampler(opts.sampler, checked.params, checked.seed),
                                pruner=_pruner(opts.pruner, opts.startup_trials))
    where = opts.storage and _hidden(opts.storage) or str(checked.folder / STUDY_DB)
    if study.direction.name.lower() != checked.direction:
        raise CnnError(f"{where}: the study {checked.name} is to {study.direction.name.lower()} its metric, not "
                       f"{checked.direction}")
    space = _space(checked.params, opts.metric)
    held = study.user_attrs.get("space")
    if held is None:
        study.set_user_attr("space", space)
        study.set_user_attr("seed", checked.seed)
    elif held != space:
        before = json.loads(held)
        raise CnnError(f"{where}: the study {checked.name} searches {' '.join(before['params'])} for "
                       f"{before['metric']}, not this; give another --study or --study-dir, or the same --param "
                       f"and --metric")
    study_id = storage.get_study_id_from_name(checked.name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _dead(trial.user_attrs):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "error", "its process ended before it finished")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            echo(f"Trial {trial.number} was left running by a process that ended: marked failed")
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # other machines': their heartbeat stopped
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if trial.number in running:
            echo(f"Trial {trial.number} has not been heard of for {GRACE_S} s: marked failed")
    return study, int(study.user_attrs.get("seed", checked.seed))


def _pruning_callback(trial, metric: str, report: bool = True):
    import keras

    class ReportMetric(keras.callbacks.Callback):
        """Reports each epoch's `metric` to the trial; stops training at the epoch's end when it is pruned.
        With `report` False (a fold of a cross-validated trial) it only collects the values."""

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
            if not report:
                return
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
              echo: Callable[[str], None], parent: tracking.Untracked = tracking.UNTRACKED) -> float:
    """One trial: the objective Optuna calls. Returns the best epoch's metric; raises `optuna.TrialPruned` for a
    pruned trial and `TrialFailed` for one that failed (Optuna marks both; an interrupt ends the study). A tracked
    study's trial is an MLflow run nested under the study's (`parent`), which gets the trial's figure."""
    import optuna

    for key, value in _here().items():
        trial.set_user_attr(key, value)
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
    if opts.folds is not None:
        return _run_folds(trial, values, overrides, opts, run_dir, seed, direction, echo)
    callback = _pruning_callback(trial, opts.metric)
    train_opts = TrainOptions(config_path=opts.config_path, overrides=tuple(overrides), data_path=opts.data_path,
                              epochs=opts.epochs, subset=opts.subset, seed=seed, run_dir=str(run_dir), verbose=0,
                              argv=(*opts.argv, f"(trial {trial.number})"), callbacks=(callback,),
                              ctrl_c_at_epoch_end=True, track_parent=parent.run_id, track=parent.on)
    _fresh_keras()
    try:
        train(train_opts, echo=lambda line: None)
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted")
        done = f" after {len(callback.values)} epochs" if callback.values else ""
        echo(f"Trial {trial.number}: interrupted{done} (recorded as failed; its run: cnn train --resume {run_dir})")
        raise
    except CnnError as exc:
        _fail(trial, first_line(exc), echo)
    record = RunRecord.load(run_dir)
    record.update(tune={"study": trial.study.study_name, "trial": trial.number, "params": values,
                        "metric": opts.metric})
    if not callback.values:
        _fail(trial, f"the run reported no {opts.metric}", echo)
    best = (min if direction == "minimize" else max)(callback.values)
    parent.log_metrics({opts.metric: best}, step=trial.number)
    if callback.pruned:
        record.mark("pruned")
        held = record.data.get("mlflow")
        if isinstance(held, dict) and held.get("run_id"):
            parent.set_tag("status", "pruned", run_id=held["run_id"])
        echo(f"Trial {trial.number}: pruned after {len(callback.values)} epochs ({opts.metric} {best:.4f})")
        _report(run_dir, trial)
        raise optuna.TrialPruned()
    echo(f"Trial {trial.number}: {opts.metric} {best:.4f}")
    if not (parent.on and RunDir(run_dir).report.is_file()):  # a tracked run wrote its page as it ended
        _report(run_dir, trial)
    return best


def _run_folds(trial, values: dict, overrides: list[str], opts: TuneOptions, folder: Path, seed: int, direction: str,
               echo: Callable[[str], None]) -> float:
    """A cross-validated trial: one run per fold, `folder/fold-<i>`, each validating on fold i of the training
    split; the mean of the folds' best values so far is reported after each fold (step i - 1), so that the
    pruner can stop the trial between folds. Its value is the mean over the K folds (their values and standard
    deviation are the trial's user attributes `fold_values` and `fold_std`)."""
    import optuna

    count = int(opts.folds or 0)
    best_of = min if direction == "minimize" else max
    found: list[float] = []
    for number in range(1, count + 1):
        run_dir = folder / f"fold-{number}"
        callback = _pruning_callback(trial, opts.metric, report=False)
        train_opts = TrainOptions(config_path=opts.config_path, data_path=opts.data_path, epochs=opts.epochs,
                                  overrides=(*overrides, f"data.fold={{folds: {count}, number: {number}}}"),
                                  subset=opts.subset, seed=seed, run_dir=str(run_dir), verbose=0,
                                  argv=(*opts.argv, f"(trial {trial.number}, fold {number})"), callbacks=(callback,),
                                  ctrl_c_at_epoch_end=True)
        _fresh_keras()
        try:
            train(train_opts, echo=lambda line: None)
        except KeyboardInterrupt:
            trial.set_user_attr("error", "interrupted")
            echo(f"Trial {trial.number}: interrupted in fold {number} (recorded as failed; its run: cnn train --resume "
                 f"{run_dir})")
            raise
        except CnnError as exc:
            _fail(trial, f"fold {number}: {first_line(exc)}", echo)
        RunRecord.load(run_dir).update(tune={"study": trial.study.study_name, "trial": trial.number, "params": values,
                                             "metric": opts.metric, "fold": number, "folds": count})
        if not callback.values:
            _fail(trial, f"fold {number}: the run reported no {opts.metric}", echo)
        found.append(best_of(callback.values))
        mean = sum(found) / len(found)
        trial.set_user_attr("fold_values", found)
        trial.report(mean, number - 1)
        echo(f"Trial {trial.number}: fold {number}/{count}: {opts.metric} {found[-1]:.4f} (mean so far {mean:.4f})")
        _report(run_dir, trial)
        if number < count and trial.should_prune():
            RunRecord.load(run_dir).mark("pruned")
            echo(f"Trial {trial.number}: pruned after {number} of {count} folds ({opts.metric} mean {mean:.4f})")
            raise optuna.TrialPruned()
    mean = sum(found) / count
    std = math.sqrt(sum((v - mean) ** 2 for v in found) / count)
    trial.set_user_attr("fold_std", std)
    echo(f"Trial {trial.number}: {opts.metric} {mean:.4f} ± {std:.4f} over {count} folds")
    return mean


def _fresh_keras() -> None:
    """Each trial starts from a clean Keras state (the last trial's models and graphs let go). Each trial's
    model is new, so TensorFlow's warning that functions are traced again is expected here, and silenced."""
    import gc
    import logging

    import keras

    keras.backend.clear_session()
    gc.collect()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _report(run_dir: Path, trial) -> None:
    """The trial's `cnn report` page, which study.html links; one that cannot be written is a note."""
    from cnn_cli.reports.run_page import write_report

    try:
        write_report(str(run_dir))
    except CnnError as exc:
        trial.set_user_attr("report", first_line(exc))


def _fail(trial, reason: str, echo: Callable[[str], None]) -> typing.NoReturn:
    trial.set_user_attr("error", reason)
    echo(f"Trial {trial.number}: failed: {reason}")
    raise TrialFailed(reason)


class _Enough:
    """Stops the study once it holds `trials` finished trials, counting those other processes are running (so
    that several processes on one study run about `trials` between them)."""

    def __init__(self, trials: int):
        self.trials = trials

    def __call__(self, study, frozen) -> None:
        from optuna.trial import TrialState

        held = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        if len(held) >= self.trials:
            study.stop()


def tune(opts: TuneOptions, echo: Callable[[str], None] = print) -> TuneResult:
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState

    checked = check(opts)
    params, direction, folder = checked.params, checked.direction, checked.folder
    study, seed = open_study(checked, opts, echo)
    finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    to_run = max(0, opts.trials - finished)
    if opts.sampler == "grid":
        size = math.prod(len(p.grid()) for p in params)
        to_run = min(to_run, max(0, size - finished))
    if finished:
        echo(f"The study {checked.name} holds {finished} finished trials; running up to {to_run} more")
    parent = _study_run(checked, opts, study)
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat's, at every trial
            if to_run:
                study.optimize(lambda trial: run_trial(trial, params, opts, folder, seed, direction, echo, parent),
                               n_trials=to_run, timeout=opts.time_limit, catch=(TrialFailed,),
                               callbacks=[_Enough(opts.trials)])
    except KeyboardInterrupt:
        _finish(study, folder, direction, opts.metric)
        parent.end("KILLED")
        echo(f"Study interrupted; the same command goes on with it (study {checked.name} in {folder})")
        raise
    except BaseException:
        parent.end("FAILED")
        raise
    result = _finish(study, folder, direction, opts.metric)
    best = {f"best_{opts.metric}": result.best.value} if result.best is not None else {}
    parent.finish([p for p in (folder / BEST_YAML, folder / STUDY_HTML) if p.is_file()], best)
    result.ran = to_run
    if opts.time_limit is not None and time.monotonic() - started > opts.time_limit:
        result.notes.append(f"the time limit ({opts.time_limit:g} s) was reached: no trial started past it")
    return result


def _study_run(checked: Checked, opts: TuneOptions, study) -> tracking.Untracked:
    """The study's MLflow run, when the config asks for tracking (its id kept in the study, so that the same
    command again goes on with it): the search space as params; each trial's run nested under it."""
    params = {"metric": opts.metric, "direction": checked.direction, "sampler": opts.sampler,
              "pruner": opts.pruner, "seed": str(checked.seed), **{f"space.{p.key}": p.describe() for p in checked.params}}
    held = study.user_attrs.get("mlflow_run_id")
    parent = tracking.study_run(checked.base, checked.folder, name=checked.name, held=held, params=params,
                                tags={"study": checked.name, "study_dir": str(checked.folder.resolve())})
    if parent.run_id is not None and parent.run_id != held:
        study.set_user_attr("mlflow_run_id", parent.run_id)
    return parent


def _finish(study, folder: Path, direction: str, metric: str) -> TuneResult:
    """best.yaml and study.html as the study stands."""
    result = results(study, folder, direction)
    if result.best is not None and RunDir(result.best.run_dir).config.is_file():
        shutil.copyfile(RunDir(result.best.run_dir).config, folder / BEST_YAML)
    elif result.best is not None and RunDir(Path(result.best.run_dir) / "fold-1").config.is_file():
        config = read_yaml(RunDir(Path(result.best.run_dir) / "fold-1").config)  # a cross-validated trial's
        if isinstance(config, dict) and isinstance(config.get("data"), dict):
            config["data"].pop("fold", None)  # the trial's config, not its first fold's
        (folder / BEST_YAML).write_text(dump_yaml(config), encoding="utf-8")
    write_tune_page(result, metric, study)
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
