"""`cnn serve`: a trained run's model behind HTTP, for a browser (the page at /) or a program (POST /predict)."""

from __future__ import annotations

import click

from cnn_cli.commands.options import backend_option
from cnn_cli.errors import CnnError
from cnn_cli.serve.sizes import parse_size


def _size(ctx, param, value):
    try:
        return parse_size(value, "--max-upload")
    except CnnError as exc:
        raise click.BadParameter(exc.message.split(": ", 1)[1]) from None


@click.command("serve")
@backend_option
@click.argument("run_dir", type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on: 127.0.0.1 answers this machine only; 0.0.0.0 (or ::) every network "
                   "it is on, with a warning, as there is no password.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The TCP port (0: a free one, said at start).")
@click.option("--max-upload", "max_upload", default="10MB", show_default=True, callback=_size,
              help="The largest request body taken (10MB, 512KiB, bytes); a larger one is answered 413.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes answering on the one port, each with its own copy of the model.")
def command(run_dir, host, port, max_upload, workers):
    """Serve the model of RUN_DIR over HTTP until Ctrl-C.

    GET / is a page to drop or choose an image and see its top classes and Grad-CAM (no CDN, fits a phone);
    POST /predict takes images as multipart fields named `file` (or JSON {"images": [base64, ...]}), with
    ?top_k=N (default 5) and ?gradcam=true, and answers {"task", "model", "predictions": [{"source", "top":
    [{"class", "score"}]}]}; GET /health, GET /info (classes, input shape, config digest, versions), and
    the OpenAPI page /docs. The model is loaded once, in float32 as cnn predict loads it, and gives its
    answers. Bad input is a 4xx with {"error": "..."}; uploads stay in memory.

    \b
    Examples:
      cnn serve runs/clothes
      curl -F file=@shoe.png http://127.0.0.1:8000/predict?top_k=3
      cnn serve runs/clothes --host 0.0.0.0 --port 8080 --max-upload 20MB
    """
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CnnError(f"cnn serve needs {exc.name}: pip install 'cnn-cli[serve]'") from None
    from cnn_cli.serve.server import serve

    serve(run_dir, host, port, max_upload, workers, lambda line, err: click.echo(line, err=err))
