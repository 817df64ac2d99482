"""The FastAPI application of `cnn serve`: `POST /predict`, `GET /health`, `GET /info`, the OpenAPI page `/docs`
(FastAPI's Swagger UI, which loads its script from a CDN: the one page that does) and the page `/` (`page.html`:
inline HTML, CSS and script, nothing from elsewhere).

Every error is a 4xx (or 500) with the body `{"error": "<one line>"}`: a body above `--max-upload` (413, counted
as it arrives, before it is parsed), a content type or field the server does not take, too many images, bytes
that are not an image the model can take (truncated, a decompression bomb: 400), a bad `top_k` (400), an
unknown path or method (404, 405). No endpoint reads a path from the request; uploads are held in memory only."""

from __future__ import annotations

import asyncio
import base64
import os
from contextlib import suppress
from importlib.resources import files

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cnn_cli import __version__
from cnn_cli.backends import name as backend_name
from cnn_cli.errors import CnnError, short_reason
from cnn_cli.serve.overlay import overlay_png
from cnn_cli.serve.served import Served
from cnn_cli.serve.sizes import show_size
from cnn_cli.serve.uploads import FIELD, MAX_FILES, BadRequest, read_uploads

DEFAULT_MAX_UPLOAD = 10 * 10**6
DEFAULT_TOP_K = 5
ENV_RUN_DIR, ENV_MAX_UPLOAD = "CNN_SERVE_RUN_DIR", "CNN_SERVE_MAX_UPLOAD"  # what each of several workers loads

BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD], "properties": {
        FIELD: {"type": "array", "items": {"type": "string", "format": "binary"},
                "description": f"one or several image files (PNG, JPEG, ...), at most {MAX_FILES}"}}}},
    "application/json": {"schema": {"type": "object", "required": ["images"], "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "byte"}, "maxItems": MAX_FILES,
                   "description": "base64 image files, or data: URLs"}}}}}}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def create_app(served: Served, max_upload: int = DEFAULT_MAX_UPLOAD, max_files: int = MAX_FILES) -> FastAPI:
    """The application answering with `served`; request bodies above `max_upload` bytes are refused."""
    app = FastAPI(title=f"cnn serve: {served.name}", version=__version__,
                  description=f"The model of the run {served.name!r} ({served.task.NAME}, "
                              f"{len(served.classes)} outputs, input {'x'.join(map(str, served.input_shape))}).")
    app.state.served = served

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(part) for part in item.get('loc', ())[1:])}: {item.get('msg', 'invalid')}"
                    for item in exc.errors()]
        return error(400, "; ".join(problems) or "invalid request")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        return error(500, f"internal error ({type(exc).__name__}: {short_reason(exc)})")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(files("cnn_cli.serve").joinpath("page.html").read_text(encoding="utf-8"))

    @app.get("/health", summary="200 once the model is loaded")
    async def health():
        return {"status": "ok", "model": served.name}

    @app.get("/info", summary="The model: task, classes, input shape, the config's digest, versions")
    async def info():
        return {**served.info(), "max_upload": max_upload, "max_files": max_files, "top_k": DEFAULT_TOP_K}

    @app.post("/predict", summary="Predict one or several images", openapi_extra={"requestBody": BODY})
    async def predict(request: Request,
                      top_k: int = Query(DEFAULT_TOP_K, ge=1, description="classes to give per image, most likely first"),
                      gradcam: bool = Query(False, description="also draw each image's Grad-CAM (a PNG data: URL)")):
        body = await read_body(request, max_upload)
        uploads = read_uploads(request.headers.get("content-type"), body, max_files)
        pixels = await run_in_threadpool(decode, served, uploads)
        outputs = await asyncio.wrap_future(served.outputs(pixels))
        k = min(top_k, len(served.classes))
        answer = {"task": served.task.NAME, "model": served.name,
                  "predictions": [served.prediction(u.source, row, k) for u, row in zip(uploads, outputs)]}
        if gradcam and served.gradcam:
            classes = [served.cam_class(row) for row in outputs]
            drawn = await run_in_threadpool(draw_cams, served, pixels, classes)
            for entry, image, index in zip(answer["predictions"], drawn, classes):
                entry["gradcam"] = {"class": str(served.classes[index][2]), "image": image}
        elif gradcam:
            answer["notes"] = [f"Grad-CAM needs the TensorFlow backend (this server runs {backend_name()}): not drawn"]
        return answer

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it is known to be larger than `limit` bytes."""
    too_large = BadRequest(413, f"the request's body is larger than the server's limit of {show_size(limit)} "
                                "(cnn serve --max-upload)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode(served: Served, uploads) -> np.ndarray:
    """The uploads' pixels (N, H, W, C); the first that is not an image the model can take is a 400 naming it."""
    try:
        return np.stack([served.decode(upload.data, upload.source) for upload in uploads])
    except CnnError as exc:
        raise BadRequest(400, exc.message) from None


def draw_cams(served: Served, pixels, classes: list[int]) -> list[str | None]:
    """A PNG data: URL of each image's Grad-CAM over it (None where the map could not be taken)."""
    maps = served.cams(pixels, classes)
    if maps is None:
        return [None] * len(pixels)
    return ["data:image/png;base64," + base64.b64encode(overlay_png(image, cam)).decode("ascii")
            for image, cam in zip(pixels, maps)]


def from_environment() -> FastAPI:
    """The application of one of several worker processes (`cnn serve --workers N`): the run and the limit
    the command was given, through the environment."""
    served = Served(os.environ[ENV_RUN_DIR])
    with suppress(KeyError, ValueError):
        return create_app(served, int(os.environ[ENV_MAX_UPLOAD]))
    return create_app(served)
