"""tf.data pipelines: float32 [0, 1] batches, sparse or one-hot labels, seeded shuffling, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.config.data import Augment
from cnn_cli.data.pipeline import augmentation_layers, make_dataset, one_hot_for

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def sample():
    raw = np.load("data/mnist_sample.npz")
    return raw["x_train"][:200, :, :, np.newaxis], raw["y_train"][:200].astype(np.int32)


def batches(data):
    return [(x.numpy(), y.numpy()) for x, y in data]


def build(sample, **kw):
    x, y = sample
    args = {"batch_size": 64, "num_classes": 10, "one_hot": False, "shuffle": False, "seed": 1, "augment": None,
            "training": True, **kw}
    return make_dataset(x, y, **args)


def test_sparse_batches_scaled_to_unit_range(sample):
    out = batches(build(sample))
    assert [len(y) for _, y in out] == [64, 64, 64, 8]
    x, y = out[0]
    assert x.dtype == np.float32 and x.shape == (64, 28, 28, 1) and y.dtype == np.int32 and y.shape == (64,)
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x, sample[0][:64] / 255.0) and np.array_equal(y, sample[1][:64])


def test_one_hot_labels(sample):
    x, y = batches(build(sample, one_hot=True))[0]
    assert y.dtype == np.float32 and y.shape == (64, 10)
    assert np.array_equal(y.argmax(axis=1), sample[1][:64]) and np.all(y.sum(axis=1) == 1)


def test_seeded_shuffle(sample):
    a = np.concatenate([y for _, y in batches(build(sample, shuffle=True, seed=3))])
    b = np.concatenate([y for _, y in batches(build(sample, shuffle=True, seed=3))])
    assert np.array_equal(a, b) and not np.array_equal(a, sample[1])
    assert sorted(a) == sorted(sample[1])


def test_augmentation_only_when_training(sample):
    augment = Augment(rotation=15, zoom=0.1, width_shift=0.1, height_shift=0.1, horizontal_flip=True)
    assert len(augmentation_layers(augment, 0)) == 4 and augmentation_layers(Augment()) == []
    x_aug, y_aug = batches(build(sample, augment=augment))[0]
    assert x_aug.shape == (64, 28, 28, 1) and x_aug.dtype == np.float32
    assert 0.0 <= x_aug.min() and x_aug.max() <= 1.0 + 1e-6
    assert not np.allclose(x_aug, sample[0][:64] / 255.0) and np.array_equal(y_aug, sample[1][:64])
    x_eval, _ = batches(build(sample, augment=augment, training=False))[0]
    assert np.allclose(x_eval, sample[0][:64] / 255.0)


def test_one_hot_for():
    assert one_hot_for("categorical_crossentropy") is True
    assert one_hot_for("sparse_categorical_crossentropy") is False
