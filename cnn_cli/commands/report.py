"""`cnn report`: one self-contained HTML page of a trained run, to open in any browser, offline."""

from __future__ import annotations

import click

from cnn_cli.commands.options import backend_option, data_option


@click.command("report")
@backend_option
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write (default RUN_DIR/report.html).")
@data_option
def command(run_dir, out, data_path):
    """Write one HTML page of RUN_DIR: config, summary (params, MACs, memory per layer), training curves,
    final metrics, per-class precision/recall/F1, the confusion matrix, the most confused pairs with example
    images, the test images with the highest loss, feature maps and Grad-CAM for a few test images, and how
    the run was made (command line, seed, versions, device, wall time).

    The model makes one pass over the run's test split (its validation split when it has none, as `cnn
    evaluate` does; the page says so at the top). The page needs no network: images are inline, there is no
    CDN, and it opens the same from a USB stick. A run that did not finish gets a page that says so.

    \b
    Examples:
      cnn report runs/mnist-20260101-120000
      cnn report runs/fashion_mnist-20260101-120000 -o fashion.html
    """
    from cnn_cli.reports.run_page import write_report

    click.echo(write_report(run_dir, out, data_path))
