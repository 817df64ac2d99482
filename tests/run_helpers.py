"""Small trained runs shared by the evaluate and predict tests: `cnn train` (in-process, via CliRunner) on
the bundled samples, once per test session, into temporary folders removed at exit."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from cnn_cli.cli import main

ROOT = Path(__file__).resolve().parents[1]
MNIST_NPZ = ROOT / "data" / "mnist_sample.npz"
SIGN_TRAIN = ROOT / "data" / "sign_layout_sample" / "train.csv"
SIGN_VALID = ROOT / "data" / "sign_layout_sample" / "valid.csv"


def _train(name: str, args: list[str]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"cnn-test-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    run = folder / name
    result = CliRunner().invoke(main, ["train", *args, "--run-dir", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run


@functools.cache
def mnist_run() -> Path:
    """MNIST net, 400 examples per split (test 400), 1 epoch, one-hot labels, no validation split."""
    return _train("mnist", ["--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(MNIST_NPZ),
                            "--subset", "400", "--epochs", "1"])


@functools.cache
def sign_run() -> Path:
    """Sign-language net on the sign-layout CSVs (24 classes, ids 0..24 without 9), no test split."""
    return _train("sign", ["--config", str(ROOT / "configs" / "sign_language.yaml"), "--data", str(SIGN_TRAIN),
                           "--set", f"data.validation={SIGN_VALID}", "--subset", "240", "--epochs", "1"])


def copy_run(run: Path, destination: Path) -> Path:
    """A copy of a run directory that a test may break."""
    target = destination / run.name
    shutil.copytree(run, target)
    return target
