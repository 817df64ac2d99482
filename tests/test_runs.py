"""`cnn runs`: the table of the run directories under some folders (JSON and YAML read, no Keras), --where,
--sort, --json, --csv, the config keys that differ, and its one-line refusals."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil

import pytest

from cnn_cli.cli import main
from tests.run_helpers import mnist_run


@pytest.fixture
def runs(tmp_path):
    """Three copies of one trained MNIST run: `a` as trained, `b` with batch size 32 and a higher test accuracy
    (its config.yaml and metrics.json edited), `c` interrupted (no metrics.json), all under tmp/runs."""
    root = tmp_path / "runs"
    for name in ("a", "b", "c"):
        shutil.copytree(mnist_run(), root / name, ignore=shutil.ignore_patterns("*.keras", "backup"))
    config = root / "b" / "config.yaml"
    config.write_text(config.read_text().replace("batch_size: 64", "batch_size: 32"))
    metrics = json.loads((root / "b" / "metrics.json").read_text())
    (root / "b" / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": 0.99}))
    (root / "c" / "metrics.json").unlink()
    record = json.loads((root / "c" / "run.json").read_text())
    (root / "c" / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    return root


def _json(runner, *args):
    result = runner.invoke(main, ["runs", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_table_shows_each_run_and_the_keys_that_differ(runner, runs):
    result = runner.invoke(main, ["runs", str(runs)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["run", "status", "task", "epochs"] and "train.batch_size" in header
    assert "test" in header and "accuracy" in header and "params" in header and "MACs" in header
    rows = {line.split()[0].rsplit("/", 1)[-1]: line for line in lines[1:4]}
    assert set(rows) == {"a", "b", "c"}
    metrics = json.loads((mnist_run() / "metrics.json").read_text())
    assert metrics["params"] == 93322 and metrics["macs"] == 5682304  # recorded by cnn train
    assert "complete" in rows["a"] and "93.3k" in rows["a"] and "5.68M" in rows["a"] and "tensorflow" in rows["a"]
    assert rows["a"].split()[-1] == "64" and rows["b"].split()[-1] == "32"
    assert "0.9900" in rows["b"] and f"{metrics['test_accuracy']:.4f}" in rows["a"]
    assert "interrupted" in rows["c"] and "93.3k" in rows["c"]  # params and MACs from summary.txt, no metrics.json
    assert lines[-1] == "3 runs; config keys that differ: 1"


def test_json_csv_where_and_sort(runner, runs):
    listed = _json(runner, str(runs))
    assert [r["status"] for r in listed] and {r["path"].rsplit("/", 1)[-1] for r in listed} == {"a", "b", "c"}
    assert all(set(r["config"]) == {"train.batch_size"} for r in listed)

    done = _json(runner, str(runs), "--where", "status=complete", "--sort", "-test_value")
    assert [r["path"].rsplit("/", 1)[-1] for r in done] == ["b", "a"]
    assert [r["path"][-1] for r in _json(runner, str(runs), "--sort", "test_value")] == ["a", "b", "c"]  # none last
    assert [r["path"][-1] for r in _json(runner, str(runs), "--where", "train.batch_size<64")] == ["b"]
    assert [r["path"][-1] for r in _json(runner, str(runs), "--where", "test_value!=null",
                                         "--where", "train.optimizer.name=adam")] == ["a", "b"]

    result = runner.invoke(main, ["runs", str(runs), "--csv", "--sort", "path"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["status"], r["train.batch_size"]) for r in rows] == [("complete", "64"), ("complete", "32"),
                                                                    ("interrupted", "64")]


def test_damaged_run_is_listed_with_a_warning(runner, runs):
    (runs / "b" / "run.json").write_text("{not json")
    result = runner.invoke(main, ["runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert "unreadable" in result.stdout
    assert result.stderr.count("\n") == 1 and "b/run.json: cannot be read as JSON" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--where", "status"], "--where 'status': expected KEY=VALUE"),
    (["--where", "train.bogus=1"], "no run listed has the key 'train.bogus'"),
    (["--where", "wall_seconds>fast"], "> compares numbers"),
    (["--sort", "nope"], "--sort 'nope': no run listed has a value for 'nope'"),
    (["--json", "--csv"], "--json and --csv: choose one"),
])
def test_bad_flags_are_one_line(runner, runs, args, message):
    result = runner.invoke(main, ["runs", str(runs), *args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output, result.output


def test_no_such_folder_and_no_runs(runner, tmp_path):
    result = runner.invoke(main, ["runs", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "missing: no such folder" in result.output
    result = runner.invoke(main, ["runs", str(tmp_path)])
    assert result.exit_code == 0 and result.stdout.strip() == "No runs found."


def test_a_running_run_whose_process_is_gone_says_so(runner, runs):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, pid in (("a", gone.stdout.strip()), ("b", str(os.getpid()))):
        record = json.loads((runs / name / "run.json").read_text())
        (runs / name / "run.json").write_text(json.dumps({**record, "status": "running"}))
        (runs / name / ".lock").write_text(f"{pid}\n")
    listed = {r["path"][-1]: r for r in _json(runner, str(runs), "--where", "status=running")}
    assert listed["a"]["writer_alive"] is False and listed["b"]["writer_alive"] is True
    lines = runner.invoke(main, ["runs", str(runs), "--sort", "path"]).stdout.splitlines()
    assert "running (no process)" in lines[1] and "running (no process)" not in lines[2] and "running" in lines[2]
