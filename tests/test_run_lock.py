"""The run directory's lock, with real processes: while one `cnn train --resume` trains, a second
`train --resume` and a `train --run-dir` of the same folder are refused in one line naming the pid that
trains (exit 2), `evaluate` is allowed (it reads model.keras, only ever replaced atomically); after a
kill -9 the lock is gone with the process and the run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cnn_cli.cli import main
from cnn_cli.rundir import RunLayout, RunLock, RunLockedError
from tests.run_helpers import MNIST_NPZ, ROOT, copy_run, mnist_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TIMEOUT = 240


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNN_TEST_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.Popen([sys.executable, "-m", "cnn_cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_until(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the process ended before {what}: {process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.2)


def _resumed_and_training(run: Path) -> bool:
    try:
        record = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):  # (never half a file: run.json is replaced atomically; but it may be absent)
        return False
    return record.get("status") == "running" and len(record.get("resumed", [])) == 1


def _history_rows(run: Path) -> int:
    path = run / "history.csv"
    return len(path.read_text().splitlines()) - 1 if path.exists() else 0


def _one_error_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def long_run(tmp_path) -> Path:
    """A copy of a trained run, made to look interrupted, whose config now asks for 400 epochs: its resume
    trains (from the last epoch's backup a complete run keeps) for minutes, unless it is stopped."""
    run = copy_run(mnist_run(), tmp_path / "copy")
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["epochs"] = 400
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run


def test_a_second_writer_is_refused_evaluate_is_allowed_and_kill_9_leaves_no_lock(runner, long_run, tmp_path,
                                                                                  monkeypatch):
    first = _spawn(["train", "--resume", str(long_run)])
    try:
        _wait_until(lambda: _resumed_and_training(long_run) and _history_rows(long_run) >= 2, first,
                    "the resumed run trained its first epoch")
        again = runner.invoke(main, ["train", "--resume", str(long_run)])
        _one_error_line(again, f"{long_run}: in use by another cnn process (pid {first.pid})")
        new = runner.invoke(main, ["train", "--config", str(ROOT / "configs/mnist.yaml"), "--data", str(MNIST_NPZ),
                                   "--subset", "100", "--epochs", "1", "--run-dir", str(long_run)])
        _one_error_line(new, f"{long_run}: in use by another cnn process (pid {first.pid})")
        evaluated = runner.invoke(main, ["evaluate", str(long_run), "--json", "--no-write"])
        assert evaluated.exit_code == 0, evaluated.output
        assert json.loads(evaluated.output[evaluated.output.index("{"):])["num_examples"] == 400
        assert first.poll() is None, "the first run ended: the checks above did not run while it trained"
        assert len(json.loads((long_run / "run.json").read_text())["resumed"]) == 1  # the refused ones wrote nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert (long_run / ".lock").read_text().strip() == str(first.pid)  # left behind, but not held
    done = _history_rows(long_run)
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", str(done + 1))  # one more epoch, then as if Ctrl-C
    resumed = runner.invoke(main, ["train", "--resume", str(long_run)])
    assert "in use" not in resumed.output, resumed.output
    assert resumed.exit_code == 130, resumed.output
    assert _history_rows(long_run) == done + 1
    record = json.loads((long_run / "run.json").read_text())
    assert record["status"] == "interrupted" and len(record["resumed"]) == 2


def test_the_lock_names_the_pid_and_dies_with_its_process(tmp_path):
    layout = RunLayout(tmp_path / "run")
    layout.path.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from cnn_cli.rundir import RunLock\n"
        f"lock = RunLock({str(layout.path)!r}).__enter__(); print('held', flush=True); time.sleep(120)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"in use by another cnn process \\(pid {holder.pid}\\)"):
            RunLock(layout).__enter__()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with RunLock(layout):  # the kill released it
        assert layout.lock_file.read_text().strip() == str(os.getpid())
    with RunLock(layout):  # and leaving the block released it
        pass


def test_a_new_run_that_fails_before_writing_leaves_no_folder(runner, tmp_path):
    run = tmp_path / "new"
    result = runner.invoke(main, ["train", "--config", str(ROOT / "configs/mnist.yaml"), "--data", str(tmp_path / "none.npz"),
                                  "--run-dir", str(run)])
    assert result.exit_code == 2, result.output
    assert not run.exists()


def test_a_folder_holding_only_a_lock_file_counts_as_empty(runner, tmp_path):
    run = tmp_path / "run"
    with RunLock(run, new=True):
        assert (run / ".lock").exists()
    assert not run.exists()  # the run never started: the folder it made is gone again
    run.mkdir()
    (run / ".lock").write_text("12345\n")  # left by a killed process
    with RunLock(run, new=True):
        pass
    (run / "notes.txt").write_text("x")
    with pytest.raises(Exception, match="run directory exists and is not empty"):
        RunLock(run, new=True).__enter__()
