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
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError, short_reason

SHOWN = 8  # layer names listed per line; the rest are counted
Arrays = dict[str, list[np.ndarray]]


def read_weights(path: str | Path, key: str = "model.weights") -> Arrays:
    """The arrays of `path` (.weights.h5, legacy .h5 or .keras) by layer name; a file that is none of
    those is one line naming `key` and the file."""
    import h5py

    path = Path(path)
    try:
        if path.name.endswith(".keras"):
            with zipfile.ZipFile(path) as archive:
                data = io.BytesIO(archive.read("model.weights.h5"))
            with h5py.File(data, "r") as f:
                return _read(f, path, key)
        with h5py.File(path, "r") as f:
            return _read(f, path, key)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise CnnError(f"{key}: {path}: cannot be read as Keras weights ({type(exc).__name__}: "
                       f"{short_reason(exc)})") from None


def _read(f, path: Path, key: str) -> Arrays:
    found: Arrays = {}
    if "layer_names" in f.attrs:
        _legacy(f, found)
    elif "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        _legacy(f["model_weights"], found)
    elif "layers" in f:
        _keras3(f["layers"], found)
    else:
        raise CnnError(f"{key}: {path}: not a Keras weights file (no layers/ group and no layer_names)")
    return found


def _keras3(group, found: Arrays) -> None:
    for child_key in group:
        child = group[child_key]
        if "layers" in child:  # a nested model
            _keras3(child["layers"], found)
        variables = child.get("vars")
        if variables is not None and len(variables):
            name = _text(variables.attrs.get("name", child_key))
            found[name] = [np.asarray(variables[k]) for k in sorted(variables, key=int)]


def _legacy(group, found: Arrays) -> None:
    for layer_name in (_text(n) for n in group.attrs["layer_names"]):
        layer = group[layer_name]
        for weight_name in (_text(n) for n in layer.attrs.get("weight_names", [])):
            scope = weight_name.rsplit("/", 1)[0] if "/" in weight_name else layer_name
            own = scope == layer_name or scope.endswith("/" + layer_name)
            target = layer_name if own else scope.rsplit("/", 1)[-1]
            found.setdefault(target.replace("/", "_"), []).append(np.asarray(layer[weight_name]))


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
