"""Loading data sets (`cnn_cli.data.load_dataset`): `load_dataset(config)` reads the source of the `data:` section (or `--data PATH`),
maps label ids to class indices 0..K-1, splits off validation, takes a subset, and gives a `Dataset`.

Sources: Keras' MNIST and Fashion-MNIST (found offline first, see `builtin`), IDX files, CSV files in the
Sign Language MNIST layout, .npz archives, and folders of images. Relative paths are relative to the
current working directory. Nothing here imports TensorFlow; `pipeline` does, inside its functions, and only
for the TensorFlow face.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cnn_cli import tasks
from cnn_cli.data.class_map import label_ids
from cnn_cli.data.dataset import ClassMap, Dataset, Raw, RawSplit
from cnn_cli.data.locate import data_for_path
from cnn_cli.data.sources.reading import read_store
from cnn_cli.data.splits import split_positions, subset_positions
from cnn_cli.data.store import SPLITS
from cnn_cli.errors import CnnError, ConfigError, DataError

if TYPE_CHECKING:
    from cnn_cli.config import Config

__all__ = ["ClassMap", "Dataset", "Raw", "RawSplit", "load_dataset"]


def _describer(class_map: ClassMap):
    """`class 'ankle boot' (id 9)`: a class named in the errors of a split, by its index."""
    entries = class_map.entries

    def describe(index: int) -> str:
        _, label_id, name = entries[index]
        return f"class {name!r} (id {label_id})" if str(name) != str(label_id) else f"class {label_id!r}"

    return describe


def load_dataset(config: Config, *, data_path: str | None = None, subset: int | None = None,
                 source: str = "<config file>") -> Dataset:
    """The data of `config` (or of `data_path`, which replaces the config's source), ready for training.

    `subset` replaces data.subset. `source` names the config file in errors about config values.
    Validation is the source's own split when it has one, else `validation_split` of the training set
    (scikit-learn's train_test_split; none when 0). The subset is taken after that, from every split.
    The images are held once (`store.py`); the splits are index arrays into them.
    """
    data, notes = config.data, []
    if data_path is not None:
        data, notes = data_for_path(data, data_path)
    elif data is None:
        raise CnnError(f"{source}: data: no data source; give a data: section or --data PATH")
    store = read_store(data, source, check=lambda raw: _check_raw(raw, data.image_shape, source))
    train_part = store.parts["train"]
    if len(train_part) == 0:
        raise DataError(train_part.origin, "the train split has no examples")
    task = tasks.of(config)
    if task.SEVERAL:  # label rows: multilabel, regression
        return _rows_dataset(store, data, task.NAME, subset, source, notes)
    if np.asarray(train_part.ids).ndim == 2:
        raise DataError(train_part.origin, f"labels of shape {tuple(np.asarray(train_part.ids).shape)}: several labels "
                        "or numbers per example; set task: multilabel or task: regression")
    label_ids(train_part.ids, train_part.origin, row=train_part.row)  # a label that is no class id: the data's fault
    class_map = ClassMap.from_labels(train_part.ids, data.class_names, source)
    labels = np.zeros(len(store.images), dtype=np.int32)  # rows of skipped files stay 0, in no split
    for part in store.parts.values():
        labels[part.positions] = class_map.encode(part.ids, part.origin, row=part.row)
    splits: dict[str, np.ndarray | None] = {name: store.parts[name].positions if name in store.parts else None
                                             for name in SPLITS}
    notes = [store.origin, *notes]
    held_share = 0.0  # the fraction of the source's training set held out as the test set
    if data.test_split > 0:
        if splits["test"] is not None:
            raise ConfigError(source, "data.test_split", f"the source has a test split of its own "
                              f"({store.parts['test'].origin}); set data.test_split: 0", data.test_split)
        train = splits["train"]
        kept, held = split_positions(labels[train], data.test_split, data.split_seed, data.stratify, source, "test",
                                     describe=_describer(class_map))
        splits["train"], splits["test"], held_share = train[kept], train[held], data.test_split
        notes.append(f"test: {data.test_split:g} of train split off (seed {data.split_seed}"
                     f"{', stratified' if data.stratify else ''})")
    if splits["validation"] is None and data.validation_split > 0:
        train = splits["train"]  # a fraction of the source's training set, as test_split
        kept, held = split_positions(labels[train], data.validation_split / (1 - held_share), data.split_seed,
                                     data.stratify, source, describe=_describer(class_map))
        splits["train"], splits["validation"] = train[kept], train[held]
        notes.append(f"validation: {data.validation_split:g} of train split off (seed {data.split_seed}"
                     f"{', stratified' if data.stratify else ''})")
    count = subset if subset is not None else data.subset
    if count is not None:
        if count <= 0:
            raise ConfigError(source, "data.subset", "expected a positive integer", count)
        splits = {name: None if idx is None else idx[subset_positions(labels[idx], count)] for name, idx in splits.items()}
        notes.append(f"subset: at most {count} per split, class by class in file order")
    for name, idx in splits.items():
        if idx is not None and len(idx) == 0:
            origin = (store.parts.get(name) or train_part).origin
            raise DataError(origin, f"the {name} split has no examples")
    if store.skipped:
        notes.append(f"skipped {len(store.skipped)} unreadable image file{'s' if len(store.skipped) != 1 else ''} "
                     "(data.bad_images: skip)")
    if store.cache != "memory":
        notes.append(f"images held in {store.cache}")
    return Dataset(images=store.images, labels=labels, train=splits["train"], validation=splits["validation"],
                   test=splits["test"], class_map=class_map, origin="; ".join(notes), skipped=list(store.skipped))


def _rows_dataset(store, data, task: str, subset: int | None, source: str, notes: list[str]) -> Dataset:
    """A multi-label or regression data set: labels one row per example, multi-hot uint8 (N, L) or float32
    (N, T), named by data.class_names (else label_1.. / target_1..; one label id per example makes a multi-hot
    row of the ids found). Validation and test are split off at random (seeded)."""
    train_part = store.parts["train"]
    first = np.asarray(train_part.ids)
    class_map = None
    if first.ndim == 1 and task == "multilabel":
        label_ids(first, train_part.origin, row=train_part.row)
        class_map = ClassMap.from_labels(first, data.class_names, source)
    width = len(class_map) if class_map is not None else (first.shape[1] if first.ndim == 2 else 1)
    dtype = np.uint8 if task == "multilabel" else np.float32
    labels = np.zeros((len(store.images), width), dtype=dtype)
    for part in store.parts.values():
        ids = np.asarray(part.ids)
        if class_map is not None:
            labels[part.positions] = np.eye(width, dtype=dtype)[class_map.encode(ids, part.origin, row=part.row)]
            continue
        rows = ids.reshape(len(ids), -1)
        if rows.shape[1] != width:
            raise DataError(part.origin, f"labels of {rows.shape[1]} columns, the train split's have {width}")
        try:
            values = rows.astype(np.float64)
        except (TypeError, ValueError):
            bad = next(i for i, row in enumerate(rows) if not _numbers(row))
            raise DataError(part.origin, f"{part.row(bad)}: expected numbers as {task} labels, found "
                            f"{', '.join(repr(v) for v in rows[bad])}") from None
        if not np.isfinite(values).all():
            bad = int(np.argwhere(~np.isfinite(values))[0][0])
            raise DataError(part.origin, f"{part.row(bad)}: a label that is not a finite number")
        if task == "multilabel" and not np.isin(values, (0, 1)).all():
            bad = int(np.argwhere(~np.isin(values, (0, 1)))[0][0])
            raise DataError(part.origin, f"{part.row(bad)}: expected 0 or 1 for each label (multi-hot rows)")
        labels[part.positions] = values.astype(dtype)
    if class_map is None:
        stem = "label" if task == "multilabel" else "target"
        names = data.class_names
        if names is None and store.names is not None and len(store.names) == width:
            names = store.names  # the source's: a manifest's label or target columns
        if isinstance(names, dict):
            names = [names.get(i, names.get(str(i), f"{stem}_{i + 1}")) for i in range(width)]
        if names is not None and len(names) != width:
            raise ConfigError(source, "data.class_names", f"expected {width} names, one per column of the labels",
                              len(names))
        names = list(names) if names is not None else [f"{stem}_{i + 1}" for i in range(width)]
        class_map = ClassMap([(i, n, n) for i, n in enumerate(names)])
    splits: dict[str, np.ndarray | None] = {name: store.parts[name].positions if name in store.parts else None
                                             for name in SPLITS}
    notes = [store.origin, *notes]
    rng = np.random.default_rng(data.split_seed)
    held_share = 0.0
    for name, fraction in (("test", data.test_split), ("validation", data.validation_split)):
        if splits[name] is not None or fraction <= 0:
            continue
        train = splits["train"]
        order = rng.permutation(len(train))
        count = max(1, int(round(len(train) * fraction / (1 - held_share))))
        splits["train"], splits[name] = np.sort(train[order[count:]]), np.sort(train[order[:count]])
        held_share += fraction if name == "test" else 0.0
        notes.append(f"{name}: {fraction:g} of train split off (seed {data.split_seed})")
    count = subset if subset is not None else data.subset
    if count is not None:
        splits = {name: None if idx is None else idx[:count] for name, idx in splits.items()}
        notes.append(f"subset: at most {count} per split, in file order")
    for name, idx in splits.items():
        if idx is not None and len(idx) == 0:
            raise DataError((store.parts.get(name) or train_part).origin, f"the {name} split has no examples")
    if store.cache != "memory":
        notes.append(f"images held in {store.cache}")
    return Dataset(images=store.images, labels=labels, train=splits["train"], validation=splits["validation"],
                   test=splits["test"], class_map=class_map, origin="; ".join(notes), skipped=list(store.skipped))


def _numbers(row) -> bool:
    try:
        np.asarray(row).astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


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
