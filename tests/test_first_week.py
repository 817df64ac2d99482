"""The first week of a user with a folder of colour photos: a shipped recipe runs on it with one `--data` flag
(its input shape and class count left to the data, a stratified test split held out and said, one cache entry
for every config that decodes the folder alike); a shape an architecture needs names the `--set` that fixes it."""

from __future__ import annotations

import json
import os

import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, photo_folder


def _entries(cache) -> list:
    return sorted(p.name for p in cache.iterdir() if (p / "meta.json").is_file())


def test_a_recipe_runs_on_a_photo_folder_with_one_flag(runner, tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "photos", per_class=20)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNN_CACHE_DIR", str(cache))
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(photos),
                                  "--epochs", "1", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "model.input_shape and model.num_classes of" in result.output and "left to this data (--data)" in result.output
    assert "test: 0.2 of train split off (seed 42, stratified): the default for a folder without a test folder" \
        in result.output
    assert "train 48, validation 0, test 12" in result.output.replace("validation none", "validation 0")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_examples"] == 12
    assert "input_shape: [36, 36, 3]\n  num_classes: 3\n" in (run / "config.yaml").read_text()
    first = _entries(cache)
    # another recipe, and the same config with the shape spelled out: the same decoded images, the same entry
    for args in (["--config", str(ROOT / "configs" / "fashion_mnist_best.yaml")],
                 ["--config", str(ROOT / "configs" / "mnist.yaml"), "--set", "data.image_shape=[36,36,3]"]):
        result = runner.invoke(main, ["summary", *args, "--data", str(photos)])
        assert result.exit_code == 0, result.output
        assert "(None, 36, 36, 3)" in result.output
    assert _entries(cache) == first and len(first) == 1
    # data.test_split: 0 says otherwise
    result = runner.invoke(main, ["train", "--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(photos),
                                  "--set", "data.test_split=0", "--epochs", "1", "--run-dir", str(tmp_path / "r2")])
    assert result.exit_code == 0 and "test none" in result.output, result.output


def test_an_architecture_keeps_its_shape_and_the_error_names_the_set(runner, tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "photos", per_class=4)
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    result = runner.invoke(main, ["summary", "--config", str(ROOT / "configs" / "applications" / "mobilenet_v2.yaml"),
                                  "--data", str(photos)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: ") and "model.input_shape" in line and "[36, 36, 3]" in line
    assert "--set model.input_shape=null" in line and '--set data.image_shape="[224, 224, 3]"' in line
    assert os.path.isdir(photos)


def test_augment_draws_the_training_batch_and_refuses_colour_on_grey(runner, tmp_path, monkeypatch):
    from PIL import Image

    photos = photo_folder(tmp_path / "photos", per_class=20)
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "grid.png"
    result = runner.invoke(main, ["augment", "--config", str(ROOT / "configs" / "fashion_mnist_best.yaml"), "--data",
                                  str(photos), "--set", "data.augment.hue=0.1", "--set", "data.augment.saturation=0.3",
                                  "--set", "data.augment.brightness=0.2", "-n", "8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "hue=0.1" in result.output and "saturation=0.3" in result.output and f"Wrote {out}" in result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width >= 800
    grey = runner.invoke(main, ["augment", "--config", str(ROOT / "configs" / "fashion_mnist_best.yaml"), "--data",
                                str(ROOT / "data" / "fashion_mnist_sample.npz"), "--set", "data.augment.hue=0.1",
                                "-o", str(tmp_path / "g.png")])
    assert grey.exit_code == 2 and "Traceback" not in grey.output
    assert grey.output.strip().startswith("Error: --set: data.augment.hue:") and "1 channel" in grey.output
    assert not (tmp_path / "g.png").exists()


def test_randaugment_keeps_the_images_recognisable():
    """The bounded RandAugment (Keras' layers at the paper's magnitudes) leaves an augmented image close to its
    original: Keras' own RandAugment(factor=0.5) turned, shifted and inverted most Fashion-MNIST images."""
    import numpy as np

    from cnn_cli.config.data import Augment
    from cnn_cli.data.pipeline import TrainingBatches
    from tests.run_helpers import FASHION_NPZ

    x = np.load(FASHION_NPZ)["x_train"][:256][..., None]
    batches = TrainingBatches(x, np.zeros(len(x), dtype=np.int32), batch_size=256, num_classes=2, one_hot=False,
                              seed=3, augment=Augment(randaugment=2), face="keras")
    kept = []
    for epoch in range(8):  # eight draws of the operations (Keras' own: median 0.50 here)
        augmented = batches.source.batch(0, epoch)[0]
        originals = x[batches.source.indices[batches.source.order(epoch)]].astype(np.float64)
        for a, b in zip(augmented.reshape(len(x), -1), originals.reshape(len(x), -1)):
            kept.append(np.corrcoef(a, b)[0, 1] if a.std() > 0 else 0.0)
    assert np.median(kept) > 0.75, np.median(kept)


def _rates(run) -> list[float]:
    import csv

    with (run / "history.csv").open(newline="") as f:
        return [float(row["learning_rate"]) for row in csv.DictReader(f)]


def test_extending_a_one_cycle_run_anneals_on_without_a_new_warm_up(runner, tmp_path, monkeypatch):
    from tests.run_helpers import TINY

    config = tmp_path / "cycle.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz"))
                      + "  epochs: 4\n  lr_schedule: {type: one_cycle, peak_at: 0.25}\n")
    run = tmp_path / "run"
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "2")
    assert runner.invoke(main, ["train", "--config", str(config), "--run-dir", str(run)]).exit_code == 130
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    result = runner.invoke(main, ["train", "--resume", str(run), "--epochs", "8"])
    assert result.exit_code == 0, result.output
    assert "the one_cycle schedule re-planned over 8 epochs from epoch 2: learning rate" in result.output
    assert "(no new warm-up)" in result.output
    rates = _rates(run)
    assert len(rates) == 8 and rates[0] == pytest.approx(0.003, rel=0.05)  # the peak at the end of epoch 1
    after = rates[1:]
    assert all(b <= a + 1e-9 for a, b in zip(after, after[1:])), rates  # down from where it stood, no rise
    assert rates[2] > 0.0011 and rates[-1] == pytest.approx(0.0, abs=1e-6)  # the 4-epoch plan would be at 0.001
    ended = runner.invoke(main, ["train", "--resume", str(run), "--epochs", "9"])
    assert ended.exit_code == 0 and "the one_cycle schedule had ended at epoch 8" in ended.output


def test_a_time_limit_plans_the_schedule_to_end_with_the_time(runner, tmp_path, monkeypatch):
    """With --time-limit, the one-cycle schedule is re-planned from the (here given) epoch time to end at the last
    epoch that fits, recorded in run.json; an interrupted run resumed without the flag follows the recorded plan."""
    from tests.run_helpers import TINY

    config = tmp_path / "cycle.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz"))
                      + "  epochs: 6\n  lr_schedule: {type: one_cycle, peak_at: 0.25}\n")
    run = tmp_path / "run"
    monkeypatch.setenv("CNN_TEST_EPOCH_SECONDS", "2500")  # 10,000 s less the seconds gone: 3 more epochs fit
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "3")
    first = runner.invoke(main, ["train", "--config", str(config), "--run-dir", str(run), "--time-limit", "10000"])
    assert first.exit_code == 130, first.output
    assert "the one_cycle schedule is re-planned to end at epoch 5 of 6 (recorded in run.json)" in first.output
    plan = json.loads((run / "run.json").read_text())["time_plan"]
    assert plan["epochs"] == 5 and plan["at_epoch"] == 2 and plan["epoch_seconds"] == 2500
    monkeypatch.delenv("CNN_TEST_EPOCH_SECONDS")
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    resumed = runner.invoke(main, ["train", "--resume", str(run)])
    assert resumed.exit_code == 0, resumed.output
    assert "Stopped at epoch 5, where the time limit's plan ends its schedule" in resumed.output
    rates = _rates(run)
    assert len(rates) == 5 and rates[-1] == pytest.approx(0.0, abs=1e-6)  # annealed to its end at epoch 5
    assert rates[2] < rates[1] and rates[3] < rates[2]  # down from epoch 2 on, as planned
