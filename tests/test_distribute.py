"""Distributed training (`distribute:`, docs/distributed.md) on one CPU machine.

- `mirrored` over two logical CPU devices (in a subprocess: logical devices cannot be undone in-process)
  against one device;
- `multi_worker`: two `cnn train` processes on localhost (TF_CONFIG, ports picked by binding to port 0),
  identical final weights and one run directory; a worker killed between epochs makes the chief fail with
  exit code 4 (the coordination service notices the missing heartbeats; collective ops also time out after
  `distribute.timeout_seconds`), and restarting both with `--resume` finishes the run.
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

from cnn_cli.cli import main
from tests.run_helpers import RUN_CNN_COMMANDS, finish

ROOT = Path(__file__).resolve().parents[1]
MNIST = ["--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(ROOT / "data" / "mnist_sample.npz")]
SMALL = [*MNIST, "--subset", "200"]
TWO_CPUS = ["--set", "distribute.strategy=mirrored", "--set", "distribute.devices=[/cpu:0, /cpu:1]"]
MULTI = ["--set", "distribute.strategy=multi_worker", "--set", "distribute.timeout_seconds=60"]
# Per-epoch training loss, mirrored over 2 replicas vs one device: the same examples in every step, only the
# order of the floating-point sums differs (measured: at most 3e-3 apart on this data).
LOSS_TOLERANCE = 0.01
PROCESS_TIMEOUT = 240


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _json(path: Path):
    return json.loads(path.read_text())


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "CNN_TEST_STOP_AFTER_EPOCH")}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "CNN_PRECISION": "float32"} | extra


def _cnn(args: list[str], cwd: Path, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnn_cli", "train", *args], cwd=cwd, env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    code, out, _ = finish(proc, PROCESS_TIMEOUT, "a worker")
    return code, out


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tf_configs(n: int) -> list[str]:
    workers = [f"localhost:{port}" for port in _free_ports(n)]
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}) for i in range(n)]


def _two_workers(args: list[str], cwd: Path, env1: dict | None = None) -> list[tuple[int, str]]:
    configs = _tf_configs(2)
    tmp = cwd / "tmp"  # the non-chief's temporary run folder goes here (a killed worker cannot delete its own)
    tmp.mkdir(exist_ok=True)
    procs = [_cnn(args, cwd, TF_CONFIG=configs[0], TMPDIR=str(tmp)),
             _cnn(args, cwd, TF_CONFIG=configs[1], TMPDIR=str(tmp), **(env1 or {}))]
    return [_finish(p) for p in procs]


def _run_dir_printed(output: str) -> Path:
    found = re.findall(r"^Run directory: (.+)$", output, flags=re.M)
    assert found, output[-3000:]
    return Path(found[-1].strip())


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_weights()


def test_config_errors(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    cases = [
        (["--set", "distribute.devices=[/cpu:0]"], "distribute: devices are for strategy mirrored or one_device"),
        (["--set", "distribute.strategy=mirrored", "--set", "distribute.devices=[cpu0]"], "distribute.devices"),
        (["--set", "distribute.strategy=one_device", "--set", "distribute.devices=[/cpu:0, /cpu:1]"], "exactly one"),
        (["--set", "distribute.strategy=everywhere"], "distribute.strategy"),
        (MULTI, "no cluster found; set TF_CONFIG"),
    ]
    for args, needle in cases:
        result = runner.invoke(main, ["train", *SMALL, "--run-dir", str(tmp_path / "bad"), *args])
        assert result.exit_code == 2, result.output
        assert needle in result.output and "Traceback" not in result.output
        assert not (tmp_path / "bad").exists()


def test_mirrored_two_cpus_matches_one_device(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_PRECISION", "float32")
    one, two = tmp_path / "one", tmp_path / "two"
    result = runner.invoke(main, ["train", *SMALL, "--epochs", "3", "--run-dir", str(one)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    # one subprocess (logical devices cannot be undone in-process) runs the refused odd batch, then the mirrored
    # run, one after the other (one start-up)
    argvs = [["train", *SMALL, *TWO_CPUS, "--set", "train.batch_size=63", "--run-dir", str(tmp_path / "odd")],
             ["train", *SMALL, *TWO_CPUS, "--epochs", "3", "--run-dir", str(two)]]
    code, out = _finish(subprocess.Popen([sys.executable, "-c", RUN_CNN_COMMANDS, json.dumps(argvs)], cwd=ROOT,
                                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    assert code == 0, out[-3000:]
    done = next(line for line in reversed(out.splitlines()) if line.startswith("[["))  # the commands' outcomes
    (code, out, err), (code2, out2, err2) = json.loads(done)
    # The global batch must split evenly over the replicas: one line, exit code 2, no run directory.
    assert code == 2, out + err
    assert "train.batch_size: expected a multiple of the 2 replicas of distribute.strategy mirrored" in out + err
    assert not (tmp_path / "odd").exists()

    assert code2 == 0, out2 + err2
    assert _json(two / "metrics.json")["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert _json(one / "metrics.json")["distribute"] == {"strategy": "default", "replicas": 1, "workers": 1}
    a, b = _history(one), _history(two)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b] == ["1", "2", "3"]
    for x, y in zip(a, b):
        assert abs(float(x["loss"]) - float(y["loss"])) <= LOSS_TOLERANCE, (a, b)
    assert float(b[-1]["loss"]) < float(b[0]["loss"])


def test_multi_worker_identical_weights_one_run_directory(tmp_path):
    (w0, out0), (w1, out1) = _two_workers([*SMALL, "--epochs", "2", *MULTI], tmp_path, {"CNN_KEEP_WORKER_DIR": "1"})
    assert w0 == 0 and w1 == 0, out0[-3000:] + out1[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["runs", "tmp"], runs
    run = runs[0]
    assert (tmp_path / _run_dir_printed(out0)).resolve() == run.resolve()  # printed relative to the cwd
    worker_dir = _run_dir_printed(out1)
    try:
        assert worker_dir.resolve().parent == (tmp_path / "tmp").resolve()
        chief, other = _weights(run / "model.keras"), _weights(worker_dir / "model.keras")
        assert len(chief) == len(other) and all(np.array_equal(x, y) for x, y in zip(chief, other))
    finally:
        shutil.rmtree(worker_dir, ignore_errors=True)
    assert [r["epoch"] for r in _history(run)] == ["1", "2"]
    metrics = _json(run / "metrics.json")
    assert metrics["distribute"] == {"strategy": "multi_worker", "replicas": 2, "workers": 2}
    assert metrics["test_examples"] == 200 and metrics["epochs_run"] == 2
    assert _json(run / "run.json")["status"] == "complete" and _backups(run) == ["epoch-000002"]
    # every worker reports the same test result: the evaluation is reduced over both
    line = re.compile(r"^Test accuracy: .+$", re.M)
    assert line.findall(out0) == line.findall(out1) and line.findall(out0)


def test_multi_worker_lost_worker_fails_then_resumes(tmp_path):
    run = tmp_path / "run"
    args = [*SMALL, "--epochs", "3", *MULTI, "--run-dir", str(run)]
    (w0, out0), (w1, out1) = _two_workers(args, tmp_path, {"CNN_TEST_KILL_AFTER_EPOCH": "1"})
    assert w1 == -9, out1[-3000:]
    assert w0 == 4, out0[-3000:]
    assert "another worker died or cannot be reached" in out0 and f"cnn train --resume {run}" in out0
    assert _json(run / "run.json")["status"] == "failed"
    assert [r["epoch"] for r in _history(run)] == ["1"] and (run / "backup").is_dir()

    (w0, out0), (w1, out1) = _two_workers(["--resume", str(run)], tmp_path)
    assert w0 == 0 and w1 == 0, out0[-3000:] + out1[-3000:]
    assert [r["epoch"] for r in _history(run)] == ["1", "2", "3"]
    record = _json(run / "run.json")
    assert record["status"] == "complete" and len(record["resumed"]) == 1
    assert _json(run / "metrics.json")["epochs_run"] == 3 and _backups(run) == ["epoch-000003"]
    assert not _run_dir_printed(out1).exists()  # the non-chief's temporary folder is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "tmp"]
    # left: only the temporary folder of the worker killed with SIGKILL
    assert len([p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("cnn-worker")]) == 1


def test_the_run_holds_its_distribution(monkeypatch):
    """The strategy is an object the run holds (no module state): made from the config, it says what it is."""
    from cnn_cli.resolve.run_config import load_resolved
    from cnn_cli.training import distribute

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert not any(name.isupper() and name.startswith("_") for name in vars(distribute))  # no _STATE
    config = load_resolved(str(ROOT / "configs" / "mnist.yaml"), ["distribute.strategy=one_device"])
    assert distribute.worker_of(config) is None
    dist = distribute.Distribution.start(config, source="mnist.yaml", worker=None, run_dir=Path("r"))
    assert dist.is_chief and dist.replicas() == 1 and type(dist.strategy).__name__ == "OneDeviceStrategy"
    assert dist.describe() == {"strategy": "one_device", "replicas": 1, "workers": 1}


def _backups(run):
    """The backup generations a run directory holds (a complete run keeps its last epoch's)."""
    return sorted(p.name for p in (run / "backup").iterdir()) if (run / "backup").is_dir() else []
