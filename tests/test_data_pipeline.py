"""The one input pipeline: float32 batches of pixels 0..255 (never scaled: the model scales), sparse or
one-hot labels, epoch-seeded training order, augmentation on training batches only, on both faces (the
backend-neutral PyDataset and tf.data) over one batch source gathered by index."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.config.data import Augment
from cnn_cli.data.augment import augment_batch, is_active
from cnn_cli.data.batches import BatchSource, epoch_order
from cnn_cli.data.pipeline import TrainingBatches, eval_batches, one_hot_for

FACES = ["keras", "tf.data"]


@pytest.fixture(scope="module")
def sample():
    raw = np.load("data/mnist_sample.npz")
    return raw["x_train"][:200, :, :, np.newaxis], raw["y_train"][:200].astype(np.int32)


def batches(data):
    """The batches of either face as NumPy tuples."""
    if hasattr(data, "__getitem__") and hasattr(data, "num_batches"):  # PyDataset
        return [tuple(np.asarray(p) for p in data[i]) for i in range(len(data))]
    return [tuple(p.numpy() for p in parts) for parts in data]


def training(sample, **kw) -> TrainingBatches:
    x, y = sample
    return TrainingBatches(x, y, **{"batch_size": 64, "num_classes": 10, "one_hot": False, "seed": 1, **kw})


@pytest.mark.parametrize("face", FACES)
def test_eval_batches_in_order_unscaled(sample, face):
    out = batches(eval_batches(*sample, batch_size=64, num_classes=10, one_hot=False, face=face))
    assert [len(y) for _, y in out] == [64, 64, 64, 8]
    x, y = out[0]
    assert x.dtype == np.float32 and x.shape == (64, 28, 28, 1) and y.dtype == np.int32 and y.shape == (64,)
    assert x.min() == 0.0 and x.max() == 255.0
    assert np.array_equal(x, sample[0][:64].astype(np.float32)) and np.array_equal(y, sample[1][:64])


@pytest.mark.parametrize("face", FACES)
def test_one_hot_labels(sample, face):
    x, y = batches(eval_batches(*sample, batch_size=64, num_classes=10, one_hot=True, face=face))[0]
    assert y.dtype == np.float32 and y.shape == (64, 10)
    assert np.array_equal(y.argmax(axis=1), sample[1][:64]) and np.all(y.sum(axis=1) == 1)
    _, y_train = batches(training(sample, one_hot=True, face=face).dataset)[0]
    assert y_train.shape == (64, 10) and np.all(y_train.sum(axis=1) == 1)


def _labels_of_epoch(data: TrainingBatches, epoch: int) -> np.ndarray:
    data.set_epoch(epoch)
    return np.concatenate([parts[1] for parts in batches(data.dataset)])


@pytest.mark.parametrize("face", FACES)
def test_training_order_depends_on_seed_and_epoch_only(sample, face):
    a, b = training(sample, seed=3, face=face), training(sample, seed=3, face=face)
    epoch2 = _labels_of_epoch(a, 2)
    assert np.array_equal(epoch2, _labels_of_epoch(b, 2))  # another pipeline, same (seed, epoch)
    assert not np.array_equal(epoch2, _labels_of_epoch(a, 1)) and not np.array_equal(epoch2, sample[1])
    assert not np.array_equal(epoch2, _labels_of_epoch(training(sample, seed=4, face=face), 2))
    assert sorted(epoch2) == sorted(sample[1])
    assert np.array_equal(epoch2, sample[1][epoch_order(200, 3, 2)])  # the order is (seed, epoch)'s permutation
    x, y = batches(a.dataset)[0]
    assert x.max() == 255.0 and x.dtype == np.float32  # training batches are not scaled either


def test_both_faces_give_the_same_batches(sample):
    augment = Augment(rotation=10, horizontal_flip=True)
    keras_face, tf_face = (training(sample, seed=5, augment=augment, face=f) for f in FACES)
    for data in (keras_face, tf_face):
        data.set_epoch(3)
    for (xa, ya), (xb, yb) in zip(batches(keras_face.dataset), batches(tf_face.dataset)):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


@pytest.mark.parametrize("face", FACES)
def test_augmentation_on_training_batches(sample, face):
    augment = Augment(rotation=15, zoom=0.1, width_shift=0.1, height_shift=0.1, horizontal_flip=True)
    assert is_active(augment) and not is_active(Augment()) and not is_active(None)
    plain, distorted = training(sample, face=face), training(sample, augment=augment, face=face)
    (x_plain, y_plain), (x_aug, y_aug) = batches(plain.dataset)[0], batches(distorted.dataset)[0]
    assert np.array_equal(y_plain, y_aug)  # the same order, other pixels
    assert x_aug.shape == (64, 28, 28, 1) and x_aug.dtype == np.float32
    assert 0.0 <= x_aug.min() and 200.0 < x_aug.max() <= 255.0 + 1e-3
    assert not np.allclose(x_aug, x_plain)
    again = batches(training(sample, augment=augment, face=face).dataset)[0][0]
    assert np.array_equal(x_aug, again)  # the distortions depend on (seed, epoch, batch) only


def test_augment_batch_geometry():
    image = np.zeros((1, 9, 9, 1), np.float32)
    image[0, 4, :, 0] = 255.0  # a horizontal line through the centre
    flipped, _ = augment_batch(image, np.zeros(1, np.int32), 0, Augment(vertical_flip=True), 10)
    same, _ = augment_batch(image, np.zeros(1, np.int32), 0, Augment(), 10)
    assert same is image
    rotated = None
    for seed in range(20):  # a seed that rotates by more than 45 degrees turns the line near-vertical
        out, _ = augment_batch(image, np.zeros(1, np.int32), seed, Augment(rotation=90), 10)
        if out[0, :, 4, 0].sum() > out[0, 4, :, 0].sum():
            rotated = out
            break
    assert rotated is not None and rotated[0, 4, 4, 0] == pytest.approx(255.0)
    assert np.array_equal(flipped, image)  # the centre row is its own mirror image


def test_sample_weights_make_triples(sample):
    x, y = sample
    weights = np.linspace(0.5, 2.0, 100).astype(np.float32)
    train = np.arange(100, 200)
    source = BatchSource(x, y, train, batch_size=64, num_classes=10, one_hot=False, seed=2, sample_weights=weights)
    xb, yb, wb = source.batch(0, epoch=1)
    positions = epoch_order(100, 2, 1)[:64]
    assert np.array_equal(yb, y[train[positions]]) and np.array_equal(wb, weights[positions])
    assert np.array_equal(xb, x[train[positions]].astype(np.float32))


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("one_hot", [False, True])
def test_class_weights_weigh_each_example_by_its_class(sample, face, one_hot):
    x, y = sample
    weights = np.linspace(0.25, 2.5, 10).astype(np.float32)
    train = np.arange(150, 10, -3)  # a split of the store, not in file order
    data = training(sample, one_hot=one_hot, face=face, indices=train, class_weights=weights, seed=4)
    assert data.source.weighted and data.source.sample_weights is None  # the class weights, held once
    data.set_epoch(2)
    found = batches(data.dataset)
    assert [len(b[0]) for b in found] == [47]  # one batch of the 47 examples, three parts each
    _, yb, wb = found[0]
    expected = y[train[epoch_order(len(train), 4, 2)]]
    assert np.array_equal(yb.argmax(axis=1) if one_hot else yb, expected)
    assert wb.dtype == np.float32 and np.array_equal(wb, weights[expected])
    with pytest.raises(ValueError, match="not both"):
        BatchSource(x, y, train, batch_size=8, num_classes=10, one_hot=one_hot, class_weights=weights,
                    sample_weights=np.ones(len(train), np.float32))


def test_one_hot_for():
    assert one_hot_for("categorical_crossentropy") is True
    assert one_hot_for("sparse_categorical_crossentropy") is False
