"""`cnn evaluate`: numbers against Keras' own evaluate, JSON keys, confusion matrix, files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, copy_run, mnist_run, sign_run

JSON_KEYS = {"loss", "accuracy", "per_class", "confusion_matrix", "class_names", "most_confused", "split",
             "num_examples", "images_per_second"}


def _evaluate(runner, args, expect=0):
    result = runner.invoke(main, ["evaluate", *args])
    assert result.exit_code == expect, result.output
    return result


def _direct_keras(run, x_uint8, y):
    """Keras' model.evaluate of the run's model on the same images, with the labels the run's loss takes."""
    from cnn_cli import load_run

    model = load_run(run).model  # in float32, as every reader computes (the run may have trained in mixed precision)
    x = x_uint8.astype(np.float32)  # a model takes pixels 0..255 and scales them itself (docs/architecture.md)
    labels = np.eye(model.output_shape[-1], dtype=np.float32)[y]
    result = model.evaluate(x, labels, batch_size=256, verbose=0, return_dict=True)
    probabilities = model.predict(x, batch_size=256, verbose=0)
    return result, probabilities.argmax(axis=1)


def test_evaluate_json_matches_keras(runner):
    run = mnist_run()
    result = _evaluate(runner, [str(run), "--json"])
    report = json.loads(result.output)
    assert JSON_KEYS <= set(report)

    data = np.load(MNIST_NPZ)
    from cnn_cli.data.splits import subset_positions

    keep = subset_positions(data["y_test"].astype(np.int32), 400)  # the run's subset, as the loader takes it
    x, y = data["x_test"][keep][..., None], data["y_test"][keep].astype(np.int64)
    direct, predicted = _direct_keras(run, x, y)
    assert report["split"] == "test" and report["num_examples"] == 400 == len(y)
    assert report["loss"] == pytest.approx(direct["loss"], abs=1e-5)
    assert report["accuracy"] == pytest.approx(direct["accuracy"], abs=1e-5)

    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["num_examples"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report["accuracy"], abs=1e-6)
    assert (matrix.sum(axis=1) == np.bincount(y, minlength=10)).all()
    assert (matrix.sum(axis=0) == np.bincount(predicted, minlength=10)).all()
    assert report["class_names"] == [str(d) for d in range(10)]
    assert [c["support"] for c in report["per_class"]] == matrix.sum(axis=1).tolist()
    assert {"name", "id", "precision", "recall", "f1", "support"} <= set(report["per_class"][0])
    counts = [c["count"] for c in report["most_confused"]]
    assert len(counts) <= 5 and counts == sorted(counts, reverse=True)
    for pair in report["most_confused"]:
        assert pair["true"] != pair["predicted"]
        assert matrix[pair["true_index"], pair["predicted_index"]] == pair["count"]
    assert report["images_per_second"] > 0

    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["loss"] == report["loss"] and saved["confusion_matrix"] == report["confusion_matrix"]
    assert (run / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_text_and_data_flag(runner):
    run = mnist_run()
    result = _evaluate(runner, [str(run), "--data", str(MNIST_NPZ), "--subset", "100", "--batch-size", "64"])
    out = result.output
    assert "Split: test (100 examples)" in out and "Accuracy: " in out
    assert "Confusion matrix" in out and "true\\pred" in out and "Most confused" in out
    assert "weighted avg" in out


def test_evaluate_falls_back_to_validation(runner):
    run = sign_run()
    report = json.loads(_evaluate(runner, [str(run), "--json"]).output)
    assert report["split"] == "validation" and "no test split" in report["note"]
    assert len(report["class_names"]) == 24 and "J" not in report["class_names"] and "K" in report["class_names"]
    assert np.array(report["confusion_matrix"]).sum() == report["num_examples"] == 240
    k = next(c for c in report["per_class"] if c["name"] == "K")
    assert k["id"] == 10 and k["index"] == 9


def test_evaluate_missing_run_dir(runner, tmp_path):
    result = _evaluate(runner, [str(tmp_path / "nope")], expect=2)
    assert result.output.strip() == f"Error: {tmp_path / 'nope'}: no such run directory"


@pytest.mark.parametrize("name", ["model.keras", "labels.json", "run.json", "config.yaml"])
def test_evaluate_missing_piece(runner, tmp_path, name):
    run = copy_run(mnist_run(), tmp_path)
    (run / name).unlink()
    result = _evaluate(runner, [str(run)], expect=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and name in lines[0], result.output
    assert "Traceback" not in result.output


def test_evaluate_broken_model(runner, tmp_path):
    run = copy_run(mnist_run(), tmp_path)
    (run / "model.keras").write_bytes(b"not a zip file")
    result = _evaluate(runner, [str(run)], expect=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "model.keras: cannot be loaded as a Keras model" in lines[0], result.output


def test_evaluate_goes_a_chunk_at_a_time_with_the_same_figures(runner, monkeypatch):
    """The split is gathered a chunk at a time (never whole): the figures equal those of a single chunk."""
    from cnn_cli.data.batches import SplitImages
    from cnn_cli.inference import evaluation

    run = mnist_run()
    args = [str(run), "--json", "--no-write", "--tta", "flip", "--batch-size", "32"]
    whole = json.loads(_evaluate(runner, args).stdout)
    gathered = []
    real = SplitImages.__getitem__

    def spy(self, key):
        found = real(self, key)
        gathered.append(len(found))
        return found

    monkeypatch.setattr(SplitImages, "__getitem__", spy)
    monkeypatch.setattr(evaluation, "chunk_rows", lambda shape, batch: 3 * batch)
    chunked = json.loads(_evaluate(runner, args).stdout)
    assert gathered == [96, 96, 96, 96, 16]  # 400 test images
    assert chunked["loss"] == pytest.approx(whole["loss"], abs=1e-5)
    assert chunked["accuracy"] == pytest.approx(whole["accuracy"], abs=1e-6)
    assert chunked["tta_accuracy"] == whole["tta_accuracy"] and chunked["tta_accuracy"] is not None
    assert chunked["confusion_matrix"] == whole["confusion_matrix"]
