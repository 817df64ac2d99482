"""Old runs keep working: tests/fixtures/run_format1 was written by `cnn train` before run.json had a
`format` (format 1: the input pipeline scaled pixels to [0, 1], so its model expects them so scaled). It
still evaluates to the scores it recorded, predicts what its model gives the [0, 1] pixels, and a resume is
refused in one clean line. Format 2 models take 0..255 pixels: the readers pick the scale from the format.

(The fixture was made with `cnn train --config configs/mnist.yaml --data data/mnist_sample.npz --subset 200
--epochs 1 --run-dir tests/fixtures/run_format1`; best.keras was left out to keep it small.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.api import load_run
from cnn_cli.cli import main
from cnn_cli.rundir.records import FORMAT, RunJson, input_scale
from cnn_cli.rundir.run_reader import read_run
from tests.run_helpers import MNIST_NPZ, ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FIXTURE = ROOT / "tests" / "fixtures" / "run_format1"


@pytest.fixture
def old_run(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(ROOT)  # run.json's data_path is relative to where the run was trained
    run = tmp_path / "run_format1"
    shutil.copytree(FIXTURE, run)
    return run


def _pngs(tmp_path: Path, count: int) -> tuple[np.ndarray, list[str]]:
    """The first `count` MNIST test images as uint8 (N, 28, 28, 1), and as PNG files."""
    x = np.load(MNIST_NPZ)["x_test"][:count]
    paths = []
    for i, image in enumerate(x):
        paths.append(str(tmp_path / f"digit{i}.png"))
        Image.fromarray(image).save(paths[-1])
    return x[..., None], paths


def _probabilities(result) -> list[list[float]]:
    """Each prediction's probabilities, in class order (from `--top-k 10 --json`)."""
    assert result.exit_code == 0, result.output
    tops = [{top["index"]: top["probability"] for top in p["top"]} for p in json.loads(result.output)["predictions"]]
    return [[top[i] for i in range(10)] for top in tops]


def test_the_fixture_is_format_1():
    record = json.loads((FIXTURE / "run.json").read_text())
    assert "format" not in record and record["status"] == "complete" and record["subset"] == 200
    run = read_run(FIXTURE)
    assert run.format == 1 and run.model_inputs(np.array([255], np.uint8))[0] == pytest.approx(1.0)
    assert FORMAT == 2 and input_scale(RunJson(format=2)) == 1.0 and input_scale(RunJson()) == pytest.approx(1 / 255)


def test_metrics_json_without_phases_still_reads():
    """metrics.json written before it recorded a run's phases: read through its schema, no phases, and the
    report's curves get no phase caption."""
    from cnn_cli.reports.run_page_sections import phases_caption
    from cnn_cli.rundir.records import MetricsJson, read_history, read_record

    assert "phases" not in json.loads((FIXTURE / "metrics.json").read_text())
    metrics = read_record(FIXTURE / "metrics.json", MetricsJson)
    assert metrics.phases is None and metrics.test_examples == 200
    rows = [row.model_dump() for row in read_history(FIXTURE / "history.csv")]
    assert len(rows) == 1 and phases_caption(rows, metrics.model_dump()) == ""


def test_evaluate_gives_the_recorded_test_scores(runner, old_run):
    result = runner.invoke(main, ["evaluate", str(old_run), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    metrics = json.loads((FIXTURE / "metrics.json").read_text())
    assert report["num_examples"] == metrics["test_examples"] == 200
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert report["loss"] == pytest.approx(metrics["test_loss"], rel=1e-4)
    assert json.loads((old_run / "evaluation.json").read_text())["accuracy"] == report["accuracy"]


def test_a_format_2_record_changes_what_the_model_is_fed(runner, old_run):
    """The same model read as format 2 gets 0..255 pixels: its scores change (so the format decides)."""
    record = json.loads((old_run / "run.json").read_text())
    (old_run / "run.json").write_text(json.dumps({**record, "format": 2}))
    result = runner.invoke(main, ["evaluate", str(old_run), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["loss"] != pytest.approx(json.loads(
        (FIXTURE / "metrics.json").read_text())["test_loss"], rel=1e-3)


def test_predict_gives_the_model_scaled_pixels(runner, old_run, tmp_path):
    x, paths = _pngs(tmp_path, 4)
    got = _probabilities(runner.invoke(main, ["predict", str(old_run), *paths, "--top-k", "10", "--json"]))
    model = load_run(old_run).model  # the saved model in float32, as every reader computes
    expected = model.predict(x.astype(np.float32) / np.float32(255.0), verbose=0)
    assert np.array(got) == pytest.approx(expected, abs=1e-5)


def test_resume_of_the_complete_old_run_is_refused_cleanly(runner, old_run):
    before = {p.name: p.read_bytes() for p in old_run.iterdir()}
    result = runner.invoke(main, ["train", "--resume", str(old_run)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"Error: cannot resume {old_run}: the run is already complete"
    assert {p.name: p.read_bytes() for p in old_run.iterdir()} == before


def test_summary_of_the_old_run(runner, old_run):
    result = runner.invoke(main, ["summary", str(old_run)])
    assert result.exit_code == 0, result.output
    assert "Total params:          93,322" in result.output  # as summary.txt recorded it


def _self_scaling_model(path: Path) -> None:
    """A model that starts with `input_scaling` (as format-2 models do), saved as the run's model.keras."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255, name="input_scaling"),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.save(path)


def test_a_format_2_model_gets_pixels_0_to_255(runner, old_run, tmp_path):
    import keras

    _self_scaling_model(old_run / "model.keras")
    record = json.loads((old_run / "run.json").read_text())
    (old_run / "run.json").write_text(json.dumps({**record, "format": 2}))
    x, paths = _pngs(tmp_path, 3)
    got = _probabilities(runner.invoke(main, ["predict", str(old_run), *paths, "--top-k", "10", "--json"]))
    expected = keras.saving.load_model(old_run / "model.keras").predict(x.astype(np.float32), verbose=0)
    assert np.array(got) == pytest.approx(expected, abs=1e-5)


def test_a_self_scaling_model_in_a_format_1_run_is_refused(runner, old_run):
    """A format-1 reader would scale twice: a run.json without `format` beside a model with `input_scaling`
    is one line, not wrong predictions."""
    _self_scaling_model(old_run / "model.keras")
    result = runner.invoke(main, ["evaluate", str(old_run), "--no-write"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"Error: {old_run}/run.json: format: 1 (a run.json without format), but "
                                     f"{old_run}/model.keras scales its own input (its input_scaling layer), which "
                                     "format 2 says; was run.json replaced?")
