"""A warm start (`cnn train --config X --init-from RUN_DIR`): a new run whose layers start from another run's
model wherever a layer of the same name has weights of the same shapes; every other layer keeps its fresh
initial weights. What was loaded and what was left is said in two lines, each list capped. The matching is
`cnn_cli.model.weights`' (which `model.weights` uses too); a config cannot give both (training/pretrained.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cnn_cli import rundir
from cnn_cli.errors import CnnError
from cnn_cli.model.weights import load_matching, tell


def check_source(run_dir: str | Path) -> None:
    """Before TensorFlow starts: `run_dir` is a run directory with a model to start from."""
    from cnn_cli.rundir.run_reader import read_run

    run = read_run(run_dir)
    model = rundir.RunDir(run.path).model_path
    if not model.is_file():
        raise CnnError(f"--init-from {run_dir}: {model} is missing (the run's status is {run.status!r}); "
                       "a run gets its model when it completes")


def matching_layers(model, source) -> tuple[list[str], list[str]]:
    """(loaded, left) of `cnn_cli.model.weights.load_matching`, from the layers of the model `source`."""
    return load_matching(model, {layer.name: layer.get_weights() for layer in source.layers})


def warm_start(model, run_dir: str | Path, echo: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """Sets `model`'s matching layers from `run_dir`'s model.keras and says which (two lines)."""
    from cnn_cli.rundir.run_reader import read_run

    source = read_run(run_dir).load_model()
    loaded, left = matching_layers(model, source)
    tell(loaded, left, str(run_dir), echo)
    if not loaded:
        raise CnnError(f"--init-from {run_dir}: no layer of this model matches one of its model by name and "
                       "weight shapes; nothing to start from")
    return loaded, left
