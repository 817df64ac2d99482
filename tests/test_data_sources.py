"""Every data source on real data: the committed samples in data/, and the full Fashion-MNIST of Debian's
dataset-fashion-mnist package (skipped where /usr/share/datasets/fashion-mnist is absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.data import ClassMap, Dataset, load_dataset
from cnn_cli.data.sources import builtin
from cnn_cli.errors import CnnError, ConfigError
from cnn_cli.resolve import config_from_dict
from tests.conftest import DATA

FASHION = Path("/usr/share/datasets/fashion-mnist")
SIGN = DATA / "sign_layout_sample"
SIGN_IDS = [*range(9), *range(10, 25)]
needs_fashion = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
                                   reason="dataset-fashion-mnist is not installed")

TRAIN = {"callbacks": {"checkpoint": {"monitor": "loss"}}}  # also valid without a validation set


def make_config(data: dict | None, **model):
    layers = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    raw = {"name": "t", "model": {"layers": layers, **model}, "train": TRAIN}
    if data is not None:
        raw["data"] = data
    return config_from_dict(raw, "test.yaml")


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """An empty home (so ~/.keras holds nothing) and a Keras download that fails."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)

    def no_network(name):
        raise OSError("no network in tests")

    monkeypatch.setattr(builtin, "download", no_network)
    return home


def assert_well_formed(ds: Dataset):
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        if x is None:
            assert y is None
            continue
        assert x.dtype == np.uint8 and x.ndim == 4 and x.shape[1:] == ds.input_shape
        assert y.dtype == np.int32 and y.shape == (len(x),)
        assert 0 <= y.min() and y.max() < ds.num_classes


def test_npz_sample_mnist():
    ds = load_dataset(make_config({"source": "npz", "path": "data/mnist_sample.npz", "validation_split": 0}))
    assert_well_formed(ds)
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1) and ds.x_val is None
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    raw = np.load(DATA / "mnist_sample.npz")
    assert np.array_equal(ds.x_train[..., 0], raw["x_train"]) and np.array_equal(ds.y_test, raw["y_test"])
    text = ds.describe()
    assert "mnist_sample.npz" in text and "train 4000" in text and "test 1000" in text and "validation none" in text


def test_npz_splits_validation_off_and_names_classes():
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    config = make_config({"source": "npz", "path": "data/fashion_mnist_sample.npz", "class_names": names})
    ds = load_dataset(config)
    assert_well_formed(ds)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (2400, 600, 1000)
    assert ds.class_map.names == names and np.bincount(ds.y_val).tolist() == [60] * 10  # stratified by default
    assert "Ankle boot" in ds.describe()


def test_csv_sign_layout_class_map_has_the_gap_at_9():
    config = make_config({"source": "csv", "train": str(SIGN / "train.csv"), "validation": str(SIGN / "valid.csv"),
                          "class_names": {i: chr(ord("A") + i) for i in SIGN_IDS}})
    ds = load_dataset(config)
    assert_well_formed(ds)
    assert (len(ds.x_train), len(ds.x_val), ds.x_test) == (720, 288, None)
    assert ds.num_classes == 24 and ds.class_map.ids == SIGN_IDS
    entries = list(ds.class_map)
    assert entries[9] == (9, 10, "K") and entries[23] == (23, 24, "Y") and entries[8] == (8, 8, "I")
    assert ds.class_map.encode([10, 24, 0], "x").tolist() == [9, 23, 0]
    assert np.bincount(ds.y_train).tolist() == [30] * 24 and np.bincount(ds.y_val).tolist() == [12] * 24
    first = np.loadtxt(SIGN / "train.csv", delimiter=",", skiprows=1, max_rows=1, dtype=int)
    assert ds.class_map.ids[ds.y_train[0]] == first[0]
    assert np.array_equal(ds.x_train[0].reshape(-1), first[1:])


def test_csv_label_column_elsewhere(tmp_path):
    rows = ["pixel1,pixel2,pixel3,pixel4,letter", "0,1,2,3,b", "4,5,6,255,a", "7,8,9,10,b"]
    (tmp_path / "t.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8-sig")  # Windows style
    ds = load_dataset(make_config({"source": "csv", "train": str(tmp_path / "t.csv"), "label_column": "letter",
                                   "image_shape": [2, 2, 1], "validation_split": 0}))
    assert ds.class_map.ids == ["a", "b"] and ds.y_train.tolist() == [1, 0, 1]
    assert ds.x_train[1, :, :, 0].tolist() == [[4, 5], [6, 255]]


def test_class_map_round_trip_and_natural_order():
    cm = ClassMap.from_labels(np.array(["10", "2", "1", "2"], dtype=object), {"10": "ten"})
    assert cm.ids == ["1", "2", "10"] and cm.names == ["1", "2", "ten"]
    assert ClassMap.from_json(cm.to_json()) == cm
    assert cm.to_json()[2] == {"index": 2, "id": "10", "name": "ten"}
    ints = ClassMap.from_labels(np.array([24, 0, 10, 3], dtype=np.uint8))
    assert ints.ids == [0, 3, 10, 24] and all(isinstance(i, int) for i in ints.ids)


def test_class_names_errors():
    ids = np.array([0, 1, 2])
    with pytest.raises(ConfigError, match=r"test\.yaml: data\.class_names: expected 3 names.*received 2"):
        ClassMap.from_labels(ids, ["a", "b"], source="test.yaml")
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.class_names: expected label ids found in the training data \(0, 1, 2\), received 7$"):
        ClassMap.from_labels(ids, {0: "a", 7: "h"}, source="test.yaml")


@needs_fashion
def test_idx_folder_full_fashion_mnist():
    ds = load_dataset(make_config({"source": "idx", "path": str(FASHION), "validation_split": 0}))
    assert_well_formed(ds)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10


@needs_fashion
def test_builtin_fashion_mnist_found_in_debian_folder(offline_home):
    config = make_config({"source": "fashion_mnist", "validation_split": 0.2, "split_seed": 42, "stratify": False})
    ds = load_dataset(config)
    assert_well_formed(ds)
    assert len(ds.x_train) + len(ds.x_val) == 60000 and len(ds.x_val) == 12000 and len(ds.x_test) == 10000
    assert str(FASHION) in ds.describe()


@needs_fashion
def test_builtin_fashion_mnist_in_keras_cache_comes_first(offline_home, monkeypatch):
    cache = offline_home / ".keras" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (cache / name).symlink_to(FASHION / name)
    for kind in ("images-idx3", "labels-idx1"):  # a small training set, to tell it from the Debian one
        (cache / f"train-{kind}-ubyte.gz").symlink_to(FASHION / f"t10k-{kind}-ubyte.gz")
    ds = load_dataset(make_config({"source": "fashion_mnist", "validation_split": 0}))
    assert len(ds.x_train) == 10000 and str(cache) in ds.origin


def test_builtin_mnist_in_data_path_and_keras_cache(tmp_path, offline_home):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(DATA / "mnist_sample.npz", folder / "mnist.npz")
    ds = load_dataset(make_config({"source": "mnist", "path": str(folder), "validation_split": 0}))
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1)
    cache = offline_home / ".keras" / "datasets"
    cache.mkdir(parents=True)
    shutil.copy(DATA / "mnist_sample.npz", cache / "mnist.npz")
    ds = load_dataset(make_config({"source": "mnist", "validation_split": 0}))
    assert len(ds.x_train) == 4000 and str(cache) in ds.origin


def test_builtin_not_found_lists_every_place(tmp_path, offline_home, monkeypatch):
    monkeypatch.setattr(builtin, "DEBIAN_FASHION", tmp_path / "no-debian")
    with pytest.raises(CnnError) as info:
        load_dataset(make_config({"source": "fashion_mnist", "path": str(tmp_path / "nowhere")}))
    text = str(info.value)
    assert "Fashion-MNIST is not on this machine" in text and "no network in tests" in text
    for place in (tmp_path / "nowhere", offline_home / ".keras" / "datasets" / "fashion-mnist", tmp_path / "no-debian"):
        assert str(place) in text
    assert "apt-get install dataset-fashion-mnist" in text
    with pytest.raises(CnnError, match=r"MNIST is not on this machine.*mnist\.npz"):
        load_dataset(make_config({"source": "mnist"}))


def write_images(root: Path, classes: dict[str, list[np.ndarray]], ext: str = "png", mode: str = "L"):
    for name, images in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            Image.fromarray(image).convert(mode).save(root / name / f"{i}.{ext}")


@pytest.fixture(scope="module")
def digits():
    raw = np.load(DATA / "mnist_sample.npz")
    return {d: raw["x_train"][raw["y_train"] == d] for d in range(10)}


def test_folder_of_class_folders_natural_order(tmp_path, digits):
    write_images(tmp_path / "imgs", {"2": digits[2][:3], "10": digits[0][:4], "1": digits[1][:2]})
    ds = load_dataset(make_config({"source": "folder", "path": str(tmp_path / "imgs"), "validation_split": 0}))
    assert ds.class_map.ids == ["1", "2", "10"] and ds.input_shape == (28, 28, 1)
    assert ds.y_train.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert np.array_equal(ds.x_train[2, :, :, 0], digits[2][0])  # PNG is lossless


def test_folder_with_split_folders_resized_to_rgb(tmp_path, digits):
    write_images(tmp_path / "imgs" / "train", {"cat": digits[3][:4], "dog": digits[4][:4]}, ext="jpg", mode="RGB")
    write_images(tmp_path / "imgs" / "test", {"cat": digits[3][4:6], "dog": digits[4][4:5]}, ext="jpeg", mode="RGB")
    config = make_config({"source": "folder", "path": str(tmp_path / "imgs"), "image_shape": [14, 14, 3],
                          "validation_split": 0.5}, input_shape=[14, 14, 3])
    ds = load_dataset(config)
    assert_well_formed(ds)
    assert ds.input_shape == (14, 14, 3) and ds.class_map.ids == ["cat", "dog"]
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (4, 4, 3) and ds.y_test.tolist() == [0, 0, 1]


def test_data_path_replaces_the_config_source(tmp_path):
    fashion = make_config({"source": "fashion_mnist", "validation_split": 0.1})
    ds = load_dataset(fashion, data_path="data/fashion_mnist_sample.npz")
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (2700, 300, 1000)
    ds = load_dataset(make_config(None), data_path=str(SIGN / "train.csv"))  # no data section: defaults
    assert ds.num_classes == 24 and (len(ds.x_train), len(ds.x_val), ds.x_test) == (576, 144, None)
    sign = make_config({"source": "csv", "train": "elsewhere.csv", "validation": str(SIGN / "valid.csv")})
    ds = load_dataset(sign, data_path=str(SIGN / "train.csv"))
    assert (len(ds.x_train), len(ds.x_val)) == (720, 288)  # the config's validation file is kept
    sign = make_config({"source": "csv", "train": "elsewhere.csv", "validation": "missing/valid.csv"})
    ds = load_dataset(sign, data_path=str(SIGN / "train.csv"))
    assert (len(ds.x_train), len(ds.x_val)) == (576, 144)  # ... when it exists; else validation is split off
    assert "validation file missing/valid.csv is not there" in ds.describe()


@needs_fashion
def test_data_path_idx_folder_and_single_idx_file():
    for path in (FASHION, FASHION / "train-labels-idx1-ubyte.gz"):
        ds = load_dataset(make_config(None), data_path=str(path), subset=100)
        assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (100, 100, 100)


def test_no_data_section_and_no_data_path():
    with pytest.raises(CnnError, match=r"^test\.yaml: data: no data source; give a data: section or --data PATH$"):
        load_dataset(make_config(None), source="test.yaml")


def test_loading_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from cnn_cli.data import load_dataset; from cnn_cli.data import pipeline; from cnn_cli.data import model_fit; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
