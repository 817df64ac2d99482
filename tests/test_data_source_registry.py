"""Data sources are a registry: the built-in kinds are found without being listed, and a source written
outside the package (`tests/npy_folder_source.py`: its schema and its reader) is one `register` away from
configs, `--data`, the cache and `cnn train`."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from cnn_cli.cli import main
from cnn_cli.commands.schema import config_schema
from cnn_cli.config.sources import registry as schemas
from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.data import load_dataset
from cnn_cli.data.locate import data_for_path
from cnn_cli.data.sources import registry
from cnn_cli.errors import ConfigError
from cnn_cli.resolve import config_from_dict
from tests.conftest import load_config_dict
from tests.npy_folder_source import NpyFolderSource

BUILT_IN = ["mnist", "fashion_mnist", "npz", "idx", "csv", "folder", "manifest"]
LAYERS = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]


def config(data: dict):
    return config_from_dict({"name": "t", "model": {"layers": LAYERS}, "data": data}, "test.yaml")


@pytest.fixture
def npy_source():
    registry.register(NpyFolderSource)
    try:
        yield
    finally:
        registry.unregister("npy_folder")


@pytest.fixture
def npy_folder(tmp_path):
    """Three classes of 28x28 grayscale .npy images, ten each, the class's index in every pixel."""
    folder = tmp_path / "npy"
    for index, name in enumerate(("cat", "dog", "fox")):
        (folder / name).mkdir(parents=True)
        for k in range(10):
            np.save(folder / name / f"{k:02d}.npy", np.full((28, 28), index * 80 + k, dtype=np.uint8))
    return folder


def test_the_built_in_sources_are_found_in_their_modules():
    assert schemas.names() == BUILT_IN and registry.names() == BUILT_IN
    assert {name: type(registry.lookup(name)).__module__.rsplit(".", 1)[1] for name in BUILT_IN} == {
        "mnist": "builtin", "fashion_mnist": "builtin", "npz": "npz", "idx": "idx", "csv": "csv", "folder": "folder",
        "manifest": "manifest"}
    assert config_schema()["$defs"]["DataConfig"]["properties"]["source"]["enum"] == BUILT_IN


def test_a_registered_source_is_a_config_source(npy_source, npy_folder):
    data = config({"source": "npy_folder", "path": str(npy_folder), "validation_split": 0.2}).data
    assert data.source == "npy_folder"
    assert "npy_folder" in config_schema()["$defs"]["DataConfig"]["properties"]["source"]["enum"]
    with pytest.raises(ConfigError, match=r"^test\.yaml: data\.path: required key is missing; expected a folder of "
                       r"class subfolders of \.npy images for source npy_folder"):
        load_dataset(config({"source": "npy_folder"}))
    with pytest.raises(ConfigError, match=r"data\.train: not used by source npy_folder; the splits come from the class"):
        config({"source": "npy_folder", "path": str(npy_folder), "train": "x.csv"})


def test_a_registered_source_loads_splits_and_caches(npy_source, npy_folder):
    for cache in ("off", "disk", "disk"):  # the second disk run opens the cache the first built
        dataset = load_dataset(config({"source": "npy_folder", "path": str(npy_folder), "cache": cache}))
        assert dataset.class_map.names == ["cat", "dog", "fox"]
        assert (len(dataset.train), len(dataset.validation), dataset.test) == (24, 6, None)
        assert dataset.input_shape == (28, 28, 1)
        assert np.array_equal(dataset.images[:, 0, 0, 0] // 80, dataset.labels)
        assert isinstance(dataset.images, np.memmap) == (cache == "disk")


def test_a_registered_source_is_detected_from_data_path(npy_source, npy_folder, tmp_path):
    data, _ = data_for_path(config({"source": "mnist"}).data, str(npy_folder))
    assert (data.source, data.path) == ("npy_folder", str(npy_folder))
    empty = tmp_path / "images"
    (empty / "a").mkdir(parents=True)
    assert data_for_path(None, str(empty))[0].source == "folder"  # no .npy files: any other folder is an image folder


def test_an_unregistered_source_is_refused(npy_folder):
    with pytest.raises(ConfigError, match=r"data\.source: expected 'mnist', 'fashion_mnist', 'npz', 'idx', 'csv', "
                       r"'folder' or 'manifest', received 'npy_folder'"):
        config({"source": "npy_folder", "path": str(npy_folder)})


def test_keys_of_its_own_need_a_module_of_the_package():
    class Keyed(SourceSchema):
        name = "keyed"
        depth: int = 3

    class KeyedSource(NpyFolderSource):
        schema = Keyed

    with pytest.raises(ValueError, match="keys of its own"):
        registry.register(KeyedSource)
    assert "keyed" not in schemas.names()


def test_cnn_train_reads_a_registered_source(npy_source, npy_folder, runner, write_config, tmp_path):
    raw = load_config_dict("mnist")
    raw["model"].update(num_classes=3, layers=[*raw["model"]["layers"][:-1], {"type": "dense", "units": 3, "activation": "softmax"}])
    raw["data"] = {"source": "npy_folder", "path": str(npy_folder), "validation_split": 0.2}
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", write_config(raw), "--epochs", "1", "--run-dir", str(run)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"data: npy folder {npy_folder}" in result.output and "train 24, validation 6, test none" in result.output
    written = yaml.safe_load((run / "config.yaml").read_text())
    assert written["data"]["source"] == "npy_folder" and written["data"]["path"] == str(npy_folder)
