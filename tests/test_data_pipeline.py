"""The one input pipeline: float32 batches of pixels 0..255 (never scaled: the model scales), sparse or
one-hot labels, epoch-seeded training order, augmentation on training batches only."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.config.data import Augment
from cnn_cli.data.pipeline import TrainingBatches, augmentation_layers, eval_batches, one_hot_for

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def sample():
    raw = np.load("data/mnist_sample.npz")
    return raw["x_train"][:200, :, :, np.newaxis], raw["y_train"][:200].astype(np.int32)


def batches(data):
    return [(x.numpy(), y.numpy()) for x, y in data]


def training(sample, **kw) -> TrainingBatches:
    x, y = sample
    return TrainingBatches(x, y, **{"batch_size": 64, "num_classes": 10, "one_hot": False, "seed": 1, **kw})


def test_eval_batches_in_order_unscaled(sample):
    out = batches(eval_batches(*sample, batch_size=64, num_classes=10, one_hot=False))
    assert [len(y) for _, y in out] == [64, 64, 64, 8]
    x, y = out[0]
    assert x.dtype == np.float32 and x.shape == (64, 28, 28, 1) and y.dtype == np.int32 and y.shape == (64,)
    assert x.min() == 0.0 and x.max() == 255.0
    assert np.array_equal(x, sample[0][:64].astype(np.float32)) and np.array_equal(y, sample[1][:64])


def test_one_hot_labels(sample):
    x, y = batches(eval_batches(*sample, batch_size=64, num_classes=10, one_hot=True))[0]
    assert y.dtype == np.float32 and y.shape == (64, 10)
    assert np.array_equal(y.argmax(axis=1), sample[1][:64]) and np.all(y.sum(axis=1) == 1)
    _, y_train = batches(training(sample, one_hot=True).dataset)[0]
    assert y_train.shape == (64, 10) and np.all(y_train.sum(axis=1) == 1)


def _labels_of_epoch(data: TrainingBatches, epoch: int) -> np.ndarray:
    data.set_epoch(epoch)
    return np.concatenate([y for _, y in batches(data.dataset)])


def test_training_order_depends_on_seed_and_epoch_only(sample):
    a, b = training(sample, seed=3), training(sample, seed=3)
    epoch2 = _labels_of_epoch(a, 2)
    assert np.array_equal(epoch2, _labels_of_epoch(b, 2))  # another pipeline, same (seed, epoch)
    assert not np.array_equal(epoch2, _labels_of_epoch(a, 1)) and not np.array_equal(epoch2, sample[1])
    assert not np.array_equal(epoch2, _labels_of_epoch(training(sample, seed=4), 2))
    assert sorted(epoch2) == sorted(sample[1])
    x, y = batches(a.dataset)[0]
    assert x.max() == 255.0 and x.dtype == np.float32  # training batches are not scaled either


def test_augmentation_on_training_batches(sample):
    augment = Augment(rotation=15, zoom=0.1, width_shift=0.1, height_shift=0.1, horizontal_flip=True)
    assert len(augmentation_layers(augment, 0)) == 4 and augmentation_layers(Augment()) == []
    plain, distorted = training(sample), training(sample, augment=augment)
    (x_plain, y_plain), (x_aug, y_aug) = batches(plain.dataset)[0], batches(distorted.dataset)[0]
    assert np.array_equal(y_plain, y_aug)  # the same order, other pixels
    assert x_aug.shape == (64, 28, 28, 1) and x_aug.dtype == np.float32
    assert 0.0 <= x_aug.min() and 200.0 < x_aug.max() <= 255.0 + 1e-3
    assert not np.allclose(x_aug, x_plain)


def test_one_hot_for():
    assert one_hot_for("categorical_crossentropy") is True
    assert one_hot_for("sparse_categorical_crossentropy") is False
