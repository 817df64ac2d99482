"""A run recorded in MLflow besides its run directory (`train.track.mlflow`; docs/tracking.md).

`start(run)` opens the MLflow run of a training run (a resumed run goes on with its own, whose id run.json keeps
under `mlflow`): the config flattened as params (`model.layers.0.filters`, without `train.track`), tags (backend,
device, versions, task, run directory), then each epoch's history.csv row as metrics at step = the epoch
(`Tracker.callbacks`), and at the end the final figures, the run directory's files as artifacts (its page
report.html written first) and the run's state. `cnn tune` opens the study's run (`study_run`) and hands its id to
each trial, whose run is nested under it.

The default tracking URI is a SQLite file beside the runs (`<runs' folder>/mlflow.db`) with the artifacts beside
it too (`<runs' folder>/mlartifacts`), never MLflow's `./mlruns` in the working directory. Whatever MLflow cannot do
(a server down or refusing, a database locked) is one warning line on stderr, after which the run's tracking is
off: training goes on and the run directory stays the record. MLflow's HTTP retries (minutes, by default) are set
to none and its timeout to a few seconds, unless the environment sets them.

MLflow is imported inside the functions (a slow, optional package), and only for a run that asks to be tracked.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cnn_cli import __version__, tasks
from cnn_cli.backends import current, keras_version
from cnn_cli.config import Config
from cnn_cli.config.track import DATABASES, Mlflow
from cnn_cli.errors import CnnError, short_reason
from cnn_cli.number_format import to_float
from cnn_cli.resolve.run_config import dump_config

DB_FILE, ARTIFACTS = "mlflow.db", "mlartifacts"
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
"""MLflow's HTTP settings unless the environment gives them: no retries, 5 s a request (MLflow's own: 7 retries
with backoff, 120 s), so that a server that is down costs a few seconds and one line."""
PER_CALL = 100  # MLflow takes at most 100 params (or tags) a call
KEY_LIMIT, PARAM_LIMIT, TAG_LIMIT = 250, 6000, 8000
PARENT_TAG = "mlflow.parentRunId"  # MLflow's system tag of a nested run


def warn(line: str) -> None:
    print(f"Warning: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Where:
    """Where runs are recorded: the tracking URI, the artifact location a new experiment gets (None: the
    store's own, e.g. a server's), and the experiment's name."""

    uri: str
    artifacts: str | None
    experiment: str

    @property
    def shown(self) -> str:
        """The URI as messages show it: any password replaced by ***."""
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", self.uri)


def where(track: Mlflow, name: str, runs_folder: Path) -> Where:
    """`track`'s place for a run of the config named `name` whose run directory is in `runs_folder`."""
    experiment = track.experiment or name
    uri = track.tracking_uri
    if uri is None:
        folder = Path(runs_folder).resolve()
        return Where(f"sqlite:///{folder / DB_FILE}", (folder / ARTIFACTS).as_uri(), experiment)
    scheme = urlparse(uri).scheme.lower().split("+", 1)[0]
    if scheme == "sqlite":  # beside the database file
        return Where(uri, (Path(uri.split(":///", 1)[1]).resolve().parent / ARTIFACTS).as_uri(), experiment)
    if scheme in ("postgresql", "mysql", "mssql"):  # beside the runs (MLflow's default: ./mlruns)
        return Where(uri, (Path(runs_folder).resolve() / ARTIFACTS).as_uri(), experiment)
    return Where(uri, None, experiment)  # a server's (or a file store's) own


def flat_params(raw: Any, prefix: str = "") -> dict[str, str]:
    """A config's values by dotted key (`model.layers.0.filters`: MLflow refuses `[`), each as text: a list of
    plain values whole (`model.input_shape`: `[28, 28, 1]`), a list holding mappings item by item; None left out."""
    out: dict[str, str] = {}
    items = raw.items() if isinstance(raw, dict) else enumerate(raw)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value or isinstance(value, (list, tuple)) and any(
                isinstance(v, (dict, list, tuple)) for v in value):
            out.update(flat_params(value, name + "."))
        elif value is not None:
            out[_key(name)] = _cut(value if isinstance(value, str) else json.dumps(value), PARAM_LIMIT)
    return out


def config_params(config: Config) -> dict[str, str]:
    """The run's params: its config as config.yaml holds it, flattened, less `train.track` (where it is
    recorded, not what was run; a server's URI may hold a password)."""
    raw = dump_config(config)
    raw["train"] = {k: v for k, v in raw["train"].items() if k != "track"}
    return flat_params(raw)


def _key(name: str) -> str:
    """A name MLflow takes (letters, digits, `_ - . :` and spaces, at most 250 characters): `layers[0]` is
    `layers.0`, any other character `_`."""
    return re.sub(r"[^\w.\- :]", "_", re.sub(r"\[(\d+)\]", r".\1", name))[:KEY_LIMIT]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """What went wrong, short: the OS's reason when a connection failed (`[Errno 111] Connection refused`)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", str(exc))  # SQLAlchemy's link
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if errno:
        return errno.group(0).strip()
    return short_reason(RuntimeError(text))


def _client(uri: str):
    import logging

    for name, value in HTTP_ENV.items():
        os.environ.setdefault(name, value)
    from mlflow import MlflowClient

    # "Creating initial MLflow database tables...", and MLflow's own lines about a failure (ours is one line)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _connect_once(uri)
    return MlflowClient(tracking_uri=uri)


def _connect_once(uri: str) -> None:
    """A database's one connection attempt, with a timeout (MLflow's own store tries ten times over about 100 s
    before it gives up, whatever the environment says); a SQLite file's folder is made, as MLflow makes it."""
    scheme = urlparse(uri).scheme.lower().split("+", 1)[0]
    if scheme not in DATABASES:
        return
    import sqlalchemy

    if scheme == "sqlite":
        Path(uri.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": 5} if scheme in ("postgresql", "mysql")
                                      else {})
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


class Untracked:
    """A run that is not tracked: every call does nothing."""

    run_id: str | None = None
    on = False

    def callbacks(self, history) -> list:
        return []

    def log_metrics(self, values: dict[str, float], step: int = 0) -> None:
        pass

    def set_tag(self, key: str, value: str, run_id: str | None = None) -> None:
        pass

    def finish(self, files: Iterable[Path] = (), metrics: dict[str, float] | None = None,
               status: str = "complete") -> None:
        pass

    def end(self, state: str) -> None:
        pass


UNTRACKED = Untracked()


class Tracker(Untracked):
    """One MLflow run. MLflow's first failure is one warning line (`warn`), after which nothing more is sent."""

    def __init__(self, place: Where, warn: Callable[[str], None] = warn):
        self.place, self.warn = place, warn
        self.client: Any = None
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.ended = False

    @property
    def on(self) -> bool:
        return self.client is not None and self.run_id is not None and not self.ended

    def _do(self, what: str, call: Callable[[Any], Any]) -> Any:
        if self.client is None:
            return None
        try:
            return call(self.client)
        except Exception as exc:  # MLflow's and its transports' errors, whatever the store
            self.client = None
            self.warn(f"MLflow tracking to {self.place.shown} is off for this run ({what}: {_reason(exc)}); "
                      f"training goes on, the run directory keeps everything")
            return None

    def open(self, *, run_name: str, tags: dict[str, str], parent: str | None = None,
             resume: str | None = None) -> bool:
        """Starts the run (with `resume`, goes on with that one when the store still has it); False when
        MLflow cannot."""
        try:
            self.client = _client(self.place.uri)
        except Exception as exc:  # a URI MLflow's client refuses
            self.client = None
            self.warn(f"MLflow tracking to {self.place.shown} is off for this run: {_reason(exc)}")
            return False

        def go(client):
            from mlflow.exceptions import MlflowException

            if resume is not None:
                try:
                    client.update_run(resume, status="RUNNING")
                    return resume
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                        raise
            self.experiment_id = _experiment(client, self.place)
            every = {k: _cut(v, TAG_LIMIT) for k, v in tags.items()} | ({PARENT_TAG: parent} if parent else {})
            return client.create_run(self.experiment_id, run_name=run_name, tags=every).info.run_id

        self.run_id = self._do("starting the run", go)
        return self.run_id is not None

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(_key(k), _cut(v, PARAM_LIMIT)) for k, v in params.items()]
        for start in range(0, len(items), PER_CALL):
            self._do("logging the config", lambda c, s=start: c.log_batch(self.run_id, params=items[s:s + PER_CALL]))

    def log_metrics(self, values: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(_key(k), float(v), stamp, int(step)) for k, v in values.items()]
        if metrics and self.on:
            self._do("logging metrics", lambda c: c.log_batch(self.run_id, metrics=metrics))

    def set_tag(self, key: str, value: str, run_id: str | None = None) -> None:
        if self.client is not None and (run_id or self.on):
            self._do("setting a tag", lambda c: c.set_tag(run_id or self.run_id, key, _cut(value, TAG_LIMIT)))

    def callbacks(self, history) -> list:
        """The Keras callback that logs each epoch's history.csv row (written by `history`, a
        `callbacks.HistoryWriter`, listed just before it: an interrupt after the epoch's backup finds it logged)
        at step = the epoch."""
        import keras

        tracker = self

        class TrackEpochs(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                row = history.rows[-1] if history.rows else {}
                values = {k: to_float(v) for k, v in row.items() if k not in ("epoch", "phase")}
                tracker.log_metrics({k: v for k, v in values.items() if v is not None},
                                    step=int(row.get("epoch", epoch + 1)))

        return [TrackEpochs()]

    def finish(self, files: Iterable[Path] = (), metrics: dict[str, float] | None = None,
               status: str = "complete") -> None:
        """The final figures, `files` as artifacts, the run's status as a tag, and the run ended FINISHED."""
        if not self.on:
            return
        self.log_metrics(metrics or {})
        for path in files:
            self._do(f"logging {path.name}", lambda c, p=path: c.log_artifact(self.run_id, str(p)))
        self.set_tag("status", status)
        self.end("FINISHED")

    def end(self, state: str) -> None:
        """Ends the run (FINISHED, FAILED, KILLED) once; later calls do nothing."""
        if self.on:
            self._do("ending the run", lambda c: c.set_terminated(self.run_id, state))
        self.ended = True


def _experiment(client, place: Where) -> str:
    """The experiment's id, made when new (with the artifact location beside the runs)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(place.experiment)
    if found is None:
        try:
            return client.create_experiment(place.experiment, artifact_location=place.artifacts)
        except MlflowException:  # another process made it meanwhile
            found = client.get_experiment_by_name(place.experiment)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise RuntimeError(f"the experiment {place.experiment!r} is deleted: restore it, or give another "
                           "train.track.mlflow.experiment")
    return found.experiment_id


def mlflow_of(config: Config) -> Mlflow | None:
    track = config.train.track
    return track.mlflow if track is not None else None


def start(run, warn: Callable[[str], None] = warn) -> Untracked:
    """The tracker of a prepared run (`stages.PreparedRun`): `UNTRACKED` unless its config asks for MLflow (and
    this process writes the run: a multi-worker run's chief only; a trial whose study's run failed to open: not)."""
    track = mlflow_of(run.config)
    if track is None or not run.dist.is_chief or not run.plan.track:
        return UNTRACKED
    tracker = Tracker(where(track, run.config.name, run.plan.run_dir.parent), warn)
    held = run.record.data.get("mlflow") if run.plan.resume else None
    resume = held.get("run_id") if isinstance(held, dict) else None
    backend = current()
    versions = {**backend.versions(), "keras": keras_version(), "python": _python()}
    tags = {"backend": backend.NAME, "device": run.devices, "task": tasks.of(run.config).NAME,
            "run_dir": str(run.plan.run_dir.resolve()), "status": "running",
            **{f"version.{k}": str(v) for k, v in versions.items()}, "version.cnn": __version__}
    if not tracker.open(run_name=run.plan.run_dir.name, tags=tags, parent=run.plan.track_parent, resume=resume):
        return tracker
    if tracker.run_id != resume:  # a new MLflow run: its config, and its id in run.json (for a resume)
        run.record.update(mlflow={"run_id": tracker.run_id, "experiment_id": str(tracker.experiment_id),
                                  "tracking_uri": tracker.place.shown})
        tracker.log_params(config_params(run.config))
    else:
        tracker.set_tag("status", "running")
    return tracker


def _python() -> str:
    import platform

    return platform.python_version()


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's figures logged at the end: the test split's as they are (`test_accuracy`), the final
    model's on the validation split as `final_val_...` (the epochs' `val_loss` is another series), the best
    epoch's monitored value as `best_<monitor>`, and the wall time."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or key.endswith("_examples"):
            continue
        if key.startswith("test_"):
            out[key] = float(number)
        elif key.startswith("val_"):
            out[f"final_{key}"] = float(number)
    best = metrics.get("best_value")
    if isinstance(best, (int, float)) and metrics.get("best_monitor"):
        out[f"best_{metrics['best_monitor']}"] = float(best)
    if isinstance(metrics.get("wall_seconds"), (int, float)):
        out["wall_seconds"] = float(metrics["wall_seconds"])
    return out


def finish_run(tracker: Untracked, run_dir, metrics: dict, config: Config,
               echo: Callable[[str], None] = print) -> None:
    """The end of a tracked run that completed: its page (report.html, which MLflow's UI shows; unless
    `train.track.mlflow.report: false`), then its final figures and its files as artifacts
    (`rundir.RunDir.shared_files`: models, config, records, curves, page)."""
    if not tracker.on:
        return
    track = mlflow_of(config)
    if track is not None and track.report:
        from cnn_cli.reports.run_page import write_report

        try:
            write_report(str(run_dir.path))
        except CnnError as exc:
            echo(f"The run's page was not written for MLflow: {short_reason(exc)}")
    tracker.finish(run_dir.shared_files(), final_metrics(metrics))
    if tracker.run_id is not None and tracker.client is not None:
        echo(f"MLflow: run {tracker.run_id} of the experiment {tracker.place.experiment!r} in {tracker.place.shown}")


def study_run(config: Config, folder: Path, *, name: str, held: str | None, params: dict[str, str],
              tags: dict[str, str], warn: Callable[[str], None] = warn) -> Untracked:
    """The MLflow run of `cnn tune`'s study (`held`: its id, kept in the study, when the study goes on), under
    which each trial's run is nested; UNTRACKED when the config asks for no tracking."""
    track = mlflow_of(config)
    if track is None:
        return UNTRACKED
    tracker = Tracker(where(track, config.name, folder), warn)
    if tracker.open(run_name=name, tags={**tags, "status": "running"}, resume=held) and tracker.run_id != held:
        tracker.log_params(params)
    return tracker
