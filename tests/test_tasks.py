"""The multilabel and regression tasks through the real CLI: config mistakes of a task (one line, exit 2,
before TensorFlow), and for each task train, evaluate (text and --json), predict, report, inspect, export and
load_run on tiny runs trained once per session (`run_helpers.multilabel_run`, `regression_run`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnn_cli
from cnn_cli.cli import main
from tests.run_helpers import LABEL_NAMES, MNIST_NPZ, ROOT, digit_labels, mnist_run, multilabel_run, regression_run

HEAD = "    - {type: dense, units: num_classes, activation: softmax}\n"
BASE = f"""\
name: t
task: multilabel
model:
  layers:
    - {{type: conv2d, filters: 4, kernel_size: 3}}
    - {{type: global_avg_pool2d}}
{HEAD}data: {{source: npz, path: {MNIST_NPZ}}}
"""


def _lines(result) -> list[str]:
    return result.output.strip().splitlines()


@pytest.mark.parametrize(("text", "key", "fragment"), [
    (BASE, "model.layers[2].activation", "expected the multilabel task's head, sigmoid (or auto)"),
    (BASE.replace("softmax", "auto").replace("task: multilabel", "task: regression")
     .replace("num_classes", "num_targets") + "train: {callbacks: {early_stopping: {monitor: val_accuracy}}}\n",
     "train.callbacks.early_stopping.monitor", "expected a monitor of the regression task"),
    (BASE.replace("task: multilabel\n", "") + "train: {thresholds: tuned}\n", "train.thresholds",
     "only for task: multilabel"),
    (BASE.replace("softmax", "sigmoid") + "train: {loss: sparse_categorical_crossentropy}\n", "train.loss",
     "expected a loss the multilabel task allows: binary_crossentropy, binary_focal_crossentropy"),
    (BASE.replace("softmax", "auto").replace("task: multilabel", "task: regression")
     .replace("path: ", "augment: {horizontal_flip: true}, path: "), "data.augment.horizontal_flip", "data.flip_invariant: true"),
    (BASE.replace("softmax", "linear").replace("task: multilabel", "task: regression") + "train: {loss: mse, tta: flip}\n",
     "train.tta", "data.flip_invariant"),
    (BASE.replace("softmax", "auto").replace("task: multilabel", "task: regressoin"), "task", "'regression'"),
    (BASE.replace("softmax", "auto").replace("task: multilabel", "task: regression") + "train: {stop_at: {val_f1: 0.9}}\n",
     "train.stop_at.val_f1", "expected a metric of the regression task: val_loss, val_mae, val_rmse"),
])
def test_a_config_that_contradicts_its_task_is_one_line_exit_2(runner, write_config, text, key, fragment):
    config = write_config(text)
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    assert len(_lines(result)) == 1 and "Traceback" not in result.output
    assert f"{config}: {key}: " in result.output and fragment in result.output


def test_flips_of_a_flip_invariant_regression_and_auto_heads_are_accepted(runner, write_config):
    text = (BASE.replace("softmax", "auto").replace("task: multilabel", "task: regression")
            .replace("num_classes", "num_targets")
            .replace("path: ", "flip_invariant: true, augment: {horizontal_flip: true}, path: ")
            + "train: {loss: huber}\n")
    assert runner.invoke(main, ["summary", "--config", write_config(text)]).exit_code == 0


# ---------------------------------------------------------------------------------------------- multilabel


def test_multilabel_trains_with_tuned_thresholds_kept_in_the_run():
    run = multilabel_run()
    labels = json.loads((run / "labels.json").read_text())
    assert labels["task"] == "multilabel" and [c["name"] for c in labels["classes"]] == LABEL_NAMES
    assert len(labels["thresholds"]) == 3 and all(0 < t < 1 for t in labels["thresholds"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "multilabel" and metrics["best_monitor"] == "val_auc"
    assert {"test_micro_f1", "test_mean_average_precision", "test_loss"} <= set(metrics)
    header = (run / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,auc,f1,val_loss,val_auc,val_f1,learning_rate,seconds"
    config = (run / "config.yaml").read_text()
    assert "task: multilabel" in config and "loss: binary_crossentropy" in config


def test_multilabel_evaluate_json_has_the_issue_keys(runner):
    run = multilabel_run()
    result = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    for key in ("task", "loss", "num_examples", "micro_f1", "macro_f1", "mean_average_precision", "subset_accuracy",
                "hamming_loss", "per_label"):
        assert key in report, key
    assert report["task"] == "multilabel" and report["num_examples"] == 100
    thresholds = json.loads((run / "labels.json").read_text())["thresholds"]
    assert [r["label"] for r in report["per_label"]] == LABEL_NAMES
    assert [r["threshold"] for r in report["per_label"]] == pytest.approx(thresholds)
    assert set(report["per_label"][0]) == {"label", "precision", "recall", "f1", "average_precision", "support",
                                           "threshold"}
    supports = digit_labels(np.load(MNIST_NPZ)["y_test"][:100]).sum(axis=0).tolist()
    assert [r["support"] for r in report["per_label"]] == supports
    # the figures follow from the scores load_run gives, at the run's thresholds
    x = np.load(MNIST_NPZ)["x_test"][:100]
    trained = cnn_cli.load_run(run)
    decided = trained.predict(x) >= np.array(trained.thresholds)
    truth = digit_labels(np.load(MNIST_NPZ)["y_test"][:100]).astype(bool)
    assert report["subset_accuracy"] == pytest.approx(np.mean(np.all(decided == truth, axis=1)), abs=1e-6)
    assert report["hamming_loss"] == pytest.approx(np.mean(decided != truth), abs=1e-6)
    text = runner.invoke(main, ["evaluate", str(run)])
    assert text.exit_code == 0 and "Micro F1:" in text.output and "threshold" in text.output
    assert (run / "evaluation.png").is_file() and json.loads((run / "evaluation.json").read_text())["task"] == "multilabel"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    sample = np.load(MNIST_NPZ)
    paths = []
    for i in range(3):
        path = folder / f"digit{i}_{sample['y_test'][i]}.png"
        Image.fromarray(sample["x_test"][i]).save(path)
        paths.append(str(path))
    return paths


def test_multilabel_predict_and_load_run(runner, digits):
    run = multilabel_run()
    result = runner.invoke(main, ["predict", str(run), *digits, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output[result.output.index("{"):])
    assert found["task"] == "multilabel"
    trained = cnn_cli.load_run(run)
    assert trained.task == "multilabel" and trained.class_names == LABEL_NAMES
    chosen = trained.classify(digits)
    scores = trained.predict(digits)
    assert scores.shape == (3, 3) and ((scores >= 0) & (scores <= 1)).all()
    for entry, labels, row in zip(found["predictions"], chosen, scores):
        assert entry["labels"] == [s["name"] for s in entry["scores"] if s["predicted"]]
        assert sorted(entry["labels"]) == sorted(labels)
        by_name = {s["name"]: s["score"] for s in entry["scores"]}
        assert [by_name[n] for n in LABEL_NAMES] == pytest.approx(row.tolist(), abs=1e-5)
    text = runner.invoke(main, ["predict", str(run), digits[0]])
    assert text.exit_code == 0 and text.output.startswith(f"{digits[0]}: ")


def test_multilabel_report_inspect_and_export(runner, digits, tmp_path):
    run = multilabel_run()
    page = tmp_path / "report.html"
    assert runner.invoke(main, ["report", str(run), "-o", str(page)]).exit_code == 0
    html = page.read_text()
    for section in ("Per label", "Precision and recall", "Most-missed labels", "Inside the model"):
        assert section in html, section
    assert "Confusion matrix" not in html
    result = runner.invoke(main, ["inspect", str(run), digits[0], "--class", "loop", "-o", str(tmp_path / "in")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "in" / "gradcam_loop.png").is_file()
    out = tmp_path / "m.onnx"
    result = runner.invoke(main, ["export", str(run), "--format", "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "equal label decisions" in result.output and "passed" in result.output
    sidecar = json.loads((tmp_path / "m.onnx.labels.json").read_text())
    assert sidecar["task"] == "multilabel" and len(sidecar["thresholds"]) == 3


# ---------------------------------------------------------------------------------------------- regression


def test_regression_trains_standardised_and_evaluates_in_units(runner):
    run = regression_run()
    labels = json.loads((run / "labels.json").read_text())
    digits = np.load(MNIST_NPZ)["y_train"][:400].astype(np.float64)
    assert labels["task"] == "regression" and [c["name"] for c in labels["classes"]] == ["digit", "scaled"]
    # the training split's mean and std (the validation split is a quarter of the 400, at random)
    assert 3 < labels["target_mean"][0] < 6 and labels["target_mean"][1] == pytest.approx(10 * labels["target_mean"][0] + 3)
    assert labels["target_std"][1] == pytest.approx(10 * labels["target_std"][0])
    assert labels["target_std"][0] == pytest.approx(digits.std(), rel=0.15)
    header = (run / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,mae,rmse,val_loss,val_mae,val_rmse,learning_rate,seconds"
    result = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    for key in ("task", "loss", "num_examples", "mae", "rmse", "r2", "per_target"):
        assert key in report, key
    assert report["task"] == "regression"
    per = {r["target"]: r for r in report["per_target"]}
    assert set(per["digit"]) == {"target", "mae", "rmse", "r2"}
    # in the data's units: the second target is ten times the first, plus 3, so its errors are ten times larger
    assert per["scaled"]["mae"] == pytest.approx(10 * per["digit"]["mae"], rel=0.05)
    trained = cnn_cli.load_run(run)
    values = trained.predict(np.load(MNIST_NPZ)["x_test"][:100])
    truth = np.load(MNIST_NPZ)["y_test"][:100].astype(np.float64)
    assert per["digit"]["mae"] == pytest.approx(np.abs(values[:, 0] - truth).mean(), rel=1e-4)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "regression" and metrics["test_mae"] == pytest.approx(report["mae"], rel=1e-4)


def test_regression_predict_report_inspect_export_and_load_run(runner, digits, tmp_path):
    run = regression_run()
    result = runner.invoke(main, ["predict", str(run), *digits, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output[result.output.index("{"):])
    trained = cnn_cli.load_run(run)
    values = trained.predict(digits)
    assert found["task"] == "regression" and trained.task == "regression"
    for entry, row in zip(found["predictions"], values):
        assert [v["target"] for v in entry["values"]] == ["digit", "scaled"]
        assert [v["value"] for v in entry["values"]] == pytest.approx(row.tolist(), rel=1e-4)
    assert values[:, 1] == pytest.approx(10 * values[:, 0] + 3, abs=0.5)  # in units: the model learnt both scales
    with pytest.raises(cnn_cli.errors.CnnError, match="regression run gives numbers"):
        trained.classify(digits)
    page = tmp_path / "report.html"
    assert runner.invoke(main, ["report", str(run), "-o", str(page)]).exit_code == 0
    html = page.read_text()
    for section in ("Per target", "Predicted against true", "Worst examples", "Inside the model"):
        assert section in html, section
    result = runner.invoke(main, ["inspect", str(run), digits[0], "--class", "scaled", "-o", str(tmp_path / "in")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "in" / "gradcam_digit.png").is_file() and (tmp_path / "in" / "gradcam_scaled.png").is_file()
    out = tmp_path / "r.onnx"
    result = runner.invoke(main, ["export", str(run), "--format", "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "target standard deviations: passed" in result.output
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    pixels = np.load(MNIST_NPZ)["x_test"][:5][..., None]
    exported = session.run(None, {session.get_inputs()[0].name: pixels})[0]
    assert exported == pytest.approx(trained.predict(pixels), abs=1e-3)  # the exported file speaks units too
    sidecar = json.loads((tmp_path / "r.onnx.labels.json").read_text())
    assert sidecar["task"] == "regression" and sidecar["output"]["meaning"].endswith("units")
    assert [o.name for o in session.get_outputs()] == [sidecar["output"]["name"]] == ["values"]  # as the sidecar says


def test_classification_evaluate_json_gains_task_balanced_accuracy_and_macro_f1(runner):
    result = runner.invoke(main, ["evaluate", str(mnist_run()), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["task"] == "classification" and 0 <= report["balanced_accuracy"] <= 1
    recalls = [r["recall"] for r in report["per_class"] if r["support"] > 0]
    assert report["balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=1e-9)
    assert report["macro_f1"] == pytest.approx(report["macro_avg"]["f1"], abs=1e-9)
    assert json.loads((mnist_run() / "metrics.json").read_text())["task"] == "classification"


def test_old_run_directories_read_as_classification():
    fixtures = sorted((ROOT / "tests" / "fixtures").glob("*/labels.json"))
    assert fixtures
    from cnn_cli.rundir.run_reader import read_run

    for labels in fixtures:
        run = read_run(labels.parent)
        assert run.task.NAME == "classification" and run.targets.thresholds is None


# ---------------------------------------------------------------------------------------------- curves


@pytest.mark.parametrize(("which", "metrics"), [(multilabel_run, ("loss", "auc", "f1")),
                                                (regression_run, ("loss", "mae", "rmse"))])
def test_the_training_curves_draw_the_tasks_own_metrics(runner, tmp_path, monkeypatch, which, metrics):
    """training_curves.png (written by cnn train) and the report's curves: a panel for the loss and each of the
    task's metrics, each with its training and validation lines; no accuracy panel left empty."""
    import struct

    from cnn_cli.reports import plots, training_curves
    from cnn_cli.rundir.records import read_history_text

    drawn = []
    original = plots.curves_figure
    monkeypatch.setattr(plots, "curves_figure", lambda *a, **k: drawn.append(original(*a, **k)) or drawn[-1])
    run = which()
    result = runner.invoke(main, ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert f"{', '.join(metrics)} per epoch" in (tmp_path / "r.html").read_text()
    assert len(drawn) == 1
    png = (run / "training_curves.png").read_bytes()
    assert struct.unpack(">I", png[16:20])[0] == 500 * len(metrics)  # a 500-pixel panel per metric
    for figure in (drawn[0], training_curves.curves_figure(read_history_text(run / "history.csv"))):
        panels = {ax.get_title(): len(ax.get_lines()) for ax in figure.axes if "learning rate" not in ax.get_title()}
        assert tuple(panels) == metrics and all(n == 2 for n in panels.values()), panels


# ---------------------------------------------------------------------------------------------- stop_at, flip TTA


def test_multilabel_stop_at_and_flip_tta_of_training_and_evaluate(runner):
    """stop_at on a multi-label metric stops the run (val_auc >= 0: at once); train.tta: flip records the task's
    figures with flip TTA, which `cnn evaluate --tta flip` finds again on the same test split."""
    run = multilabel_run()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_at"]["reached"] is True and metrics["stop_at"]["epoch"] == 1 and metrics["epochs_run"] == 1
    assert len((run / "history.csv").read_text().splitlines()) == 2
    assert metrics["tta"] == "flip" and "test_accuracy_tta" not in metrics
    assert 0 <= metrics["test_micro_f1_tta"] <= 1 and 0 <= metrics["test_mean_average_precision_tta"] <= 1
    result = runner.invoke(main, ["evaluate", str(run), "--tta", "flip", "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["tta"] == "flip" and report["micro_f1"] == pytest.approx(metrics["test_micro_f1"], abs=1e-6)
    assert report["tta_figures"]["micro_f1"] == pytest.approx(metrics["test_micro_f1_tta"], abs=1e-6)
    assert report["tta_figures"]["mean_average_precision"] == pytest.approx(metrics["test_mean_average_precision_tta"],
                                                                            abs=1e-6)
    text = runner.invoke(main, ["evaluate", str(run), "--tta", "flip", "--no-write"])
    assert text.exit_code == 0 and "With flip TTA:" in text.output


def test_regression_flip_tta_needs_flip_invariant_targets(runner, tmp_path):
    """`cnn evaluate --tta flip` of a regression run: one line, exit 2, unless its config says data.flip_invariant
    (then the figures of the mean of each image's and its mirror's numbers, in units)."""
    from tests.run_helpers import copy_run

    run = regression_run()
    result = runner.invoke(main, ["evaluate", str(run), "--tta", "flip", "--no-write"])
    assert result.exit_code == 2 and len(_lines(result)) == 1 and "Traceback" not in result.output
    assert "data.flip_invariant" in result.output and "config.yaml" in result.output
    invariant = copy_run(run, tmp_path)
    config = invariant / "config.yaml"
    config.write_text(config.read_text().replace("flip_invariant: false", "flip_invariant: true"))
    result = runner.invoke(main, ["evaluate", str(invariant), "--tta", "flip", "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["tta"] == "flip" and {"mae", "rmse", "r2", "per_target"} <= set(report["tta_figures"])
    assert report["tta_figures"]["mae"] != report["mae"]  # the mirror images give other numbers


# ---------------------------------------------------------------------------------------------- export


def test_export_agreement_rules_of_the_tasks():
    """Export verification's rules: multilabel, equal decisions on at least 99.9% of the label decisions (at the
    run's thresholds); regression, the largest difference at most 1e-3 target standard deviations."""
    from cnn_cli import tasks
    from cnn_cli.tasks.base import TargetState

    multilabel = tasks.lookup("multilabel")
    state = TargetState(thresholds=(0.5, 0.3))
    expected = np.full((500, 2), 0.2)
    expected[:, 1] = 0.35  # decided: label 1 only, everywhere (its threshold is 0.3)

    def flipped(n):  # n of the 1,000 decisions go the other way
        got = expected.copy()
        got.reshape(-1)[:n] = [0.6 if i % 2 == 0 else 0.25 for i in range(n)]
        return got

    one, two = multilabel.agreement(expected, flipped(1), state), multilabel.agreement(expected, flipped(2), state)
    assert (one["value"], one["passed"], two["value"], two["passed"]) == (0.999, True, 0.998, False)
    assert multilabel.agreement(expected, expected + 0.04, state)["passed"]  # other scores, the same decisions
    regression = tasks.lookup("regression")
    state = TargetState(mean=(3.0, 100.0), std=(2.0, 50.0))
    truth = np.stack([np.linspace(0, 6, 100), np.linspace(0, 200, 100)], axis=1)
    for shift, passed in (((1.9e-3, 0.0), True), ((0.0, 0.049), True), ((2.1e-3, 0.0), False), ((0.0, 0.051), False)):
        got = truth.copy()
        got[7] += shift  # in the data's units: 2e-3 is 1e-3 of the first target's std, 0.05 of the second's
        found = regression.agreement(truth, got, state)
        assert found["passed"] is passed and found["value"] == pytest.approx(max(shift[0] / 2.0, shift[1] / 50.0))


@pytest.mark.slow  # four exports, 4 to 6 s each on 2 busy cores
@pytest.mark.parametrize("which", [multilabel_run, regression_run])
def test_saved_model_and_litert_exports_of_the_tasks(which, tmp_path):
    """`cnn export --format saved_model|litert` of a multi-label and a regression run: verified by the task's
    agreement, and the files give what load_run gives (scores; numbers in the data's units)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from tests.export_helpers import export_cli

    run = which()
    trained = cnn_cli.load_run(run)
    pixels = np.load(MNIST_NPZ)["x_test"][:8][..., None]
    wanted = trained.predict(pixels)
    rule = "equal decisions on at least 99.9%" if trained.task == "multilabel" else "at most 0.001 target standard"
    for fmt, name in (("saved_model", "m"), ("litert", "m.tflite")):
        report = json.loads(export_cli([str(run), "--format", fmt, "-o", str(tmp_path / name), "--json"]).output)
        verification = report["verification"]
        assert report["passed"] and verification["task"] == trained.task and rule in verification["rule"]
        sidecar = json.loads(Path(report["labels"]).read_text())
        assert sidecar["task"] == trained.task and [c["name"] for c in sidecar["classes"]] == trained.class_names
        if fmt == "saved_model":
            serve = tf.saved_model.load(str(tmp_path / name)).signatures["serving_default"]
            got = serve(tf.constant(pixels))[sidecar["output"]["name"]].numpy()
        else:
            interpreter = Interpreter(model_path=str(tmp_path / name))
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], pixels.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
            interpreter.invoke()
            got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert got == pytest.approx(wanted, abs=1e-3 * (1 if trained.task == "multilabel" else 10))
