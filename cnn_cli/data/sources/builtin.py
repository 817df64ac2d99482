"""Keras' built-in MNIST and Fashion-MNIST (`source: mnist`, `source: fashion_mnist`), found offline first, downloaded by Keras only as a last resort.

Places looked at, in order (each a folder holding Keras' `mnist.npz` (MNIST only) or the four IDX files
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz;
`data.path` may also name an .npz file):

1. `data.path`, when given;
2. Keras' cache: `$KERAS_HOME/datasets` or `~/.keras/datasets` (`mnist.npz`; `fashion-mnist/*.gz`);
3. for Fashion-MNIST, `/usr/share/datasets/fashion-mnist` (Debian's package `dataset-fashion-mnist`);
4. `keras.datasets.<name>.load_data()`, which downloads into Keras' cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.builtin import FashionMnist, Mnist
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.sources.base import DataSource, expand_user
from cnn_cli.data.sources.idx import find_pairs, idx_row, read_pair
from cnn_cli.data.sources.npz import read_npz
from cnn_cli.errors import CnnError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


class MnistSource(DataSource):
    """Not cached (no files of its own), and never what a `--data PATH` is."""

    schema = Mnist

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        return read_builtin(self.name, expand_user(data.path) if data.path else None)


class FashionMnistSource(MnistSource):
    schema = FashionMnist


def keras_datasets_dir() -> Path:
    """Keras' download cache, as Keras computes it (KERAS_HOME, else ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def places(name: str, path: str | None = None) -> list[Path]:
    """Where `name` is looked for, in order."""
    found = [Path(path).expanduser()] if path else []
    cache = keras_datasets_dir()
    found.append(cache if name == "mnist" else cache / "fashion-mnist")
    if name == "fashion_mnist":
        found.append(DEBIAN_FASHION)
    return found


def read_builtin(name: str, path: str | None = None) -> Raw:
    looked = places(name, path)
    for place in looked:
        raw = _read_at(name, place)
        if raw is not None:
            return raw
    try:
        (x_train, y_train), (x_test, y_test) = download(name)
    except Exception as exc:  # any failure to download means: not available
        raise CnnError(_not_found(name, looked, exc)) from None
    return Raw(
        train=RawSplit(x=np.asarray(x_train)[..., np.newaxis], ids=np.asarray(y_train), origin=f"{name} train"),
        test=RawSplit(x=np.asarray(x_test)[..., np.newaxis], ids=np.asarray(y_test), origin=f"{name} test"),
        origin=f"{name} (keras.datasets, downloaded to {keras_datasets_dir()})",
    )


def download(name: str):
    """Keras' own loader (downloads unless cached); imported only here, as it starts TensorFlow."""
    import keras

    return getattr(keras.datasets, name).load_data()


def _read_at(name: str, place: Path) -> Raw | None:
    if place.is_file() and place.suffix == ".npz":
        return read_npz(str(place), origin=f"{name} from {place}")
    if not place.is_dir():
        return None
    if name == "mnist" and (place / "mnist.npz").is_file():
        return read_npz(str(place / "mnist.npz"), origin=f"{name} from {place / 'mnist.npz'}")
    pairs = find_pairs(place)
    if "train" not in pairs or "test" not in pairs:
        return None
    splits = {}
    for split, (images, labels) in pairs.items():
        x, y = read_pair(images, labels)
        splits[split] = RawSplit(x=x, ids=y, origin=str(labels), row=idx_row)
    return Raw(train=splits["train"], test=splits["test"], origin=f"{name} from {place}")


def _not_found(name: str, looked: list[Path], exc: Exception) -> str:
    title = TITLES[name]
    what = "mnist.npz or the four IDX files" if name == "mnist" else "the four IDX files (train-images-idx3-ubyte.gz, ...)"
    reason = " ".join(str(exc).split())[:160] or type(exc).__name__
    ways = [f"run once with network access (keras.datasets.{name}.load_data() caches it in {keras_datasets_dir()})"]
    if name == "fashion_mnist":
        ways.append("apt-get install dataset-fashion-mnist (IDX files in /usr/share/datasets/fashion-mnist)")
    ways.append(f"put {what} in a folder and give it as data.path")
    return (
        f"{title} is not on this machine and could not be downloaded ({reason}). "
        f"Looked for {what} in: {', '.join(str(p) for p in looked)}. To get it: {'; or '.join(ways)}."
    )
