"""Load on `cnn serve` over loopback: 200 requests from 8 concurrent clients, each answer checked against `cnn
predict`'s, with the model's batching of requests that arrive together on and off (docs/serve.md).

    python bench/serve_load.py [--run RUN_DIR] [--requests 200] [--clients 8] [--repeats 3]

Without --run, the first hour's colour-folder config (README) is trained (4 epochs) on scripts/image_folders.py's 3 x 40 tinted
32x32 images in a temporary folder. Each configuration starts its own server process (this script again, with
`--serve`, so that the clients and the server do not share one interpreter), on a free loopback port; the
clients are threads with one keep-alive connection each, sending one PNG per request (multipart field `file`,
`top_k=3`), the run's images in turn. Every answer must be 200 with the classes and probabilities (to 1e-6) that
`cnn_cli.inference.prediction.predict_inputs` (what `cnn predict` prints) gives for the file. Prints, per
configuration and repeat, p50 and p95 latency and requests per second, then the medians and the ratio batched
/ unbatched, with the CPU and the load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = (ROOT / "tests" / "run_helpers.py").read_text().split('CLOTHES = """\\\n', 1)[1].split('"""', 1)[0]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return f"{os.cpu_count()} cores"


def serve(run: str, batch: bool) -> None:
    """The server half: `cnn serve`'s app on a free loopback port, with batching on or off; says its address."""
    import uvicorn

    from cnn_cli.serve.app import create_app
    from cnn_cli.serve.served import Served
    from cnn_cli.serve.server import bind, url

    served = Served(run, batch=batch)
    sock = bind("127.0.0.1", 0)
    print(f"serving at {url(sock)}", flush=True)
    uvicorn.Server(uvicorn.Config(create_app(served), log_level="warning")).run(sockets=[sock])


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def load(address: str, images: list[tuple[str, bytes, list]], requests: int, clients: int) -> dict:
    """Sends `requests` requests from `clients` threads; the latencies (s), the wall time, and each answer checked."""
    host, port = re.match(r"http://([\d.]+):(\d+)/", address).groups()
    latencies: list[float] = []
    wrong: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            name, data, expected = images[i % len(images)]
            body, kind = multipart(name, data)
            started = time.perf_counter()
            connection.request("POST", "/predict?top_k=3", body=body, headers={"Content-Type": kind})
            answer = connection.getresponse()
            text = answer.read()
            elapsed = time.perf_counter() - started
            top = json.loads(text)["predictions"][0]["top"] if answer.status == 200 else None
            ok = (top is not None and [t["class"] for t in top] == [t["name"] for t in expected]
                  and all(abs(t["score"] - e["probability"]) <= 1e-6 for t, e in zip(top, expected)))
            with lock:
                latencies.append(elapsed)
                if not ok:
                    wrong.append(f"{name}: {answer.status} {text[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"latencies": latencies, "wall": wall, "wrong": wrong}


def start_server(run: str, batch: bool) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, __file__, "--serve", run, "--batch", str(int(batch))],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = process.stdout.readline()
    match = re.search(r"serving at (\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    address = match.group(1)
    for _ in range(300):  # uvicorn starts after the line
        try:
            connection = http.client.HTTPConnection(*re.match(r"http://([\d.]+):(\d+)/", address).groups(), timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    return process, address


def train_run(folder: Path) -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location("image_folders", ROOT / "scripts" / "image_folders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.clothes(folder / "images", per_class=40)
    config = folder / "clothes.yaml"
    config.write_text(CONFIG.replace("PATH", str(folder / "images")))
    subprocess.run([sys.executable, "-m", "cnn_cli", "train", "--config", str(config), "--run-dir",
                    str(folder / "run")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return str(folder / "run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a run directory (default: train the colour-folder run)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, bool(args.batch))
        return

    with tempfile.TemporaryDirectory(prefix="cnn-serve-load-") as folder:
        run = args.run or train_run(Path(folder))
        from cnn_cli.inference.prediction import predict_inputs
        from cnn_cli.rundir.run_reader import read_run

        data = read_run(run).config.data
        files = sorted(Path(data.path).rglob("*.png")) if data is not None and data.path else []
        if not files:
            raise SystemExit(f"{run}: its data.path holds no PNG images to send")
        expected = {p["input"]: p["top"] for p in predict_inputs(run, [str(f) for f in files], top_k=3)["predictions"]}
        images = [(f.name, f.read_bytes(), expected[str(f)]) for f in files]
        print(f"CPU: {cpu_name()}; load average before: {os.getloadavg()[0]:.2f}")
        print(f"run: {run} ({len(files)} images, 32x32x3); {args.requests} requests from {args.clients} clients, "
              "one PNG each, top_k=3")
        results: dict[str, list[dict]] = {"batched": [], "unbatched": []}
        for repeat in range(args.repeats):
            for mode in ("batched", "unbatched") if repeat % 2 == 0 else ("unbatched", "batched"):
                process, address = start_server(run, batch=mode == "batched")
                try:
                    load(address, images, 64, args.clients)  # warm-up: the batch sizes' first traces
                    got = load(address, images, args.requests, args.clients)
                finally:
                    process.terminate()
                    process.wait()
                if got["wrong"]:
                    raise SystemExit(f"{len(got['wrong'])} wrong answers, e.g. {got['wrong'][0]}")
                latencies = sorted(got["latencies"])
                figures = {"p50": 1000 * statistics.median(latencies),
                           "p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
                           "rps": len(latencies) / got["wall"]}
                results[mode].append(figures)
                print(f"  repeat {repeat + 1} {mode:9s}: p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms  "
                      f"{figures['rps']:6.1f} requests/s  ({len(latencies)} answers, all correct)")
        medians = {mode: {key: statistics.median(r[key] for r in rows) for key in ("p50", "p95", "rps")}
                   for mode, rows in results.items()}
        for mode, m in medians.items():
            print(f"median {mode:9s}: p50 {m['p50']:6.1f} ms  p95 {m['p95']:6.1f} ms  {m['rps']:6.1f} requests/s")
        print(f"batched / unbatched: requests/s x{medians['batched']['rps'] / medians['unbatched']['rps']:.2f}, "
              f"p50 x{medians['batched']['p50'] / medians['unbatched']['p50']:.2f}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
