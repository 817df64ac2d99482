"""`cnn augment`: a grid of augmented training images, as training will see them."""

from __future__ import annotations

import click

from cnn_cli.commands.options import backend_option, cache_dir_option, data_option, set_option
from cnn_cli.reports.augment_grid import augment_grid
from cnn_cli.resolve.model_inputs import config_for


@click.command("augment")
@backend_option
@cache_dir_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True, help="The YAML config file.")
@data_option
@set_option
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True, help="The PNG file to draw.")
@click.option("-n", "--count", type=click.IntRange(1, 64), default=16, show_default=True,
              help="Training images to draw (each beside its original).")
@click.option("--epoch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Whose batch: each epoch draws other distortions (they depend on the seed, the epoch and the batch).")
def command(config_path, data_path, overrides, out, count, epoch):
    """Draw the first training batch of an epoch as training will see it: the config's data.augment
    (flips, shifts, crops, colour, RandAugment, erasing, MixUp/CutMix) applied by the same batch source,
    each image beside its original, captioned with its source (file, row or index) and its target.

    \b
    Examples:
      cnn augment --config configs/fashion_mnist_best.yaml -o grid.png
      cnn augment --config configs/fashion_mnist_best.yaml --data photos/ --set data.augment.hue=0.1 -o grid.png
    """
    config, source = config_for(None, config_path, overrides, data_path)
    click.echo(augment_grid(config, source, out, data_path=data_path, count=count, epoch=epoch).to_text())
