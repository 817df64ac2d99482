"""A small DevTools-protocol client for headless Chromium over `--remote-debugging-pipe` (standard library only):
open a local page (or one served on loopback), choose a file for an upload, wait for the page to show something,
collect its console errors, exceptions and network requests, evaluate JavaScript, take a
screenshot, and resize the viewport (a phone's width)."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--remote-debugging-pipe"]


def available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


class Browser:
    """One headless Chromium with one page; events are kept in `events` as they arrive."""

    def __init__(self, timeout: float = 60.0):
        self.timeout, self.events, self._next, self._buffer = timeout, [], 0, b""
        self._profile = tempfile.mkdtemp(prefix="cnn-chromium-")
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        script = 'exec "$0" "$@" 3<&"$CNN_CMD_FD" 4>&"$CNN_REPLY_FD"'
        env = {**os.environ, "CNN_CMD_FD": str(commands_r), "CNN_REPLY_FD": str(replies_w)}
        self._process = subprocess.Popen(
            ["bash", "-c", script, CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            pass_fds=(commands_r, replies_w), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_r)
        os.close(replies_w)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _send(self, message: dict) -> None:
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, after: int = 0) -> dict:
        """The first event `method` among the events from position `after` on, waiting for it if need be."""
        deadline = time.monotonic() + self.timeout
        seen = [e for e in self.events[after:] if e["method"] == method]
        while not seen:
            event = self._receive(deadline)
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return event
        return seen[0]

    def open(self, path: Path | str, width: int = 1100, height: int = 900, mobile: bool = False) -> None:
        """Opens a local file, or an http:// address (a server on loopback)."""
        self.viewport(width, height, mobile)
        start = len(self.events)
        url = path if str(path).startswith("http://") else Path(path).resolve().as_uri()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired", after=start)

    def choose_file(self, selector: str, path: Path) -> None:
        """Sets the file of the page's `<input type=file>` at `selector`, as a user choosing it does (the input's
        change event fires)."""
        root = self.call("DOM.getDocument", session=True)["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector}, session=True)["nodeId"]
        self.call("DOM.setFileInputFiles", {"files": [str(Path(path).resolve())], "nodeId": node}, session=True)

    def wait_until(self, expression: str, timeout: float | None = None):
        """Evaluates `expression` until it is truthy (every 0.1 s), and gives its value; TimeoutError after
        `timeout` seconds (the browser's own by default)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true: {expression}")
            time.sleep(0.1)

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, session=True)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int, height: int) -> None:
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                         "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}, session=True)
        Path(path).write_bytes(base64.b64decode(shot["data"]))

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (a refused fetch shows up here too)."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._replies)
        shutil.rmtree(self._profile, ignore_errors=True)
