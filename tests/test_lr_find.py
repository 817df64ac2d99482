"""`cnn lr-find` (the learning-rate range test: the curve, the suggestion, the PNG, --json) and
`train.optimizer.learning_rate: auto` (the test before training, its rate in run.json, the model's weights
left as they were), on the tiny net and the Fashion-MNIST sample."""

from __future__ import annotations

import csv
import json

import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz")))
    return str(path)


def test_lr_find_json_and_png(runner, tiny, tmp_path):
    png = tmp_path / "lr.png"
    result = runner.invoke(main, ["lr-find", "--config", tiny, "--subset", "300", "--steps", "80", "--json",
                                  "-o", str(png)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    curve = found["curve"]
    rates = [point["learning_rate"] for point in curve]
    assert rates[0] == pytest.approx(1e-7) and all(b > a for a, b in zip(rates, rates[1:]))
    assert 20 <= len(curve) <= 80 and all(set(p) >= {"learning_rate", "loss"} for p in curve)
    losses = [point["loss"] for point in curve]
    assert found["min_loss_learning_rate"] == pytest.approx(rates[losses.index(min(losses))] / 10)
    assert found["suggested_learning_rate"] in rates
    assert rates.index(found["suggested_learning_rate"]) <= losses.index(min(losses))  # descending, before the low
    assert png.read_bytes()[:4] == b"\x89PNG"


def _history(run):
    with (run / "history.csv").open() as f:
        return [(row["loss"], row["accuracy"]) for row in csv.DictReader(f)]


def test_auto_records_the_rate_and_leaves_the_weights(runner, tiny, tmp_path):
    """A run at `auto` trains as a run given the rate it found: the range test left weights and statistics."""
    auto, fixed = tmp_path / "auto", tmp_path / "fixed"
    result = runner.invoke(main, ["train", "--config", tiny, "--epochs", "1", "--set",
                                  "train.optimizer.learning_rate=auto", "--run-dir", str(auto)])
    assert result.exit_code == 0, result.output
    record = json.loads((auto / "run.json").read_text())
    rate = record["learning_rate_found"]
    assert 1e-6 < rate < 10 and record["learning_rate_test"]["suggested_learning_rate"] == rate
    assert f"Learning rate: {rate:.3g}" in result.output
    result = runner.invoke(main, ["train", "--config", tiny, "--epochs", "1", "--set",
                                  f"train.optimizer.learning_rate={rate!r}", "--run-dir", str(fixed)])
    assert result.exit_code == 0, result.output
    assert _history(auto) == _history(fixed)


def test_auto_with_a_step_schedule_is_one_line(runner, tiny):
    result = runner.invoke(main, ["train", "--config", tiny, "--set", "train.optimizer.learning_rate=auto", "--set",
                                  "train.lr_schedule={type: step, boundaries: [1], values: [0.01, 0.001]}"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "train.optimizer.learning_rate: auto is not allowed with train.lr_schedule of type step" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "curve.jpg"], "-o curve.jpg: expected a .png file name"),
    (["-o", "missing/curve.png"], "-o missing/curve.png: no such folder: missing"),
    (["--start", "1", "--end", "0.1"], "--start 1 must be below --end 0.1"),
    (["--steps", "5"], "Invalid value for '--steps'"),
    (["--set", "train.optimizer.learning_rate=fast"], "expected a number or 'auto', received 'fast'"),
])
def test_lr_find_bad_input_is_one_line(runner, tiny, args, message):
    result = runner.invoke(main, ["lr-find", "--config", tiny, *args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output, result.output
