"""Extending a run (`cnn train --resume R --epochs N`), a warm start (`--init-from RUN_DIR`), and which model is
which in metrics.json (the checkpoint follows early stopping's monitor), through the real CLI on the MNIST and
Fashion-MNIST samples."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from cnn_cli.cli import main
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import RESUMABLE_KEYS

MNIST = ["--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz", "--subset", "300",
         "--set", "train.deterministic=true"]
FASHION = ["--config", "configs/fashion_mnist.yaml", "--data", "data/fashion_mnist_sample.npz", "--subset", "300"]


def _train(runner, args, expect=0):
    result = runner.invoke(main, ["train", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def _epochs(run: Path) -> list[str]:
    with (run / "history.csv").open(newline="") as f:
        return [row["epoch"] for row in csv.DictReader(f)]


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_weights()


def test_extending_a_complete_run_equals_training_longer(runner, tmp_path):
    straight, extended = tmp_path / "three", tmp_path / "two-then-three"
    _train(runner, [*MNIST, "--epochs", "3", "--run-dir", str(straight)])
    _train(runner, [*MNIST, "--epochs", "2", "--run-dir", str(extended)])
    assert [p.name for p in (extended / "backup").iterdir()] == ["epoch-000002"]  # the last epoch's, kept

    result = _train(runner, ["--resume", str(extended), "--epochs", "3"])
    assert "Extending the complete run from epoch 2 to 3 (planned 2)" in result.output
    assert _epochs(extended) == ["1", "2", "3"]
    assert load_config(extended / "config.yaml").train.epochs == 3
    record = json.loads((extended / "run.json").read_text())
    assert record["status"] == "complete" and record["extended"][0]["from_epochs"] == 2
    assert record["extended"][0]["to_epochs"] == 3 and record["extended"][0]["at_epoch"] == 2
    assert json.loads((extended / "metrics.json").read_text())["epochs_run"] == 3
    for a, b in zip(_weights(straight / "model.keras"), _weights(extended / "model.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # last epoch's weights and optimizer state

    again = runner.invoke(main, ["train", "--resume", str(extended), "--epochs", "2"])
    assert again.exit_code == 2
    assert again.output.strip() == (f"Error: cannot extend {extended} to 2 epochs: it has run 3 already "
                                    "(give --epochs N with N > 3)")
    other = runner.invoke(main, ["train", "--resume", str(extended), "--epochs", "5", "--set", "train.batch_size=16"])
    assert other.exit_code == 2 and "differs from the run's config.yaml at train.batch_size" in other.output
    assert "--init-from" in other.output and len(other.output.strip().splitlines()) == 1


def test_resumable_keys_are_the_epochs():
    assert RESUMABLE_KEYS == ("train.epochs",)


def test_extending_an_interrupted_run(runner, tmp_path, monkeypatch):
    run = tmp_path / "stopped"
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "1")
    _train(runner, [*MNIST, "--epochs", "2", "--run-dir", str(run)], expect=130)
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    result = _train(runner, ["--resume", str(run), "--epochs", "3"])
    assert "Extending the interrupted run from epoch 1 to 3 (planned 2)" in result.output
    assert _epochs(run) == ["1", "2", "3"]


def test_warm_start_loads_matching_layers(runner, tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    _train(runner, [*MNIST, "--epochs", "1", "--run-dir", str(source)])
    result = _train(runner, [*MNIST, "--epochs", "1", "--run-dir", str(target), "--init-from", str(source),
                             "--set", "model.layers[7].units=32", "--set", "train.optimizer.learning_rate=1e-12"])
    lines = result.output.splitlines()
    assert f"Initialized 3 of 5 layers with weights from {source}: conv2d, conv2d_1, conv2d_2" in lines
    assert ("Left as initialized (2): dense (shapes 576x32, 32, source 576x64, 64), "
            "dense_1 (shapes 32x10, 10, source 64x10, 10)") in lines
    assert json.loads((target / "run.json").read_text())["init_from"] == str(source)
    import keras

    before = keras.saving.load_model(source / "model.keras", safe_mode=True)
    after = keras.saving.load_model(target / "model.keras", safe_mode=True)
    np.testing.assert_allclose(after.get_layer("conv2d_1").get_weights()[0],
                               before.get_layer("conv2d_1").get_weights()[0], atol=1e-6)

    missing = runner.invoke(main, ["train", *MNIST, "--init-from", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such run directory" in missing.output
    both = runner.invoke(main, ["train", "--resume", str(source), "--init-from", str(source)])
    assert both.exit_code == 2 and "cannot be used with --resume" in both.output


def test_checkpoint_follows_early_stopping_and_metrics_say_which_model(runner, tmp_path):
    run = tmp_path / "fashion"
    _train(runner, [*FASHION, "--epochs", "2", "--run-dir", str(run), "--set", "train.callbacks.checkpoint={}",
                    "--set", "train.callbacks.early_stopping.monitor=val_accuracy"])
    config = load_config(run / "config.yaml")
    assert config.train.callbacks.checkpoint.monitor == "val_accuracy"
    metrics = json.loads((run / "metrics.json").read_text())
    best = metrics["best_epoch"]
    assert metrics["best_monitor"] == "val_accuracy"
    assert metrics["models"] == {
        "model.keras": f"the best epoch's weights by val_accuracy (epoch {best}), restored by early stopping",
        "best.keras": f"the best epoch by val_accuracy (epoch {best})",
    }
