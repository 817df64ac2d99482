"""Finding what a command works on: the config (from a file or a run directory), and the model's input
shape and number of classes (from the config, or from the data when the config leaves them open)."""

from __future__ import annotations

from collections.abc import Sequence

from cnn_cli.config import Config
from cnn_cli.config.checks import counts_needed, final_units
from cnn_cli.config.overrides import apply_overrides, data_flag_overrides, data_shape_overrides, parse_override
from cnn_cli.config.yaml_io import read_yaml
from cnn_cli.errors import CnnError
from cnn_cli.resolve.checked_config import config_from_dict


def config_for(run_dir: str | None, config_path: str | None, overrides: Sequence[str] = (),
               data_path: str | None = None) -> tuple[Config, str]:
    """The validated config of `--config FILE` or of a run directory, and the file it came from; with `--data`
    (`data_path`), a data section that `--set` made without a source takes it from there."""
    if run_dir and config_path:
        raise CnnError("give either a run directory or --config FILE, not both")
    if config_path:

        raw = read_yaml(config_path)
        given = [*data_shape_overrides(raw, data_path), *(parse_override(item) for item in overrides)]
        given += data_flag_overrides(apply_overrides(raw, given), data_path)
        return config_from_dict(raw, config_path, given), config_path
    if not run_dir:
        raise CnnError("no config: give --config FILE or a run directory")
    from cnn_cli.rundir.run_reader import read_run_config

    return read_run_config(run_dir, overrides)


def declared_classes(config: Config) -> int | None:
    """The number of classes the config states: `model.num_classes`, or the last dense layer's units."""
    units = final_units(config)
    return config.outputs or (units if isinstance(units, int) else None)


def resolve_model_inputs(config: Config, source: str, data_path: str | None = None) -> tuple[tuple, int | None]:
    """Input shape and number of classes; the data is read only when the config does not state both
    (or when `--data` is given, so that the model is checked against it)."""
    classes = declared_classes(config)
    needs_classes = counts_needed(config)
    if data_path is None and config.model.input_shape is not None and (classes is not None or not needs_classes):
        return tuple(config.model.input_shape), classes
    from cnn_cli.data import load_dataset
    from cnn_cli.data.model_fit import check_model_fits_data

    dataset = load_dataset(config, data_path=data_path, source=source)
    check_model_fits_data(config, dataset)
    return tuple(dataset.input_shape), dataset.num_classes
