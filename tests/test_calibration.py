"""`train.calibrate: temperature`: the temperature fitted on the validation split lowers the expected
calibration error on the test split of a fixed-seed run on the real Fashion-MNIST sample, is kept in the run
(labels.json), and travels into `load_run`, `cnn evaluate --json` (`ece`, `ece_before`), the report's
reliability diagram and the exported ONNX model (its probabilities equal the calibrated ones)."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cnn_cli
from cnn_cli.cli import main
from cnn_cli.tasks import calibration
from tests.run_helpers import ROOT

FASHION = ROOT / "data" / "fashion_mnist_sample.npz"


@functools.cache
def calibrated_run() -> Path:
    """configs/fashion_mnist.yaml on 800 images of each split of the sample (640 train, 160 validation, 800 test),
    seed 42, 20 epochs without early stopping (over-confident by then), calibrated."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-calibrated-"))
    atexit.register(shutil.rmtree, folder, True)
    result = CliRunner().invoke(main, [
        "train", "--config", str(ROOT / "configs" / "fashion_mnist.yaml"), "--data", str(FASHION), "--epochs", "20",
        "--subset", "800",
        "--seed", "42", "--set", "train.deterministic=true", "--set", "train.callbacks.early_stopping=null",
        "--set", "train.calibrate=temperature", "--run-dir", str(folder / "run")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Calibrated: temperature" in result.output
    return folder / "run"


def test_fit_temperature_recovers_the_temperature_that_made_the_probabilities():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 5))
    honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in honest])
    sharp = calibration.softmax_at(honest, 1 / 2.5)  # over-confident: logits times 2.5
    found = calibration.fit_temperature(sharp, labels, "softmax")
    assert found == pytest.approx(2.5, rel=0.1)
    before = calibration.ece(*calibration.confidences(labels, sharp, "softmax"))
    after = calibration.ece(*calibration.confidences(labels, calibration.softmax_at(sharp, found), "softmax"))
    assert after < before / 2
    rows = (rng.random((4000, 3)) < honest[:, :3]).astype(np.float32)  # labels drawn from honest sigmoid scores
    assert calibration.fit_temperature(calibration.sigmoid_at(honest[:, :3], 1 / 3), rows, "sigmoid") == \
        pytest.approx(3, rel=0.15)


def test_calibration_lowers_the_test_ece_and_is_kept_in_the_run():
    run = calibrated_run()
    temperature = json.loads((run / "labels.json").read_text())["temperature"]
    assert temperature > 1  # the net was over-confident
    result = CliRunner().invoke(main, ["evaluate", str(run), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["split"] == "test" and figures["temperature"] == pytest.approx(temperature)
    assert figures["ece"] < figures["ece_before"], figures
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_ece"] == pytest.approx(figures["ece"], abs=3e-3)  # training evaluates in its own precision
    assert metrics["test_ece_before"] == pytest.approx(figures["ece_before"], abs=3e-3)


def test_load_run_and_the_onnx_export_give_the_calibrated_probabilities(tmp_path):
    run = calibrated_run()
    temperature = json.loads((run / "labels.json").read_text())["temperature"]
    x = np.load(FASHION)["x_test"][:200]
    trained = cnn_cli.load_run(run)
    raw = np.asarray(trained.model.predict(x[..., None].astype("float32"), verbose=0), dtype=np.float64)
    calibrated = calibration.softmax_at(raw, temperature)
    got = trained.predict(x)
    assert np.abs(got - calibrated).max() < 1e-5
    assert np.abs(got - raw).max() > 1e-3  # the temperature changed them
    onnx = tmp_path / "model.onnx"
    result = CliRunner().invoke(main, ["export", str(run), "--format", "onnx", "-o", str(onnx)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(onnx.with_name("model.onnx.labels.json").read_text())["temperature"] == pytest.approx(temperature)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    exported = session.run(None, {session.get_inputs()[0].name: x[..., None]})[0]
    assert np.abs(exported - calibrated).max() < 1e-4


def test_the_report_draws_the_reliability_diagram(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(calibrated_run()), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert 'alt="reliability diagram"' in page and "before the temperature" in page


def test_a_multilabel_run_keeps_one_shared_temperature_beside_its_tuned_thresholds():
    from tests.run_helpers import LABEL_NAMES, MNIST_NPZ, _task_run, digit_labels

    run = _task_run("multilabel-calibrated", "multilabel", digit_labels, LABEL_NAMES,
                    "  thresholds: tuned\n  calibrate: temperature\n")
    labels = json.loads((run / "labels.json").read_text())
    temperature = labels["temperature"]
    assert isinstance(temperature, float) and len(labels["thresholds"]) == 3
    figures = json.loads(CliRunner().invoke(main, ["evaluate", str(run), "--json"], catch_exceptions=False).output)
    assert figures["temperature"] == pytest.approx(temperature) and {"ece", "ece_before"} <= set(figures)
    x = np.load(MNIST_NPZ)["x_test"][:50]
    trained = cnn_cli.load_run(run)
    raw = np.asarray(trained.model.predict(x[..., None].astype("float32"), verbose=0), dtype=np.float64)
    assert np.abs(trained.predict(x) - calibration.sigmoid_at(raw, temperature)).max() < 1e-5
