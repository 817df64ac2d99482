"""`--data PATH`: the `data:` section that reads PATH instead of the config's source, told by its form: each
source says what it takes (`DataSource.detect`), tried in `detect_order`:

- an IDX file (`*-ubyte`, `*.gz` named like train-images-idx3-ubyte.gz): idx, with its partner found by
  name; a `train-` pair also takes the `t10k-` pair beside it as the test split; a folder of IDX files under
  Keras'/Debian's names: idx (train and t10k pairs);
- `*.npz`: npz (the config's npz_keys); a folder with Keras' `mnist.npz`: npz;
- `*.csv`: csv, PATH as the training split; the config's validation and test files are kept when its
  source is csv too and they exist (a missing one is left out, with a note in `Dataset.describe()`);
- any other folder: a folder of class subfolders of images.

Everything else in the config's `data:` section (class names, image shape, splitting, subset, augment) stays.
"""

from __future__ import annotations

from cnn_cli.config.data import DataConfig
from cnn_cli.data.sources import registry


def data_for_path(base: DataConfig | None, data_path: str) -> tuple[DataConfig, list[str]]:
    """The section that reads `data_path`, and notes for `Dataset.describe()`."""
    return registry.detect(data_path, base)
