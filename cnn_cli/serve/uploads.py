"""A `POST /predict` body as named images: multipart/form-data fields named `file` (the name each part's filename,
else `file[i]`), or JSON `{"images": [base64, ...]}` (each a base64 string, or a `data:` URL; named
`images[i]`). Parsed in memory (python-multipart's streaming parser, fed the body the server has already read
up to `--max-upload`), never written to disk. What cannot be used is a `BadRequest`: its HTTP status and one
line."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cnn_cli.errors import CnnError

FIELD = "file"
MAX_FILES = 32  # images in one request
FORMS = "send images as multipart/form-data fields named 'file', or as JSON {\"images\": [base64, ...]}"


class BadRequest(CnnError):
    """A request the server cannot answer: `status` (4xx) and one line."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


@dataclass
class Upload:
    source: str
    data: bytes


def read_uploads(content_type: str | None, body: bytes, max_files: int = MAX_FILES) -> list[Upload]:
    """The images of a request body of `content_type`, in order."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        uploads = _multipart(content_type or "", body, max_files)
    elif kind == "application/json":
        uploads = _json(body, max_files)
    else:
        raise BadRequest(415, f"content type {kind or 'none'!r}: {FORMS}")
    if not uploads:
        raise BadRequest(400, f"no image in the request: {FORMS}")
    return uploads


def _too_many(max_files: int) -> BadRequest:
    return BadRequest(400, f"too many images in one request: at most {max_files}")


def _multipart(content_type: str, body: bytes, max_files: int) -> list[Upload]:
    from python_multipart import MultipartParser
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest(400, "multipart/form-data without a boundary in its Content-Type")
    parts: list[dict] = []
    state = {"field": b"", "value": b"", "ended": False}

    def part_begin():
        if len(parts) >= max_files:
            raise _too_many(max_files)
        parts.append({"headers": {}, "data": []})

    def header_field(data, start, end):
        state["field"] += data[start:end]

    def header_value(data, start, end):
        state["value"] += data[start:end]

    def header_end():
        parts[-1]["headers"][state["field"].decode("latin-1").strip().lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def part_data(data, start, end):
        parts[-1]["data"].append(data[start:end])

    def end():
        state["ended"] = True

    callbacks = {"on_part_begin": part_begin, "on_header_field": header_field, "on_header_value": header_value,
                 "on_header_end": header_end, "on_part_data": part_data, "on_end": end}
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(400, f"a multipart/form-data body that cannot be parsed ({' '.join(str(exc).split())})") from None
    if not state["ended"]:
        raise BadRequest(400, "the multipart/form-data body ends before its closing boundary")
    uploads = []
    for i, part in enumerate(parts):
        _, disposition = parse_options_header(part["headers"].get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name != FIELD:
            raise BadRequest(400, f"unexpected field {name!r}: {FORMS}")
        filename = disposition.get(b"filename", b"").decode("utf-8", "replace")
        uploads.append(Upload(source=filename or f"file[{i}]", data=b"".join(part["data"])))
    return uploads


def _json(body: bytes, max_files: int) -> list[Upload]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the JSON body cannot be read ({' '.join(str(exc).split())})") from None
    if not isinstance(document, dict) or set(document) != {"images"}:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise BadRequest(400, f"expected a JSON object with the one key 'images' (a list of base64 strings), "
                         f"received {keys}")
    images = document["images"]
    if not isinstance(images, list):
        raise BadRequest(400, f"'images': expected a list of base64 strings, received {type(images).__name__}")
    if len(images) > max_files:
        raise _too_many(max_files)
    uploads = []
    for i, text in enumerate(images):
        source = f"images[{i}]"
        if not isinstance(text, str):
            raise BadRequest(400, f"{source}: expected a base64 string, received {type(text).__name__}")
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]  # a data: URL, as a browser's FileReader gives
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(400, f"{source}: not base64 text") from None
        uploads.append(Upload(source=source, data=data))
    return uploads
