"""Starting `cnn serve`: the run is read and its model loaded first (a damaged run directory is one line and
exit 2, before any port is bound), then the address is bound, said, and served by uvicorn until Ctrl-C. One
process by default; `workers` > 1 starts that many processes on the one socket (uvicorn's supervisor), each
loading the model itself."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import uvicorn

from cnn_cli.errors import CnnError
from cnn_cli.serve.sizes import show_size

ALL_INTERFACES = {"0.0.0.0", "::", ""}


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one); a `CnnError` when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise CnnError(f"--host {host}: not an address this machine can listen on ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CnnError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.set_inheritable(True)
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(run_dir: str, host: str, port: int, max_upload: int, workers: int, say: Callable[[str, bool], None],
          log_level: str = "info") -> None:
    """Serves the run until interrupted; `say(line, to_stderr)` tells the user the address (and warns)."""
    from cnn_cli.serve.app import ENV_MAX_UPLOAD, ENV_RUN_DIR, create_app
    from cnn_cli.serve.served import Served

    served = Served(run_dir)  # every problem of the run directory is raised here, before the port is bound
    sock = bind(host, port)
    what = {"multilabel": "labels", "regression": "targets"}.get(served.task.NAME, "classes")
    say(f"Serving {served.run.path} ({served.task.NAME}, {len(served.classes)} {what}, input "
        f"{'x'.join(map(str, served.input_shape))}) at {url(sock)} (uploads up to {show_size(max_upload)}, "
        f"{workers} worker{'s' if workers > 1 else ''}; Ctrl-C stops)", False)
    if host in ALL_INTERFACES:
        say(f"Warning: listening on all interfaces ({host or '0.0.0.0'}): anyone who can reach this machine can use "
            "the model, without a password", True)
    if served.run.status not in (None, "complete"):
        say(f"Warning: the run's status is {served.run.status!r}, not 'complete': its model is the last one saved", True)
    try:
        if workers == 1:
            config = uvicorn.Config(create_app(served, max_upload), log_level=log_level, timeout_graceful_shutdown=5)
            uvicorn.Server(config).run(sockets=[sock])
        else:  # uvicorn's own supervisor binds the address again (the one just said), for its workers
            served.close()
            bound_host, bound_port = sock.getsockname()[:2]
            sock.close()
            os.environ[ENV_RUN_DIR], os.environ[ENV_MAX_UPLOAD] = str(served.run.path), str(max_upload)
            uvicorn.run("cnn_cli.serve.app:from_environment", factory=True, host=bound_host, port=bound_port,
                        workers=workers, log_level=log_level, timeout_graceful_shutdown=5)
    finally:
        sock.close()
        served.close()
