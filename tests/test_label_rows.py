"""Label rows from the data side: multi-label splits by iterative stratification (and the one warning line for
labels a split lacks), a label only the test split has, IDX labels of shape (N, L) and of other number types,
`--data` of a manifest, a manifest's single 0/1 column and its unreadable image named by line. Through
`cnn_cli.data.load_dataset` and the config loader; the bad inputs through the real CLI."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from cnn_cli.config import Config
from cnn_cli.data import load_dataset
from cnn_cli.data.sources import registry
from cnn_cli.errors import DataError
from cnn_cli.resolve import load_config
from tests.run_helpers import MNIST_NPZ

MODEL = {"layers": [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "auto"}]}


def _config(data: dict, task: str | None = "multilabel") -> Config:
    return Config.model_validate({"name": "t", "task": task, "model": MODEL, "data": data})


def _rows(n: int, seed: int = 0) -> np.ndarray:
    """Multi-hot rows of 4 labels: three common, the last on 2 examples only."""
    rows = (np.random.default_rng(seed).random((n, 4)) < 0.3).astype(np.uint8)
    rows[:, 3] = 0
    rows[[5, 17], 3] = 1
    return rows


@pytest.fixture(scope="module")
def rows_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "rows.npz"
    with np.load(MNIST_NPZ) as archive:
        x = archive["x_train"][:200]
    np.savez(path, x_train=x, y_train=_rows(200))
    return path


def test_multilabel_splits_keep_each_label_in_each_split_and_warn_of_a_rare_one(rows_npz, capsys):
    config = _config({"source": "npz", "path": str(rows_npz), "validation_split": 0.2, "test_split": 0.2,
                      "class_names": ["a", "b", "c", "rare"]})
    data = load_dataset(config)
    assert data.labels.dtype == np.uint8 and data.labels.shape == (200, 4)
    assert (len(data.train), len(data.validation), len(data.test)) == (120, 40, 40)
    for split in (data.train, data.validation, data.test):
        share = data.labels[split][:, :3].mean(axis=0)
        assert np.allclose(share, data.labels[:, :3].mean(axis=0), atol=0.03)  # stratified, not merely random
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1
    assert "'rare' (2 examples, none in" in warnings[0] and "for the 3 splits" in warnings[0]
    again = load_dataset(config)
    assert [a.tolist() for a in (again.train, again.validation, again.test)] == [
        a.tolist() for a in (data.train, data.validation, data.test)]  # seeded
    assert "iterative stratification" in data.describe()


def test_a_label_only_the_test_split_has_is_named_by_its_row(tmp_path):
    with np.load(MNIST_NPZ) as archive:
        x = archive["x_train"][:30]
    y = _rows(30)
    y[:, 3] = 0
    test = y[20:].copy()
    test[4, 3] = 1
    np.savez(tmp_path / "d.npz", x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=test)
    with pytest.raises(DataError, match=r"d\.npz \[y_test\]: index 4: label 'label_4' is in the test split only"):
        load_dataset(_config({"source": "npz", "path": str(tmp_path / "d.npz"), "validation_split": 0}))


def _idx(path, magic: int, dims: list[int], body: bytes) -> None:
    with gzip.open(path, "wb") as file:
        file.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body)


def test_idx_labels_of_rows_and_of_floats(tmp_path):
    with np.load(MNIST_NPZ) as archive:
        x = archive["x_train"][:40]
    _idx(tmp_path / "train-images-idx3-ubyte.gz", 0x803, [40, 28, 28], x.tobytes())
    hot = _rows(40)
    _idx(tmp_path / "train-labels-idx2-ubyte.gz", 0x802, [40, 4], hot.tobytes())
    data = load_dataset(_config({"source": "idx", "path": str(tmp_path), "validation_split": 0.25}))
    assert data.labels.shape == (40, 4) and data.labels.dtype == np.uint8
    assert np.array_equal(data.labels, hot)
    section, _ = registry.detect(str(tmp_path / "train-images-idx3-ubyte.gz"), None)  # the idx2 partner is found
    assert section.source == "idx" and section.train.labels.endswith("train-labels-idx2-ubyte.gz")

    floats = tmp_path / "floats"
    floats.mkdir()
    (floats / "train-images-idx3-ubyte.gz").write_bytes((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    targets = np.linspace(-1.5, 2.5, 80).reshape(40, 2).astype(">f4")
    _idx(floats / "train-labels-idx2-ubyte.gz", 0x0D02, [40, 2], targets.tobytes())
    data = load_dataset(_config({"source": "idx", "path": str(floats), "validation_split": 0.25,
                                 "class_names": ["x", "y"]}, task="regression"))
    assert data.labels.dtype == np.float32 and data.labels.shape == (40, 2)
    assert np.allclose(data.labels, targets.astype(np.float32)) and data.class_map.names == ["x", "y"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    with np.load(MNIST_NPZ) as archive:
        x, y = archive["x_train"][:24], archive["y_train"][:24]
    for i, image in enumerate(x):
        Image.fromarray(image).save(folder / f"{i}.png")
    return folder, [int(v) for v in y]


def test_data_path_of_a_manifest_is_detected(pictures, tmp_path):
    folder, labels = pictures
    (folder / "m.csv").write_text("file,digit\n" + "".join(f"{i}.png,{d}\n" for i, d in enumerate(labels)))
    (folder / "m.jsonl").write_text("".join(f'{{"image": "{i}.png", "digit": {d}}}\n' for i, d in enumerate(labels)))
    (tmp_path / "pixels.csv").write_text("label,pixel1\n1,0\n")
    assert registry.detect(str(folder / "m.csv"), None)[0].source == "manifest"
    assert registry.detect(str(folder / "m.jsonl"), None)[0].source == "manifest"
    assert registry.detect(str(tmp_path / "pixels.csv"), None)[0].source == "csv"
    data = load_dataset(_config({"source": "npz", "path": str(MNIST_NPZ), "validation_split": 0}, task=None),
                        data_path=str(folder / "m.csv"))
    assert data.labels.dtype == np.int32 and len(data.images) == 24


def test_a_single_0_1_column_of_a_multilabel_manifest_is_one_label(pictures, write_config):
    folder, labels = pictures
    (folder / "odd.csv").write_text("path,odd\n" + "".join(f"{i}.png,{d % 2}\n" for i, d in enumerate(labels)))
    config = load_config(write_config(f"name: t\ntask: multilabel\nmodel: {{layers: [{{type: flatten}}, {{type: dense, "
                                      f"units: num_classes, activation: auto}}]}}\ndata: {{source: manifest, path: {folder / 'odd.csv'}, "
                                      "validation_split: 0.25}\n"))
    data = load_dataset(config)
    assert data.class_map.names == ["odd"] and data.labels.shape == (24, 1)
    assert data.labels[:, 0].tolist() == [d % 2 for d in labels]


@pytest.mark.parametrize(("text", "extra", "fragment"), [
    ("path,digit\n0.png,a\nbroken.png,b\n", "", "line 3: image {folder}/broken.png: not a readable image"),
    ("path,tags,split\n0.png,a;b,train\n1.png,a,train\n2.png,a;c,test\n", "", "line 4 (2.png): label 'c' is in the "
     "test split only"),
])
def test_bad_manifest_images_and_labels_are_one_line_naming_the_line(runner, pictures, write_config, text, extra,
                                                                     fragment):
    folder, _ = pictures
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "bad.csv").write_text(text)
    config = write_config(f"name: t\n{extra}model: {{layers: [{{type: flatten}}, {{type: dense, units: num_classes, "
                          f"activation: auto}}]}}\ndata: {{source: manifest, path: {folder / 'bad.csv'}, "
                          "validation_split: 0, cache: \"off\"}\n")
    result = runner.invoke(main, ["train", "--config", config, "--run-dir", str(folder / "never")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert errors[0].startswith(f"Error: {folder / 'bad.csv'}: ")
    assert fragment.format(folder=folder) in errors[0], errors[0]


def test_the_shipped_digit_count_sample_reads_as_its_config_says():
    """configs/regression_count.yaml: the multi-label canvases through count.csv, one float32 target each, the
    number of digits on the canvas."""
    from tests.run_helpers import ROOT

    config = load_config(ROOT / "configs" / "regression_count.yaml")
    assert config.task == "regression" and config.train.loss == "huber"
    data = load_dataset(config)
    assert data.labels.dtype == np.float32 and data.labels.shape == (1500, 1) and data.class_map.names == ["count"]
    assert len(data.test) == 300 and len(data.train) + len(data.validation) == 1200
    assert set(data.labels[:, 0].tolist()) == {2.0, 3.0, 4.0}
    multilabel = load_dataset(load_config(ROOT / "configs" / "multilabel_digits.yaml"))
    assert np.array_equal(data.labels[:, 0], multilabel.labels.sum(axis=1))  # the same canvases, counted


def test_relabelling_a_manifest_decodes_nothing_again(pictures, capsys):
    folder, labels = pictures
    manifest = folder / "relabel.csv"
    manifest.write_text("path,digit\n" + "".join(f"{i}.png,{d}\n" for i, d in enumerate(labels)))
    data = {"source": "manifest", "path": str(manifest), "validation_split": 0, "cache": "disk",
            "image_shape": [20, 20, 1]}  # a shape of its own: no other test has these images cached
    first = load_dataset(_config(data, task="classification"))
    assert "Cached 24 images" in capsys.readouterr().out
    manifest.write_text("path,digit\n" + "".join(f"{i}.png,{'odd' if d % 2 else 'even'}\n" for i, d in enumerate(labels)))
    second = load_dataset(_config(data, task="classification"))
    assert "Cached" not in capsys.readouterr().out  # the images came from the cache, the labels from the manifest
    assert second.class_map.names == ["even", "odd"] and np.array_equal(first.images, second.images)
    assert second.labels.tolist() == [d % 2 for d in labels]


def test_class_names_order_a_manifests_labels_and_must_name_them(pictures, write_config):
    folder, labels = pictures
    (folder / "tags.csv").write_text("path,tags\n" + "".join(
        f"{i}.png,{'odd' if d % 2 else 'even'};{'big' if d > 4 else 'small'}\n" for i, d in enumerate(labels)))
    data = {"source": "manifest", "path": str(folder / "tags.csv"), "validation_split": 0.25}
    found = load_dataset(_config(data))
    assert found.class_map.names == ["big", "even", "odd", "small"]  # sorted
    ordered = load_dataset(_config({**data, "class_names": ["small", "big", "even", "odd"]}))
    assert ordered.class_map.names == ["small", "big", "even", "odd"]
    assert np.array_equal(ordered.labels, found.labels[:, [3, 0, 1, 2]])
    with pytest.raises(Exception, match=r"data\.class_names: expected the 4 names the data gives, in any order"):
        load_dataset(_config({**data, "class_names": ["small", "big", "even", "prime"]}))


def test_a_regression_manifest_trains_through_the_cli(runner, pictures, write_config, tmp_path):
    """The task said by the columns (numbers that are not all integers), trained and evaluated in the data's
    units."""
    folder, labels = pictures
    (folder / "size.jsonl").write_text("".join(f'{{"file": "{i}.png", "size": {d / 4 + 0.1:.2f}}}\n'
                                               for i, d in enumerate(labels)))
    config = write_config(f"name: r\nseed: 1\nmodel: {{layers: [{{type: conv2d, filters: 4, kernel_size: 3}}, "
                          f"{{type: global_avg_pool2d}}, {{type: dense, units: num_targets, activation: auto}}]}}\n"
                          f"data: {{source: manifest, path: {folder / 'size.jsonl'}, validation_split: 0.25, "
                          "test_split: 0.25}\ntrain: {epochs: 1, batch_size: 8}\n")
    result = runner.invoke(main, ["train", "--config", config, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "task: regression" in saved and "loss: mse" in saved
    assert "Test mae" in result.output


def test_one_hot_rows_are_class_ids_for_classification_and_labels_for_multilabel(tmp_path):
    with np.load(MNIST_NPZ) as archive:
        x, y = archive["x_train"][:40], archive["y_train"][:40]
    hot = np.eye(12, dtype=np.uint8)[y]  # 12 columns, two of them never 1
    np.savez(tmp_path / "hot.npz", x_train=x, y_train=hot)
    data = {"source": "npz", "path": str(tmp_path / "hot.npz"), "validation_split": 0}
    classes = load_dataset(_config(data, task=None))
    assert classes.labels.ndim == 1 and list(classes.class_map.ids) == sorted(set(y.tolist()))
    rows = load_dataset(_config(data))
    assert rows.labels.shape == (40, 12) and np.array_equal(rows.labels, hot)
