"""A real `cnn serve` process on a free loopback port (`--port 0`, the address read from its first line):
answered over HTTP by the standard library's client, a bad input and then a good one; and its page in headless
Chromium (an image chosen, the bars drawn, the Grad-CAM shown, no console error, no request beyond the
server, nothing wider than a phone). Chromium's part skips where it is not installed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="cnn serve needs the extra serve: pip install -e '.[serve]'")
pytest.importorskip("uvicorn")

from tests import chromium  # noqa: E402
from tests.run_helpers import ROOT, clothes_folder, clothes_run  # noqa: E402

START_SECONDS = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(address, process) of `cnn serve` on the colour-folder run; stopped with Ctrl-C (SIGINT) afterwards."""
    logs = tmp_path_factory.mktemp("serve")
    out, err = (logs / "stdout.txt").open("w+"), (logs / "stderr.txt").open("w+")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "cnn_cli", "serve", str(clothes_run()), "--port", "0"],
                               cwd=ROOT, env=env, stdout=out, stderr=err)
    deadline = time.monotonic() + START_SECONDS
    address = None
    while address is None:
        found = re.search(r" at (http://127\.0\.0\.1:\d+/) ", (logs / "stdout.txt").read_text())
        address = found.group(1) if found else None
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"cnn serve did not start: {(logs / 'stdout.txt').read_text()} {(logs / 'stderr.txt').read_text()}")
        time.sleep(0.2)
    while True:  # said before uvicorn starts: wait until it answers
        try:
            urllib.request.urlopen(address + "health", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("cnn serve never answered /health")
            time.sleep(0.2)
    yield address, process, logs
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    out.close()
    err.close()


def post(url: str, files: list[tuple[str, str, bytes]]) -> tuple[int, dict]:
    """A multipart/form-data POST of (field, filename, bytes) parts: the status and the JSON answer."""
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
                    for field, name, data in files) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_served_process_answers_on_loopback(server):
    address, process, logs = server
    assert address.startswith("http://127.0.0.1:")
    assert "Warning" not in (logs / "stdout.txt").read_text() + (logs / "stderr.txt").read_text().split("Started")[0]
    info = json.loads(urllib.request.urlopen(address + "info", timeout=10).read())
    assert info["classes"] == ["sneaker", "trouser", "tshirt"]
    image = sorted((clothes_folder() / "trouser").glob("*.png"))[0]
    status, answer = post(address + "predict?top_k=2", [("file", "junk.png", b"GIF89a but no more")])
    assert status == 400 and "not a readable image" in answer["error"]
    status, answer = post(address + "predict?top_k=2", [("file", image.name, image.read_bytes())])
    assert status == 200, answer
    assert answer["predictions"][0]["source"] == image.name and len(answer["predictions"][0]["top"]) == 2
    assert process.poll() is None


@pytest.mark.skipif(not chromium.available(), reason=f"{chromium.CHROMIUM} is not installed (apt-get install chromium)")
def test_the_page_in_chromium(server, tmp_path):
    address, _, _ = server
    browser = chromium.Browser()
    try:
        browser.open(address, width=1000, height=900)
        browser.wait_until("document.getElementById('about').textContent.includes('classification')")
        image = sorted((clothes_folder() / "sneaker").glob("*.png"))[3]
        browser.choose_file("#file", image)
        browser.wait_until("document.querySelectorAll('#bars .row').length === 3 && "
                           "document.getElementById('cam').complete && document.getElementById('cam').naturalWidth > 0")
        bars = browser.evaluate("Array.from(document.querySelectorAll('#bars .row')).map(r => "
                                "[r.querySelector('.name').textContent, r.querySelector('.fill').getBoundingClientRect().width])")
        assert [name for name, _ in bars][0] == "sneaker" and bars[0][1] > bars[1][1] > 0
        assert browser.evaluate("document.getElementById('picture').naturalWidth") == 32
        assert browser.evaluate("document.getElementById('cam').naturalWidth") == 256
        assert "sneaker" in browser.evaluate("document.getElementById('cam-caption').textContent")
        shot = Path(os.environ.get("CNN_SERVE_SCREENSHOT", tmp_path / "serve.png"))
        browser.viewport(390, 844, mobile=True)  # a phone: nothing wider than its screen
        assert browser.evaluate("document.documentElement.scrollWidth") <= 390
        height = browser.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        browser.screenshot(shot, 390, height)
        assert shot.read_bytes()[:4] == b"\x89PNG"
        assert browser.errors() == []
        assert [url for url in browser.requests() if not url.startswith(("data:", address))] == []
        assert {url.removeprefix(address).split("?")[0] for url in browser.requests() if url.startswith(address)} \
            == {"", "info", "predict"}
    finally:
        browser.close()
