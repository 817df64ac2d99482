"""`--folds K` in `cnn compare` and `cnn tune`: k-fold cross-validation of the training split (`data.fold`),
the mean and standard deviation over the folds, the folds sharing the cache, tune's running mean reported after
each fold (so that the pruner stops a trial between folds), and the one-line refusals."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from cnn_cli.cli import main
from cnn_cli.data import load_dataset
from cnn_cli.resolve import load_config
from tests.run_helpers import MNIST_NPZ, ROOT, TINY

MNIST = ["--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(MNIST_NPZ)]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz")))
    return path


def test_folds_cut_the_training_split_into_disjoint_stratified_parts(tiny):
    held, trained = [], []
    for number in (1, 2, 3):
        config = load_config(str(tiny), [f"data.fold={{folds: 3, number: {number}}}"])
        data = load_dataset(config, source=str(tiny))
        assert len(np.intersect1d(data.train, data.validation)) == 0
        held.append(data.validation)
        trained.append(data.train)
        counts = np.bincount(data.labels[data.validation], minlength=10)
        assert counts.max() - counts.min() <= 1 + 0.1 * counts.max()  # stratified: the classes as in the pool
    pool = np.union1d(held[0], trained[0])
    assert len(pool) == 200  # data.subset 200 of the tiny config, then cut: validation_split left out
    assert np.array_equal(np.sort(np.concatenate(held)), np.sort(pool))  # every example validates once


@pytest.mark.parametrize(("command", "args", "message"), [
    ("compare", [*MNIST, "--vary", "train.batch_size=32", "--folds", "1"], "Invalid value for '--folds'"),
    ("compare", [*MNIST, "--vary", "train.batch_size=32", "--subset", "30", "--folds", "4"],
     "--folds 4: 4 folds, more than the smallest class of the training split has examples (class 0: 3)"),
    ("tune", [*MNIST, "--param", "train.batch_size=choice(32,64)", "--trials", "1", "--folds", "1"],
     "Invalid value for '--folds'"),
    ("tune", [*MNIST, "--param", "train.batch_size=choice(32,64)", "--trials", "1", "--subset", "30",
              "--folds", "4", "--metric", "loss"], "--folds 4: 4 folds, more than the smallest class"),
])
def test_bad_folds_are_one_line(tmp_path, command, args, message):
    result = CliRunner().invoke(main, [command, *args, *(["--out", str(tmp_path / "o")] if command == "compare"
                                                          else ["--study-dir", str(tmp_path / "s")])])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and message in result.output, result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


def test_tune_reports_the_running_mean_and_prunes_between_folds(tiny, tmp_path):
    pytest.importorskip("optuna")
    import optuna

    study = tmp_path / "study"
    # the grid's order with seed 1: the good rate first (both folds), then one that learns nothing, pruned after
    # its first fold by the median of the first trial's first fold
    result = CliRunner().invoke(main, [
        "tune", "--config", str(tiny), "--study-dir", str(study), "--seed", "1", "--folds", "2", "--epochs", "1",
        "--param", "train.optimizer.learning_rate=choice(0.03,0.0000001)", "--trials", "2", "--sampler", "grid",
        "--pruner", "median", "--startup-trials", "1", "--metric", "loss"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done, pruned = sorted(optuna.load_study(study_name="tiny", storage=f"sqlite:///{study / 'study.db'}").get_trials(),
                          key=lambda t: t.state.name)
    assert (done.state.name, pruned.state.name) == ("COMPLETE", "PRUNED"), result.output
    values = done.user_attrs["fold_values"]
    assert len(values) == 2 and done.value == pytest.approx(np.mean(values))
    assert done.user_attrs["fold_std"] == pytest.approx(np.std(values))
    assert done.intermediate_values == {0: pytest.approx(values[0]), 1: pytest.approx(np.mean(values))}
    trial = study / f"trial-{pruned.number:04d}"
    assert (trial / "fold-1" / "run.json").is_file() and not (trial / "fold-2").exists()
    assert json.loads((trial / "fold-1" / "run.json").read_text())["status"] == "pruned"
    assert "pruned after 1 of 2 folds" in result.output
    best = (study / "best.yaml").read_text()
    assert "fold" not in best and "0.03" in best  # the trial's config, not its first fold's


@pytest.mark.slow
def test_compare_folds_mean_std_and_one_cache(tmp_path):
    out, cache = tmp_path / "cmp", tmp_path / "cache"
    result = CliRunner().invoke(main, ["compare", *MNIST, "--vary", "train.batch_size=32", "--subset", "200",
                                       "--epochs", "1", "--folds", "2", "--out", str(out), "--cache-dir", str(cache),
                                       "--set", "data.cache=disk"])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader((out / "comparison.csv").open()))
    folds = []
    for number in (1, 2):
        run = out / "batch_size-32" / f"fold-{number}"
        rows = list(csv.DictReader((run / "history.csv").open()))
        folds.append(max(float(r["val_accuracy"]) for r in rows))
        assert f"fold: {{folds: 2, number: {number}}}" in (run / "config.yaml").read_text()
    assert row["folds"] == "2" and float(row["best_val_accuracy"]) == pytest.approx(np.mean(folds))
    assert float(row["best_val_accuracy_std"]) == pytest.approx(np.std(folds))
    assert "best val acc mean" in result.output and "per fold" in result.output
    assert (out / "comparison_curves.png").is_file()  # each fold's curves, overlaid
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1  # the folds (and the check) share one cache entry
