"""The training recipes (issue 14) on the bundled Fashion-MNIST sample: learning-rate schedules and their
resume, label smoothing, class weights, the batch augmentations, EMA weights, stop_at, --time-limit, flip TTA
in `train` and `cnn evaluate --tta flip`, and the config errors of every new key."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.config.schedule import Cosine, Exponential, OneCycle, Step
from cnn_cli.resolve import load_config

FASHION = ["--config", "configs/fashion_mnist.yaml", "--data", "data/fashion_mnist_sample.npz"]
# The recipe on the sample through its own data: section, so that it keeps the recipe's class names (--data
# replaces the whole data source, class names included)
FASHION_NAMED = ["--config", "configs/fashion_mnist.yaml", "--set", "data.source=npz",
                 "--set", "data.path=data/fashion_mnist_sample.npz"]
SAMPLE = Path("data/fashion_mnist_sample.npz")


def _sample(n: int = 64):
    with np.load(SAMPLE) as f:
        return f["x_train"][:n, :, :, None], f["y_train"][:n].astype(np.int32)  # (N, H, W, C), as loading gives


def _train(runner, args, expect=0, env=None):
    result = runner.invoke(main, ["train", *args], catch_exceptions=False, env=env)
    assert result.exit_code == expect, result.output
    return result


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _json(path: Path):
    return json.loads(path.read_text())


# ---------------------------------------------------------------- schedules


def _rate(schedule, step: int) -> float:
    import keras

    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_schedules_follow_their_shapes_in_epochs():
    from cnn_cli.training.schedules import make_schedule

    def make(section):
        return make_schedule(section, 0.01, per_epoch=10, epochs=10)  # 100 steps, peak 0.01

    step = make(Step(type="step", boundaries=[2, 5], values=[0.1, 0.01, 0.001]))
    assert [_rate(step, s) for s in (0, 20, 21, 50, 51, 99)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    exp = make(Exponential(type="exponential", decay_rate=0.5, decay_epochs=2))
    assert [_rate(exp, s) for s in (0, 20, 40)] == pytest.approx([0.01, 0.005, 0.0025])
    cosine = make(Cosine(type="cosine", warmup_epochs=1, warmup_start=0.1, final_fraction=0.0))
    assert [_rate(cosine, s) for s in (0, 5, 10)] == pytest.approx([0.001, 0.0055, 0.01])
    assert _rate(cosine, 55) == pytest.approx(0.005, rel=1e-3) and _rate(cosine, 100) == pytest.approx(0.0, abs=1e-9)
    cycle = make(OneCycle(type="one_cycle", peak_at=0.2, start_fraction=0.1, final_fraction=0.0))
    assert [_rate(cycle, s) for s in (0, 10, 20, 60, 100, 120)] == pytest.approx([0.001, 0.0055, 0.01, 0.005, 0, 0], abs=1e-9)


def test_one_cycle_serializes_and_is_allowed_by_the_safety_check():
    import keras

    from cnn_cli.layers.custom.one_cycle import OneCycle as Triangle
    from cnn_cli.model.file_safety import find_unsafe

    schedule = Triangle(0.01, 100, 20, start=0.001)
    config = keras.optimizers.schedules.serialize(schedule)
    assert config["registered_name"] == "cnn>OneCycle" and find_unsafe(config) is None
    again = keras.optimizers.schedules.deserialize(config)
    assert _rate(again, 60) == pytest.approx(_rate(schedule, 60)) == pytest.approx(0.005)


# ---------------------------------------------------------------- config errors


@pytest.mark.parametrize(("sets", "needle"), [
    (["train.lr_schedule={type: cosine}", "train.callbacks.reduce_lr_on_plateau={}"],
     "train.callbacks.reduce_lr_on_plateau: not allowed with train.lr_schedule (cosine)"),
    (["train.lr_schedule={type: cosinus}"], "train.lr_schedule.type: unknown type; expected one of: constant, cosine"),
    (["train.lr_schedule={type: step, boundaries: [2, 4], values: [0.1, 0.01]}"], "train.lr_schedule"),
    (["train.lr_schedule={type: one_cycle, peak_at: 1.5}"], "train.lr_schedule.peak_at"),
    (["train.lr_schedule={type: exponential}"], "train.lr_schedule.decay_rate"),
    (["train.label_smoothing=1.5"], "train.label_smoothing"),
    (["train.class_weight=even"], "train.class_weight"),
    (["train.class_weight={Cat: 2}"], "train.class_weight.Cat: not a class of the data"),
    (["train.stop_at={val_acc: 0.9}"], "train.stop_at"),
    (["train.stop_at={val_accuracy: high}"], "train.stop_at.val_accuracy"),
    (["data.validation_split=0", "train.callbacks.checkpoint.monitor=loss", "train.callbacks.early_stopping=null",
      "train.stop_at={val_accuracy: 0.9}"],
     "train.stop_at.val_accuracy: expected a training metric"),
    (["train.tta=rotate"], "train.tta"),
    (["train.optimizer={name: adam, use_ema: true, ema_momentum: 1.5}"], "train.optimizer.ema_momentum"),
    (["data.augment={mixup: -0.2}"], "data.augment.mixup"),
    (["data.augment={crop_padding: 2.5}"], "data.augment.crop_padding"),
    (["data.augment={random_erasing: 2}"], "data.augment.random_erasing"),
    (["data.augment={crop_fill: wrap}"], "data.augment.crop_fill"),
    (["data.augment={randaugment: 11}"], "data.augment.randaugment"),
])
def test_bad_recipe_keys_exit_2_in_one_line(runner, tmp_path, sets, needle):
    args = [item for s in sets for item in ("--set", s)]
    result = runner.invoke(main, ["train", *FASHION, "--subset", "100", "--epochs", "1",
                                  "--run-dir", str(tmp_path / "bad"), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.output.strip().splitlines()[-1] == errors[0]  # after the data summary, if any


@pytest.mark.parametrize("value", ["soon", "0", "-5m", "5q"])
def test_bad_time_limit_exits_2(runner, tmp_path, value):
    result = runner.invoke(main, ["train", *FASHION, "--time-limit", value, "--run-dir", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "--time-limit" in result.output, result.output


def test_time_limit_durations():
    from cnn_cli.commands.train import parse_duration

    assert [parse_duration(t) for t in ("90", "90s", "20m", "1h30m", "1.5m")] == [90, 90, 1200, 5400, 90]


def test_schema_has_the_recipe_keys():
    schema = json.loads(Path("cnn_cli/schema/config.schema.json").read_text())
    text = json.dumps(schema)
    for key in ("lr_schedule", "one_cycle", "label_smoothing", "class_weight", "stop_at", "tta", "use_ema",
                "crop_padding", "random_erasing", "randaugment", "mixup", "cutmix"):
        assert f'"{key}"' in text, key


# ---------------------------------------------------------------- class weights, batches


def test_balanced_class_weights_from_the_training_counts():
    from cnn_cli.data.class_map import ClassMap
    from cnn_cli.training.recipe import class_weights

    with np.load(SAMPLE) as f:
        y = f["y_train"][:500].astype(np.int32)
    class_map = ClassMap.from_labels(np.arange(10))
    config = load_config("configs/fashion_mnist.yaml", ["train.class_weight=balanced"])
    weights = class_weights(config, y, class_map, "test")
    counts = np.bincount(y, minlength=10)
    assert weights * counts == pytest.approx(np.full(10, 500 / 10), rel=1e-5)
    named = load_config("configs/fashion_mnist.yaml", ["train.class_weight={'6': 3, Trouser: 0.5}"])
    names = ClassMap.from_labels(np.arange(10), names=["T-shirt/top", "Trouser", *map(str, range(2, 10))])
    assert class_weights(named, y, names, "test").tolist() == [1, 0.5, 1, 1, 1, 1, 3, 1, 1, 1]


def test_training_batches_carry_class_weights_and_one_hot_mixed_targets():
    from cnn_cli.config.data import Augment
    from cnn_cli.data.pipeline import TrainingBatches

    x, y = _sample(64)
    weights = np.arange(1, 11, dtype=np.float32)
    plain = TrainingBatches(x, y, batch_size=16, num_classes=10, one_hot=False, seed=1, class_weights=weights)
    xb, yb, wb = next(iter(plain.dataset))
    assert np.asarray(wb).tolist() == weights[np.asarray(yb)].tolist()
    mixed = TrainingBatches(x, y, batch_size=16, num_classes=10, one_hot=True, seed=1,
                            augment=Augment(mixup=0.4, cutmix=1.0), class_weights=weights)
    xs, ys, ws = next(iter(mixed.dataset))
    ys = np.asarray(ys)
    assert ys.shape == (16, 10) and np.allclose(ys.sum(axis=1), 1.0)
    assert (np.count_nonzero(ys > 1e-6, axis=1) > 1).any()  # some targets are mixes of two classes
    assert len(mixed.random_layers) == 2  # reseeded per epoch with the others
    assert float(np.asarray(xs).max()) <= 255.0 and ws.shape == (16,)
    np.testing.assert_allclose(np.asarray(ws), ys @ weights, rtol=1e-6)  # a mix weighs as the mix of its classes
    assert not np.allclose(np.asarray(ws), weights[ys.argmax(axis=1)])


def test_crop_with_padding_shifts_whole_pixels_and_erasing_changes_a_rectangle():
    from cnn_cli.config.data import Augment
    from cnn_cli.data.batch_augment import image_layers

    x, _ = _sample(16)
    images = x.astype(np.float32)
    (crop,) = image_layers(Augment(crop_padding=3), images.shape[1:], seed=5)
    out = np.asarray(crop(images, training=True))
    for original, shifted in zip(images, out):
        found = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                 if np.array_equal(_shift(original, dy, dx), shifted)]
        assert found, "every image is its original moved by whole pixels, with zeros brought in"
    (erase,) = image_layers(Augment(random_erasing=1.0), images.shape[1:], seed=5)
    erased = np.asarray(erase(images, training=True))
    changed = np.argwhere((erased != images).any(axis=-1)[0])
    assert len(changed) > 0
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    assert len(changed) <= (bottom - top + 1) * (right - left + 1)  # inside one rectangle


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_randaugment_keeps_the_pixel_range():
    from cnn_cli.config.data import Augment
    from cnn_cli.data.batch_augment import image_layers

    x, _ = _sample(16)
    (layer,) = image_layers(Augment(randaugment=2), x.shape[1:], seed=3)
    out = np.asarray(layer(x.astype(np.float32), training=True))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255 and out.max() > 1  # 0..255, not 0..1
    assert not np.array_equal(out, x)


def test_flip_tta_averages_the_mirror_and_warns_for_digits():
    from cnn_cli.inference.tta import flip_probabilities, flip_warning

    x = np.arange(2 * 2 * 3).reshape(2, 2, 3, 1).astype(np.float32)

    def predict(images):  # "probability" of class 0: the left column's sum
        left = images[:, :, 0, 0].sum(axis=1)
        return np.stack([left, 100 - left], axis=1)

    averaged = flip_probabilities(predict, x)
    right = x[:, :, 2, 0].sum(axis=1)
    assert averaged[:, 0].tolist() == ((x[:, :, 0, 0].sum(axis=1) + right) / 2).tolist()
    assert flip_warning("mnist") and flip_warning("sign_language") and flip_warning("data/digits.npz")
    assert flip_warning("fashion_mnist") is None and flip_warning("data/fashion_mnist_sample.npz") is None


def test_flip_accuracy_by_chunks_equals_the_whole_split_at_once():
    from cnn_cli.inference.tta import accuracy, flip_accuracy, flip_probabilities

    x, y = _sample(64)
    flat = x.reshape(len(x), -1).astype(np.float64)
    templates = np.stack([flat[y == c].mean(axis=0) if (y == c).any() else flat.mean(axis=0) for c in range(10)])

    def predict(images):  # nearest class mean on the raw pixels: a "model" that mirroring changes
        distances = ((np.asarray(images, np.float64).reshape(len(images), 1, -1) - templates) ** 2).sum(axis=2)
        return np.exp(-(distances - distances.min(axis=1, keepdims=True)) / 1e6)

    split = np.array([5, 60, 3, 17, 42, 8, 33, 11, 50, 2, 29])  # a split: positions into the store, any order
    whole = accuracy(flip_probabilities(predict, x[split].astype(np.float32)), y[split])
    for rows in (1, 4, len(split)):
        assert flip_accuracy(predict, x, y, split, rows=rows) == whole
    assert 0 < whole < 1


# ---------------------------------------------------------------- runs


def test_recipe_run_resumes_its_schedule_and_reports_tta(runner, tmp_path):
    """A 3-epoch run with every recipe key, interrupted after epoch 1 and resumed: history's learning rates are
    the schedule's at each epoch's last step; the EMA weights are what validation and the saved model see; the
    flip TTA figure of train equals `cnn evaluate --tta flip`'s."""
    run = tmp_path / "recipe"
    args = [*FASHION_NAMED, "--subset", "300", "--epochs", "3", "--seed", "5", "--run-dir", str(run),
            "--set", "train.batch_size=60", "--set", "train.optimizer={name: adam, learning_rate: 0.004, use_ema: true, "
            "ema_momentum: 0.9}", "--set", "train.lr_schedule={type: one_cycle, peak_at: 0.3}",
            "--set", "train.label_smoothing=0.1", "--set", "train.class_weight=balanced", "--set", "train.tta=flip",
            "--set", "data.augment={crop_padding: 2, random_erasing: 0.25, mixup: 0.2, cutmix: 1.0}",
            "--set", "train.callbacks.early_stopping=null"]
    _train(runner, args, expect=130, env={"CNN_TEST_STOP_AFTER_EPOCH": "1"})
    result = _train(runner, [*args[:-2], "--set", "train.callbacks.early_stopping=null", "--resume", str(run)])
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    from cnn_cli.training.schedules import make_schedule

    config = load_config(str(run / "config.yaml"))
    per_epoch = -(-_json(run / "metrics.json")["train_examples"] // 60)
    schedule = make_schedule(config.train.lr_schedule, 0.004, per_epoch=per_epoch, epochs=3)
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx(
        [_rate(schedule, per_epoch * e) for e in (1, 2, 3)], rel=1e-4, abs=1e-9)
    metrics = _json(run / "metrics.json")
    assert metrics["val_accuracy"] == pytest.approx(float(rows[-1]["val_accuracy"]), abs=1e-5)  # the EMA weights
    assert metrics["tta"] == "flip" and 0 < metrics["test_accuracy_tta"] <= 1
    assert set(metrics["class_weights"]) == {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                             "Shirt", "Sneaker", "Bag", "Ankle boot"}
    assert "accuracy with flip TTA: " in result.output
    evaluated = runner.invoke(main, ["evaluate", str(run), "--tta", "flip", "--json", "--no-write"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output[evaluated.output.index("{"):])
    assert report["tta"] == "flip" and report["tta_accuracy"] == pytest.approx(metrics["test_accuracy_tta"], abs=1e-9)
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_stop_at_ends_at_the_first_epoch_that_reaches_it_with_the_averaged_weights(runner, tmp_path):
    run = tmp_path / "stop"
    result = _train(runner, [*FASHION, "--subset", "200", "--epochs", "4", "--run-dir", str(run),
                             "--set", "train.stop_at={accuracy: 0.0}", "--set", "train.callbacks.early_stopping=null",
                             "--set", "train.optimizer={name: adam, use_ema: true, ema_momentum: 0.9}"])
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1"]
    metrics = _json(run / "metrics.json")
    assert metrics["stop_at"]["reached"] is True and metrics["stop_at"]["epoch"] == 1
    assert 0 < metrics["stop_at"]["seconds"] <= metrics["wall_seconds"]
    assert metrics["val_accuracy"] == pytest.approx(float(rows[0]["val_accuracy"]), abs=1e-5)  # not the raw weights
    assert "Target accuracy 0.0 reached at epoch 1" in result.output


def test_time_limit_ends_at_the_first_epoch_boundary_past_it(runner, tmp_path):
    run = tmp_path / "timed"
    result = _train(runner, [*FASHION, "--subset", "200", "--epochs", "5", "--run-dir", str(run),
                             "--time-limit", "0.5s", "--set", "train.callbacks.early_stopping=null"])
    assert [r["epoch"] for r in _history(run)] == ["1"]
    metrics = _json(run / "metrics.json")
    assert metrics["time_limit"] == {"seconds": 0.5, "stopped": True, "epoch": 1}
    assert (run / "model.keras").is_file() and _json(run / "run.json")["status"] == "complete"
    assert "Time limit of 0.5 s: stopped after epoch 1" in result.output


def test_evaluate_tta_flip_warns_on_digits(runner):
    from tests.run_helpers import mnist_run

    result = runner.invoke(main, ["evaluate", str(mnist_run()), "--tta", "flip", "--no-write"])
    assert result.exit_code == 0, result.output
    assert "mirror images of digits" in result.output and "Accuracy with flip TTA: " in result.output


def test_curves_get_a_learning_rate_panel_when_the_rate_changes(tmp_path):
    import struct

    from cnn_cli.reports.training_curves import plot_curves

    def width(rates) -> int:
        rows = [{"epoch": str(i + 1), "loss": "1", "accuracy": "0.5", "val_loss": "1", "val_accuracy": "0.5",
                 "learning_rate": r} for i, r in enumerate(rates)]
        path = tmp_path / f"{len(set(rates))}.png"
        plot_curves(rows, path)
        return struct.unpack(">I", path.read_bytes()[16:20])[0]  # the PNG header's width

    assert width(["0.001", "0.001", "0.001"]) == 1000  # loss and accuracy
    assert width(["0.001", "0.0005", "0.0001"]) == 1500  # and the learning rate
