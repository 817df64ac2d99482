"""`RunDir`: the one object through which a run directory is written and read, its file names private to
`cnn_cli/rundir/`, its records typed on the way in as on the way out."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from cnn_cli.errors import CnnError
from cnn_cli.rundir import FORMAT, LabelsJson, MetricsJson, RunDir, RunJson, layout

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_cli"
FILE_NAMES = {name for name, value in vars(layout).items() if name.isupper() and isinstance(value, str)}


def test_no_module_outside_rundir_knows_a_file_name():
    """Outside cnn_cli/rundir/: no import of the layout, its constants or `run_file`, and no `rundir.MODEL`."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "rundir":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnn_cli.rundir"):
                names = {alias.name for alias in node.names}
                if node.module == "cnn_cli.rundir.layout" or names & (FILE_NAMES | {"run_file", "RunLayout", "layout"}):
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: from {node.module} import {sorted(names)}")
            if isinstance(node, ast.Attribute) and node.attr in FILE_NAMES and isinstance(node.value, ast.Name) \
                    and node.value.id in ("R", "rundir"):
                wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_records_written_and_read_back(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.lock(new=True):
        record = run.start_record(RunJson(format=FORMAT, name="toy", status="running", started="t0", seed=3))
        run.history.write([{"epoch": 1, "loss": "0.5", "accuracy": "0.8", "val_loss": None, "val_accuracy": None,
                            "learning_rate": "0.001", "seconds": "1.250"}])
        run.write_metrics(MetricsJson(test_accuracy=0.9, epochs_run=1, models={"model.keras": "the last epoch"}))
        run.write_labels(LabelsJson.model_validate({"classes": [{"index": 0, "id": 0, "name": "a"},
                                                                {"index": 1, "id": 1, "name": "b"}]}))
        record.mark("complete")
    assert run.read_run().status == "complete" and run.read_run().finished is not None
    assert run.read_metrics().test_accuracy == 0.9
    assert json.loads(run.metrics.read_text())["models"] == {"model.keras": "the last epoch"}
    assert [r.loss for r in run.history.rows()] == [0.5]
    assert run.history.text_rows()[0]["seconds"] == "1.250"  # the text as the writer formatted it
    assert [c.name for c in run.read_labels().classes] == ["a", "b"]
    with run.lock():  # released: a resume may take it
        pass


def test_a_bad_history_row_is_refused_before_the_file_changes(tmp_path):
    run = RunDir(tmp_path)
    run.history.write([{"epoch": 1, "loss": "0.5"}])
    before = run.history.text_rows()
    with pytest.raises(ValidationError):
        run.history.write([{"epoch": 1, "loss": "0.5"}, {"epoch": 0, "loss": "x"}])
    assert run.history.text_rows() == before


def test_a_metrics_record_is_typed_when_written(tmp_path):
    with pytest.raises(ValidationError):
        MetricsJson.model_validate({"test_accuracy": "high"})
    run = RunDir(tmp_path)
    with pytest.raises(CnnError, match="metrics.json: missing"):
        run.read_metrics()


def test_a_file_that_leads_out_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    (run.path / "metrics.json").symlink_to(outside)
    with pytest.raises(CnnError, match="outside the run directory"):
        run.write_metrics(MetricsJson(test_accuracy=0.5))
    assert outside.read_text() == "{}"
