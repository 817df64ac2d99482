"""`cnn train` end to end on the bundled real data samples (small subsets, 1-3 epochs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cnn_cli.cli import main
from cnn_cli.resolve import load_config
from cnn_cli.training.precision import choose_precision

MNIST = ["--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz"]
FASHION = ["--config", "configs/fashion_mnist.yaml", "--data", "data/fashion_mnist_sample.npz"]
# The recipe on the sample through its own data: section, so that it keeps the recipe's class names (--data
# replaces the whole data source, class names included)
FASHION_NAMED = ["--config", "configs/fashion_mnist.yaml", "--set", "data.source=npz",
                 "--set", "data.path=data/fashion_mnist_sample.npz"]
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]
METRIC_KEYS = {
    "val_loss", "val_accuracy", "test_loss", "test_accuracy", "best_epoch", "epochs_run", "early_stopped",
    "wall_seconds", "precision", "seed", "versions",
}


def _train(runner, args, expect=0):
    result = runner.invoke(main, ["train", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == HISTORY_COLUMNS
        return list(reader)


def _json(path: Path):
    return json.loads(path.read_text())


def test_mnist_run_directory(runner, tmp_path):
    import keras

    run = tmp_path / "mnist"
    result = _train(runner, [*MNIST, "--subset", "400", "--epochs", "2", "--run-dir", str(run)])
    assert "Test accuracy: " in result.output and "Run directory: " in result.output
    for name in ("config.yaml", "run.json", "model.keras", "best.keras", "history.csv", "metrics.json",
                 "labels.json", "summary.txt", "training_curves.png"):
        assert (run / name).is_file(), name
    assert _backups(run) == ["epoch-000002"]  # the last epoch's, which an extension goes on from

    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(r["loss"] and r["accuracy"] and r["learning_rate"] and r["seconds"] for r in rows)
    assert rows[0]["val_loss"] == ""  # the MNIST config has no validation split

    metrics = _json(run / "metrics.json")
    assert METRIC_KEYS <= set(metrics)
    assert metrics["epochs_run"] == 2 and metrics["early_stopped"] is False
    assert metrics["val_accuracy"] is None and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["test_examples"] == 400 and metrics["precision"] == choose_precision("auto") and metrics["seed"] == 42
    assert {"python", "tensorflow", "keras", "cnn"} <= set(metrics["versions"])
    assert f"{metrics['test_accuracy']:.4f}" in result.output

    record = _json(run / "run.json")
    assert record["status"] == "complete" and record["data_path"] == "data/mnist_sample.npz"
    assert record["subset"] == 400 and record["started"] and record["finished"]

    labels = _json(run / "labels.json")
    assert "classes" in labels and len(json.dumps(labels["classes"])) > 2

    config = load_config(run / "config.yaml")
    assert config.model.input_shape == (28, 28, 1) and config.model.num_classes == 10
    assert config.seed == 42 and config.train.epochs == 2 and config.data.subset == 400

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 10)
    keras.saving.load_model(run / "best.keras", safe_mode=True)
    assert "Total params:          93,322" in (run / "summary.txt").read_text()
    assert (run / "training_curves.png").read_bytes()[:4] == b"\x89PNG"

    summary = runner.invoke(main, ["summary", str(run)])
    assert summary.exit_code == 0, summary.output
    assert "93,322" in summary.output

    again = runner.invoke(main, ["train", *MNIST, "--run-dir", str(run)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_fashion_validation_set_override_and_early_stopping(runner, tmp_path):
    run = tmp_path / "fashion"
    # min_delta 10 means no epoch after the first counts as better: patience 0 stops after epoch 2 of 5.
    result = _train(runner, [
        *FASHION_NAMED, "--subset", "400", "--epochs", "5", "--run-dir", str(run), "--seed", "7",
        "--set", "train.batch_size=16", "--set", "train.callbacks.early_stopping.patience=0",
        "--set", "train.callbacks.early_stopping.min_delta=10",
    ])
    assert "Early stopping after epoch 2" in result.output
    config = load_config(run / "config.yaml")
    assert config.train.batch_size == 16 and config.seed == 7
    assert config.train.callbacks.early_stopping.min_delta == 10
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["val_loss"] and rows[0]["val_accuracy"]
    metrics = _json(run / "metrics.json")
    assert metrics["early_stopped"] is True and metrics["epochs_run"] == 2 and metrics["best_epoch"] in (1, 2)
    assert metrics["val_accuracy"] is not None and metrics["test_accuracy"] is not None
    assert "T-shirt/top" in (run / "labels.json").read_text()


def test_interrupt_then_resume(runner, tmp_path, monkeypatch):
    run = tmp_path / "resumed"
    args = [*MNIST, "--subset", "300", "--epochs", "3"]
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "1")
    _train(runner, [*args, "--run-dir", str(run)], expect=130)
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    assert _json(run / "run.json")["status"] == "interrupted"
    assert [r["epoch"] for r in _history(run)] == ["1"]
    assert (run / "backup").is_dir() and not (run / "model.keras").exists()

    changed = runner.invoke(main, ["train", *args, "--set", "train.batch_size=16", "--resume", str(run)])
    assert changed.exit_code == 2
    assert "differs" in changed.output and "train.batch_size" in changed.output
    assert len(changed.output.strip().splitlines()) == 1

    result = _train(runner, [*args, "--resume", "--run-dir", str(run)])
    assert "Test accuracy: " in result.output
    assert [r["epoch"] for r in _history(run)] == ["1", "2", "3"]
    record = _json(run / "run.json")
    assert record["status"] == "complete" and len(record["resumed"]) == 1
    assert _json(run / "metrics.json")["epochs_run"] == 3
    assert _backups(run) == ["epoch-000003"]

    done = runner.invoke(main, ["train", "--resume", str(run)])
    assert done.exit_code == 2 and "already complete" in done.output


def test_divergence_exits_3(runner, tmp_path):
    run = tmp_path / "diverged"
    result = runner.invoke(main, [
        "train", *MNIST, "--subset", "300", "--epochs", "2", "--run-dir", str(run),
        "--set", "train.optimizer={name: sgd, learning_rate: 1.0e+30}",
        "--set", "train.precision=float32",  # under bfloat16 (AMX) the loss reaches 6e29 and stays finite
    ])
    assert result.exit_code == 3, result.output
    assert "diverged" in result.output
    assert _json(run / "run.json")["status"] == "diverged"


@pytest.mark.parametrize(("args", "needle"), [
    (["--set", "train.epochs=many"], "train.epochs"),
    (["--set", "train.loss=mse"], "train.loss"),
    (["--set", "nonsense"], "key.path=value"),
])
def test_bad_input_exits_2(runner, tmp_path, args, needle):
    result = runner.invoke(main, ["train", *MNIST, "--run-dir", str(tmp_path / "bad"), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert not (tmp_path / "bad").exists()


def test_resume_needs_a_run_directory(runner, tmp_path):
    result = runner.invoke(main, ["train", "--resume"])
    assert result.exit_code == 2 and "--resume" in result.output
    missing = runner.invoke(main, ["train", "--resume", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such run directory" in missing.output


def test_resume_keeps_early_stopping_state(runner, tmp_path, monkeypatch):
    """Uninterrupted, patience 2 with min_delta 10 stops after epoch 3; so must a run interrupted after epoch 2."""
    run = tmp_path / "es"
    args = [*FASHION, "--subset", "300", "--epochs", "6", "--set", "train.callbacks.early_stopping.min_delta=10"]
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "2")
    _train(runner, [*args, "--run-dir", str(run)], expect=130)
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    result = _train(runner, [*args, "--resume", str(run)])
    assert "Early stopping after epoch 3" in result.output
    assert [r["epoch"] for r in _history(run)] == ["1", "2", "3"]
    metrics = _json(run / "metrics.json")
    assert metrics["early_stopped"] is True and metrics["restored_best_weights"] is True


def test_trains_with_augmentation(runner, tmp_path):
    """`augment:` (rotation, flips) through the CLI: the training batches are distorted, so the run trains on
    other pixels than the same run without it (same seed, same order, same initial weights)."""
    small = [*FASHION, "--subset", "200", "--epochs", "2", "--seed", "3"]
    plain = tmp_path / "plain"
    _train(runner, [*small, "--run-dir", str(plain)])
    augmented = tmp_path / "augmented"
    _train(runner, [*small, "--set", "data.augment={rotation: 20, horizontal_flip: true, vertical_flip: true}",
                    "--run-dir", str(augmented)])
    saved = load_config(str(augmented / "config.yaml")).data.augment
    assert (saved.rotation, saved.horizontal_flip, saved.vertical_flip, saved.zoom) == (20.0, True, True, 0.0)
    rows, plain_rows = _history(augmented), _history(plain)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert rows[0]["loss"] != plain_rows[0]["loss"]
    metrics = _json(augmented / "metrics.json")
    assert metrics["epochs_run"] == 2 and metrics["train_examples"] == _json(plain / "metrics.json")["train_examples"]


def test_model_built_once(runner, tmp_path, monkeypatch):
    """summary.txt comes from the model that was trained, not from a second build."""
    from cnn_cli.model import builder

    calls = []
    real = builder.build_model

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "build_model", counting)
    run = tmp_path / "once"
    _train(runner, [*MNIST, "--subset", "100", "--epochs", "1", "--run-dir", str(run)])
    assert len(calls) == 1
    summary = (run / "summary.txt").read_text()
    assert "Total params" in summary and "93,322" in summary


def test_adapted_normalization_takes_the_training_images_statistics(runner, tmp_path, write_config):
    """A first layer `normalization: {adapt: true}` (as EfficientNet's stem) is fitted to the training pixels
    (0..255, the model scales them itself) before the first step, and saved with the model."""
    import keras
    import numpy as np

    config = write_config({"name": "adapted", "model": {"layers": [
        {"type": "normalization", "adapt": True},
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "global_avg_pool2d"},
        {"type": "dense", "units": "num_classes", "activation": "softmax"},
    ]}})
    run = tmp_path / "run"
    result = _train(runner, ["--config", config, "--data", "data/mnist_sample.npz", "--subset", "300",
                             "--epochs", "1", "--run-dir", str(run)])
    assert "Adapted normalization" in result.output
    with np.load("data/mnist_sample.npz") as data:
        raw = data["x_train"]
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    mean = float(np.ravel(keras.ops.convert_to_numpy(layer.mean))[0])
    # the first training images after the validation split: their mean pixel is MNIST's, about 33 of 255
    assert 25 < mean < 40, mean
    assert abs(mean - raw.mean()) < 5


def _backups(run):
    """The backup generations a run directory holds (a complete run keeps its last epoch's)."""
    return sorted(p.name for p in (run / "backup").iterdir()) if (run / "backup").is_dir() else []
