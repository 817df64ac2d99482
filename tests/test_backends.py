"""The backend boundary: which backend runs (--backend, KERAS_BACKEND), the devices in words and the run's start
line, metrics.json's backend and device, a device that does not exist refused, and the one line for a backend
that is not installed. (Runs on JAX and PyTorch without TensorFlow: tests/test_without_tensorflow.py.)"""

from __future__ import annotations

import json
import re

import pytest

from cnn_cli import backends
from cnn_cli.backends import device
from cnn_cli.cli import main
from cnn_cli.errors import CnnError
from tests.run_helpers import MNIST_NPZ, mnist_run


@pytest.mark.parametrize(("raw", "short"), [
    ("AMD EPYC 9B14 96-Core Processor", "AMD EPYC 9B14"),
    ("Intel(R) Xeon(R) CPU @ 2.20GHz", "Intel Xeon"),
    ("Intel(R) Core(TM) i7-10510U CPU @ 1.80GHz", "Intel Core i7-10510U"),
    ("AMD EPYC", "AMD EPYC"),
])
def test_cpu_model_names_are_shortened(raw, short):
    assert device._short_cpu(raw) == short


def test_devices_in_words(monkeypatch):
    monkeypatch.setattr(device, "cpu_model", lambda: "AMD EPYC")
    monkeypatch.setattr(device, "cpu_cores", lambda: 2)
    assert device.Devices().describe() == "CPU (AMD EPYC, 2 cores)"
    assert device.Devices(cpus=2).describe() == "2 CPU devices (AMD EPYC, 2 cores)"
    assert device.Devices(gpus=("NVIDIA H100 80GB HBM3",)).describe() == "GPU (NVIDIA H100 80GB HBM3)"
    assert device.Devices(gpus=("NVIDIA A100", "NVIDIA A100")).describe() == "2 GPUs (2 x NVIDIA A100)"
    line = device.start_line(device.Devices(), "mixed_bfloat16", "TensorFlow", "2.21.0", "3.15.1")
    assert line == "Training on CPU (AMD EPYC, 2 cores), mixed_bfloat16, TensorFlow 2.21, Keras 3.15"
    assert device.short_version("2.13.0+cpu") == "2.13"


def test_the_backend_comes_from_keras_once_it_runs(monkeypatch):
    import keras

    running = keras.backend.backend()
    other = "jax" if running != "jax" else "torch"
    monkeypatch.setenv("KERAS_BACKEND", other)  # too late: Keras runs in this process already
    assert backends.name() == running
    assert backends.current().NAME == running
    with pytest.raises(CnnError, match=rf"^--backend {other}: Keras already runs on {running} in this process$"):
        backends.select(other)
    backends.select(running)


def test_a_missing_backend_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(backends, "installed", lambda package: package == "jax")
    assert backends.missing_message("tensorflow") == (
        "the TensorFlow backend is not installed: pip install 'cnn-cli[tensorflow]', or use --backend jax")
    monkeypatch.setattr(backends, "installed", lambda package: False)
    assert backends.missing_message("torch") == (
        "Keras needs a backend and none is installed: pip install 'cnn-cli[tensorflow]' (or 'cnn-cli[jax]', "
        "or 'cnn-cli[torch]')")


def test_metrics_name_the_backend_and_device():
    import keras

    metrics = json.loads((mnist_run() / "metrics.json").read_text())
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["device"] == device.Devices().describe()
    assert re.fullmatch(r"CPU \(.+, \d+ cores?\)", metrics["device"])
    assert metrics["versions"][metrics["backend"]] == backends.current().version()


def _on_tensorflow():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras runs on another backend in this test process")
    import tensorflow as tf

    return tf


def test_train_starts_with_one_line_of_devices_precision_and_versions(runner, tmp_path):
    import keras

    tf = _on_tensorflow()
    from cnn_cli.training.precision import choose_precision

    result = runner.invoke(main, ["train", "--backend", "tensorflow", "--config", "configs/mnist.yaml",
                                  "--data", str(MNIST_NPZ), "--subset", "64", "--epochs", "1",
                                  "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first == (f"Training on {device.Devices().describe()}, {choose_precision('auto')}, TensorFlow "
                     f"{device.short_version(tf.__version__)}, Keras {device.short_version(keras.__version__)}")


def test_a_gpu_that_does_not_exist_is_refused(runner, tmp_path):
    tf = _on_tensorflow()
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", "configs/mnist.yaml", "--data", str(MNIST_NPZ),
                                  "--subset", "64", "--epochs", "1", "--run-dir", str(run),
                                  "--set", "distribute.strategy=one_device", "--set", "distribute.devices=[/gpu:0]"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: distribute.devices: /gpu:0 does not exist: this machine has no GPU "
                                     "that the backend can use")
    assert not run.exists()


@pytest.mark.parametrize(("flags", "tensorflow", "torch"), [
    ({"avx512_bf16", "amx_bf16"}, "mixed_bfloat16", "mixed_bfloat16"),  # AMX: PyTorch's oneDNN uses its tiles
    ({"avx512_bf16"}, "mixed_bfloat16", "float32"),  # AVX512_BF16 alone: PyTorch's bf16 was no faster
    ({"avx2"}, "float32", "float32"),
])
def test_precision_auto_on_a_cpu_follows_what_was_measured(monkeypatch, flags, tensorflow, torch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
    assert backends.lookup("tensorflow").cpu_precision() == tensorflow
    assert backends.lookup("torch").cpu_precision() == torch
    assert backends.lookup("jax").cpu_precision() == "float32"  # XLA's CPU backend was slower in bf16
