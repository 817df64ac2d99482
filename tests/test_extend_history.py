"""Extending a run whose history.csv was emptied, cut inside its header or deleted keeps every earlier epoch:
the backup's copy of the history rebuilds it; a backup without one refuses the resume in one line."""

from __future__ import annotations

import csv
import functools
import shutil

import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY, _train, copy_run


@functools.cache
def two_epochs():
    import atexit
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="cnn-test-history-"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "tiny.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz")))
    return _train("two", ["--config", str(config), "--epochs", "2"])


def _rows(run):
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("damage", ["empty", "cut in header", "deleted"])
def test_extension_rebuilds_a_lost_history_from_the_backup(runner, tmp_path, damage):
    run = copy_run(two_epochs(), tmp_path)
    before = _rows(run)
    history = run / "history.csv"
    if damage == "deleted":
        history.unlink()
    else:
        history.write_text("" if damage == "empty" else history.read_text()[:9])
    result = runner.invoke(main, ["train", "--resume", str(run), "--epochs", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and rows[:2] == before
    assert f"{history} held 0 of the 2 epochs run; rebuilt from the backup of epoch 2" in result.output
    assert "Extending the complete run from epoch 2 to 3" in result.output


def test_extension_without_a_copy_of_the_history_is_refused(runner, tmp_path):
    run = copy_run(two_epochs(), tmp_path)
    for generation in (run / "backup").iterdir():
        (generation / "history.csv").unlink(missing_ok=True)  # a backup written before generations kept the history
    (run / "history.csv").unlink()
    result = runner.invoke(main, ["train", "--resume", str(run), "--epochs", "3"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"Error: {run / 'history.csv'}: holds 0 of the 2 epochs the run's backup has run, and the backup keeps no copy "
        f"of them; put the file back, or start a new run from this one's weights with --init-from {run}")
