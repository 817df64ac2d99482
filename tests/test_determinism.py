"""Determinism: with `train.deterministic: true` (TensorFlow's op determinism) two runs of `cnn train` with
the same seed give the same history, metrics and weights, bit for bit, on CPU; another seed gives others.

Each run is its own process, as a user's runs are (and so that op determinism, which is process-wide, stays
out of the other tests). Data order, dropout masks and augmentation draws are functions of (seed, epoch):
see `cnn_cli.training.epoch_seeds`.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.run_helpers import DETERMINISTIC, deterministic_run, train_env

ROOT = Path(__file__).resolve().parents[1]
ARGS = DETERMINISTIC  # 300 Fashion-MNIST sample images, 3 epochs, train.deterministic
TIMING = {"wall_seconds", "train_seconds", "images_per_second", "epoch_images_per_second"}


def _start(run: Path, *extra: str) -> tuple[Path, subprocess.Popen]:
    """`cnn train` into `run`, started in its own process (the test waits with `_wait`)."""
    proc = subprocess.Popen([sys.executable, "-m", "cnn_cli", "train", *ARGS, *extra, "--run-dir", str(run)],
                            cwd=ROOT, env=train_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return run, proc


def _wait(started: tuple[Path, subprocess.Popen]) -> Path:
    run, proc = started
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"cnn train ran past 300 s:\n{out[-3000:]}") from None
    assert proc.returncode == 0, out
    return run


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(run / "model.keras", safe_mode=True).get_weights()]


def _metrics(run: Path) -> dict:
    return {k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k not in TIMING}


def _history(run: Path) -> list[list[str]]:
    with (run / "history.csv").open(newline="") as f:
        return [row[:-1] for row in csv.reader(f)]  # all but the seconds


def test_same_seed_same_run(tmp_path):
    # the processes run side by side: the weights depend on the seed, not on the load of the machine
    b, c = _start(tmp_path / "b"), _start(tmp_path / "c", "--seed", "7")
    a, b, c = deterministic_run(), _wait(b), _wait(c)
    assert _history(a) == _history(b)
    assert _metrics(a) == _metrics(b)
    wa, wb = _weights(a), _weights(b)
    assert len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))

    assert not all(np.array_equal(x, y) for x, y in zip(wa, _weights(c)))


def test_same_seed_same_run_with_augmentation(tmp_path):
    """Rotation and flips draw from generators reset per epoch from (seed, epoch): two runs agree bit for bit."""
    augment = ("--set", "data.augment={rotation: 20, horizontal_flip: true}")
    a, b = _start(tmp_path / "a", *augment), _start(tmp_path / "b", *augment)
    a, b = _wait(a), _wait(b)
    assert _history(a) == _history(b)
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    assert _history(a) != _history(deterministic_run())
