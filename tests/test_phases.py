"""Freezing (`train.freeze`) and training in phases (`train.phases`): the config's checks (one line, exit 2,
before TensorFlow), `cnn summary`'s counts against Keras', frozen weights and batch-norm statistics that stay
as they were, and a phased run killed in its second phase that resumes there and ends with an uninterrupted
run's weights -- each on a tiny net (818 params) and the Fashion-MNIST sample."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import RunFlags, load_resolved
from tests.run_helpers import PHASES, TINY, copy_run, phased_run

ROOT = Path(__file__).resolve().parents[1]


def _errors(runner, args) -> list[str]:
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _weights(path: Path) -> dict[str, list[np.ndarray]]:
    import keras

    model = keras.saving.load_model(path, safe_mode=True)
    return {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


# ------------------------------------------------------------------ the config


@pytest.mark.parametrize(("override", "line"), [
    ("train.phases[0].freeze.until=bdy_bn",
     "--set: train.phases[0].freeze.until: expected the name of a layer of the model; close: body_bn, body, "
     "received 'bdy_bn'"),
    ("train.phases[0].freeze.until=zzz",
     "--set: train.phases[0].freeze.until: expected the name of a layer of the model (input_scaling .. head; "
     "cnn summary lists them), received 'zzz'"),
    ("train.phases[0].freeze.until=head",
     "--set: train.phases[0].freeze.until: freezes every layer with weights: nothing would train, received 'head'"),
    ("train.phases[0].freeze={fraction: 0.1}",
     "--set: train.phases[0].freeze.fraction: freezes no layer: the model has 5 layers with weights (give at least "
     "0.2), received 0.1"),
    ("train.phases[0].freeze={fraction: 1}",
     "--set: train.phases[0].freeze.fraction: expected less than 1, received 1"),
    ("train.phases[0].freeze={until: stem, fraction: 0.5}",
     "--set: train.phases[0].freeze: expected one of until (a layer name) or fraction (of the layers with weights), "
     "received {'until': 'stem', 'fraction': 0.5}"),
    ("train.phases[1].epochs=0", "--set: train.phases[1].epochs: expected a positive integer, received 0"),
    ("train.phases[1].learning_rate=-1", "--set: train.phases[1].learning_rate: expected a positive number, received -1"),
    ("train.phases=[]", "--set: train.phases: expected at least 1 item, not 0, received []"),
    ("train.epochs=6", "--set: train.epochs: expected the sum of train.phases' epochs, 5 (2 + 3): leave it out with "
     "phases (--epochs N gives the last phase the rest), received 6"),
])
def test_a_wrong_freeze_or_phase_is_one_line(runner, write_config, override, line):
    path = write_config(PHASES)
    assert _errors(runner, ["summary", "--config", path, "--set", override]) == [f"Error: {line}"]


def test_freeze_and_schedules_belong_to_the_phases(runner, write_config):
    path = write_config(PHASES + "  freeze: {until: stem}\n  lr_schedule: {type: cosine}\n")
    assert _errors(runner, ["summary", "--config", path]) == [
        f"Error: {path}: train.freeze: not with train.phases: give each phase its own freeze (a phase without one "
        "trains every layer), received {'until': 'stem'}"]
    path = write_config(PHASES.replace("learning_rate: 0.0003}", "lr_schedule: {type: cosine}}")
                        + "  callbacks: {reduce_lr_on_plateau: {monitor: loss}}\n")
    [line] = _errors(runner, ["summary", "--config", path])
    assert line.startswith(f"Error: {path}: train.callbacks.reduce_lr_on_plateau: not allowed with "
                           "train.phases[1].lr_schedule (cosine): Keras cannot set a scheduled learning rate; remove "
                           "one of them, received {'monitor': 'loss'")
    without = write_config(TINY + "  freeze: {until: nowhere}\n")
    assert _errors(runner, ["summary", "--config", without]) == [
        f"Error: {without}: train.freeze.until: expected the name of a layer of the model (input_scaling .. head; "
        "cnn summary lists them), received 'nowhere'"]


def test_epochs_are_the_phases_sum_and_the_flag_gives_the_last_phase_the_rest(write_config):
    path = write_config(PHASES)
    assert load_resolved(path).train.epochs == 5
    longer = load_resolved(path, flags=RunFlags(epochs=7))
    assert longer.train.epochs == 7 and [p.epochs for p in longer.train.phases] == [2, 5]
    with pytest.raises(Exception) as error:
        load_resolved(path, flags=RunFlags(epochs=2))
    assert str(error.value) == ("--epochs: train.epochs: expected more than 2: the phases before the last run 2 "
                                "epochs (--epochs sets the total, the last phase takes the rest), received 2")


def test_a_block_name_freezes_its_parts_and_a_fraction_counts_layers_with_weights():
    from cnn_cli.config.phases import Freeze
    from cnn_cli.model.analysis import analyze
    from cnn_cli.model.freeze import frozen_layers

    config = load_config(ROOT / "configs" / "applications" / "resnet50.yaml")
    graph = analyze(config.model, (64, 64, 3), 5, "resnet50.yaml").graph
    block = next(entry for entry in graph.entries if entry.is_block and len(entry.nodes) > 3)
    by_block = frozen_layers(graph, Freeze(until=block.name), "train.freeze", "x")
    assert by_block.layers[-1] == block.nodes[-1].name and len(by_block.layers) > len(block.nodes)
    part = frozen_layers(graph, Freeze(until=block.nodes[1].name), "train.freeze", "x")
    assert part.layers[-1] == block.nodes[1].name
    weighted = [node.name for node in graph.nodes if node.spec.cost(node.input_shapes, node.shape).params > 0]
    half = frozen_layers(graph, Freeze(fraction=0.5), "train.freeze", "x")
    assert half.weighted == len(weighted) // 2 and half.layers[-1] == weighted[len(weighted) // 2 - 1]


def test_summary_counts_what_keras_trains_under_the_freeze(runner, write_config):
    import keras

    from cnn_cli.model.builder import build_model

    path = write_config(PHASES)
    result = runner.invoke(main, ["summary", "--config", path, "--data", "data/fashion_mnist_sample.npz"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert ("Phase 1 (epochs 1-2), freeze until body_bn: 7 layers frozen (4 with weights, 728 params), 90 params "
            "trainable") in lines
    assert "Phase 2 (epochs 3-5): nothing frozen, 786 params trainable" in lines
    data = json.loads(runner.invoke(main, ["summary", "--config", path, "--json"]).output)
    first = data["phases"][0]
    assert first["frozen_layers"] == ["input_scaling", "stem", "stem_bn", "activation", "max_pooling2d", "body",
                                      "body_bn"]
    model = build_model(load_config(path).model, (28, 28, 1), 10)
    for layer in model.layers:
        layer.trainable = layer.name not in first["frozen_layers"]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == first["trainable_params"] == 90
    assert sum(int(np.prod(w.shape)) for w in model.weights) - trainable == first["frozen_params"] == 728
    assert isinstance(model.get_layer("stem_bn"), keras.layers.BatchNormalization)


# ------------------------------------------------------------------ training


def _train(runner, args, expect=0):
    result = runner.invoke(main, ["train", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


@pytest.mark.slow
def test_frozen_layers_and_their_batch_norm_statistics_do_not_change(runner, write_config, tmp_path):
    path = write_config(TINY + "  epochs: 1\n")
    source, frozen, free = tmp_path / "source", tmp_path / "frozen", tmp_path / "free"
    _train(runner, ["--config", path, "--run-dir", str(source)])
    result = _train(runner, ["--config", path, "--run-dir", str(frozen), "--init-from", str(source),
                             "--set", "train.freeze.until=body_bn"])
    assert "Frozen: 7 layers frozen (train.freeze until body_bn), 90 of 818 params train" in result.output
    _train(runner, ["--config", path, "--run-dir", str(free), "--init-from", str(source)])
    before, after, control = (_weights(run / "model.keras") for run in (source, frozen, free))
    for name in ("stem", "stem_bn", "body", "body_bn"):  # kernels, gamma, beta, moving mean and variance
        for a, b in zip(before[name], after[name]):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(before["head"][0], after["head"][0])  # the head trained
    assert not np.allclose(before["stem_bn"][2], control["stem_bn"][2])  # unfrozen, the moving mean moves


def _subprocess_train(args: list[str], **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNN_TEST_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT), **env_vars)
    return subprocess.run([sys.executable, "-m", "cnn_cli", "train", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(("killed_after", "ema"), [(3, False), (2, True)])  # inside phase 2; at its start, with EMA
def test_a_run_killed_in_phase_two_resumes_there(write_config, tmp_path, killed_after, ema):
    text = PHASES.replace("learning_rate: 0.003}", "learning_rate: 0.003, use_ema: true, ema_momentum: 0.5}") \
        if ema else PHASES
    path = write_config(text)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _subprocess_train(["--config", path, "--run-dir", str(straight)])
    assert done.returncode == 0, done.stderr
    assert "Phase 1 of 2 (epochs 1-2): 7 layers frozen (freeze until body_bn), 90 of 818 params train, " \
           "learning rate 0.003" in done.stdout
    dead = _subprocess_train(["--config", path, "--run-dir", str(killed)],
                             CNN_TEST_KILL_AFTER_EPOCH=str(killed_after))
    assert dead.returncode == -9 and len(_history(killed)) == killed_after
    resumed = _subprocess_train(["--resume", str(killed)])
    assert resumed.returncode == 0, resumed.stderr
    out = resumed.stdout
    assert "Phase 2 of 2 (epochs 3-5): every layer trains (786 params), learning rate 0.0003" in out
    assert "Phase 1" not in out and f"Epoch {killed_after + 1}/5" in out and f"Epoch {killed_after}/5" not in out
    rows = _history(killed)
    assert [r["phase"] for r in rows] == ["1", "1", "2", "2", "2"]
    assert [float(r["learning_rate"]) for r in rows] == [0.003, 0.003, 0.0003, 0.0003, 0.0003]
    assert [r["loss"] for r in rows] == [r["loss"] for r in _history(straight)]
    a, b = _weights(straight / "model.keras"), _weights(killed / "model.keras")
    for name in a:  # the frozen layers, the trainability of each phase and its optimizer state all as they were
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y)


def _phases(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())["phases"]


def test_metrics_record_the_phases(tmp_path):
    from cnn_cli.rundir.records import MetricsJson, read_record

    run = phased_run()
    assert _phases(run) == [
        {"phase": 1, "first_epoch": 1, "last_epoch": 2, "epochs_run": 2, "freeze": {"until": "body_bn"},
         "learning_rate": 0.003, "lr_schedule": None},
        {"phase": 2, "first_epoch": 3, "last_epoch": 3, "epochs_run": 1, "freeze": None, "learning_rate": 0.0003,
         "lr_schedule": None}]
    assert [r["phase"] for r in _history(run)] == ["1", "1", "2"]
    assert read_record(run / "metrics.json", MetricsJson).phases[0].freeze.until == "body_bn"
    from tests.run_helpers import mnist_run

    assert "phases" not in json.loads((mnist_run() / "metrics.json").read_text())  # a run without phases


def test_a_damaged_phase_record_is_one_line(tmp_path):
    from cnn_cli.errors import CnnError
    from cnn_cli.rundir.records import MetricsJson, check

    record = json.loads((phased_run() / "metrics.json").read_text())
    record["phases"][1]["first_epoch"] = "three"
    with pytest.raises(CnnError) as error:
        check(record, MetricsJson, "metrics.json")
    assert str(error.value) == "metrics.json: phases[1].first_epoch: expected an integer, received 'three'"


def test_extending_a_phased_run_extends_its_last_phase(runner, tmp_path):
    run = copy_run(phased_run(), tmp_path)
    result = _train(runner, ["--resume", str(run), "--epochs", "4"])
    assert ("Extending the complete run from epoch 3 to 4 (planned 3; phase 2, the last, now runs 2 epochs)"
            in result.output)
    assert "Phase 2 of 2 (epochs 3-4): every layer trains (786 params), learning rate 0.0003" in result.output
    assert [r["phase"] for r in _history(run)] == ["1", "1", "2", "2"]
    assert [(p["first_epoch"], p["last_epoch"], p["epochs_run"]) for p in _phases(run)] == [(1, 2, 2), (3, 4, 2)]
    config = load_config(run / "config.yaml")
    assert config.train.epochs == 4 and [p.epochs for p in config.train.phases] == [2, 2]
    short = runner.invoke(main, ["train", "--resume", str(run), "--epochs", "2"])
    assert short.exit_code == 2 and len(short.output.strip().splitlines()) == 1


# A model whose input shape comes from the data and that no probe shape fits: its freeze is checked once the
# data is read, after the overrides went in.
RESHAPED = TINY.replace("    - {type: conv2d, name: stem,", "    - {type: reshape, target_shape: [28, 28, 1]}\n"
                        "    - {type: conv2d, name: stem,") + "  epochs: 1\n"


def test_a_freeze_checked_against_the_data_names_the_set_that_gave_it(runner, write_config, tmp_path):
    path = write_config(RESHAPED)
    wrong = ("train.freeze.until: expected the name of a layer of the model (input_scaling .. head; cnn summary lists "
             "them), received 'nope'")
    data = ["--data", "data/fashion_mnist_sample.npz"]
    for command in (["train", "--config", path, "--run-dir", str(tmp_path / "run")], ["summary", "--config", path, *data]):
        assert _errors(runner, [*command, "--set", "train.freeze.until=nope"])[-1] == f"Error: --set: {wrong}"
    assert not (tmp_path / "run").exists()
    in_file = write_config(RESHAPED + "  freeze: {until: nope}\n", "in_file.yaml")
    assert _errors(runner, ["summary", "--config", in_file, *data, "--set", "train.epochs=2"])[-1] == \
        f"Error: {in_file}: {wrong}"
