"""Bad data files give one-line DataError/ConfigError messages that name the file and the row, column or key."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.data import load_dataset
from cnn_cli.data.model_fit import check_model_fits_data
from cnn_cli.errors import CnnError, ConfigError, DataError
from cnn_cli.resolve import config_from_dict

HEADER = "label,pixel1,pixel2,pixel3,pixel4"

TRAIN = {"callbacks": {"checkpoint": {"monitor": "loss"}}}  # also valid without a validation set


def make_config(data: dict | None, layers: list | None = None, **model):
    layers = layers or [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    raw = {"name": "t", "model": {"layers": layers, **model}, "train": TRAIN}
    if data is not None:
        raw["data"] = data
    return config_from_dict(raw, "test.yaml")


def write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def load_csv(train: str, validation: str | None = None, **data):
    config = make_config({"source": "csv", "train": train, "validation": validation, "image_shape": [2, 2, 1],
                          "validation_split": 0, **data})
    return load_dataset(config, source="test.yaml")


GOOD = [HEADER, "0,0,1,2,3", "1,4,5,6,7", "2,8,9,10,11"]


def test_small_good_csv_loads(tmp_path):
    ds = load_csv(write(tmp_path / "t.csv", GOOD))
    assert ds.x_train.shape == (3, 2, 2, 1) and ds.y_train.tolist() == [0, 1, 2]


@pytest.mark.parametrize("lines, pieces", [
    (["lbl,pixel1,pixel2,pixel3,pixel4", "0,0,1,2,3"], ["no label column 'label'", "data.label_column"]),
    ([HEADER + ",pixel5", "0,0,1,2,3,4"], ["5 pixel columns", "expected 4", "image_shape 2x2x1"]),
    ([HEADER, "0,0,1,2,3", "1,4,five,6,7"], ["row 2 (line 3), column 'pixel2': not a number: 'five'"]),
    ([HEADER, "0,0,1,2,3", "1,4,5,6,7", "2,8,,10,11"], ["row 3 (line 4), column 'pixel2': empty or NaN cell"]),
    ([HEADER, "0,0,1,2,3", "1,4,5,NaN,7"], ["row 2 (line 3), column 'pixel3': empty or NaN cell"]),
    ([HEADER, "0,0,1,2,3", "1,4,5,6,256"], ["row 2 (line 3), column 'pixel4': pixel value 256 is not an integer 0..255"]),
    ([HEADER, "0,0,-1,2,3"], ["row 1 (line 2), column 'pixel2': pixel value -1"]),
    ([HEADER, "0,0,1,2.5,3"], ["row 1 (line 2), column 'pixel3': pixel value 2.5"]),
    ([HEADER, "0,0,1,2,3", ",4,5,6,7"], ["row 2 (line 3), column 'label': empty label cell"]),
    ([HEADER], ["no data rows"]),
])
def test_bad_csv(tmp_path, lines, pieces):
    path = write(tmp_path / "bad.csv", lines)
    with pytest.raises(DataError) as info:
        load_csv(path)
    assert str(info.value).startswith(f"{path}: ")
    for piece in pieces:
        assert piece in str(info.value)


def test_empty_csv_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=rf"^{path}: empty file"):
        load_csv(str(path))


def test_validation_label_not_in_training_classes(tmp_path):
    train = write(tmp_path / "train.csv", GOOD)
    valid = write(tmp_path / "valid.csv", [HEADER, "1,0,0,0,0", "2,0,0,0,0", "9,0,0,0,0"])
    with pytest.raises(DataError) as info:
        load_csv(train, valid)
    assert str(info.value) == (f"{valid}: row 3 (line 4): label 9 is not one of the 3 classes of the training data "
                               "(0, 1, 2)")


def idx_bytes(magic: int, dims: list[int], body: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def write_idx(folder: Path, prefix: str, n_images: int, n_labels: int, *, magic: int = 0x803, cut: int = 0,
              gz: bool = True) -> tuple[Path, Path]:
    ext = ".gz" if gz else ""
    opener = gzip.open if gz else open
    images, labels = folder / f"{prefix}-images-idx3-ubyte{ext}", folder / f"{prefix}-labels-idx1-ubyte{ext}"
    body = bytes(range(256)) * (n_images * 16 // 256 + 1)
    with opener(images, "wb") as f:
        f.write(idx_bytes(magic, [n_images, 4, 4], body[: n_images * 16 - cut]))
    with opener(labels, "wb") as f:
        f.write(idx_bytes(0x801, [n_labels], bytes(i % 3 for i in range(n_labels))))
    return images, labels


def load_idx(folder: Path):
    return load_dataset(make_config({"source": "idx", "path": str(folder), "validation_split": 0}), source="test.yaml")


def test_small_good_idx_raw_and_gzipped(tmp_path):
    write_idx(tmp_path, "train", 6, 6, gz=False)
    write_idx(tmp_path, "t10k", 3, 3)
    ds = load_idx(tmp_path)
    assert ds.x_train.shape == (6, 4, 4, 1) and ds.x_test.shape == (3, 4, 4, 1) and ds.y_train.tolist() == [0, 1, 2] * 2
    assert ds.x_train[0, 0, :, 0].tolist() == [0, 1, 2, 3]


def test_idx_pairs_named_in_the_config(tmp_path):
    images, labels = write_idx(tmp_path, "a", 6, 6)
    test_images, _ = write_idx(tmp_path, "b", 3, 3, gz=False)
    config = make_config({"source": "idx", "train": {"images": str(images), "labels": str(labels)},
                          "test": str(test_images), "validation_split": 0})
    ds = load_dataset(config)
    assert (len(ds.x_train), len(ds.x_test), ds.x_val) == (6, 3, None)
    (tmp_path / "lonely-images-idx3-ubyte").write_bytes(b"")
    config = make_config({"source": "idx", "train": str(tmp_path / "lonely-images-idx3-ubyte")})
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.train: expected \{images: FILE, labels: FILE\}"):
        load_dataset(config, source="test.yaml")


def test_gzipped_idx_declaring_more_images_than_memory_holds_is_one_line(tmp_path, monkeypatch):
    """A gzipped header's sizes cannot be checked against the body before the images are held: declaring 960 GB
    is one line naming the images file (with `cache: disk` too when the disk has no room for it, so that the
    images fall back to memory; not tested: a disk may have the room)."""
    images, labels = tmp_path / "big-images-idx3-ubyte.gz", tmp_path / "big-labels-idx1-ubyte.gz"
    with gzip.open(images, "wb") as f:
        f.write(idx_bytes(0x803, [60000, 4000, 4000], bytes(1000)))
    with gzip.open(labels, "wb") as f:
        f.write(idx_bytes(0x801, [60000], bytes(60000)))
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    config = make_config({"source": "idx", "train": {"images": str(images), "labels": str(labels)},
                          "validation_split": 0, "cache": "memory"})
    with pytest.raises(DataError, match=rf"^{images}: 60,000 images of 4000x4000x1 to hold: 960.0 GB, more than "
                                        r"this machine's memory \(is the header damaged\?"):
        load_dataset(config, source="test.yaml")
    assert not any(f.is_file() for f in (tmp_path / "cache").rglob("*"))


def test_idx_wrong_magic(tmp_path):
    images, _ = write_idx(tmp_path, "train", 6, 6, magic=0x801)
    with pytest.raises(DataError, match=rf"^{images}: wrong magic number 0x00000801, expected 0x00000803"):
        load_idx(tmp_path)


def test_idx_truncated(tmp_path):
    images, _ = write_idx(tmp_path, "train", 6, 6, cut=5)
    with pytest.raises(DataError, match=rf"^{images}: truncated: the header declares 6 x 4 x 4 = 96 bytes .* holds 91"):
        load_idx(tmp_path)


def test_idx_truncated_gzip_stream(tmp_path):
    images, _ = write_idx(tmp_path, "train", 6, 6)
    images.write_bytes(images.read_bytes()[:-12])
    with pytest.raises(DataError, match=rf"^{images}: truncated or corrupt gzip file"):
        load_idx(tmp_path)


def test_idx_count_mismatch(tmp_path):
    images, labels = write_idx(tmp_path, "train", 6, 5)
    with pytest.raises(DataError, match=rf"^{images}: 6 images but {labels} holds 5 labels"):
        load_idx(tmp_path)


def test_idx_folder_without_files(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path}: no train-images-idx3-ubyte"):
        load_idx(tmp_path)


def test_unreadable_image(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / name / "ok.png")
    bad = tmp_path / "b" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=rf"^{bad}: not a readable image"):
        load_dataset(make_config({"source": "folder", "path": str(tmp_path), "validation_split": 0}))


def test_empty_class_folder(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a" / "ok.png")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=rf"^{tmp_path / 'b'}: empty class folder"):
        load_dataset(make_config({"source": "folder", "path": str(tmp_path)}))


def test_folder_without_class_folders(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path}: no class subfolders"):
        load_dataset(make_config({"source": "folder", "path": str(tmp_path)}))


def save_npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def test_npz_missing_key(tmp_path):
    path = save_npz(tmp_path / "d.npz", x_train=np.zeros((4, 2, 2), np.uint8), labels=np.zeros(4, np.uint8))
    with pytest.raises(DataError, match=rf"^{path}: no array 'y_train' \(data.npz_keys.y_train\); the file holds 'x_train', 'labels'"):
        load_dataset(make_config({"source": "npz", "path": path}))
    config = make_config({"source": "npz", "path": path, "npz_keys": {"y_train": "labels", "x_test": "xt"}})
    with pytest.raises(DataError, match=r"no array 'xt' \(data.npz_keys.x_test\)"):
        load_dataset(config)


def test_npz_length_mismatch_and_bad_pixels(tmp_path):
    path = save_npz(tmp_path / "d.npz", x_train=np.zeros((4, 2, 2), np.uint8), y_train=np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=rf"^{path}: array 'x_train' holds 4 images but 'y_train' holds 3 labels"):
        load_dataset(make_config({"source": "npz", "path": path}))
    path = save_npz(tmp_path / "f.npz", x_train=np.full((4, 2, 2), 0.5, np.float32), y_train=np.zeros(4, np.uint8))
    with pytest.raises(DataError, match=r"array 'x_train': expected integer pixel values 0\.\.255"):
        load_dataset(make_config({"source": "npz", "path": path}))


def test_npz_with_an_empty_split(tmp_path):
    path = save_npz(tmp_path / "e.npz", x_train=np.zeros((0, 2, 2), np.uint8), y_train=np.zeros(0, np.uint8))
    with pytest.raises(DataError, match=rf"^{path} \[y_train\]: the train split has no examples$"):
        load_dataset(make_config({"source": "npz", "path": path, "class_names": ["a", "b"]}))


def test_npz_with_pickles_is_refused(tmp_path):
    path = save_npz(tmp_path / "p.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1))
    with pytest.raises(DataError, match=rf"^{path}: holds Python objects"):
        load_dataset(make_config({"source": "npz", "path": path}))


def test_test_label_outside_training_classes_npz(tmp_path):
    path = save_npz(tmp_path / "d.npz", x_train=np.zeros((4, 2, 2), np.uint8), y_train=np.array([0, 1, 0, 1]),
                    x_test=np.zeros((2, 2, 2), np.uint8), y_test=np.array([1, 5]))
    with pytest.raises(DataError, match=rf"^{path} \[y_test\]: index 1: label 5 is not one of the 2 classes"):
        load_dataset(make_config({"source": "npz", "path": path, "validation_split": 0}))


def test_missing_files_and_unused_keys(tmp_path):
    with pytest.raises(DataError, match=r"^nope\.csv: no such file$"):
        load_csv("nope.csv")
    with pytest.raises(DataError, match=r"^nope\.npz: no such file or folder \(--data\)$"):
        load_dataset(make_config(None), data_path="nope.npz")
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.train: not used by source npz"):
        load_dataset(make_config({"source": "npz", "path": "x.npz", "train": "a.csv"}), source="test.yaml")
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.path: required key is missing"):
        load_dataset(make_config({"source": "folder"}), source="test.yaml")
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.train: required key is missing; expected a CSV file"):
        load_dataset(make_config({"source": "csv"}), source="test.yaml")
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(DataError, match=r"unknown kind of data"):
        load_dataset(make_config(None), data_path=str(tmp_path / "x.bin"))


def test_image_shape_disagreeing_with_the_data():
    config = make_config({"source": "npz", "path": "data/mnist_sample.npz", "image_shape": [32, 32, 3]})
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.image_shape: expected the shape of the images in the "
                                          r"data, 28x28x1, received \[32, 32, 3\]$"):
        load_dataset(config, source="test.yaml")


def test_model_must_fit_the_data():
    data = {"source": "npz", "path": "data/mnist_sample.npz", "validation_split": 0}
    ds = load_dataset(make_config(data))
    check_model_fits_data(make_config(data, input_shape=[28, 28, 1], num_classes=10), ds)
    with pytest.raises(ConfigError, match=r"^test\.yaml: model\.num_classes: expected the number of classes in the "
                                          r"data, 10, received 12$"):
        check_model_fits_data(make_config(data, num_classes=12), ds)
    layers = [{"type": "flatten"}, {"type": "dense", "units": 24, "activation": "softmax"}]
    with pytest.raises(ConfigError, match=r"^test\.yaml: model\.layers\[1\]\.units: expected the number of classes "
                                          r"in the data, 10 .*received 24$"):
        check_model_fits_data(make_config(data, layers=layers), ds)
    with pytest.raises(ConfigError, match=r"^test\.yaml: model\.input_shape: expected the shape of the data's images, "
                                          r"\[28, 28, 1\] \(--set model\.input_shape=null to take the data's shape, .*\), "
                                          r"received \[32, 32, 3\]$"):
        check_model_fits_data(make_config(data, input_shape=[32, 32, 3]), ds)


def test_stratified_split_that_cannot_be_made(tmp_path):
    train = write(tmp_path / "t.csv", [HEADER, "0,0,0,0,0", "0,0,0,0,0", "0,0,0,0,0", "1,0,0,0,0"])
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.stratify: cannot split off a validation set"):
        load_csv(train, validation_split=0.5)


def test_errors_are_one_line_cnn_errors(tmp_path):
    path = write(tmp_path / "bad.csv", [HEADER, "0,0,1,2,3", "1,4,5,6,256"])
    with pytest.raises(CnnError) as info:
        load_csv(path)
    assert "\n" not in str(info.value) and info.value.exit_code == 2
