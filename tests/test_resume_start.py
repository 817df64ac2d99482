"""A run that saved no epoch starts as new when resumed: from the starting weights it was given
(`model.weights`), not from random ones."""

from __future__ import annotations

import shutil

import numpy as np

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY, mnist_run, phased_run


def _train(runner, args, expect=0):
    result = runner.invoke(main, ["train", *args])
    assert result.exit_code == expect, result.output
    return result


def test_resume_of_a_run_whose_weights_failed_to_load_starts_from_them(runner, tmp_path):
    from cnn_cli import load_run

    start = tmp_path / "start.keras"
    # The first attempt reads a file made for another model: refused once the model is built, after the run
    # directory was made and before epoch 1 (a file that cannot be read at all is refused before the run starts).
    shutil.copyfile(mnist_run() / "model.keras", start)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz"))
                      .replace("model:\n", f"model:\n  weights: {start}\n", 1))
    run = tmp_path / "run"
    failed = _train(runner, ["--config", str(config), "--epochs", "1", "--run-dir", str(run)], expect=2)
    assert "model.weights" in failed.output.strip().splitlines()[-1]

    shutil.copyfile(phased_run() / "model.keras", start)  # the file is there now
    resumed = _train(runner, ["--resume", str(run)])
    assert "The run saved no epoch: it starts as new, from its starting weights" in resumed.output
    assert f"with weights from {start}" in resumed.output
    given = load_run(phased_run()).model.get_layer("stem").get_weights()[0]
    trained = load_run(run).model.get_layer("stem").get_weights()[0]
    assert np.abs(trained - given).max() < 0.05  # one short epoch from the given weights, not from random ones
