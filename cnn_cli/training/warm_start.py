"""A warm start (`cnn train --config X --init-from RUN_DIR`): a new run whose layers start from another run's
model wherever a layer of the same name has weights of the same shapes; every other layer keeps its fresh
initial weights. What was loaded and what was left is said in two lines, each list capped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cnn_cli import rundir as R
from cnn_cli.errors import CnnError

SHOWN = 8  # layer names listed per line; the rest are counted


def check_source(run_dir: str | Path) -> None:
    """Before TensorFlow starts: `run_dir` is a run directory with a model to start from."""
    from cnn_cli.readers.run_reader import read_run

    run = read_run(run_dir)
    model = R.run_file(run.path, R.MODEL)
    if not model.is_file():
        raise CnnError(f"--init-from {run_dir}: {model} is missing (the run's status is {run.status!r}); "
                       "a run gets its model when it completes")


def matching_layers(model, source) -> tuple[list[str], list[str]]:
    """(loaded, left): the names of `model`'s layers with weights whose weights were set from the layer of the
    same name in `source` (same number and shapes of weights), and those that were not, with the reason."""
    by_name = {layer.name: layer for layer in source.layers}
    loaded, left = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        other = by_name.get(layer.name)
        if other is None:
            left.append(f"{layer.name} (not in the source model)")
            continue
        mine = [tuple(w.shape) for w in layer.weights]
        theirs = [tuple(w.shape) for w in other.weights]
        if mine != theirs:
            left.append(f"{layer.name} (shapes {_shapes(mine)}, source {_shapes(theirs)})")
            continue
        layer.set_weights(other.get_weights())
        loaded.append(layer.name)
    return loaded, left


def warm_start(model, run_dir: str | Path, echo: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """Sets `model`'s matching layers from `run_dir`'s model.keras and says which (two lines)."""
    from cnn_cli.readers.run_reader import read_run

    source = read_run(run_dir).load_model()
    loaded, left = matching_layers(model, source)
    total = len(loaded) + len(left)
    echo(f"Initialized {len(loaded)} of {total} layers with weights from {run_dir}: {_capped(loaded)}")
    if left:
        echo(f"Left as initialized ({len(left)}): {_capped(left)}")
    if not loaded:
        raise CnnError(f"--init-from {run_dir}: no layer of this model matches one of its model by name and "
                       "weight shapes; nothing to start from")
    return loaded, left


def _shapes(shapes: list[tuple]) -> str:
    return ", ".join("x".join(str(d) for d in s) for s in shapes)


def _capped(names: list[str]) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
