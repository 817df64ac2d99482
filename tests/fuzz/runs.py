"""The tiny trained run the fuzzer and the hostile-file tests share: the tiny net of run_helpers on 60 images
of the Fashion-MNIST sample, one epoch, made once per test session (about 8 s) into a folder removed at exit."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.run_helpers import ROOT, TINY, _train

FASHION = ROOT / "data" / "fashion_mnist_sample.npz"


@functools.cache
def tiny_config() -> Path:
    """The tiny net's config, its data path absolute, so that it reads from any folder."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-tiny-config-"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "tiny.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(FASHION)).replace("subset: 200", "subset: 60"))
    return config


@functools.cache
def tiny_run() -> Path:
    """The tiny net trained one epoch: every file of a completed run (model.keras, best.keras, backup/, .lock)."""
    return _train("tiny", ["--config", str(tiny_config()), "--epochs", "1"])
