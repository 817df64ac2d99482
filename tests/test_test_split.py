"""`data.test_split`: a stratified, seeded test set held out of a source that has none (a folder of colour
images made from the Fashion-MNIST sample), and what `cnn train` says it found after loading."""

from __future__ import annotations

import json

import numpy as np
import yaml
from PIL import Image
from sklearn.model_selection import train_test_split

from cnn_cli.cli import main
from cnn_cli.data import load_dataset
from cnn_cli.resolve import config_from_dict

SAMPLE = "data/fashion_mnist_sample.npz"
CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker"}
TINTS = {"tshirt": (1.0, 0.3, 0.3), "trouser": (0.3, 1.0, 0.3), "sneaker": (0.3, 0.3, 1.0)}


def colour_folder(root, per_class=20):
    """root/<class>/NN.png: 32x32 RGB images, each class's first Fashion-MNIST images tinted its colour, plus
    the junk a real folder has."""
    data = np.load(SAMPLE)
    for label, name in CLASSES.items():
        (root / name).mkdir(parents=True)
        for i, image in enumerate(data["x_train"][data["y_train"] == label][:per_class]):
            rgb = (np.stack([image] * 3, axis=-1) * np.array(TINTS[name])).astype(np.uint8)
            Image.fromarray(rgb).resize((32, 32)).save(root / name / f"{i:02d}.png")
    (root / "tshirt" / "Thumbs.db").write_bytes(b"\x00junk")
    (root / "README.txt").write_text("three kinds of clothes\n")
    return root


def config(folder, **data) -> dict:
    return {
        "name": "colours", "seed": 1,
        "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                             {"type": "global_avg_pool2d"},
                             {"type": "dense", "units": "num_classes", "activation": "softmax"}]},
        "data": {"source": "folder", "path": str(folder), "validation_split": 0.2, "test_split": 0.2, **data},
        "train": {"batch_size": 8, "epochs": 1},
    }


def test_test_split_is_stratified_and_seeded(tmp_path):
    folder = colour_folder(tmp_path / "clothes")
    ds = load_dataset(config_from_dict(config(folder), "c.yaml"))
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (36, 12, 12)
    assert np.bincount(ds.y_test).tolist() == [4, 4, 4] and np.bincount(ds.y_val).tolist() == [4, 4, 4]
    assert ds.input_shape == (32, 32, 3)
    y = np.repeat([0, 1, 2], 20)
    _, test = train_test_split(np.arange(60), test_size=0.2, random_state=42, stratify=y)
    whole = load_dataset(config_from_dict(config(folder, validation_split=0, test_split=0), "c.yaml"))
    assert np.array_equal(np.sort(ds.y_test), np.sort(whole.y_train[test]))
    assert sorted(map(bytes, ds.x_test)) == sorted(map(bytes, whole.x_train[test]))
    other = load_dataset(config_from_dict(config(folder, split_seed=5), "c.yaml"))
    assert sorted(map(bytes, other.x_test)) != sorted(map(bytes, ds.x_test))


def test_train_says_what_it_found_and_evaluates_on_the_test_split(runner, tmp_path):
    folder = colour_folder(tmp_path / "clothes")
    path = tmp_path / "colours.yaml"
    path.write_text(yaml.safe_dump(config(folder)))
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", str(path), "--run-dir", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  test: 0.2 of train split off (seed 42, stratified)" in lines
    assert "  train 36, validation 12, test 12" in lines
    assert "  per class (train/validation/test): sneaker 12/4/4, trouser 12/4/4, tshirt 12/4/4" in lines
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_examples"] == 12 and metrics["val_examples"] == 12


def test_a_source_with_its_own_test_set_refuses_test_split(runner, write_config):
    path = write_config({"name": "t", "model": {"layers": [{"type": "flatten"},
                                                           {"type": "dense", "units": 10, "activation": "softmax"}]},
                         "data": {"source": "npz", "path": SAMPLE, "test_split": 0.1}, "train": {"epochs": 1}})
    result = runner.invoke(main, ["train", "--config", path, "--subset", "50"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.output.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith(f"Error: {path}: data.test_split: the source has a test split of its own")
    too_much = runner.invoke(main, ["summary", "--config", path, "--set", "data.test_split=0.8"])
    assert too_much.exit_code == 2
    assert "data.test_split: expected less than 1 - data.validation_split (0.8)" in too_much.output
