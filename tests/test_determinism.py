"""Determinism: with `train.deterministic: true` (TensorFlow's op determinism) two runs of `cnn train` with
the same seed give the same history, metrics and weights, bit for bit, on CPU; another seed gives others.

The runs train in processes of their own, not in the test process (op determinism is process-wide: it stays
out of the other tests); the runs compared for equality are in different processes, as a user's runs are (the
seed-7 run and a seed-42 one share a process, one after the other). Data order, dropout masks and augmentation draws are functions of (seed, epoch):
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


# `cnn train` once per argument list, one after another in one process; a failed run ends it with its code
TRAIN_IN_TURN = r'''
import json
import sys

from cnn_cli.cli import main

for argv in json.loads(sys.argv[1]):
    try:
        main(argv, prog_name="cnn")
    except SystemExit as exit:
        if exit.code:
            raise
'''


def _start(*runs: tuple[Path, tuple[str, ...]]) -> subprocess.Popen:
    """`cnn train` into each run folder with its extra arguments, in turn in one new process (`_wait` waits)."""
    argvs = [["train", *ARGS, *extra, "--run-dir", str(run)] for run, extra in runs]
    return subprocess.Popen([sys.executable, "-c", TRAIN_IN_TURN, json.dumps(argvs)], cwd=ROOT, env=train_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc: subprocess.Popen) -> None:
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"cnn train ran past 300 s:\n{out[-3000:]}") from None
    assert proc.returncode == 0, out


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(run / "model.keras", safe_mode=True).get_weights()]


def _metrics(run: Path) -> dict:
    return {k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k not in TIMING}


def _history(run: Path) -> list[list[str]]:
    with (run / "history.csv").open(newline="") as f:
        return [row[:-1] for row in csv.reader(f)]  # all but the seconds


def test_same_seed_same_run(tmp_path):
    # b trains after c in the same process (a process start-up fewer): a, in a process of its own, is the
    # reference; the same seed gives the same run whatever the process trained before it
    b, c = tmp_path / "b", tmp_path / "c"
    started = _start((c, ("--seed", "7")), (b, ()))
    a = deterministic_run()
    _wait(started)
    assert _history(a) == _history(b)
    assert _metrics(a) == _metrics(b)
    wa, wb = _weights(a), _weights(b)
    assert len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))

    assert not all(np.array_equal(x, y) for x, y in zip(wa, _weights(c)))


def test_same_seed_same_run_with_augmentation(tmp_path):
    """Rotation and flips draw from generators reset per epoch from (seed, epoch): two runs agree bit for bit."""
    augment = ("--set", "data.augment={rotation: 20, horizontal_flip: true}")
    a, b = tmp_path / "a", tmp_path / "b"
    started = [_start((a, augment)), _start((b, augment))]  # two processes, side by side
    for proc in started:
        _wait(proc)
    assert _history(a) == _history(b)
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    assert _history(a) != _history(deterministic_run())
