"""README's walkthrough of the first hour runs as written: its shell commands, its config file and its Python
example, in order, in a fresh folder beside `configs/`, `data/` and `scripts/` (links to the repository's)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.run_helpers import ROOT

pytestmark = pytest.mark.slow

WALKTHROUGH = "## The first hour: five tasks"
PYTHON_FACE = "## Use a trained model from Python"


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start: end if end != -1 else len(text)]


def _blocks(section: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, in order."""
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _commands(body: str) -> list[tuple[list[str], str]]:
    """Each command of a shell block (continued lines joined) as argv, with its trailing comment."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():
        if not line.strip():
            continue
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        argv = shlex.split(line, comments=True)
        if argv[0] == "cnn":
            argv = [sys.executable, "-m", "cnn_cli", *argv[1:]]
        elif argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        out.append((argv, comment))
    return out


def _run(argv: list[str], cwd: Path, env: dict, expect: int = 0) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=420)
    output = done.stdout + done.stderr
    assert done.returncode == expect, f"{' '.join(argv)} -> {done.returncode}\n{output[-3000:]}"
    return output


def test_readme_walkthrough_runs_as_written(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("configs", "data", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    outputs: list[str] = []
    blocks = _blocks(_section(text, WALKTHROUGH))
    assert [lang for lang, _ in blocks].count("sh") >= 6
    for lang, body in blocks:
        if lang == "yaml":
            name = body.splitlines()[0].removeprefix("#").strip()
            (tmp_path / name).write_text(body, encoding="utf-8")
            continue
        for argv, comment in _commands(body):
            if "Ctrl-C" in comment:  # the test's stand-in for pressing Ctrl-C after the first epoch
                outputs.append(_run(argv, tmp_path, {**env, "CNN_TEST_STOP_AFTER_EPOCH": "1"}, expect=130))
            else:
                outputs.append(_run(argv, tmp_path, env))
    everything = "\n".join(outputs)
    assert "Warning: my_digits/inverted-7.png: its background is light" in everything
    assert "Skipped 2 file(s), as cnn train does: my_digits/README.txt" in everything
    assert "  train 72, validation 24, test 24" in everything
    assert "Extending the complete run from epoch 2 to 4 (planned 2)" in everything
    assert "Initialized 3 of 3 layers with weights from runs/clothes: conv2d, conv2d_1, dense" in everything
    line = next(text for text in everything.splitlines() if text.startswith("my_images/sneaker/00.png: "))
    assert "sneaker " in line  # --top-k 2: the right class among the two most likely (3 classes, 3 epochs)

    (python,) = [body for lang, body in _blocks(_section(text, PYTHON_FACE)) if lang == "python"]
    out = _run([sys.executable, "-c", python], tmp_path, env)
    assert "['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']" in out and "Total params" in out
