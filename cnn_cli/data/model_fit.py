"""Does the model of a config fit its data? Number of classes and input shape, checked before building."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnn_cli.config.checks import final_units
from cnn_cli.errors import ConfigError

if TYPE_CHECKING:
    from cnn_cli.config import Config
    from cnn_cli.data.dataset import Dataset


def check_augment_channels(config: Config, dataset: Dataset) -> None:
    """`data.augment`'s colour settings that need three channels (saturation, hue, grayscale) refused on images
    of another channel count, naming the key."""
    augment = config.data.augment if config.data is not None else None
    channels = int(dataset.input_shape[-1])
    if augment is None or channels == 3:
        return
    for key in ("saturation", "hue", "grayscale"):
        value = getattr(augment, key)
        if value:
            raise ConfigError(config.origin(f"data.augment.{key}"), f"data.augment.{key}",
                              f"a colour augmentation, for three-channel images; these have {channels} channel"
                              f"{'s' if channels != 1 else ''} (set it to 0, or brightness/contrast instead)", value)


def check_model_fits_data(config: Config, dataset: Dataset) -> None:
    """`model.num_classes`, the last dense layer's integer `units` and `model.input_shape` must agree with
    the data; the first disagreement raises ConfigError with both numbers, naming what gave the value (the
    config file, or the `--set`: `Config.origin`)."""
    check_augment_channels(config, dataset)
    classes, shape = dataset.num_classes, tuple(dataset.input_shape)
    declared = config.outputs
    key = "num_targets" if config.task == "regression" else "num_classes"
    what = {"regression": "targets", "multilabel": "labels"}.get(config.task, "classes")
    if declared is not None and declared != classes:
        raise ConfigError(config.origin(f"model.{key}"), f"model.{key}", f"expected the number of {what} in the data, "
                          f"{classes}", declared)
    index = len(config.model.layers) - 1
    units = final_units(config)
    if isinstance(units, int) and units != classes:
        raise ConfigError(
            config.origin(f"model.layers[{index}].units"), f"model.layers[{index}].units",
            f"expected the number of {what} in the data, {classes} (or units: {key})", units,
        )
    if config.model.input_shape is not None and tuple(config.model.input_shape) != shape:
        given = list(config.model.input_shape)
        fix = f"--set model.input_shape=null to take the data's shape, or --set data.image_shape=\"{given}\" to " \
              "resize a folder's or manifest's images to the model's"
        raise ConfigError(
            config.origin("model.input_shape"), "model.input_shape",
            f"expected the shape of the data's images, {list(shape)} ({fix})", given,
        )
