"""The tool without TensorFlow: real `cnn` processes on the JAX (and PyTorch) backend in which `import
tensorflow` fails (the meta path's PathFinder, replaced before anything is imported, finds no TensorFlow, as
where it is not installed) train the MNIST sample, are killed after an epoch, resume, and evaluate; the resumed run ends with
the weights of an uninterrupted one (the CPU kernels are deterministic). Each backend's test is skipped, with
the reason, where its package is absent (CI installs JAX's CPU wheel; PyTorch is optional)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_cli import backends
from tests.run_helpers import RUN_CNN_COMMANDS

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def _installed(package: str) -> bool:
    return any((Path(p) / package).is_dir() for p in sys.path if p)


JAX = pytest.mark.skipif(not _installed("jax"), reason="JAX is not installed (pip install 'cnn-cli[jax]')")
BACKENDS = [
    pytest.param("jax", marks=JAX),
    pytest.param("torch", marks=[
        pytest.mark.skipif(not _installed("torch"), reason="PyTorch is not installed (pip install 'cnn-cli[torch]')"),
    ]),
]
LABELS = {"jax": "JAX", "torch": "PyTorch"}

# Runs `cnn` with `import tensorflow` (and TensorBoard, which needs it) failing as a missing package does.
def hide(*packages: str) -> str:
    """Python code that makes `packages` impossible to import, as where they are not installed (the meta path's
    PathFinder replaced by one that does not find them), to run before anything is imported."""
    return f'''
import sys
from importlib.machinery import PathFinder

class Hide(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in {packages!r}:
            return None
        return PathFinder.find_spec(name, path, target)

sys.meta_path[:] = [Hide if finder is PathFinder else finder for finder in sys.meta_path]
'''


NO_TENSORFLOW = hide("tensorflow", "tensorboard", "tf_keras")
RUN_CNN = r'''
from cnn_cli.cli import main

sys.argv = ["cnn", *sys.argv[1:]]
main()
'''
CNN = NO_TENSORFLOW + RUN_CNN
ARGS = ["--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz", "--subset", "200", "--epochs", "2",
        "--set", "train.deterministic=true", "--set", "train.batch_size=32", "--seed", "7",
        "--set", "train.callbacks.early_stopping={monitor: loss, patience: 3}"]


def start(*args: str, env: dict | None = None, code: str = CNN) -> subprocess.Popen:
    """`cnn ARGS` started in a process where TensorFlow cannot be imported (`finish` waits for it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CNN_TEST_", "KERAS_BACKEND"))}
    clean["PYTHONPATH"] = os.pathsep.join([str(ROOT), clean.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env={**clean, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def cnn(*args: str, env: dict | None = None, code: str = CNN) -> subprocess.CompletedProcess:
    """`cnn ARGS` in a process where TensorFlow cannot be imported."""
    return finish(start(*args, env=env, code=code))


def cnn_commands(*commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Each `cnn COMMAND` in turn, in one process where TensorFlow cannot be imported."""
    ran = cnn(json.dumps(commands), code=NO_TENSORFLOW + RUN_CNN_COMMANDS)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return [subprocess.CompletedProcess(argv, code, out, err)
            for argv, (code, out, err) in zip(commands, json.loads(ran.stdout.splitlines()[-1]), strict=True)]


def test_the_finder_makes_tensorflow_missing():
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW + "import tensorflow"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "ModuleNotFoundError: No module named 'tensorflow'" in result.stderr


def _epochs(run: Path) -> list[int]:
    with (run / "history.csv").open(newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(path, safe_mode=True).get_weights()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_killed_resume_and_evaluate(tmp_path, backend):
    reference, run = tmp_path / "reference", tmp_path / "run"
    killed = cnn("train", *ARGS, "--run-dir", str(run), env={"KERAS_BACKEND": backend, "CNN_TEST_KILL_AFTER_EPOCH": "1"})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert _epochs(run) == [1] and json.loads((run / "run.json").read_text())["status"] == "running"

    from PIL import Image

    digit = np.load(ROOT / "data" / "mnist_sample.npz")["x_test"][0]
    Image.fromarray(digit.reshape(28, 28)).save(tmp_path / "digit.png")
    # the uninterrupted run, the resume of the killed one, then evaluate, predict and summary of it, one after
    # another in one process (one start-up)
    whole, resumed, evaluated, predicted, summary = cnn_commands(
        ["train", "--backend", backend, *ARGS, "--run-dir", str(reference)],
        ["train", "--backend", backend, "--resume", str(run)],
        ["evaluate", "--backend", backend, str(run), "--json", "--no-write"],
        ["predict", "--backend", backend, str(run), str(tmp_path / "digit.png"), "--json"],
        ["summary", "--backend", backend, str(run), "--json"])
    assert whole.returncode == 0, whole.stdout + whole.stderr
    precision = backends.lookup(backend).cpu_precision()  # PyTorch: mixed_bfloat16 on a CPU with AMX
    assert "Training on CPU (" in whole.stdout and f", {precision}, {LABELS[backend]} " in whole.stdout
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _epochs(run) == [1, 2]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["device"].startswith("CPU (")
    assert backend in metrics["versions"] and "tensorflow" not in metrics["versions"]
    assert metrics["resumed"] == 1 and metrics["test_examples"] == 200
    for got, want in zip(_weights(run / "model.keras"), _weights(reference / "model.keras"), strict=True):
        np.testing.assert_array_equal(got, want)

    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["num_examples"] == 200
    assert abs(report["accuracy"] - metrics["test_accuracy"]) < 1e-6
    assert (run / "best.keras").is_file()

    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    assert str(tmp_path / "digit.png") in predicted.stdout
    assert summary.returncode == 0, summary.stdout + summary.stderr
    assert json.loads(summary.stdout)["total_params"] == 93_322


@JAX
def test_tensorflow_only_features_are_refused_in_one_line(tmp_path):
    mirrored = cnn("train", "--backend", "jax", *ARGS, "--run-dir", str(tmp_path / "m"),
                   "--set", "distribute.strategy=mirrored")
    assert mirrored.returncode == 2
    assert mirrored.stderr.strip().splitlines() == [
        "Error: distribute.strategy mirrored: tf.distribute strategies need the TensorFlow backend (this run uses "
        "JAX); use distribute.strategy data_parallel (Keras' own engine), or use --backend tensorflow"]
    board = cnn("train", "--backend", "jax", *ARGS, "--run-dir", str(tmp_path / "t"),
                "--set", "train.callbacks.tensorboard.enabled=true")
    assert board.returncode == 2 and len(board.stderr.strip().splitlines()) == 1
    assert "TensorBoard logs are written with TensorFlow, which is not installed" in board.stderr
    missing = cnn("train", "--backend", "tensorflow", *ARGS, "--run-dir", str(tmp_path / "x"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("Error: the TensorFlow backend is not installed: pip install "
                                      "'cnn-cli[tensorflow]', or use --backend jax" + _torch_too())


def _torch_too() -> str:
    return " or --backend torch" if any((Path(p) / "torch").is_dir() for p in sys.path if p) else ""


def test_with_no_backend_at_all_one_line_says_how_to_get_one(tmp_path):
    code = hide("tensorflow", "jax", "jaxlib", "torch") + RUN_CNN
    want = ("Error: Keras needs a backend and none is installed: pip install 'cnn-cli[tensorflow]' "
            "(or 'cnn-cli[jax]', or 'cnn-cli[torch]')")
    for args in (["summary", "--config", "configs/mnist.yaml"],
                 ["train", *ARGS, "--run-dir", str(tmp_path / "run")],
                 ["compare", "--config", "configs/mnist.yaml", "--vary", "train.optimizer=adam,sgd",
                  "--out", str(tmp_path / "compare")]):
        result = cnn(*args, code=code)
        assert (result.returncode, result.stderr.strip()) == (2, want), args
    assert not (tmp_path / "run").exists() and not (tmp_path / "compare").exists()
