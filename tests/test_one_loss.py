"""One test loss: `cnn train`, `cnn evaluate` and `cnn report` give the same figure for a run trained with label
smoothing -- the cross-entropy it trained with, smoothing included -- and say so beside it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY


def _plain_cross_entropy(run) -> float:
    from cnn_cli import load_run
    from cnn_cli.inference.evaluation import load_split
    from cnn_cli.rundir.run_reader import read_run

    split = load_split(read_run(run))
    pixels = np.concatenate([chunk for _, chunk in split.x.chunks(256)])
    probabilities = load_run(run).predict(pixels).astype(np.float64)
    return float(np.mean(-np.log(np.clip(probabilities[np.arange(len(split.y)), split.y], 1e-7, 1))))


def test_train_evaluate_and_report_give_one_loss_with_label_smoothing(runner, tmp_path):
    config = tmp_path / "smooth.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz"))
                      + "  label_smoothing: 0.2\n")
    run = tmp_path / "run"
    trained = runner.invoke(main, ["train", "--config", str(config), "--epochs", "2", "--subset", "600",
                                   "--run-dir", str(run)],
                            catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    recorded = json.loads((run / "metrics.json").read_text())["test_loss"]
    assert f"(loss {recorded:.4f}, cross-entropy with label smoothing 0.2) on 600 examples" in trained.output
    assert abs(_plain_cross_entropy(run) - recorded) > 0.01  # the two definitions give other figures here

    evaluated = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["loss"] == pytest.approx(recorded, abs=1e-4)
    assert report["loss_definition"] == "cross-entropy with label smoothing 0.2"
    text = runner.invoke(main, ["evaluate", str(run), "--no-write"]).output
    assert f"Loss: {report['loss']:.4f} (cross-entropy with label smoothing 0.2)" in text

    out = tmp_path / "r.html"
    paged = runner.invoke(main, ["report", str(run), "-o", str(out)])
    assert paged.exit_code == 0, paged.output
    card = re.search(r'<div class="card">test loss \(cross-entropy with label smoothing 0\.2\)<b>([0-9.]+)</b>',
                     out.read_text(encoding="utf-8"))
    assert card is not None and float(card.group(1)) == pytest.approx(recorded, abs=2e-4)
