"""Crash safety: real `cnn train` processes SIGKILLed at named points, then `cnn train --resume`.

The points are reached deterministically through the test-only hook `CNN_TEST_KILL_AT=<point>[:<n>]`
(`cnn_cli.faults`): the process kills itself (SIGKILL, nothing runs after it) the n-th
time it gets there. After every kill: the files left are whole (every .keras loads in safe mode); after the
resume: the run is complete, history.csv has epochs 1..3 once each, no temp file is left, and -- with
`train.deterministic` -- the final weights equal an uninterrupted run's, bit for bit.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.run_helpers import DETERMINISTIC, deterministic_run, train_env

ROOT = Path(__file__).resolve().parents[1]
ARGS = DETERMINISTIC  # 300 Fashion-MNIST sample images, 3 epochs, op determinism
EPOCHS = int(ARGS[ARGS.index("--epochs") + 1])
TIMEOUT = 300


def cnn_train(args: list[str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = train_env(**({"CNN_TEST_KILL_AT": kill_at} if kill_at else {}))
    return subprocess.run([sys.executable, "-m", "cnn_cli", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def epochs(run: Path) -> list[int]:
    with (run / "history.csv").open(newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def weights(path: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(path, safe_mode=True).get_weights()]


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.startswith(".tmp-")]


def check_whole(run: Path) -> None:
    """Every finished file the run left reads back."""
    import keras

    for model in run.glob("*.keras"):
        keras.saving.load_model(model, safe_mode=True)
    for name in ("run.json",):
        json.loads((run / name).read_text())
    if (run / "history.csv").exists():
        assert epochs(run) == list(range(1, len(epochs(run)) + 1))


@pytest.fixture(scope="module")
def reference() -> Path:
    """The uninterrupted run (shared with tests/test_determinism.py)."""
    return deterministic_run()


@pytest.mark.parametrize(("kill_at", "left"), [
    ("mid_epoch:2", [1]),  # inside epoch 2, after its training steps: epoch 1 done
    ("checkpoint_write:2", [1, 2]),  # best.keras of epoch 2 in its temp file, not yet renamed
    ("backup_write:3", [1, 2, 3]),  # the backup of epoch 3 written, not yet committed
    ("final_save", [1, 2, 3]),  # model.keras in its temp file, not yet renamed
])
def test_kill_then_resume(reference, tmp_path, kill_at, left):
    run = tmp_path / "run"
    killed = cnn_train([*ARGS, "--run-dir", str(run)], kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert epochs(run) == left
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    assert not (run / "model.keras").exists()
    check_whole(run)
    if kill_at.startswith("backup_write"):
        # The newest committed generation (epoch 2) is torn too: the resume falls back to epoch 1's.
        gens = sorted(p.name for p in (run / "backup").iterdir())
        assert gens == [".tmp-epoch-000003", "epoch-000001", "epoch-000002"], gens
        newest = run / "backup" / "epoch-000002" / "latest.weights.h5"
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])

    resumed = cnn_train(["--resume", str(run)])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    if kill_at.startswith("backup_write"):
        assert "backup" in resumed.stdout and "cannot be read" in resumed.stdout
    assert epochs(run) == list(range(1, EPOCHS + 1))
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "complete" and len(record["resumed"]) == 1
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == EPOCHS
    assert _backups(run) == [f"epoch-{EPOCHS:06d}"] and temp_files(run) == []  # the last epoch's, to extend
    check_whole(run)

    final, expected = weights(run / "model.keras"), weights(reference / "model.keras")
    assert len(final) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(final, expected)), "resumed weights differ from the uninterrupted run"
    best, expected_best = weights(run / "best.keras"), weights(reference / "best.keras")
    assert all(np.array_equal(a, b) for a, b in zip(best, expected_best))
    with (run / "history.csv").open() as a, (reference / "history.csv").open() as b:
        assert [r[:-1] for r in csv.reader(a)] == [r[:-1] for r in csv.reader(b)]  # all but the seconds


def test_resume_after_early_stopping_goes_to_the_final_save(runner, tmp_path, monkeypatch):
    """Early stopping ended the run, the final save failed (as a kill there would): the resume trains no
    further epoch, reports the early stop and saves the restored best weights."""
    import errno

    from cnn_cli.cli import main
    from cnn_cli.rundir import atomic as files

    run = tmp_path / "run"
    args = ["--config", "configs/fashion_mnist.yaml", "--data", "data/fashion_mnist_sample.npz", "--subset", "300",
            "--epochs", "5", "--set", "train.callbacks.early_stopping.patience=0",
            "--set", "train.callbacks.early_stopping.min_delta=10"]
    real = files.fsync_file

    def full_disk_for_the_model(path):
        if str(path).endswith("-model.keras"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path)

    monkeypatch.setattr(files, "fsync_file", full_disk_for_the_model)
    failed = runner.invoke(main, ["train", *args, "--run-dir", str(run)])
    assert failed.exit_code == 2 and "disk is full" in failed.output, failed.output
    assert epochs(run) == [1, 2]
    monkeypatch.undo()

    resumed = runner.invoke(main, ["train", "--resume", str(run)])
    assert resumed.exit_code == 0, resumed.output
    assert "Early stopping after epoch 2" in resumed.output and "Epoch 3/" not in resumed.output
    assert epochs(run) == [1, 2]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["early_stopped"] is True and metrics["restored_best_weights"] is True and metrics["epochs_run"] == 2
    check_whole(run)


def _backups(run):
    """The backup generations a run directory holds (a complete run keeps its last epoch's)."""
    return sorted(p.name for p in (run / "backup").iterdir()) if (run / "backup").is_dir() else []
