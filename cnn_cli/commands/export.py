"""`cnn export`: a trained run's model as SavedModel, ONNX or LiteRT, with its class map, verified on export."""

from __future__ import annotations

import json

import click

from cnn_cli.commands.options import data_option, json_option
from cnn_cli.errors import ExportMismatchError


@click.command("export")
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", required=True, type=click.Choice(["saved_model", "onnx", "litert"]),
              help="saved_model (TF Serving), onnx (onnxruntime) or litert (TensorFlow Lite).")
@click.option("-o", "--output", "output_path", type=click.Path(), default=None,
              help="Where to write it (a .onnx or .tflite file, a SavedModel folder). "
                   "Default: RUN_DIR/export/model.onnx, model.tflite or saved_model/.")
@click.option("--quantize", type=click.Choice(["float16", "dynamic_int8"]), default=None,
              help="LiteRT: float16 or dynamic_int8; ONNX: dynamic_int8; SavedModel: none.")
@click.option("--force", is_flag=True, help="Replace an existing output (and its class map).")
@click.option("--images", type=click.IntRange(min=1), default=None,
              help="Verify on the first N images of the test split only (default: all of it).")
@data_option
@json_option
def command(run_dir, fmt, output_path, quantize, force, images, data_path, as_json):
    """Export the model of RUN_DIR for other runtimes, and verify it.

    The exported model takes uint8 images (batch, height, width, channels), pixels 0..255 as image files
    hold them, and returns float32 class probabilities: the scaling is inside it, and a model trained in
    mixed precision is exported in float32. The class map (index, id, name) and the config hash go beside
    it as FILE.labels.json (and into ONNX's metadata_props, a SavedModel's assets.extra/).

    The export is then loaded by its own runtime (TensorFlow, onnxruntime, the LiteRT interpreter), run on
    the test split of the run's data (or of --data PATH), and compared with the Keras model in float32:
    top-1 agreement, largest probability difference, accuracy of each, file size, batch-1 latency and
    batch-256 throughput. A float export must agree on at least 99.9% of the images, with no probability
    more than 1e-3 off; a quantized one must keep its accuracy within 1 point. One that does not is not
    kept, and the command exits with code 5.

    \b
    The converters and runtimes are an extra:
      pip install 'cnn-cli[export]'

    \b
    Examples:
      cnn export runs/fashion_mnist-20260101-120000 --format onnx
      cnn export runs/fashion_mnist-20260101-120000 --format litert --quantize dynamic_int8 -o fm.tflite
      cnn export runs/fashion_mnist-20260101-120000 --format saved_model -o serving/fm/1 --force
    """
    from cnn_cli.export.exporter import export_run

    result = export_run(run_dir, fmt, output_path=output_path, quantize=quantize, force=force, data_path=data_path,
                        images=images)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.to_text())
    if not result.passed:
        raise ExportMismatchError(f"{run_dir}: --format {fmt}: {result.verification.failure()}; nothing was written")
