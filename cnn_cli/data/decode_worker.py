"""One image-decoding worker process, started by `decode.py`: `main()`, with SPEC as its last argument.

SPEC (JSON) names a file of uint8 rows (path, byte offset), the image shape, the resize mode and whether
unreadable files are skipped. The worker reads one JSON line per chunk on stdin, `{"start": row, "files":
[...]}`, decodes the files and writes them into rows `start`... of the file, and answers one JSON line,
`{"bad": {position in chunk: reason}, "failure": [position, file, reason] | null}`: no pixels cross the pipe.
It ends when stdin closes. It imports Pillow and the image reader alone (no NumPy), so it starts in a few
hundredths of a second, and it never imports the program that started it.
"""

from __future__ import annotations

import json
import signal
import sys

from cnn_cli.data.decode import RowsFile, decode_chunk


def serve(spec: dict, requests, replies) -> None:
    shape = tuple(spec["shape"])
    rows = RowsFile(spec["path"], spec["offset"], row_bytes=shape[0] * shape[1] * shape[2])
    try:
        for line in requests:
            task = json.loads(line)
            start = task["start"]
            bad, failure = decode_chunk(task["files"], shape, spec["resize"], spec["skip_bad"],
                                        lambda k, pixels, start=start: rows.put(start + k, pixels))
            replies.write(json.dumps({"bad": bad, "failure": failure}) + "\n")
            replies.flush()
    finally:
        rows.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the workers
    serve(json.loads(sys.argv[-1]), sys.stdin, sys.stdout)
