"""Small things from the first hour: the progress bar `cnn train` shows on a terminal never counts past the
epoch's steps (Keras' bar said `32/5` for a 5-step epoch run 32 steps at a time), and each epoch's images/s is
printed and kept in metrics.json; whole-epoch ticks on the
training curves; TensorBoard named as an extra."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from tests.run_helpers import MNIST_NPZ, ROOT


def test_progress_bar_stops_at_the_epoch_steps(tmp_path):
    leader, follower = pty.openpty()
    args = [sys.executable, "-m", "cnn_cli", "train", "--config", str(ROOT / "configs" / "mnist.yaml"), "--data",
            str(MNIST_NPZ), "--subset", "300", "--epochs", "2", "--run-dir", str(tmp_path / "run")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "200"}
    process = subprocess.Popen(args, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert process.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))  # no colours
    counts = [(int(a), int(b)) for a, b in re.findall(r"\b(\d+)/(\d+) ", text)]
    assert counts, text[-2000:]
    assert all(seen <= steps for seen, steps in counts), sorted(set(counts))
    assert (5, 5) in counts  # 300 images, batch 64: 5 steps
    rates = re.findall(r"Epoch (\d): ([\d,]+) images/s \(300 images in", text)  # each epoch's speed, printed
    assert [epoch for epoch, _ in rates] == ["1", "2"], text[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epoch_images_per_second"] == pytest.approx([float(r.replace(",", "")) for _, r in rates], abs=0.6)
    assert min(metrics["epoch_images_per_second"]) <= metrics["images_per_second"] <= max(metrics["epoch_images_per_second"])


def test_training_curves_have_whole_epoch_ticks():
    from cnn_cli.reports.training_curves import curves_figure
    from cnn_cli.rundir.records import read_history_text
    from tests.run_helpers import mnist_run

    rows = read_history_text(mnist_run() / "history.csv")  # one epoch: matplotlib's own ticks were 0.96, 0.98, ...
    figure = curves_figure(rows, "mnist")
    figure.canvas.draw()
    for ax in figure.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_tensorboard_names_the_extra(tmp_path):
    import importlib.util

    import pytest
    from click.testing import CliRunner

    from cnn_cli.cli import main

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--config", "configs/mnist.yaml", "--data", str(MNIST_NPZ),
                                       "--set", "train.callbacks.tensorboard={}", "--run-dir", str(run)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: configs/mnist.yaml: train.callbacks.tensorboard: the tensorboard package is not installed: "
        "pip install 'cnn-cli[tensorboard]' (or set train.callbacks.tensorboard.enabled: false)")
    assert not run.exists()  # refused before the run directory is made


def test_border_means_take_the_ring_without_a_float_copy_of_the_batch():
    """The mean border pixel equals the float64 reference, and only the ring is converted: computing it on a
    batch of large images needs far less memory than the batch itself (a float64 copy would be 8x)."""
    import tracemalloc

    import numpy as np

    from cnn_cli.inference.background import border_means

    data = np.load(MNIST_NPZ)
    digits = np.repeat(np.repeat(data["x_train"][:64], 6, axis=1), 6, axis=2)[..., None]  # 168x168 real digits
    images = np.ascontiguousarray(np.broadcast_to(digits, (*digits.shape[:3], 3)))
    reference = images.astype(np.float64)
    mask = np.ones(images.shape[1:3], bool)
    mask[2:-2, 2:-2] = False
    expected = reference[:, mask, :].mean(axis=(1, 2))
    del reference
    tracemalloc.start()
    try:
        got = border_means(images)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert peak < images.nbytes / 4, f"{peak:,} bytes traced for a {images.nbytes:,}-byte batch"
