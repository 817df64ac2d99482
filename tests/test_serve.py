"""`cnn serve` in-process (FastAPI's TestClient on the app, no socket): its answers are `cnn predict`'s on every
image of a colour-folder run, each bad input is a 4xx with one line of JSON and the server answers the next
request, a damaged run directory refuses to start before a port is bound, and each task's own entry is served."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="cnn serve needs the extra serve: pip install -e '.[serve]'")
pytest.importorskip("python_multipart")

from fastapi.testclient import TestClient  # noqa: E402

from cnn_cli.cli import main  # noqa: E402
from tests.run_helpers import clothes_folder, clothes_run, copy_run, multilabel_run, regression_run  # noqa: E402

LIMIT = 300_000


@pytest.fixture(scope="module")
def served():
    from cnn_cli.serve.served import Served

    model = Served(clothes_run())
    yield model
    model.close()


@pytest.fixture(scope="module")
def client(served):
    from cnn_cli.serve.app import create_app

    return TestClient(create_app(served, max_upload=LIMIT))


def images() -> list[Path]:
    return sorted(clothes_folder().rglob("*.png"))


def png_bomb(side: int = 20_000) -> bytes:
    """A PNG header claiming side x side gray pixels (above Pillow's limit), with one tiny IDAT: never decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_answers_are_cnn_predicts_on_every_image(runner, client):
    """Every image of the run's folder (its test images among them), sent 32 to a request, gets the classes and
    probabilities `cnn predict --json` gives for the file."""
    files = images()
    result = runner.invoke(main, ["predict", str(clothes_run()), *map(str, files), "--top-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    expected = {Path(p["input"]).parent.name + "/" + Path(p["input"]).name: p["top"]
                for p in json.loads(result.output[result.output.index("{"):])["predictions"]}
    served = {}
    for start in range(0, len(files), 32):
        chunk = files[start:start + 32]
        answer = client.post("/predict?top_k=3", files=[
            ("file", (f"{f.parent.name}/{f.name}", f.read_bytes(), "image/png")) for f in chunk])
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["task"] == "classification" and body["model"] == "clothes"
        served.update({p["source"]: p["top"] for p in body["predictions"]})
    assert sorted(served) == sorted(expected) and len(served) == 60
    for name, top in expected.items():
        assert [t["class"] for t in served[name]] == [t["name"] for t in top], name
        assert [t["score"] for t in served[name]] == pytest.approx([t["probability"] for t in top], abs=1e-6), name

    # the same through JSON base64 (and a data: URL), one request
    first = files[:2]
    encoded = [base64.b64encode(first[0].read_bytes()).decode(),
               "data:image/png;base64," + base64.b64encode(first[1].read_bytes()).decode()]
    answer = client.post("/predict", json={"images": encoded})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [p["source"] for p in predictions] == ["images[0]", "images[1]"]
    assert len(predictions[0]["top"]) == 3  # top_k 5, capped at the 3 classes
    for entry, path in zip(predictions, first):
        assert entry["top"][0]["class"] == served[f"{path.parent.name}/{path.name}"][0]["class"]


def test_health_info_docs_and_page(client, served):
    assert client.get("/health").json() == {"status": "ok", "model": "clothes"}
    info = client.get("/info").json()
    assert info["classes"] == ["sneaker", "trouser", "tshirt"] and info["input_shape"] == [32, 32, 3]
    assert info["task"] == "classification" and len(info["config_sha256"]) == 64 and info["max_upload"] == LIMIT
    assert {"cnn", "keras", "backend", "python"} <= set(info["versions"]) and info["gradcam"] is True
    assert client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/").text
    assert "<script>" in page and "http://" not in page and "https://" not in page and "//cdn" not in page


def test_gradcam_is_drawn_on_request(client):
    path = images()[0]
    answer = client.post("/predict?gradcam=true", files=[("file", (path.name, path.read_bytes(), "image/png"))]).json()
    cam = answer["predictions"][0]["gradcam"]
    assert cam["class"] == answer["predictions"][0]["top"][0]["class"]
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(cam["image"].split(",", 1)[1])))
    assert image.size == (256, 256) and image.mode == "RGB"
    assert "gradcam" not in client.post("/predict", files=[("file", (path.name, path.read_bytes()))]).json()["predictions"][0]


def test_without_gradcam_the_answer_says_so(client, served, monkeypatch):
    """On a backend without Grad-CAM (JAX, PyTorch) the answer carries a note instead of the maps."""
    monkeypatch.setattr(served, "gradcam", False)
    path = images()[0]
    answer = client.post("/predict?gradcam=true", files=[("file", (path.name, path.read_bytes()))]).json()
    assert "gradcam" not in answer["predictions"][0] and "Grad-CAM needs the TensorFlow backend" in answer["notes"][0]
    assert client.get("/info").json()["gradcam"] is False


def bad_inputs():
    good = images()[0].read_bytes()
    return {
        "not an image": (400, "not a readable image", {"files": [("file", ("notes.png", b"hello, not a picture"))]}),
        "truncated": (400, "truncated", {"files": [("file", ("half.png", good[: len(good) // 2]))]}),
        "decompression bomb": (400, "too many pixels", {"files": [("file", ("bomb.png", png_bomb()))]}),
        "too large": (413, "limit of 300 kB", {"files": [("file", ("big.png", b"\0" * (LIMIT + 1)))]}),
        "wrong field": (400, "unexpected field 'image'", {"files": [("image", ("a.png", good))]}),
        "too many files": (400, "at most 32", {"files": [("file", (f"{i}.png", good)) for i in range(33)]}),
        "no image": (400, "no image", {"json": {"images": []}}),
        "a form": (415, "x-www-form-urlencoded", {"data": {"file": "a.png"}}),
        "wrong JSON key": (400, "the one key 'images'", {"json": {"image": []}}),
        "not base64": (400, "images[0]: not base64", {"json": {"images": ["@@@"]}}),
        "not JSON": (400, "JSON body cannot be read", {"content": b"{", "headers": {"content-type": "application/json"}}),
        "other type": (415, "text/plain", {"content": b"hi", "headers": {"content-type": "text/plain"}}),
        "bad top_k": (400, "top_k", {"params": {"top_k": "0"}, "files": [("file", ("a.png", good))]}),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_is_one_line_and_the_server_goes_on(client, case):
    status, words, request = bad_inputs()[case]
    answer = client.post("/predict", **request)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert list(body) == ["error"] and words in body["error"] and "\n" not in body["error"]
    path = images()[0]
    assert client.post("/predict", files=[("file", (path.name, path.read_bytes()))]).status_code == 200


def test_unknown_paths_and_methods_are_json(client):
    assert client.get("/nowhere").json() == {"error": "GET /nowhere: Not Found"}
    assert client.get("/predict").status_code == 405 and "error" in client.get("/predict").json()


def test_damaged_run_refuses_to_start_before_binding(runner, tmp_path, monkeypatch):
    from cnn_cli.serve import server

    bound = []
    monkeypatch.setattr(server, "bind", lambda *args: bound.append(args))
    broken = copy_run(clothes_run(), tmp_path)
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not a whole zip file")
    for run in (broken, tmp_path / "missing"):
        result = runner.invoke(main, ["serve", str(run), "--port", "0"])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and str(run) in lines[0], result.output
    assert bound == []
    result = runner.invoke(main, ["serve", str(clothes_run()), "--max-upload", "ten megabytes"])
    assert result.exit_code == 2 and "--max-upload" in result.output and "10MB" in result.output


def test_says_the_address_and_warns_on_all_interfaces(runner, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # bound, said, not served
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda self: None)  # no handler on the runner's stream
    result = runner.invoke(main, ["serve", str(clothes_run()), "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "at http://127.0.0.1:" in result.output and "Warning" not in result.output
    result = runner.invoke(main, ["serve", str(clothes_run()), "--port", "0", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "all interfaces" in warnings[0]


@pytest.mark.parametrize("which", ["multilabel", "regression"])
def test_each_task_gives_its_own_entry(which):
    import numpy as np
    from PIL import Image

    from cnn_cli.serve.app import create_app
    from cnn_cli.serve.served import Served

    run = multilabel_run() if which == "multilabel" else regression_run()
    served = Served(run)
    try:
        client = TestClient(create_app(served))
        digit = np.load(Path(__file__).resolve().parents[1] / "data" / "mnist_sample.npz")["x_test"][0]
        png = io.BytesIO()
        Image.fromarray(digit).save(png, format="PNG")
        answer = client.post("/predict", files=[("file", ("digit.png", png.getvalue()))])
        assert answer.status_code == 200, answer.text
        entry = answer.json()["predictions"][0]
        assert answer.json()["task"] == which and entry["source"] == "digit.png"
        expected = served.run.task.prediction(served.outputs(digit[None, ..., None]).result()[0], served.classes, 5,
                                              served.run.targets)
        if which == "multilabel":
            assert set(entry) == {"source", "labels", "scores"} and entry["labels"] == expected["labels"]
        else:
            assert [v["target"] for v in entry["values"]] == ["digit", "scaled"]
            assert [v["value"] for v in entry["values"]] == pytest.approx([v["value"] for v in expected["values"]])
    finally:
        served.close()


def test_batcher_gives_each_request_its_rows():
    """Requests queued together run as batches of at most max_images images, and each gets its own rows back, in
    order; an error in the model reaches every request of its batch."""
    import threading

    import numpy as np

    from cnn_cli.serve.batcher import Batcher

    sizes, gate = [], threading.Event()

    def compute(pixels):
        gate.wait(10)  # the first batch waits until every request is queued
        sizes.append(len(pixels))
        if (pixels < 0).any():
            raise ValueError("a negative pixel")
        return pixels[:, :1] * 2.0

    batcher = Batcher(compute, batch=True, max_images=64)
    counts = [1, 32, 32, 5, 30, 3, 20, 1]
    futures = [batcher.submit(np.full((n, 1), i, dtype=np.float32)) for i, n in enumerate(counts)]
    gate.set()
    for i, (n, future) in enumerate(zip(counts, futures)):
        rows = future.result(timeout=10)
        assert rows.shape == (n, 1) and (rows == 2 * i).all()
    assert max(sizes) <= 64 and sum(sizes) == sum(counts) and len(sizes) < len(counts)
    with pytest.raises(ValueError, match="negative"):
        batcher.submit(np.full((2, 1), -1.0)).result(timeout=10)
    batcher.close()


def test_an_old_format_1_run_is_served_as_cnn_predict_reads_it(runner, tmp_path):
    """A run written before the model scaled its own pixels (run.json format 1) gets them divided by 255, as `cnn
    predict` gives them: the same probabilities."""
    import shutil

    import numpy as np
    from PIL import Image

    from cnn_cli.serve.app import create_app
    from cnn_cli.serve.served import Served

    run = tmp_path / "run_format1"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "run_format1", run)
    digits = np.load(Path(__file__).resolve().parents[1] / "data" / "mnist_sample.npz")["x_test"][:4]
    paths = []
    for i, digit in enumerate(digits):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(digit).save(paths[-1])
    result = runner.invoke(main, ["predict", str(run), *map(str, paths), "--top-k", "10", "--json"])
    assert result.exit_code == 0, result.output
    expected = [p["top"] for p in json.loads(result.output[result.output.index("{"):])["predictions"]]
    served = Served(run)
    try:
        answer = TestClient(create_app(served)).post("/predict?top_k=10", files=[
            ("file", (path.name, path.read_bytes())) for path in paths])
        assert answer.status_code == 200, answer.text
        for entry, top in zip(answer.json()["predictions"], expected):
            assert [t["class"] for t in entry["top"]] == [t["name"] for t in top]
            assert [t["score"] for t in entry["top"]] == pytest.approx([t["probability"] for t in top], abs=1e-6)
    finally:
        served.close()
