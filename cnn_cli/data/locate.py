"""`--data PATH`: the `data:` section that reads PATH instead of the config's source, told by its form: each
source says what it takes (`DataSource.detect`), tried in `detect_order`:

- an IDX file (`*-ubyte`, `*.gz` named like train-images-idx3-ubyte.gz): idx, with its partner found by
  name; a `train-` pair also takes the `t10k-` pair beside it as the test split; a folder of IDX files under
  Keras'/Debian's names: idx (train and t10k pairs);
- `*.npz`: npz (the config's npz_keys); a folder with Keras' `mnist.npz`: npz;
- `*.csv`: csv, PATH as the training split; the config's validation and test files are kept when its
  source is csv too and they exist (a missing one is left out, with a note in `Dataset.describe()`);
- any other folder: a folder of class subfolders of images.

PATH replaces the config's whole source: its path and split files, `class_names`, `npz_keys` and
`label_column` describe other data and are dropped (a note names those the config gave). How images are read
and used stays: image shape, resize, bad images, splitting, subset, augment, cache.
"""

from __future__ import annotations

from cnn_cli.config.data import DataConfig
from cnn_cli.data.sources import registry
from cnn_cli.data.sources.base import SOURCE_KEYS


def data_for_path(base: DataConfig | None, data_path: str) -> tuple[DataConfig, list[str]]:
    """The section that reads `data_path`, and notes for `Dataset.describe()` (the first: the config's source
    keys it dropped, if any)."""
    data, notes = registry.detect(data_path, base)
    dropped = [key for key in dropped_keys(base, data) if not any(note.startswith(f"the config's {key[5:]} file")
                                                                  for note in notes)]
    if dropped:
        notes.insert(0, f"--data {data_path} replaces the config's data source: {', '.join(dropped)} not used")
    return data, notes


def dropped_keys(base: DataConfig | None, data: DataConfig) -> list[str]:
    """The keys of the config's source that `data` (the section for --data) no longer has."""
    if base is None:
        return []
    default = DataConfig(source=base.source)
    return [f"data.{key}" for key in SOURCE_KEYS if getattr(base, key) != getattr(data, key)
            and getattr(base, key) != getattr(default, key)]
