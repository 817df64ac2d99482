"""Reading the source a `data:` section names: one reader per kind, all giving `Raw` splits."""

from __future__ import annotations

import os
from pathlib import Path

from cnn_cli.config.data import DataConfig, IdxPair, check_data
from cnn_cli.data.builtin import read_builtin
from cnn_cli.data.csv_source import read_csv_split
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.folder import read_folder
from cnn_cli.data.idx import find_pairs, pair_of, read_pair
from cnn_cli.data.npz import read_npz
from cnn_cli.errors import ConfigError, DataError


def expand(path: str) -> str:
    """A config path as used: `~` expanded, relative paths left relative to the working directory."""
    return os.path.expanduser(path)


def read_source(data: DataConfig, source: str = "<config file>") -> Raw:
    check_data(data, source)
    path = expand(data.path) if data.path else None
    if data.source in ("mnist", "fashion_mnist"):
        return read_builtin(data.source, path)
    if data.source == "npz":
        return read_npz(path, data.npz_keys)
    if data.source == "folder":
        return read_folder(path, data.image_shape, source)
    if data.source == "csv":
        return _read_csv(data, path)
    return _read_idx(data, path, source)


def _read_csv(data: DataConfig, path: str | None) -> Raw:
    files = {"train": data.train or path, "validation": data.validation, "test": data.test}
    splits = {
        split: read_csv_split(expand(file), data.label_column, data.image_shape) if file else None
        for split, file in files.items()
    }
    named = ", ".join(f"{split} {expand(file)}" for split, file in files.items() if file)
    return Raw(train=splits["train"], validation=splits["validation"], test=splits["test"], origin=f"csv: {named}")


def _read_idx(data: DataConfig, path: str | None, source: str) -> Raw:
    pairs: dict[str, tuple[Path, Path]] = {}
    if data.train is None and Path(path).is_file():
        pairs["train"] = _pair(path, "data.path", source)
    elif data.train is None:
        if not Path(path).is_dir():
            raise DataError(path, "no such file or folder")
        pairs = find_pairs(Path(path))
        if "train" not in pairs:
            raise DataError(path, "no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] in this folder")
    for split in ("train", "validation", "test"):
        value = getattr(data, split)
        if value is not None:
            pairs[split] = _pair(value, f"data.{split}", source)
    splits = {}
    for split, (images, labels) in pairs.items():
        x, y = read_pair(images, labels)
        splits[split] = RawSplit(x=x, ids=y, origin=str(labels), row=lambda i: f"item {i + 1}")
    named = ", ".join(f"{split} {images}" for split, (images, _) in pairs.items())
    return Raw(train=splits["train"], validation=splits.get("validation"), test=splits.get("test"), origin=f"idx: {named}")


def _pair(value: str | IdxPair, key: str, source: str) -> tuple[Path, Path]:
    if isinstance(value, IdxPair):
        return Path(expand(value.images)), Path(expand(value.labels))
    file = Path(expand(value))
    if not file.is_file():
        raise DataError(value, "no such file" if not file.exists() else "not a file")
    pair = pair_of(file)
    if pair is None:
        raise ConfigError(
            source, key, "expected {images: FILE, labels: FILE}, or one IDX file whose partner has the same name "
            "with images/labels and idx3/idx1 swapped, beside it", value,
        )
    return pair
