"""Keras' own distribution engine on JAX (`distribute.strategy: data_parallel`, docs/distributed.md) on one CPU
machine, every run in a subprocess (`--backend jax`; XLA's host devices are fixed when JAX starts):

- two host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2) train to the weights of one device,
  and evaluate the validation and test splits (odd sizes: every example repeated twice) to the same figures;
- two processes on localhost (JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, gloo) train one
  run to the end, process 0 writing the run directory, both ending with the same weights;
- a process SIGKILLed after epoch 1 ends the other with exit code 4 and one line; both resume to the end
  with every epoch once (slow).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.data.batches import Shard
from tests.run_helpers import RUN_CNN_COMMANDS, finish

ROOT = Path(__file__).resolve().parents[1]
MNIST = ["--backend", "jax", "--config", str(ROOT / "configs" / "mnist.yaml"),
         "--data", str(ROOT / "data" / "mnist_sample.npz")]
DATA_PARALLEL = ["--set", "distribute.strategy=data_parallel"]
PROCESS_TIMEOUT = 900  # a shared CPU: a 40 s run took 350 s under a load of 20
WEIGHT_TOLERANCE = 1e-5  # measured: 1e-7 apart after 2 epochs (the order of float32 sums only)

needs_jax = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import jax"], capture_output=True).returncode != 0,
    reason="JAX is not installed")


def _env(**extra) -> dict:
    drop = ("TF_CONFIG", "CNN_TEST_STOP_AFTER_EPOCH", "XLA_FLAGS", "KERAS_BACKEND", "JAX_COORDINATOR_ADDRESS",
            "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SLURM_")}
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)  # this checkout's cnn_cli
    return env | {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "CNN_PRECISION": "float32",
                  "CNN_JAX_HEARTBEAT_SECONDS": "15"} | extra


def _cnn(args: list[str], cwd: Path, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnn_cli", "train", *args], cwd=cwd, env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    code, out, _ = finish(proc, PROCESS_TIMEOUT, "a process")
    return code, out


def _two_processes(args: list[str], cwd: Path, env1: dict | None = None) -> list[tuple[int, str]]:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    tmp = cwd / "tmp"  # process 1's temporary run folder goes here (a killed process cannot delete its own)
    tmp.mkdir(exist_ok=True)
    common = {"JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": "2", "TMPDIR": str(tmp)}
    procs = [_cnn(args, cwd, **common, JAX_PROCESS_ID="0"),
             _cnn(args, cwd, **common, JAX_PROCESS_ID="1", **(env1 or {}))]
    return [_finish(p) for p in procs]


def _json(path: Path):
    return json.loads(path.read_text())


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_weights()


def _run_dir_printed(output: str) -> Path:
    found = re.findall(r"^Run directory: (.+)$", output, flags=re.M)
    assert found, output[-3000:]
    return Path(found[-1].strip())


def test_shard_parts_cover_every_example_exactly():
    """The part each process feeds: training batches cut to a multiple of the replicas, evaluation exact."""
    two_of_four = [Shard(2, p, 4) for p in range(2)]
    rows = np.arange(10)
    assert [s.part(rows[:8]).tolist() for s in two_of_four] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert two_of_four[0].used(n=175, batch=64) == 172 and Shard(1, 0, 2).used(176, 64) == 176
    # evaluation: 25 examples over 4 replicas -> every example 4 times, global batches of 64 (62 rounded up)
    (local0, b0), (local1, b1) = [s.eval_split(np.arange(100, 125), 62) for s in two_of_four]
    assert b0 == b1 == 32 and len(local0) == len(local1) == 50
    together = np.concatenate([np.concatenate([local0[i:i + 32], local1[i:i + 32]]) for i in range(0, 50, 32)])
    assert together.tolist() == np.repeat(np.arange(100, 125), 4).tolist()
    local, batch = Shard(1, 0, 2).eval_split(np.arange(30), 63)
    assert local.tolist() == list(range(30)) and batch == 64
    with pytest.raises(ValueError):
        Shard(3, 0, 4)


def test_data_parallel_refused_where_it_cannot_run(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith(("SLURM_", "JAX_"))]:
        monkeypatch.delenv(name)
    small = [*MNIST[2:], "--subset", "100", "--run-dir", str(tmp_path / "bad")]
    cases = [
        (["--backend", "tensorflow", *DATA_PARALLEL], {}, "Keras' distribution engine runs on JAX only"),
        (["--backend", "jax", *DATA_PARALLEL], {"JAX_NUM_PROCESSES": "2"},
         "JAX_NUM_PROCESSES set but not JAX_COORDINATOR_ADDRESS, JAX_PROCESS_ID"),
        (["--backend", "jax", *DATA_PARALLEL, "--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
         {}, "JAX_PROCESS_ID: expected 0 to 1"),
    ]
    procs = [_cnn([*args, *small], tmp_path, **env) for args, env, _ in cases]  # side by side
    for proc, (_, _, needle) in zip(procs, cases):
        code, out = _finish(proc)
        assert code == 2, out[-2000:]
        assert needle in out and "Traceback" not in out, out[-2000:]
        assert not (tmp_path / "bad").exists()


def _one_and_two_devices(args: list[str], cwd: Path) -> tuple[Path, Path]:
    """The run on one device, then on both host devices (data_parallel), one after another in one process (one
    JAX start-up; the data_parallel engine is a scope of its own run, nothing the first run leaves)."""
    one, two = cwd / "one", cwd / "two"
    argvs = [["train", *args, "--run-dir", str(one)], ["train", *args, *DATA_PARALLEL, "--run-dir", str(two)]]
    proc = subprocess.Popen([sys.executable, "-c", RUN_CNN_COMMANDS, json.dumps(argvs)], cwd=cwd,
                            env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, out, err = finish(proc, PROCESS_TIMEOUT)
    assert code == 0, (out + err)[-3000:]
    (code1, out1, err1), (code2, out2, err2) = json.loads(out.splitlines()[-1])
    assert code1 == 0, (out1 + err1)[-3000:]
    assert code2 == 0, (out2 + err2)[-3000:]
    assert "Training on 2 CPU devices" in out2 and "Training on 2 CPU devices" not in out1
    m1, m2 = _json(one / "metrics.json"), _json(two / "metrics.json")
    assert m1["distribute"] == {"strategy": "default", "replicas": 1, "workers": 1}  # auto: host devices are no GPUs
    assert m2["distribute"] == {"strategy": "data_parallel", "replicas": 2, "workers": 1}
    return one, two


@needs_jax
def test_two_host_devices_train_as_one_device(tmp_path):
    # 200 per split (validation split off the training set): batches of 64, 64, 64 and 8
    args = [*MNIST, "--subset", "200", "--epochs", "2", "--set", "data.validation_split=0.125"]
    one, two = _one_and_two_devices(args, tmp_path)
    a, b = _weights(one / "model.keras"), _weights(two / "model.keras")
    assert len(a) == len(b) and max(float(np.max(np.abs(x - y))) for x, y in zip(a, b)) <= WEIGHT_TOLERANCE
    for x, y in zip(_history(one), _history(two)):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(x[key]) == pytest.approx(float(y[key]), abs=1e-4), (key, x, y)
    m1, m2 = _json(one / "metrics.json"), _json(two / "metrics.json")
    for key in ("test_accuracy", "test_loss", "val_accuracy", "val_loss"):
        assert m1[key] == pytest.approx(m2[key], abs=1e-4), key


@needs_jax
@pytest.mark.slow
def test_two_host_devices_evaluate_odd_splits_exactly(tmp_path):
    """201 validation and test examples over 2 replicas: every example evaluated twice, the same figures as on
    one device (the learning rate is next to nothing: the one training example an epoch of 201 leaves out on
    two devices changes nothing)."""
    args = [*MNIST, "--subset", "201", "--epochs", "1", "--set", "data.validation_split=0.125",
            "--set", "train.optimizer.learning_rate=1e-12"]
    one, two = _one_and_two_devices(args, tmp_path)
    m1, m2 = _json(one / "metrics.json"), _json(two / "metrics.json")
    assert m1["test_examples"] == m2["test_examples"] == 201
    for key in ("test_accuracy", "test_loss", "val_accuracy", "val_loss"):
        assert m1[key] == pytest.approx(m2[key], abs=1e-5), key


@needs_jax
def test_two_processes_train_one_run(tmp_path):
    (c0, out0), (c1, out1) = _two_processes([*MNIST, "--subset", "100", "--epochs", "1", *DATA_PARALLEL],
                                            tmp_path, {"CNN_KEEP_WORKER_DIR": "1"})
    assert c0 == 0 and c1 == 0, out0[-3000:] + out1[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # process 0 alone writes the run directory
    run, other = runs[0], _run_dir_printed(out1)
    try:
        assert other.resolve().parent == (tmp_path / "tmp").resolve()
        chief, second = _weights(run / "model.keras"), _weights(other / "model.keras")
        assert all(np.array_equal(x, y) for x, y in zip(chief, second))
    finally:
        shutil.rmtree(other, ignore_errors=True)
    metrics = _json(run / "metrics.json")
    assert metrics["distribute"] == {"strategy": "data_parallel", "replicas": 2, "workers": 2}
    assert metrics["test_examples"] == 100 and _json(run / "run.json")["status"] == "complete"
    line = re.compile(r"^Test accuracy: .+$", re.M)
    assert line.findall(out0) == line.findall(out1) and line.findall(out0)


@needs_jax
@pytest.mark.slow
def test_lost_process_ends_the_other_then_both_resume(tmp_path):
    run = tmp_path / "run"
    args = [*MNIST, "--subset", "200", "--epochs", "3", *DATA_PARALLEL, "--run-dir", str(run)]
    (c0, out0), (c1, out1) = _two_processes(args, tmp_path, {"CNN_TEST_KILL_AFTER_EPOCH": "1"})
    assert c1 == -9, out1[-3000:]
    assert c0 == 4, out0[-3000:]
    assert "another process died or cannot be reached" in out0 and f"cnn train --resume {run}" in out0
    assert "Traceback" not in out0 and "Check failure" not in out0
    assert _json(run / "run.json")["status"] == "failed"
    assert [r["epoch"] for r in _history(run)] == ["1"] and (run / "backup").is_dir()

    (c0, out0), (c1, out1) = _two_processes(["--backend", "jax", "--resume", str(run)], tmp_path)
    assert c0 == 0 and c1 == 0, out0[-3000:] + out1[-3000:]
    assert [r["epoch"] for r in _history(run)] == ["1", "2", "3"]
    record = _json(run / "run.json")
    assert record["status"] == "complete" and len(record["resumed"]) == 1
    assert _json(run / "metrics.json")["epochs_run"] == 3
