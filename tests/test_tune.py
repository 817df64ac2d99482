"""`cnn tune` through the real command line: tiny trials (the tiny net, 200 examples of the Fashion-MNIST
sample, 1-2 epochs), a study that goes on when run again, pruning, and bad input refused before any trial."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("optuna")

from cnn_cli import faults  # noqa: E402
from cnn_cli.cli import main  # noqa: E402
from cnn_cli.resolve import load_config  # noqa: E402
from tests.run_helpers import TINY  # noqa: E402

LR = "train.optimizer.learning_rate=loguniform(1e-4,1e-2)"
FILTERS = "model.layers[0].filters=choice(4,8)"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def tune(config, study, *args, seed="3"):
    return CliRunner().invoke(main, ["tune", "--config", str(config), "--study-dir", str(study), "--seed", seed,
                                     *args], catch_exceptions=False)


def trials(study):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="tiny", storage=f"sqlite:///{study / 'study.db'}").get_trials()


def test_random_study_best_yaml_and_rerun(config, tmp_path):
    study = tmp_path / "study"
    result = tune(config, study, "--param", LR, "--param", FILTERS, "--trials", "2", "--sampler", "random",
                  "--epochs", "1", "--pruner", "none")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in study.glob("trial-*")) == ["trial-0000", "trial-0001"]
    run = json.loads((study / "trial-0000" / "run.json").read_text())
    assert run["status"] == "complete" and set(run["tune"]["params"]) == {LR.split("=")[0], FILTERS.split("=")[0]}
    assert "Best: trial" in result.output and "val_accuracy" in result.output
    page = (study / "study.html").read_text()
    assert "Optimisation history" in page and "data:image/png;base64," in page and "trial-0001" in page
    assert "Parameter importances" in page and page.count("data:image/png;base64,") == 3, page
    assert 'href="trial-0000/report.html"' in page and (study / "trial-0000" / "report.html").is_file()
    best = load_config(study / "best.yaml")
    assert best.seed == 3
    # best.yaml repeats the best trial's figure with its seed
    (best_trial,) = [t for t in trials(study) if t.number == int(result.output.split("Best: trial ")[1].split(",")[0])]
    again = CliRunner().invoke(main, ["train", "--config", str(study / "best.yaml"), "--run-dir", str(tmp_path / "again")],
                               catch_exceptions=False)
    assert again.exit_code == 0, again.output
    rows = list(csv.DictReader((tmp_path / "again" / "history.csv").open()))
    assert max(float(r["val_accuracy"]) for r in rows) == pytest.approx(best_trial.value, abs=1e-6)
    # the same command with more trials goes on with the study; a trial left running by a killed process fails
    import optuna

    held = optuna.load_study(study_name="tiny", storage=f"sqlite:///{study / 'study.db'}")
    left = held.ask()  # a trial that a process of this machine, since killed, left running
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left.set_user_attr("host", socket.gethostname())
    left.set_user_attr("pid", int(ended.stdout))
    space = tmp_path / "space.yaml"  # the same space, from a file
    space.write_text(f"{LR.split('=')[0]}: loguniform(1e-4, 1e-2)\n{FILTERS.split('=')[0]}: [4, 8]\n")
    result = tune(config, study, "--space", str(space), "--trials", "3", "--sampler", "random",
                  "--epochs", "1", "--pruner", "none")
    assert result.exit_code == 0, result.output
    states = [t.state.name for t in trials(study)]
    assert states.count("COMPLETE") == 3 and states.count("FAIL") == 1, states
    assert f"Trial {left.number} was left running" in result.output
    # a different search space for the study is refused in one line
    result = tune(config, study, "--param", LR, "--trials", "3")
    assert result.exit_code == 2 and "the study tiny searches" in result.output


def test_median_pruner_prunes_a_bad_trial(config, tmp_path):
    study = tmp_path / "study"
    # the grid's order with seed 1: the good learning rate first, then the one that learns nothing
    result = tune(config, study, "--param", "train.optimizer.learning_rate=choice(0.03,0.0000001)", "--trials", "2",
                  "--sampler", "grid", "--pruner", "median", "--startup-trials", "1", "--epochs", "2",
                  "--metric", "loss", seed="1")
    assert result.exit_code == 0, result.output
    pruned = [t for t in trials(study) if t.state.name == "PRUNED"]
    assert pruned, result.output
    run = json.loads((study / f"trial-{pruned[0].number:04d}" / "run.json").read_text())
    assert run["status"] == "pruned"
    assert pruned[0].params["train.optimizer.learning_rate"] == "0.0000001"


def test_invalid_combination_is_a_failed_trial(config, tmp_path):
    # each value alone is allowed; together they leave nothing to train on
    study = tmp_path / "study"
    result = tune(config, study, "--param", "data.validation_split=choice(0.6)", "--param", "data.test_split=choice(0.5)",
                  "--trials", "1", "--epochs", "1", "--sampler", "grid")
    assert result.exit_code == 2 and "no trial of the study" in result.output, result.output
    (trial,) = trials(study)
    assert trial.state.name == "FAIL" and trial.user_attrs["error"].startswith("invalid config:")


@pytest.mark.parametrize("args, message", [
    (["--param", "train.optimizer.learning_rate", "--trials", "2"], "expected KEY=DIST"),
    (["--param", "train.optimizer.learning_rate=gauss(1,2)", "--trials", "2"], "unknown distribution"),
    (["--param", "train.optimizer.learning_rate=uniform(2,1)", "--trials", "2"], "expected a < b"),
    (["--param", "train.no_such_key=uniform(0,1)", "--trials", "2"], "train.no_such_key"),
    (["--param", "model.layers[0].filters=int(-4,8)", "--trials", "2"], "-4 is refused"),
    (["--param", "data.validation_split=uniform(0,1.5)", "--trials", "2"], "1.5 is refused"),
    (["--param", "train.batch_size=choice()", "--trials", "2"], "choice() needs"),
    (["--param", "train.batch_size=choice(32,64)", "--trials", "0"], "--trials 0"),
    (["--param", "train.optimizer.learning_rate=uniform(0.001,0.01)", "--trials", "2", "--sampler", "grid"],
     "--sampler grid takes only"),
    (["--param", "train.batch_size=choice(32,64)", "--trials", "2", "--metric", "val_auc"], "--metric val_auc"),
    (["--param", "model.layers[0].filters=choice(4,8)", "--trials", "2", "--storage", "mysql://u@h/db"],
     "expected a sqlite:/// or postgresql:// URL"),
    (["--param", "model.layers[0].filters=choice(4,8)", "--trials", "2", "--storage", "no url"], "--storage no url"),
    (["--param", "model.layers[0].filters=choice(4,8)", "--trials", "2", "--storage",
      "postgresql://cnn:secret@127.0.0.1:1/study"], "cannot open the study's database"),
    (["--space", "no/such/space.yaml", "--trials", "2"], "no such file"),
    (["--param", "model.layers[0].filters=choice(4,8)", "--trials", "2", "--time-limit", "soon"], "--time-limit"),
])
def test_bad_input_is_one_line_before_any_trial(config, tmp_path, args, message):
    study = tmp_path / "study"
    result = tune(config, study, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "secret" not in result.output
    assert not study.exists()


def test_ctrl_c_ends_the_study_after_the_epoch_and_a_rerun_goes_on(config, tmp_path, monkeypatch):
    study = tmp_path / "study"
    args = ["--param", LR, "--trials", "2", "--sampler", "random", "--pruner", "hyperband", "--epochs", "2"]
    monkeypatch.setattr(faults, "_reached", {})
    monkeypatch.setenv(faults.SIGINT_AT, "mid_epoch:1")  # a real SIGINT inside trial 0's first epoch
    result = tune(config, study, *args)
    assert result.exit_code == 130, result.output
    assert "Study interrupted; the same command goes on with it" in result.output
    (first,) = trials(study)
    assert first.state.name == "FAIL" and first.user_attrs["error"] == "interrupted"
    run = study / "trial-0000"
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert [r["epoch"] for r in csv.DictReader((run / "history.csv").open())] == ["1"]  # the epoch under way finished
    monkeypatch.delenv(faults.SIGINT_AT)
    result = tune(config, study, *args)
    assert result.exit_code == 0, result.output
    states = {t.number: t.state.name for t in trials(study)}
    assert states[0] == "FAIL" and sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 2, states

