"""Loading data sets (`cnn_cli.data.load_dataset`): `load_dataset(config)` reads the source of the `data:` section (or `--data PATH`),
maps label ids to class indices 0..K-1, splits off validation, takes a subset, and gives a `Dataset`.

Sources: Keras' MNIST and Fashion-MNIST (found offline first, see `builtin`), IDX files, CSV files in the
Sign Language MNIST layout, .npz archives, and folders of images. Relative paths are relative to the
current working directory. Nothing here imports TensorFlow; `pipeline` does, inside its functions, and only
for the TensorFlow face.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from cnn_cli import tasks
from cnn_cli.data.arrays import one_hot_ids
from cnn_cli.data.class_map import label_ids
from cnn_cli.data.dataset import ClassMap, Dataset, Raw, RawSplit
from cnn_cli.data.locate import data_for_path
from cnn_cli.data.sources.reading import read_store
from cnn_cli.data.splits import fold_positions, split_positions, subset_positions
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
    for part in store.parts.values():  # one-hot rows of an .npz or IDX file: class ids
        part.ids = one_hot_ids(part.ids)
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
    if splits["validation"] is None and data.validation_split > 0 and data.fold is None:
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
    if data.fold is not None:  # k-fold: one part of the training split validates, after the subset
        fold, train = data.fold, splits["train"]
        kept, held = fold_positions(labels[train], fold.folds, fold.number, data.split_seed, data.stratify, source,
                                    describe=_describer(class_map))
        own = " (the source's own validation split left out)" if splits["validation"] is not None else ""
        splits["train"], splits["validation"] = train[kept], train[held]
        notes.append(f"validation: fold {fold.number} of {fold.folds} of the training split (seed {data.split_seed}"
                     f"{', stratified' if data.stratify else ''}){own}")
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
    (N, T), named by data.class_names, else by the source (a manifest's columns or labels), else label_1.. /
    target_1..; one label id per example makes a multi-hot row of the ids found (a source's single column of 0
    and 1 named by the source: one label). A label of the source's validation or test split that the train
    split never has is an error naming its row. Validation and test are split off seeded: a multi-label set by
    iterative stratification (`data.stratify`), with one warning line for the labels a split lacks; a
    regression set at random."""
    if data.fold is not None:
        raise ConfigError(source, "data.fold", f"k-fold cross-validation is for classification; task: {task} "
                          "validates on data.validation_split or its own validation split", data.fold.model_dump())
    train_part = store.parts["train"]
    first = np.asarray(train_part.ids)
    class_map = None
    single = (task == "multilabel" and first.ndim == 1 and store.names is not None and len(store.names) == 1
              and first.dtype.kind in "iuf" and np.isin(first, (0, 1)).all())  # one 0/1 column: one label
    if first.ndim == 1 and task == "multilabel" and not single:
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
        elif isinstance(names, list) and store.names is not None and len(store.names) == width:
            if sorted(str(n) for n in names) != sorted(store.names):  # the source names them: a list orders them
                raise ConfigError(source, "data.class_names", f"expected the {width} names the data gives, in any "
                                  f"order: {', '.join(store.names)}", names)
            labels = labels[:, [store.names.index(str(n)) for n in names]]
        if isinstance(names, dict):
            names = [names.get(i, names.get(str(i), f"{stem}_{i + 1}")) for i in range(width)]
        if names is not None and len(names) != width:
            raise ConfigError(source, "data.class_names", f"expected {width} names, one per column of the labels",
                              len(names))
        names = list(names) if names is not None else [f"{stem}_{i + 1}" for i in range(width)]
        class_map = ClassMap([(i, n, n) for i, n in enumerate(names)])
    if task == "multilabel":
        _check_trained_labels(store, labels, class_map)
    splits: dict[str, np.ndarray | None] = {name: store.parts[name].positions if name in store.parts else None
                                             for name in SPLITS}
    notes = [store.origin, *notes]
    rng = np.random.default_rng(data.split_seed)
    stratified = task == "multilabel" and data.stratify
    held_share = 0.0
    for name, fraction in (("test", data.test_split), ("validation", data.validation_split)):
        if splits[name] is not None or fraction <= 0:
            continue
        train = splits["train"]
        count = max(1, int(round(len(train) * fraction / (1 - held_share))))
        if count >= len(train):
            raise ConfigError(source, f"data.{name}_split", f"cannot split off a {name} set of {fraction:g} of "
                              f"{len(train)} examples: nothing would be left to train on", fraction)
        if stratified:
            kept, held = multilabel_split(labels[train], count, data.split_seed)
        else:
            order = rng.permutation(len(train))
            kept, held = order[count:], order[:count]
        splits["train"], splits[name] = np.sort(train[kept]), np.sort(train[held])
        held_share += fraction if name == "test" else 0.0
        notes.append(f"{name}: {fraction:g} of train split off (seed {data.split_seed}"
                     f"{', iterative stratification' if stratified else ''})")
    count = subset if subset is not None else data.subset
    if count is not None:
        splits = {name: None if idx is None else idx[:count] for name, idx in splits.items()}
        notes.append(f"subset: at most {count} per split, in file order")
    for name, idx in splits.items():
        if idx is not None and len(idx) == 0:
            raise DataError((store.parts.get(name) or train_part).origin, f"the {name} split has no examples")
    if task == "multilabel":
        line = lacking_labels(labels, splits, class_map.names)
        if line:
            print(f"Warning: {line}", file=sys.stderr, flush=True)
    if store.cache != "memory":
        notes.append(f"images held in {store.cache}")
    return Dataset(images=store.images, labels=labels, train=splits["train"], validation=splits["validation"],
                   test=splits["test"], class_map=class_map, origin="; ".join(notes), skipped=list(store.skipped))


def _check_trained_labels(store, labels: np.ndarray, class_map: ClassMap) -> None:
    """A label that the source's own validation or test split has and its train split never has: DataError
    naming that split's first row with it (a model cannot learn it, and its figures would mean nothing)."""
    trained = labels[store.parts["train"].positions].any(axis=0)
    for name in ("validation", "test"):
        part = store.parts.get(name)
        if part is None or not len(part):
            continue
        unseen = labels[part.positions][:, ~trained]
        if unseen.any():
            row, column = (int(k) for k in np.argwhere(unseen)[0])
            label = class_map.names[int(np.flatnonzero(~trained)[column])]
            raise DataError(part.origin, f"{part.row(row)}: label {label!r} is in the {name} split only; the train "
                            "split has no example of it")


def multilabel_split(rows: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) positions into multi-hot `rows`, `count` held out, by iterative stratification
    (Sechidis et al. 2011; the `iterative-stratification` package's `MultilabelStratifiedShuffleSplit`): each
    label's share as equal in both parts as the examples allow, rarest labels placed first."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit  # imports scikit-learn

    if not rows.any(axis=0).any():  # no label anywhere: nothing to stratify
        order = np.random.default_rng(seed).permutation(len(rows))
        return order[count:], order[:count]
    rows = rows.astype(np.int64)
    if rows.shape[1] == 1:  # one label: it and its absence (the splitter takes two labels or more)
        rows = np.concatenate([rows, 1 - rows], axis=1)
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=count, random_state=seed)
    kept, held = next(splitter.split(np.zeros((len(rows), 1)), rows))
    return np.asarray(kept, dtype=np.int64), np.asarray(held, dtype=np.int64)


def lacking_labels(labels: np.ndarray, splits: dict[str, np.ndarray | None], names: list[str]) -> str:
    """One line naming each label that some split has no example of, its examples and those splits (a label
    with fewer examples than splits cannot be in all of them); empty when every split has every label."""
    present = {name: labels[idx].any(axis=0) for name, idx in splits.items() if idx is not None}
    missing = []
    for index, name in enumerate(names):
        lacking = [split for split, has in present.items() if not has[index]]
        if lacking:
            total = int(sum(labels[idx][:, index].sum() for idx in splits.values() if idx is not None))
            missing.append(f"{name!r} ({total} example{'s' if total != 1 else ''}, none in {', '.join(lacking)})")
    if not missing:
        return ""
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return f"{'label' if len(missing) == 1 else 'labels'} with too few examples for the {len(present)} splits: {shown}"


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
