"""`train.jit_compile`: the compiled step reaches Keras' `compile` (and the saved model says so), and
PyTorch's torch.compile without a C++ compiler is refused in one line before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnn_cli.cli import main

ROOT = Path(__file__).resolve().parents[1]
MNIST_NPZ = ROOT / "data" / "mnist_sample.npz"


def _compile_config(run: Path) -> dict:
    with zipfile.ZipFile(run / "model.keras") as archive:
        return json.loads(archive.read("config.json"))["compile_config"]


@pytest.mark.parametrize("value", ["false", pytest.param("true", marks=pytest.mark.slow)])
def test_jit_compile_reaches_keras_compile(tmp_path, value):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--config", str(ROOT / "configs" / "mnist.yaml"), "--data",
                                       str(MNIST_NPZ), "--subset", "256", "--epochs", "1", "--set",
                                       f"train.jit_compile={value}", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert _compile_config(run)["jit_compile"] is (value == "true")  # the default would say "auto"


def test_jit_compile_on_torch_without_a_cpp_compiler_is_one_line(tmp_path):
    pytest.importorskip("torch")
    bare = tmp_path / "bin"  # a PATH with the interpreter only: no g++, no clang++
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CXX"}
    env.update(PATH=str(bare), KERAS_BACKEND="torch")
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "cnn_cli", "train", "--config", "configs/mnist.yaml", "--data",
                           str(MNIST_NPZ), "--set", "train.jit_compile=true", "--run-dir", str(run)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: configs/mnist.yaml: train.jit_compile: true compiles the step with torch.compile, which needs a "
        "C++ compiler at run time (g++ or clang++, or CXX): install one, or set train.jit_compile: auto")
    assert "Traceback" not in done.stderr and not run.exists()


@pytest.mark.slow
def test_torch_compile_trains_a_run(tmp_path):
    """A PyTorch run with torch.compile trains to the end (its warm-up is most of the minute this takes)."""
    pytest.importorskip("torch")
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "cnn_cli", "train", "--backend", "torch", "--config",
                           "configs/mnist.yaml", "--data", str(MNIST_NPZ), "--subset", "256", "--epochs", "1",
                           "--set", "train.jit_compile=true", "--run-dir", str(run)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _compile_config(run)["jit_compile"] is True
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0.1
