"""`--data PATH`: the `data:` section that reads PATH instead of the config's source, told by its form.

- `*.npz`: npz (the config's npz_keys);
- `*.csv`: csv, PATH as the training split; the config's validation and test files are kept when its
  source is csv too and they exist (a missing one is left out, with a note in `Dataset.describe()`);
- an IDX file (`*-ubyte`, `*.gz` named like train-images-idx3-ubyte.gz): idx, with its partner found by
  name; a `train-` pair also takes the `t10k-` pair beside it as the test split;
- a folder of IDX files under Keras'/Debian's names: idx (train and t10k pairs); a folder with Keras'
  `mnist.npz`: npz; any other folder: a folder of class subfolders of images.

Everything else in the config's `data:` section (class names, image shape, splitting, subset, augment) stays.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnn_cli.config.data import DataConfig, IdxPair
from cnn_cli.data.idx import find_pairs, is_idx_name, pair_of
from cnn_cli.errors import DataError


def data_for_path(base: DataConfig | None, data_path: str) -> tuple[DataConfig, list[str]]:
    """The section that reads `data_path`, and notes for `Dataset.describe()`."""
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


def _with(base: DataConfig | None, source: str, **update) -> DataConfig:
    """The config's section with another source: the source keys not given here are cleared."""
    if base is None:
        base = DataConfig(source=source)
    cleared = {"path": None, "train": None, "validation": None, "test": None}
    return base.model_copy(update={**cleared, **update, "source": source})
