"""MLflow tracking (`train.track.mlflow`) through the real command line, read back with MLflow's own client: the
default SQLite store beside the runs (params, each epoch's metrics, tags, the run directory's files as artifacts,
a resume going on with the same MLflow run), `cnn tune` against a real `mlflow server` on loopback (started once
per session, its process group killed at the end) with the trials nested under the study's run, a server that is
down (one warning line, the run completes), an unknown URI scheme (exit 2 before TensorFlow), and a run that asks
for no tracking never importing MLflow."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY

TRACKED = TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz")) + \
    "  track: {mlflow: {}}\n"  # the tiny net on the Fashion-MNIST sample, tracked with the defaults


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(config: Path, run_dir: Path, *args: str):
    return CliRunner().invoke(main, ["train", "--config", str(config), "--run-dir", str(run_dir), "--subset", "100",
                                     *args], catch_exceptions=False)


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _history(run_dir: Path, key: str) -> list[tuple[int, float]]:
    import csv

    with open(run_dir / "history.csv") as f:
        return [(int(r["epoch"]), float(r[key])) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory):
    """A tracked run of 2 epochs with the defaults (the SQLite store beside it), made once, from a working
    directory of its own (where MLflow's own default would write ./mlruns): its folder, run directory, output."""
    pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("tracked")
    config = folder / "tiny.yaml"
    config.write_text(TRACKED)
    run_dir = folder / "runs" / "a"
    here = os.getcwd()
    os.chdir(folder)
    try:
        result = _train(config, run_dir, "--epochs", "2")
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output
    return folder, run_dir, result.output


def test_sqlite_default_holds_params_metrics_tags_and_artifacts(sqlite_run, tmp_path):
    folder, run_dir, output = sqlite_run
    assert "Warning" not in output, output
    assert not (folder / "mlruns").exists() and (folder / "runs" / "mlflow.db").is_file()
    held = json.loads((run_dir / "run.json").read_text())["mlflow"]
    uri = f"sqlite:///{(folder / 'runs' / 'mlflow.db').resolve()}"
    assert held["tracking_uri"] == uri and f"MLflow: run {held['run_id']} of the experiment 'tiny'" in output
    client = _client(uri)
    run = client.get_run(held["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "a"
    assert client.get_experiment(run.info.experiment_id).name == "tiny"
    params = run.data.params
    assert params["model.layers.0.filters"] == "8" and params["model.layers.0.name"] == "stem"
    assert params["train.optimizer.learning_rate"] == "0.003" and params["seed"] == "1"
    assert params["model.input_shape"] == "[28, 28, 1]" and params["train.epochs"] == "2"
    assert not [k for k in params if k.startswith("train.track") or "[" in k]
    # each epoch's history.csv row, at step = the epoch
    for key in ("loss", "val_loss", "val_accuracy", "learning_rate"):
        logged = [(m.step, m.value) for m in client.get_metric_history(held["run_id"], key)]
        assert logged == _history(run_dir, key), key
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert run.data.metrics["final_val_loss"] == pytest.approx(metrics["val_loss"])
    tags = run.data.tags
    assert tags["backend"] == metrics["backend"] and tags["device"] == metrics["device"]
    assert tags["task"] == "classification" and tags["status"] == "complete"
    assert tags["version.keras"] == metrics["versions"]["keras"] and tags["run_dir"] == str(run_dir.resolve())
    # the run directory's files, beside the database
    names = {f.path for f in client.list_artifacts(held["run_id"])}
    assert {"model.keras", "best.keras", "config.yaml", "run.json", "metrics.json", "history.csv", "summary.txt",
            "training_curves.png", "report.html"} <= names, names
    assert not {"backup", ".lock"} & names
    copy = Path(client.download_artifacts(held["run_id"], "metrics.json", str(tmp_path)))
    assert json.loads(copy.read_text()) == metrics
    assert (folder / "runs" / "mlartifacts" / held["run_id"] / "artifacts" / "model.keras").is_file()


def test_an_interrupted_run_is_killed_and_its_resume_goes_on_with_it(sqlite_run, monkeypatch):
    """Ctrl-C after epoch 1 (the fault hook): the MLflow run KILLED with epoch 1 logged; `--resume --epochs 3`
    goes on with the same MLflow run, at steps 2 and 3, and ends it FINISHED."""
    folder = sqlite_run[0]
    run_dir = folder / "runs" / "b"
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "1")
    assert _train(folder / "tiny.yaml", run_dir, "--epochs", "2").exit_code == 130
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    held = json.loads((run_dir / "run.json").read_text())["mlflow"]
    client = _client(held["tracking_uri"])
    run = client.get_run(held["run_id"])
    assert run.info.status == "KILLED" and run.data.tags["status"] == "interrupted"
    assert [m.step for m in client.get_metric_history(held["run_id"], "loss")] == [1]
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--epochs", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "run.json").read_text())["mlflow"]["run_id"] == held["run_id"]
    assert [(m.step, m.value) for m in client.get_metric_history(held["run_id"], "loss")] == _history(run_dir, "loss")
    assert len(_history(run_dir, "loss")) == 3
    run = client.get_run(held["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "complete"
    assert run.data.params["train.epochs"] == "2"  # the params are the run's first config, logged once
    assert "model.keras" in {f.path for f in client.list_artifacts(held["run_id"])}


def test_params_go_in_batches_of_a_hundred(sqlite_run):
    """MLflow takes at most 100 params a call: a config of 250 values is logged whole."""
    from cnn_cli.training import tracking

    folder = sqlite_run[0] / "runs"
    place = tracking.Where(f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlartifacts").as_uri(), "many")
    tracker = tracking.Tracker(place, warn=pytest.fail)
    assert tracker.open(run_name="r", tags={"task": "classification"})
    flat = tracking.flat_params({"model": {"layers": [{"type": "dense", "units": i} for i in range(125)]}})
    assert len(flat) == 250 and flat["model.layers.124.units"] == "124"
    tracker.log_params(flat)
    tracker.end("FINISHED")
    assert _client(place.uri).get_run(tracker.run_id).data.params == flat


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (SQLite store, artifacts served by it), started once per session in a
    process group of its own, which is killed at the end."""
    pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner: quicker to start
    log = open(folder / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "art")],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("mlflow server did not start:\n" + (folder / "server.log").read_text()[-3000:])
                time.sleep(0.25)
        yield uri
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def test_tune_on_a_server_nests_the_trials_under_the_study(mlflow_server, tmp_path):
    pytest.importorskip("optuna")
    config = tmp_path / "tiny.yaml"
    config.write_text(TRACKED.replace("track: {mlflow: {}}",
                                      f"track: {{mlflow: {{tracking_uri: '{mlflow_server}', experiment: served, "
                                      f"report: false}}}}"))
    study = tmp_path / "study"
    result = CliRunner().invoke(main, [
        "tune", "--config", str(config), "--study-dir", str(study), "--param", "model.layers[0].filters=choice(4,8)",
        "--trials", "2", "--sampler", "random", "--pruner", "none", "--epochs", "1", "--subset", "100", "--seed", "3"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output, result.output
    assert not (study / "mlflow.db").exists()  # the server's store, not the default
    client = _client(mlflow_server)
    experiment = client.get_experiment_by_name("served")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 3, [r.info.run_name for r in runs]
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.params["space.model.layers.0.filters"] == \
        "model.layers[0].filters=choice(4,8)"
    assert {f.path for f in client.list_artifacts(parent.info.run_id)} == {"best.yaml", "study.html"}
    children = sorted((r for r in runs if r is not parent), key=lambda r: r.info.run_name)
    assert [r.info.run_name for r in children] == ["trial-0000", "trial-0001"]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id and child.info.status == "FINISHED"
        run_dir = study / child.info.run_name
        assert json.loads((run_dir / "run.json").read_text())["mlflow"]["run_id"] == child.info.run_id
        assert child.data.params["model.layers.0.filters"] in ("4", "8")
        assert [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, "val_accuracy")] == \
            _history(run_dir, "val_accuracy")
        logged = {f.path for f in client.list_artifacts(child.info.run_id)}
        assert "model.keras" in logged and "report.html" not in logged  # report: false; tune wrote it later
        assert (run_dir / "report.html").is_file()
    trial_values = sorted(m.step for m in client.get_metric_history(parent.info.run_id, "val_accuracy"))
    assert trial_values == [0, 1]


def test_a_server_that_is_down_is_one_warning_and_the_run_completes(tmp_path):
    pytest.importorskip("mlflow")
    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    config = tmp_path / "tiny.yaml"
    config.write_text(TRACKED.replace("track: {mlflow: {}}", f"track: {{mlflow: {{tracking_uri: '{uri}'}}}}"))
    run_dir = tmp_path / "run"
    result = _train(config, run_dir, "--epochs", "1")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "Warning" in line or "MLflow" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"Warning: MLflow tracking to {uri} is off"), warnings
    assert "Connection refused" in warnings[0]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and "mlflow" not in record
    assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()


@pytest.mark.parametrize("uri", ["sqlite:////proc/no/mlflow.db", "postgresql+psycopg://cnn:secret@127.0.0.1:{port}/x"])
def test_a_database_that_cannot_be_opened_is_one_warning(uri):
    """One connection attempt (MLflow's store would try ten times over about 100 s), one line, no password."""
    pytest.importorskip("mlflow")
    if uri.startswith("postgresql"):
        pytest.importorskip("psycopg")
    from cnn_cli.training import tracking

    said: list[str] = []
    tracker = tracking.Tracker(tracking.Where(uri.format(port=_free_port()), None, "x"), warn=said.append)
    assert not tracker.open(run_name="r", tags={}) and not tracker.on
    tracker.log_metrics({"loss": 1.0}, step=1)
    tracker.finish([], {"test_loss": 1.0})
    assert len(said) == 1 and "is off for this run" in said[0] and "secret" not in said[0], said
    assert ("/proc/no: " if uri.startswith("sqlite") else "Connection refused") in said[0]


def test_an_unknown_scheme_is_one_line_before_tensorflow(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TRACKED)
    code = ("import sys; from click.testing import CliRunner; from cnn_cli.cli import main; "
            f"r = CliRunner().invoke(main, ['train', '--config', {str(config)!r}, '--set', "
            "'train.track.mlflow.tracking_uri=mlfow://127.0.0.1:5000']); "
            "print(r.output, end=''); print(r.exit_code, 'tensorflow' in sys.modules, 'mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    lines = out.splitlines()
    assert lines[-1] == "2 False False", out
    assert lines[:-1] == ["Error: --set: train.track.mlflow.tracking_uri: expected an MLflow tracking URI: "
                          "http(s)://HOST[:PORT], sqlite:///FILE.db, postgresql://..., mysql://..., mssql://... or "
                          "databricks (unknown scheme 'mlfow'), received 'mlfow://127.0.0.1:5000'"]


def test_tracking_without_mlflow_installed_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    config = tmp_path / "tiny.yaml"
    config.write_text(TRACKED)
    result = _train(config, tmp_path / "run", "--epochs", "1")
    assert result.exit_code == 2
    assert result.output == (f"Error: {config}: train.track.mlflow: the mlflow package is not installed: pip install "
                             "'cnn-cli[mlflow]' (or leave train.track out)\n")
    assert not (tmp_path / "run").exists()


def test_a_run_without_tracking_never_imports_mlflow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any import of mlflow would fail the run
    config = tmp_path / "tiny.yaml"
    config.write_text(TRACKED.replace("  track: {mlflow: {}}\n", ""))
    result = _train(config, tmp_path / "run", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "mlflow" not in json.loads((tmp_path / "run" / "run.json").read_text())
