"""Starting weights from a file, by layer name and weight shapes (`model.weights` and `--init-from`).

`read_weights` reads a weights file into {layer name: its arrays, in the layer's weight order} with h5py,
building no model and deserializing nothing:

- Keras 3's `.weights.h5` (and the `model.weights.h5` inside a `.keras` archive): the groups under
  `layers/` (nested models' `layers/` opened), each layer's arrays in `vars/0, 1, ...`, its name in the
  `vars` group's `name` attribute (else the group's key);
- legacy `.h5` (Keras 2's weight files, as keras.applications publishes them, and `model.save("m.h5")`'s
  `model_weights`): the `layer_names` attribute, each layer's `weight_names`. A layer name with `/` (Keras 2's
  DenseNet `conv1/conv`) reads as Keras 3 names it (`conv1_conv`); a nested model's weights
  (`stem/stem_conv/kernel`) go to the inner layer they name.

`load_matching` sets each of the model's layers with weights from the arrays of the same name when their
number and shapes agree; the others (a classifier for another class count, a first convolution for other
channels) keep their fresh weights. `tell` says both in two lines, each list capped.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError, short_reason
from cnn_cli.model.file_safety import check_declared_sizes

SHOWN = 8  # layer names listed per line; the rest are counted
Arrays = dict[str, list[np.ndarray]]


class Declared:
    """An array of a weights file that was not read: its shape did not match the layer of its name (or no
    layer has its name), so only the shape its header declares is known."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)


def read_weights(path: str | Path, key: str = "model.weights", wanted: dict[str, list[tuple]] | None = None) -> Arrays:
    """The arrays of `path` (.weights.h5, legacy .h5 or .keras) by layer name; a file that is none of
    those is one line naming `key` and the file. With `wanted` ({layer name: its weight shapes}), a layer's
    arrays are read only when their declared shapes are those; the others are `Declared` shapes, never read
    (a damaged header may declare terabytes)."""
    path = Path(path)
    try:
        with _opened(path) as f:
            return _read(f, path, key, wanted)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, RuntimeError) as exc:
        raise CnnError(f"{key}: {path}: cannot be read as Keras weights ({type(exc).__name__}: "
                       f"{short_reason(exc)})") from None


def _opened(path: Path):
    """The HDF5 file of `path` (the model.weights.h5 inside a .keras archive, checked for its declared sizes
    before it is read into memory)."""
    import h5py

    if path.name.endswith(".keras"):

        with zipfile.ZipFile(path) as archive:
            check_declared_sizes(path, archive)
            data = io.BytesIO(archive.read("model.weights.h5"))
        return h5py.File(data, "r")
    return h5py.File(path, "r")


def declared_bytes(path: str | Path) -> tuple[int, str, tuple[int, ...]]:
    """(bytes in all, the largest array's name, its shape) that the arrays of a weights file declare, from
    their headers only (nothing is read)."""
    import h5py

    total, largest = 0, (0, "", ())

    def visit(name, item):
        nonlocal total, largest
        if isinstance(item, h5py.Dataset):
            size = math.prod(item.shape or ()) * item.dtype.itemsize
            total += size
            largest = max(largest, (size, name, tuple(item.shape or ())))

    with _opened(Path(path)) as f:
        f.visititems(visit)
    return total, largest[1], largest[2]


def _read(f, path: Path, key: str, wanted: dict[str, list[tuple]] | None = None) -> Arrays:
    found: Arrays = {}
    if "layer_names" in f.attrs:
        _legacy(f, found)
    elif "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        _legacy(f["model_weights"], found)
    elif "layers" in f:
        _keras3(f["layers"], found)
    else:
        raise CnnError(f"{key}: {path}: not a Keras weights file (no layers/ group and no layer_names)")
    return {name: _load(datasets, wanted.get(name) if wanted is not None else None, wanted is not None)
            for name, datasets in found.items()}


def _load(datasets: list, shapes: list[tuple] | None, selective: bool) -> list:
    """The arrays of one layer, read; or, when only `shapes` are wanted and these are not they, their
    declared shapes."""
    declared = [tuple(d.shape or ()) for d in datasets]
    if selective and declared != [tuple(s) for s in (shapes or [])]:
        return [Declared(shape) for shape in declared]
    return [np.asarray(d) for d in datasets]


def _keras3(group, found: dict[str, list]) -> None:
    for child_key in group:
        child = group[child_key]
        if "layers" in child:  # a nested model
            _keras3(child["layers"], found)
        variables = child.get("vars")
        if variables is not None and len(variables):
            name = _text(variables.attrs.get("name", child_key))
            found[name] = [variables[k] for k in sorted(variables, key=int)]


def _legacy(group, found: dict[str, list]) -> None:
    for layer_name in (_text(n) for n in group.attrs["layer_names"]):
        layer = group[layer_name]
        for weight_name in (_text(n) for n in layer.attrs.get("weight_names", [])):
            scope = weight_name.rsplit("/", 1)[0] if "/" in weight_name else layer_name
            own = scope == layer_name or scope.endswith("/" + layer_name)
            target = layer_name if own else scope.rsplit("/", 1)[-1]
            found.setdefault(target.replace("/", "_"), []).append(layer[weight_name])


def load_matching(model, source: Arrays) -> tuple[list[str], list[str]]:
    """(loaded, left): the names of `model`'s layers with weights that were set from `source`'s arrays of
    the same name (same number and shapes), and those that were not, each with the reason."""
    loaded, left = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = source.get(layer.name)
        if arrays is None:
            left.append(f"{layer.name} (not in the source)")
            continue
        mine = [tuple(w.shape) for w in layer.weights]
        theirs = [tuple(a.shape) for a in arrays]
        if mine != theirs:
            left.append(f"{layer.name} (shapes {_shapes(mine)}, source {_shapes(theirs)})")
            continue
        layer.set_weights(arrays)
        if hasattr(layer, "finalize_state"):  # an adapted Normalization makes its mean and variance from them
            layer.finalize_state()
        loaded.append(layer.name)
    return loaded, left


def tell(loaded: list[str], left: list[str], origin: str, echo: Callable[[str], None]) -> None:
    """Two lines: the layers loaded from `origin`, and those left as initialized."""
    echo(f"Initialized {len(loaded)} of {len(loaded) + len(left)} layers with weights from {origin}: {_capped(loaded)}")
    if left:
        echo(f"Left as initialized ({len(left)}): {_capped(left)}")


def scale_variance(model, factors: dict[str, tuple[float, ...]]) -> None:
    """Multiplies the variance (second weight) of the named `normalization` layers by per-channel factors."""
    for name, by in factors.items():
        layer = model.get_layer(name)
        mean, variance, *rest = layer.get_weights()
        layer.set_weights([mean, (variance * np.asarray(by, dtype=variance.dtype)).astype(variance.dtype), *rest])
        layer.finalize_state()


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _shapes(shapes: list[tuple]) -> str:
    return ", ".join("x".join(str(d) for d in s) for s in shapes)


def _capped(names: list[str]) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
