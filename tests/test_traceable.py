"""Traceable mistakes: splits.csv lists which image went to which split; `cnn evaluate --mistakes FILE.csv` and
`--json`'s `mistakes` give every wrong prediction with its source (an image file's path, an array's index), as
the task's own columns say; the report's images carry their source."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from cnn_cli.cli import main
from tests.run_helpers import mnist_run, multilabel_run, photo_run, regression_run


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_splits_and_mistakes_name_the_image_files(runner, tmp_path):
    run = photo_run()
    splits = _rows(run / "splits.csv")
    assert list(splits[0]) == ["source", "split"]
    files = [Path(r["source"]) for r in splits]
    assert len(files) == len(set(files)) == 72 and all(f.is_file() for f in files)  # each photo once
    evaluated = "test" if any(r["split"] == "test" for r in splits) else "validation"
    held = {r["source"] for r in splits if r["split"] == evaluated}
    assert held and {r["split"] for r in splits} >= {"train", "validation"}
    out = tmp_path / "mistakes.csv"
    result = runner.invoke(main, ["evaluate", str(run), "--mistakes", str(out), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["mistakes"]
    rows = _rows(out)
    assert list(rows[0]) == ["source", "true", "predicted", "score"] if rows else True
    assert [r["source"] for r in rows] == [m["source"] for m in listed]
    assert all(m["source"] in held and m["true"] != m["predicted"] for m in listed)
    assert all(Path(m["source"]).parent.name == m["true"] for m in listed)  # the file is in its class's folder
    scores = [m["score"] for m in listed]
    assert scores == sorted(scores, reverse=True)
    report = json.loads(result.output)
    wrong = report["num_examples"] - round(report["accuracy"] * report["num_examples"])
    assert len(listed) == wrong
    page = tmp_path / "report.html"  # the report: its images named by their files, a few augmented ones
    assert runner.invoke(main, ["report", str(run), "-o", str(page)]).exit_code == 0
    text = page.read_text()
    assert "Augmented training images" in text and "data.augment: horizontal_flip=True" in text
    assert any(f"{source}" in text for source in held)


def test_array_mistakes_name_the_index_and_the_report_shows_sources(runner, tmp_path):
    run = mnist_run()
    result = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    listed = json.loads(result.output)["mistakes"]
    assert listed and all(m["source"].startswith(str(Path("data") / "mnist_sample.npz")) or "mnist_sample.npz [y_test] index "
                          in m["source"] for m in listed)
    report = tmp_path / "report.html"
    assert runner.invoke(main, ["report", str(run), "-o", str(report)]).exit_code == 0
    assert "mnist_sample.npz [y_test] index " in report.read_text()


def test_multilabel_and_regression_mistakes_have_their_own_columns(runner, tmp_path):
    for run, columns in ((multilabel_run(), ["source", "true", "predicted", "wrong"]),
                         (regression_run(), ["source", "digit_true", "digit_predicted", "scaled_true",
                                             "scaled_predicted", "error"])):
        out = tmp_path / f"{run.name}.csv"
        result = runner.invoke(main, ["evaluate", str(run), "--mistakes", str(out), "--no-write"])
        assert result.exit_code == 0, result.output
        with open(out, newline="") as file:
            assert next(csv.reader(file)) == columns
        rows = _rows(out)
        assert rows and "index" in rows[0]["source"]
        if "wrong" in columns:
            assert all(r["true"] != r["predicted"] and int(r["wrong"]) >= 1 for r in rows)
        else:
            assert all(float(r["error"]) > 1 for r in rows)


def test_mistakes_to_a_folder_is_refused(runner, tmp_path):
    result = runner.invoke(main, ["evaluate", str(mnist_run()), "--mistakes", str(tmp_path), "--no-write"])
    assert result.exit_code == 2 and "Error:" in result.output and "Traceback" not in result.output
