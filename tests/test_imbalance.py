"""Classes far apart in size: `data.sampling` (class frequencies of the drawn batches, determinism, resume),
the focal losses, the config mistakes of sampling, focal losses and calibration (one line, exit 2, before
TensorFlow), on the real Fashion-MNIST sample."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.data.batches import epoch_order
from cnn_cli.data.pipeline import TrainingBatches
from cnn_cli.data.sampling import draw_weights
from tests.run_helpers import ROOT

FASHION = ROOT / "data" / "fashion_mnist_sample.npz"
SIZES = (300, 100, 30, 10)  # training examples of classes 0..3: 30x apart


@pytest.fixture(scope="module")
def skewed():
    """The sample's images of classes 0..3, SIZES of each (real images, made imbalanced)."""
    raw = np.load(FASHION)
    y = raw["y_train"].astype(np.int32)
    keep = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in enumerate(SIZES)])
    return raw["x_train"][keep][..., None], y[keep]


def _epoch_labels(batches: TrainingBatches, epoch: int) -> np.ndarray:
    batches.set_epoch(epoch)
    source = batches.source
    return np.concatenate([source.batch(i)[1] for i in range(len(source))])


def _training(skewed, sampling, seed=7, labels=None):
    x, y = skewed
    return TrainingBatches(x, y if labels is None else labels, batch_size=32, num_classes=4, one_hot=False,
                           seed=seed, sampling=sampling, face="keras")


@pytest.mark.parametrize(("sampling", "share"), [
    ("balanced", np.full(4, 0.25)),
    ("sqrt", np.sqrt(SIZES) / np.sqrt(SIZES).sum()),
    (None, np.asarray(SIZES) / sum(SIZES)),
])
def test_sampling_draws_the_classes_in_the_proportions_it_names(skewed, sampling, share):
    batches = _training(skewed, sampling)
    drawn = np.concatenate([_epoch_labels(batches, e) for e in range(6)])
    assert len(drawn) == 6 * sum(SIZES)  # each epoch keeps its length
    frequencies = np.bincount(drawn, minlength=4) / len(drawn)
    assert frequencies == pytest.approx(share, abs=0.03), frequencies


def test_balanced_sampling_of_label_rows_favours_the_rarest_label(skewed):
    """multilabel: an example weighs as its rarest label; the rare label's examples come far more often."""
    x, y = skewed
    rows = np.stack([y == 0, y >= 1, y == 3], axis=1).astype(np.float32)  # label 2 on 10 examples only
    weights = draw_weights(rows, "balanced")
    assert weights.sum() == pytest.approx(1.0)
    batches = TrainingBatches(x, rows, batch_size=32, num_classes=3, one_hot=False, seed=3, sampling="balanced",
                              face="keras")
    drawn = np.concatenate([_epoch_labels(batches, e) for e in range(4)])
    share = drawn.mean(axis=0)
    assert share[2] > 0.25 and rows[:, 2].mean() < 0.03  # from 2% of the examples to a quarter or more


def test_sampling_is_a_function_of_seed_and_epoch_so_a_resume_draws_the_same(skewed):
    first = _training(skewed, "balanced", seed=11)
    epochs = [_epoch_labels(first, e) for e in range(3)]
    resumed = _training(skewed, "balanced", seed=11)  # a new process, starting at epoch 2
    assert np.array_equal(_epoch_labels(resumed, 2), epochs[2])
    assert not np.array_equal(epochs[1], epochs[2])
    assert not np.array_equal(_epoch_labels(_training(skewed, "balanced", seed=12), 2), epochs[2])
    batches = first.source
    batches.set_epoch(2)
    assert len(set(batches.order(2).tolist())) < len(batches.indices)  # drawn with replacement
    assert not np.array_equal(batches.order(2), epoch_order(len(batches.indices), 11, 2))


HEAD = "    - {type: dense, units: num_classes, activation: auto}\n"
CONFIG = f"""\
name: t
model:
  layers:
    - {{type: conv2d, filters: 4, kernel_size: 3}}
    - {{type: global_avg_pool2d}}
{HEAD}data: {{source: npz, path: {FASHION}, validation_split: 0.2, SAMPLING}}
train: {{TRAIN}}
"""


def _config(sampling="", train="", task=""):
    text = CONFIG.replace(", SAMPLING", f", sampling: {sampling}" if sampling else "").replace("TRAIN", train)
    if task == "regression":
        text = text.replace("num_classes", "num_targets")
    return (f"task: {task}\n" if task else "") + text


@pytest.mark.parametrize(("text", "key", "fragment"), [
    (_config(sampling="balanced", task="regression"), "data.sampling", "only for classification and multilabel"),
    (_config(sampling="sqrt", train="class_weight: balanced"), "data.sampling", "not with train.class_weight"),
    (_config(train="loss: categorical_focal_crossentropy, focal_gamma: -1"), "train.focal_gamma", "-1"),
    (_config(train="focal_gamma: 2"), "train.focal_gamma", "only with a focal loss"),
    (_config(train="loss: categorical_focal_crossentropy, focal_alpha: 1.5"), "train.focal_alpha", "1.5"),
    (_config(train="loss: binary_focal_crossentropy"), "train.loss", "categorical_focal_crossentropy"),
    (_config(train="calibrate: temperature", task="regression"), "train.calibrate", "only for classification"),
    (_config(train="calibrate: temperature, callbacks: {checkpoint: {monitor: loss}}").replace("validation_split: 0.2", "validation_split: 0, source: fashion_mnist").replace("source: npz, path: " + str(FASHION) + ", ", ""),
     "train.calibrate", "needs a validation split"),
])
def test_imbalance_mistakes_are_one_line_exit_2(runner, write_config, text, key, fragment):
    config = write_config(text)
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert f"{config}: {key}: " in result.output and fragment in result.output, result.output


def test_the_new_keys_are_accepted(runner, write_config):
    for text in (_config(sampling="balanced"), _config(sampling="sqrt", task="multilabel").replace("auto", "sigmoid"),
                 _config(train="loss: categorical_focal_crossentropy, focal_gamma: 0, focal_alpha: 0.5, "
                               "label_smoothing: 0.1, calibrate: temperature")):
        result = runner.invoke(main, ["summary", "--config", write_config(text)])
        assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_a_sampled_run_killed_and_resumed_ends_with_the_uninterrupted_weights(tmp_path):
    """`data.sampling: balanced` with a real `cnn train` SIGKILLed inside epoch 2 and resumed: the final weights
    equal an uninterrupted run's, bit for bit."""
    import signal

    from tests.test_crash_safety import cnn_train, weights

    args = ["--config", "configs/fashion_mnist.yaml", "--data", str(FASHION), "--subset", "300", "--epochs", "3",
            "--set", "train.deterministic=true", "--set", "data.sampling=balanced"]
    reference = cnn_train([*args, "--run-dir", str(tmp_path / "reference")])
    assert reference.returncode == 0, reference.stdout + reference.stderr
    killed = cnn_train([*args, "--run-dir", str(tmp_path / "run")], kill_at="mid_epoch:2")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    resumed = cnn_train(["--resume", str(tmp_path / "run")])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final, expected = weights(tmp_path / "run" / "model.keras"), weights(tmp_path / "reference" / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(final, expected, strict=True))


def test_focal_losses_are_keras_own_with_the_configs_gamma_alpha_and_smoothing():
    import keras
    import yaml

    from cnn_cli import tasks
    from cnn_cli.config.loader import config_from_dict

    def load_config_text(text, source):
        return config_from_dict(yaml.safe_load(text), source)

    text = _config(train="loss: categorical_focal_crossentropy, focal_gamma: 1.5, label_smoothing: 0.1")
    config = load_config_text(text, "c.yaml")
    loss = tasks.of(config).loss(config)
    assert isinstance(loss, keras.losses.CategoricalFocalCrossentropy)
    assert (loss.gamma, loss.alpha, loss.label_smoothing) == (1.5, 0.25, 0.1)
    assert tasks.of(config).one_hot(config)  # focal takes one-hot targets
    assert "focal cross-entropy (gamma 1.5, alpha 0.25) with label smoothing 0.1" == tasks.of(config).loss_words(config)
    y, p = np.eye(3, dtype="float32")[[0, 1, 2]], np.array([[.9, .05, .05], [.2, .7, .1], [.3, .3, .4]], "float32")
    plain = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(y, p)
    assert float(loss(y, p)) < float(plain)  # the well-classified examples weighed down
    text = _config(task="multilabel", train="loss: binary_focal_crossentropy, focal_alpha: 0.75").replace("auto", "sigmoid")
    config = load_config_text(text, "c.yaml")
    loss = tasks.of(config).loss(config)
    assert isinstance(loss, keras.losses.BinaryFocalCrossentropy)
    assert (loss.gamma, loss.alpha, loss.apply_class_balancing) == (2.0, 0.75, True)


def test_a_focal_run_trains_and_evaluates(runner, tmp_path):
    from tests.run_helpers import TINY

    config = tmp_path / "focal.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(FASHION))
                      + "  loss: categorical_focal_crossentropy\n  focal_gamma: 2\n  label_smoothing: 0.05\n")
    result = runner.invoke(main, ["train", "--config", str(config), "--epochs", "1", "--run-dir",
                                  str(tmp_path / "run")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "focal cross-entropy (gamma 2, alpha 0.25) with label smoothing 0.05" in result.output
    result = runner.invoke(main, ["evaluate", str(tmp_path / "run"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_the_imbalanced_sample_is_made_by_make_samples_deterministically(tmp_path):
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copy(FASHION, tmp_path / "fashion_mnist_sample.npz")
    made = module.make_imbalanced_fashion(tmp_path)
    assert made.read_bytes() == (ROOT / "data" / "imbalanced_fashion.npz").read_bytes()
    counts = np.bincount(np.load(made)["y_train"], minlength=10)
    assert sorted(counts)[:3] == [6, 10, 15] and max(counts) == 300  # 20x to 50x rarer


def test_an_imbalanced_run_leads_with_balanced_accuracy_and_the_worst_classes(runner, tmp_path):
    import json

    from tests.run_helpers import TINY

    config = tmp_path / "imbalanced.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "imbalanced_fashion.npz"))
                      .replace("  subset: 200\n", "").replace("  validation_split: 0.2\n", "  validation_split: 0.2\n  sampling: sqrt\n"))
    result = runner.invoke(main, ["train", "--config", str(config), "--epochs", "1", "--run-dir",
                                  str(tmp_path / "run")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "imbalance: the largest class in train is 60.0x the smallest" in result.output
    result = runner.invoke(main, ["evaluate", str(tmp_path / "run")], catch_exceptions=False)
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(("Balanced accuracy", "Loss")))
    assert lines[first].startswith("Balanced accuracy:") and "60x apart" in lines[first]
    assert lines[first + 1].startswith("Loss:") and "Accuracy:" in lines[first + 1]
    table = lines[lines.index("Per class (worst F1 first):") + 2:][:10]
    f1 = [float(line.split()[-2]) for line in table]
    assert f1 == sorted(f1)
    figures = json.loads(runner.invoke(main, ["evaluate", str(tmp_path / "run"), "--json"]).output)
    assert figures["imbalance_ratio"] == 60.0 and 0 <= figures["ece"] <= 1 and "ece_before" not in figures
