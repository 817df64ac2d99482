"""`cnn inspect`: feature maps, filters and Grad-CAM of one image, by a trained run's model."""

from __future__ import annotations

import click

from cnn_cli.commands.options import backend_option


@click.command("inspect")
@backend_option
@click.argument("run_dir", type=click.Path())
@click.argument("image", type=click.Path())
@click.option("--layers", "layers", metavar="NAME,...", default=None,
              help="Layers or blocks to show, by the names `cnn summary` prints (default: every convolution and pooling).")
@click.option("--class", "class_name", metavar="NAME", default=None,
              help="Also draw Grad-CAM for this class (its name or id in labels.json).")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), default=None,
              help="Folder for the PNG files, written into as it is (default RUN_DIR/inspect/<name>-<hash of the image's path>/, "
                   "replaced wholly each time).")
def command(run_dir, image, layers, class_name, out):
    """Show what the model of RUN_DIR does with IMAGE: PNG grids of the feature maps after each
    convolution and pooling layer (inside blocks too), the first convolution's filters, and Grad-CAM
    heat maps of the predicted class (and of --class NAME).

    IMAGE is converted to the model's channels and resized to its size, as `cnn predict` does. Grad-CAM
    needs the TensorFlow backend; feature maps and filters work on every backend. Every file written is
    listed; two images of one name (Coat/0005.jpg, Shirt/0005.jpg) get folders of their own.

    \b
    Examples:
      cnn inspect runs/mnist-20260101-120000 digit.png
      cnn inspect runs/inception-20260101-120000 shoe.png --layers inception,residual_1_conv1 --class Sneaker
    """
    from cnn_cli.reports.inspection import inspect_image

    wanted = [name.strip() for name in layers.split(",") if name.strip()] if layers else None
    click.echo(inspect_image(run_dir, image, layers=wanted, out=out, class_name=class_name).to_text())
