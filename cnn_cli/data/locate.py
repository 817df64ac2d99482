"""`--data PATH`: the `data:` section that reads PATH instead of the config's source, told by its form.

- `*.npz`: npz (the config's npz_keys);
- `*.csv`: csv, PATH as the training split; the config's validation and test files are kept when its
  source is csv too and they exist (a missing one is left out, with a note in `Dataset.describe()`);
- an IDX file (`*-ubyte`, `*.gz` named like train-images-idx3-ubyte.gz): idx, with its partner found by
  name; a `train-` pair also takes the `t10k-` pair beside it as the test split;
- a folder of IDX files under Keras'/Debian's names: idx (train and t10k pairs); a folder with Keras'
  `mnist.npz`: npz; any other folder: a folder of class subfolders of images.

PATH replaces the config's whole source: its path and split files, `class_names`, `npz_keys` and
`label_column` describe other data and are dropped (a note names those the config gave). How images are read
and used stays: image shape, resize, bad images, splitting, subset, augment, cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnn_cli.config.data import DataConfig, IdxPair
from cnn_cli.data.idx import find_pairs, is_idx_name, pair_of
from cnn_cli.errors import DataError


def data_for_path(base: DataConfig | None, data_path: str) -> tuple[DataConfig, list[str]]:
    """The section that reads `data_path`, and notes for `Dataset.describe()` (the first: the config's source
    keys it dropped, if any)."""
    data, notes = _for_path(base, data_path)
    dropped = [key for key in dropped_keys(base, data) if not any(note.startswith(f"the config's {key[5:]} file")
                                                                  for note in notes)]
    if dropped:
        notes.insert(0, f"--data {data_path} replaces the config's data source: {', '.join(dropped)} not used")
    return data, notes


def _for_path(base: DataConfig | None, data_path: str) -> tuple[DataConfig, list[str]]:
    path = Path(os.path.expanduser(data_path))
    notes: list[str] = []
    if not path.exists():
        raise DataError(data_path, "no such file or folder (--data)")
    if path.is_dir():
        pairs = find_pairs(path)
        if "train" in pairs:
            return _idx(base, pairs["train"], pairs.get("test")), notes
        if (path / "mnist.npz").is_file():
            return _with(base, source="npz", path=str(path / "mnist.npz")), notes
        return _with(base, source="folder", path=data_path), notes
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _with(base, source="npz", path=data_path), notes
    if suffix == ".csv":
        kept = {}
        if base is not None and base.source == "csv":
            for key in ("validation", "test"):
                file = getattr(base, key)
                if isinstance(file, str) and Path(os.path.expanduser(file)).is_file():
                    kept[key] = file
                elif file is not None:
                    notes.append(f"the config's {key} file {file} is not there and not used")
        return _with(base, source="csv", train=data_path, **kept), notes
    if is_idx_name(path):
        pair = pair_of(path)
        if pair is None:
            raise DataError(data_path, "an IDX file whose partner (images <-> labels, idx3 <-> idx1) is not beside it; "
                            "give the folder that holds both")
        test = find_pairs(path.parent).get("test") if path.name.startswith("train") else None
        return _idx(base, pair, test), notes
    raise DataError(data_path, "unknown kind of data; expected an .npz or .csv file, IDX files or a folder of images")


def _idx(base: DataConfig | None, train: tuple[Path, Path], test: tuple[Path, Path] | None) -> DataConfig:
    def pair(files):
        return IdxPair(images=str(files[0]), labels=str(files[1])) if files else None

    return _with(base, source="idx", train=pair(train), test=pair(test))


# The keys that describe the config's own data, which another source does not share.
SOURCE_KEYS = ("path", "train", "validation", "test", "class_names", "npz_keys", "label_column")


def _with(base: DataConfig | None, source: str, **update) -> DataConfig:
    """The config's section with another source: the source keys not given here are cleared."""
    if base is None:
        return DataConfig(source=source, **update)
    default = DataConfig(source=source)
    cleared = {key: getattr(default, key) for key in SOURCE_KEYS}
    return base.model_copy(update={**cleared, **update, "source": source})


def dropped_keys(base: DataConfig | None, data: DataConfig) -> list[str]:
    """The keys of the config's source that `data` (the section for --data) no longer has."""
    if base is None:
        return []
    return [f"data.{key}" for key in SOURCE_KEYS if getattr(base, key) != getattr(data, key)
            and getattr(base, key) != getattr(DataConfig(source=base.source), key)]
