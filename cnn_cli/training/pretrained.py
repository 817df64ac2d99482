"""`model.weights` for a new run: checked before TensorFlow starts (`check`), loaded into the built model
before training (`load`).

- `imagenet`: Keras' published notop file of `model.architecture` (`cnn_cli.model.imagenet`), fetched
  once into Keras' cache;
- a path: a `.weights.h5`, a legacy `.h5`, a `.keras` file, or a run directory of this tool (its model.keras).

Layers take the arrays of the layer of the same name when their shapes agree (`cnn_cli.model.weights`);
the run says in two lines which were loaded and which left new, and refuses a file that sets fewer than
half of the model's layers with weights (`MIN_SHARE`): it was made for another architecture.
`--init-from` and `model.weights` both give starting weights: a run may have one of them. A resumed run
reloads them only when it saved no epoch (it starts as new); otherwise its backup holds the weights it trained.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from cnn_cli import rundir
from cnn_cli.config import Config
from cnn_cli.config.model import IMAGENET, WEIGHTS_SUFFIXES
from cnn_cli.errors import CnnError, ConfigError, short_reason
from cnn_cli.model.imagenet import TABLE, fetch
from cnn_cli.model.weights import declared_bytes, load_matching, read_weights, scale_variance, tell
from cnn_cli.number_format import human_bytes, memory_bytes

MIN_SHARE = 0.5  # of the model's layers with weights that a weights file must set
KEY = "model.weights"


def check(config: Config, init_from: str | None) -> None:
    """Before TensorFlow starts: the weights exist, a file's suffix is known, a run directory has its model. An
    error names what gave `model.weights`: the config file, or the `--set` (`Config.origin`)."""
    weights = config.model.weights
    if weights is None:
        return
    source = config.origin(KEY)
    if init_from is not None:
        raise ConfigError(source, KEY, f"--init-from {init_from} gives starting weights too; use one of them "
                          "(model.weights: RUN_DIR does what --init-from does)", weights)
    if weights == IMAGENET:
        return
    path = Path(weights)
    if path.is_dir():
        run = rundir.RunDir(path)
        model = run.model_path if run.is_run() else None
        if model is None or not model.is_file():
            raise ConfigError(source, KEY, "expected a run directory with its model.keras (a run gets it when it "
                              "completes), or a weights file", weights)
    elif not path.is_file():
        raise ConfigError(source, KEY, f"expected {IMAGENET}, or a weights file or run directory that exists: "
                          "not found", weights)
    elif not path.name.endswith(WEIGHTS_SUFFIXES):
        raise ConfigError(source, KEY, f"expected a {', '.join(WEIGHTS_SUFFIXES)} file or a run directory", weights)
    _check_sizes(rundir.RunDir(path).model_path if path.is_dir() else path, source)


def _check_sizes(path: Path, source: str) -> None:
    """Before the run starts: the arrays a weights file declares (from their headers, nothing read) fit in this
    machine's memory; a damaged or hostile header that declares terabytes is refused here, not at loading."""

    try:
        total, name, shape = declared_bytes(path)
    except CnnError as exc:
        raise ConfigError(source, KEY, exc.message) from None
    except (OSError, KeyError, ValueError, RuntimeError, zipfile.BadZipFile) as exc:
        raise ConfigError(source, KEY, f"{path}: cannot be read as Keras weights ({type(exc).__name__}: "
                          f"{short_reason(exc)})") from None
    memory = memory_bytes()
    if memory is not None and total > memory:
        raise ConfigError(source, KEY, f"{path}: its array {name} declares shape {'x'.join(map(str, shape))} "
                          f"({human_bytes(total)} in all), more than this machine's memory ({human_bytes(memory)}); "
                          "a damaged or foreign weights file")


def weights_file(config: Config, input_shape: tuple[int, ...]) -> tuple[Path, str]:
    """The file to read and how the run names it (fetching Keras' ImageNet file into its cache if needed)."""
    weights = config.model.weights
    if weights == IMAGENET:
        path = fetch(config.model.architecture, input_shape)
        return path, f"ImageNet ({path})"
    path = Path(weights)
    if path.is_dir():
        return rundir.RunDir(path).model_path, str(path)
    return path, str(path)


def load(model, config: Config, input_shape: tuple[int, ...], echo: Callable[[str], None]) -> list[str]:
    """Sets the model's matching layers from `model.weights` and says which; the names of those loaded. A file
    made for another architecture is a ConfigError at model.weights of what gave it (`Config.origin`)."""
    source = config.origin(KEY)

    path, origin = weights_file(config, input_shape)
    wanted = None if config.model.weights == IMAGENET else {
        layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}
    arrays = read_weights(path, KEY, wanted)
    entry = None
    if config.model.weights == IMAGENET:
        entry = TABLE[config.model.architecture]
        for pattern, new in (entry.renames or {}).items():
            for old in [name for name in arrays if re.fullmatch(pattern, name)]:
                arrays[new] = arrays.pop(old)
    loaded, left = load_matching(model, arrays)
    tell(loaded, left, origin, echo)
    total = len(loaded) + len(left)
    if len(loaded) < MIN_SHARE * total:
        raise ConfigError(source, KEY, f"{origin} sets only {len(loaded)} of the model's {total} layers with weights "
                          "(by name and weight shapes; at least half must match): weights of another architecture?")
    if entry is not None and entry.variance_factors:
        scale_variance(model, {name: by for name, by in entry.variance_factors.items() if name in loaded})
    return loaded
