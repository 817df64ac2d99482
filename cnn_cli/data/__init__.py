"""Loading data sets: `load_dataset(config)` reads the source of the `data:` section (or `--data PATH`),
maps label ids to class indices 0..K-1, splits off validation, takes a subset, and gives a `Dataset`.

Sources: Keras' MNIST and Fashion-MNIST (found offline first, see `builtin`), IDX files, CSV files in the
Sign Language MNIST layout, .npz archives, and folders of images. Relative paths are relative to the
current working directory. Nothing here imports TensorFlow; `pipeline` does, inside its functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cnn_cli.data.dataset import ClassMap, Dataset, Raw, RawSplit
from cnn_cli.data.locate import data_for_path
from cnn_cli.data.sources import read_source
from cnn_cli.data.splits import split_validation, subset_positions
from cnn_cli.errors import CnnError, ConfigError, DataError

if TYPE_CHECKING:
    from cnn_cli.config import Config

__all__ = ["ClassMap", "Dataset", "Raw", "RawSplit", "load_dataset"]


def load_dataset(config: Config, *, data_path: str | None = None, subset: int | None = None,
                 source: str = "<config file>") -> Dataset:
    """The data of `config` (or of `data_path`, which replaces the config's source), ready for training.

    `subset` replaces data.subset. `source` names the config file in errors about config values.
    Validation is the source's own split when it has one, else `validation_split` of the training set
    (scikit-learn's train_test_split; none when 0). The subset is taken after that, from every split.
    """
    data, notes = config.data, []
    if data_path is not None:
        data, notes = data_for_path(data, data_path)
    elif data is None:
        raise CnnError(f"{source}: data: no data source; give a data: section or --data PATH")
    raw = read_source(data, source)
    _check_raw(raw, data.image_shape, source)
    class_map = ClassMap.from_labels(raw.train.ids, data.class_names, source)
    splits = {
        name: (split.x, class_map.encode(split.ids, split.origin, row=split.row)) if split is not None else None
        for name, split in (("train", raw.train), ("validation", raw.validation), ("test", raw.test))
    }
    notes = [raw.origin, *notes]
    held = 0.0  # the fraction of the source's training set held out as the test set
    if data.test_split > 0:
        if splits["test"] is not None:
            raise ConfigError(source, "data.test_split", f"the source has a test split of its own ({raw.test.origin}); "
                              "set data.test_split: 0", data.test_split)
        x_train, y_train, x_test, y_test = split_validation(
            *splits["train"], data.test_split, data.split_seed, data.stratify, source, what="test"
        )
        splits["train"], splits["test"], held = (x_train, y_train), (x_test, y_test), data.test_split
        notes.append(f"test: {data.test_split:g} of train split off (seed {data.split_seed}"
                     f"{', stratified' if data.stratify else ''})")
    if splits["validation"] is None and data.validation_split > 0:
        x_train, y_train, x_val, y_val = split_validation(  # a fraction of the source's training set, as test_split
            *splits["train"], data.validation_split / (1 - held), data.split_seed, data.stratify, source
        )
        splits["train"], splits["validation"] = (x_train, y_train), (x_val, y_val)
        notes.append(f"validation: {data.validation_split:g} of train split off (seed {data.split_seed}"
                     f"{', stratified' if data.stratify else ''})")
    count = subset if subset is not None else data.subset
    if count is not None:
        if count <= 0:
            raise ConfigError(source, "data.subset", "expected a positive integer", count)
        splits = {name: _take(pair, count) for name, pair in splits.items()}
        notes.append(f"subset: at most {count} per split, class by class in file order")
    for name, pair in splits.items():
        if pair is not None and len(pair[0]) == 0:
            origin = (getattr(raw, name) or raw.train).origin
            raise DataError(origin, f"the {name} split has no examples")
    (x_train, y_train), val, test = splits["train"], splits["validation"], splits["test"]
    return Dataset(
        x_train=_tidy(x_train), y_train=y_train, x_val=_tidy(val[0]) if val else None, y_val=val[1] if val else None,
        x_test=_tidy(test[0]) if test else None, y_test=test[1] if test else None,
        class_map=class_map, origin="; ".join(notes),
    )


def _take(pair: tuple[np.ndarray, np.ndarray] | None, count: int):
    if pair is None:
        return None
    keep = subset_positions(pair[1], count)
    return pair[0][keep], pair[1][keep]


def _tidy(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.uint8)


def _check_raw(raw: Raw, image_shape: tuple[int, int, int] | None, source: str) -> None:
    """Every split has examples, all of the training images' shape, which is data.image_shape when given."""
    for name, split in (("train", raw.train), ("validation", raw.validation), ("test", raw.test)):
        if split is not None and len(split) == 0:
            raise DataError(split.origin, f"the {name} split has no examples")
    shape = tuple(raw.train.x.shape[1:])
    if image_shape is not None and tuple(image_shape) != shape:
        raise ConfigError(source, "data.image_shape", f"expected the shape of the images in the data, {_dims(shape)}",
                          list(image_shape))
    for split in (raw.validation, raw.test):
        if split is not None and tuple(split.x.shape[1:]) != shape:
            raise DataError(split.origin, f"images are {_dims(split.x.shape[1:])}, the training images {_dims(shape)}")


def _dims(shape) -> str:
    return "x".join(str(d) for d in shape)
