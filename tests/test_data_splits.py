"""Validation split-off (scikit-learn's train_test_split, reproducible by seed) and stratified subsets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from cnn_cli.data import load_dataset
from cnn_cli.data.splits import split_validation, subset_positions
from cnn_cli.resolve import config_from_dict

SAMPLE = "data/fashion_mnist_sample.npz"

TRAIN = {"callbacks": {"checkpoint": {"monitor": "loss"}}}  # also valid without a validation set


def make_config(data: dict):
    layers = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    return config_from_dict({"name": "t", "model": {"layers": layers}, "data": data, "train": TRAIN}, "test.yaml")


def npz(**data):
    return make_config({"source": "npz", "path": SAMPLE, **data})


def test_split_is_the_one_of_train_test_split():
    raw = np.load(SAMPLE)
    x, y = raw["x_train"], raw["y_train"]
    ds = load_dataset(npz(validation_split=0.2, split_seed=42, stratify=False))
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=42)
    assert np.array_equal(ds.x_train[..., 0], x_train) and np.array_equal(ds.x_val[..., 0], x_val)
    assert np.array_equal(ds.y_val, y_val.astype(np.int32))  # ids 0..9 are their own indices


def test_same_seed_same_split_other_seed_other_split():
    a = load_dataset(npz(split_seed=7))
    b = load_dataset(npz(split_seed=7))
    c = load_dataset(npz(split_seed=8))
    assert np.array_equal(a.x_val, b.x_val) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_val, c.x_val)
    assert sorted(map(bytes, a.x_val)) != sorted(map(bytes, c.x_val))  # other examples, not only another order


def test_stratify_keeps_proportions():
    y = np.array([0] * 90 + [1] * 10)
    x = np.arange(100).reshape(100, 1, 1, 1).astype(np.uint8)
    _, y_train, x_val, y_val = split_validation(x, y, 0.2, 0, True)
    assert np.bincount(y_val).tolist() == [18, 2] and np.bincount(y_train).tolist() == [72, 8]
    assert not set(x_val.ravel()) & set(_.ravel())


def test_validation_split_zero_means_none():
    ds = load_dataset(npz(validation_split=0))
    assert ds.x_val is None and ds.y_val is None and len(ds.x_train) == 3000


def test_subset_positions_are_stratified_and_in_order():
    y = np.array([2, 0, 0, 1, 0, 2, 0, 0, 1, 0])  # 6 of class 0, 2 of 1, 2 of 2
    keep = subset_positions(y, 5)
    assert keep.tolist() == [0, 1, 2, 3, 4]  # quotas 3, 1, 1: the first of each class, in the original order
    assert subset_positions(y, 50).tolist() == list(range(10))
    keep = subset_positions(np.repeat(np.arange(10), 100), 25)
    assert len(keep) == 25 and np.bincount(np.repeat(np.arange(10), 100)[keep]).tolist() == [3] * 5 + [2] * 5


def test_subset_of_every_split():
    ds = load_dataset(npz(validation_split=0.2), subset=100)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (100, 100, 100)
    assert np.bincount(ds.y_train).tolist() == [10] * 10 and np.bincount(ds.y_test).tolist() == [10] * 10
    full = load_dataset(npz(validation_split=0.2))
    first = [np.flatnonzero(full.y_train == c)[:10] for c in range(10)]
    assert np.array_equal(ds.x_train, full.x_train[np.sort(np.concatenate(first))])
    assert ds.num_classes == 10 and "subset" in ds.describe()


def test_subset_from_config_and_override():
    assert len(load_dataset(npz(subset=30, validation_split=0)).x_train) == 30
    assert len(load_dataset(npz(subset=30, validation_split=0), subset=20).x_train) == 20
    small = load_dataset(npz(validation_split=0), subset=5)  # fewer than the classes: classes stay in the map
    assert len(small.x_train) == 5 and small.num_classes == 10


def test_subset_must_be_positive():
    with pytest.raises(Exception, match=r"data\.subset: expected a positive integer"):
        load_dataset(npz(), subset=0)
