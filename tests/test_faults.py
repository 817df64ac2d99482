"""Faults while `cnn train` runs: each ends with one line, its exit code (2 bad input or an unwritable run
directory, 3 diverged, 130 interrupted), no half-written file that looks finished, and run.json saying
where the run stands.

Writes fail in-process (CliRunner) through a patched `cnn_cli.rundir.atomic.fsync_file`, the step every
atomic write takes before its rename (the tests run as root, for whom chmod stops nothing); Ctrl-C is a
real SIGINT to a real `cnn train` process.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.rundir import atomic as files

ROOT = Path(__file__).resolve().parents[1]
MNIST = ["--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz", "--subset", "300"]


def _json(path: Path):
    return json.loads(path.read_text())


def _epochs(run: Path) -> list[int]:
    with (run / "history.csv").open(newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def _one_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def _temps(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.startswith(".tmp-")]


def _fail_writes(monkeypatch, name: str, err: int) -> None:
    """Every atomic write of a file called `name` fails with `err` (after its temp file is written)."""
    real = files.fsync_file

    def fsync_file(path):
        if str(path).endswith(f"-{name}"):
            raise OSError(err, os.strerror(err))
        real(path)

    monkeypatch.setattr(files, "fsync_file", fsync_file)


def test_nan_loss_exits_3(runner, tmp_path):
    run = tmp_path / "nan"
    result = runner.invoke(main, ["train", *MNIST, "--epochs", "2", "--run-dir", str(run),
                                  "--set", "train.optimizer={name: sgd, learning_rate: 1.0e+30}",
                                  "--set", "train.precision=float32"])  # bfloat16 on AMX: the loss stays finite
    assert result.exit_code == 3, result.output
    assert "training diverged" in _one_error_line(result.output)
    assert _json(run / "run.json")["status"] == "diverged"
    assert not (run / "model.keras").exists() and not (run / "backup").exists() and not _temps(run)


def _empty_test_split(data):
    data["x_test"], data["y_test"] = data["x_test"][:0], data["y_test"][:0]


def _label_outside_class_map(data):
    data["y_test"] = data["y_test"].copy()
    data["y_test"][5] = 42


@pytest.mark.parametrize("damage, message", [
    (_empty_test_split, "test split has no examples"),
    (_label_outside_class_map, "label 42 is not one of the 10 classes"),
], ids=["empty_split", "label_outside_class_map"])
def test_bad_data_exits_2(runner, tmp_path, damage, message):
    data = dict(np.load(ROOT / "data" / "mnist_sample.npz"))
    damage(data)
    np.savez(tmp_path / "bad.npz", **data)
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", "configs/mnist.yaml", "--data", str(tmp_path / "bad.npz"),
                                  "--subset", "50", "--epochs", "1", "--run-dir", str(run)])
    assert result.exit_code == 2, result.output
    assert message in _one_error_line(result.output)
    assert not run.exists()


def test_run_dir_cannot_be_made_exits_2(runner, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    for run in (tmp_path / "a_file" / "run", Path("/proc/cnn-test-run")):
        result = runner.invoke(main, ["train", *MNIST, "--epochs", "1", "--run-dir", str(run)])
        assert result.exit_code == 2, result.output
        assert "cannot create the run directory" in _one_error_line(result.output) or "not a directory" in result.output
        assert not run.exists()


def test_run_dir_unwritable_mid_run_exits_2(runner, tmp_path, monkeypatch):
    run = tmp_path / "run"
    _fail_writes(monkeypatch, "history.csv", errno.EACCES)
    result = runner.invoke(main, ["train", *MNIST, "--epochs", "2", "--run-dir", str(run)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert "history.csv: cannot write: Permission denied" in line and "--resume" in line
    record = _json(run / "run.json")
    assert record["status"] == "failed" and "Permission denied" in record["error"]
    assert not (run / "history.csv").exists() and not (run / "model.keras").exists() and not _temps(run)


def test_disk_full_keeps_the_previous_files(runner, tmp_path, monkeypatch):
    import keras

    run = tmp_path / "run"
    args = [*MNIST, "--epochs", "2", "--run-dir", str(run)]
    _fail_writes(monkeypatch, "model.keras", errno.ENOSPC)  # the final save finds the disk full
    result = runner.invoke(main, ["train", *args])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert "model.keras: cannot write: No space left on device (the disk is full)" in line
    assert _json(run / "run.json")["status"] == "failed"
    assert not (run / "model.keras").exists() and not _temps(run)
    assert _epochs(run) == [1, 2]
    keras.saving.load_model(run / "best.keras", safe_mode=True)  # the checkpoint written before is intact

    monkeypatch.undo()  # space again: the resume goes straight to the final save
    resumed = runner.invoke(main, ["train", "--resume", str(run)])
    assert resumed.exit_code == 0, resumed.output
    assert _json(run / "run.json")["status"] == "complete" and _epochs(run) == [1, 2]
    keras.saving.load_model(run / "model.keras", safe_mode=True)


def test_ctrl_c_mid_epoch_exits_130_and_resumes(runner, tmp_path):
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNN_TEST_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "cnn_cli", "train", "--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz",
            "--subset", "3000", "--epochs", "2", "--set", "train.steps_per_execution=1"]
    proc = subprocess.Popen([*args, "--run-dir", str(run)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.monotonic() + 240
    while "Epoch 2/" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert "Epoch 2/" in seen, seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, seen + out + err
    assert "Interrupted." in err and f"resume with: cnn train --resume {run}" in out
    assert _json(run / "run.json")["status"] == "interrupted"
    assert _epochs(run) in ([1], [1, 2])
    assert (run / "backup" / "epoch-000001" / "latest.weights.h5").is_file() and not _temps(run)
    assert not (run / "model.keras").exists()

    resumed = runner.invoke(main, ["train", "--resume", str(run)])  # in this process: no second start-up
    assert resumed.exit_code == 0, resumed.output
    assert _json(run / "run.json")["status"] == "complete" and _epochs(run) == [1, 2]
    assert (run / "model.keras").is_file() and _backups(run) == ["epoch-000002"]


def _backups(run):
    """The backup generations a run directory holds (a complete run keeps its last epoch's)."""
    return sorted(p.name for p in (run / "backup").iterdir()) if (run / "backup").is_dir() else []
