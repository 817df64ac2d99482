"""The task registry: classification is found as a module of `cnn_cli.tasks`, and a toy task registered here
shows the route -- training compiles with its loss and metrics and batches its targets as it says, evaluation
takes its per-class figures, and `cnn predict` prints and returns what it says of each input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnn_cli import tasks
from cnn_cli.cli import main
from cnn_cli.tasks.base import Task
from cnn_cli.tasks.classification import Classification
from tests.run_helpers import MNIST_NPZ, ROOT


class Toy(Classification):
    """Classification that says so: every method the callers use is recorded, and its predictions carry a
    mark of their own."""

    NAME = "toy"
    REPORT_SECTIONS = ("classes",)
    calls: list[str] = []

    def loss(self, config):
        self.calls.append("loss")
        return super().loss(config)

    def metrics(self, config):
        self.calls.append("metrics")
        return ["accuracy"]

    def one_hot(self, config):
        self.calls.append("one_hot")
        return super().one_hot(config)

    def per_class(self, y_true, y_pred, names, ids):
        self.calls.append("per_class")
        return super().per_class(y_true, y_pred, names, ids)

    def prediction(self, outputs, classes, top_k, *state):
        return {**super().prediction(outputs, classes, top_k, *state), "toy": int(np.argmax(outputs))}

    def prediction_text(self, prediction):
        return f"toy says {prediction['toy']}"


@pytest.fixture
def toy(monkeypatch):
    tasks.register(Toy)
    monkeypatch.setattr(tasks, "DEFAULT", "toy")  # the task of every config that names none
    Toy.calls.clear()
    yield tasks.lookup("toy")
    tasks.unregister("toy")


def test_classification_is_found_and_importing_tasks_imports_no_keras():
    from cnn_cli.config.root import DEFAULT_LOSS, TASKS

    assert tasks.names() == ["classification", "multilabel", "regression"] == list(TASKS)
    assert all(DEFAULT_LOSS[name] in tasks.lookup(name).LOSSES for name in TASKS)  # the schema's names are the tasks'
    task = tasks.lookup("classification")
    assert isinstance(task, Task) and task.HEAD_ACTIVATION == "softmax" and task.METRIC == "accuracy"
    assert [tasks.lookup(n).HEAD_ACTIVATION for n in ("multilabel", "regression")] == ["sigmoid", "linear"]
    with pytest.raises(KeyError, match="unknown task 'nope'; expected one of classification, multilabel, regression"):
        tasks.lookup("nope")
    code = "import sys, cnn_cli.tasks as t; t.names(); print(sorted({'keras', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_classification_predicts_the_top_classes():
    task = tasks.lookup("classification")
    classes = [(0, "a", "cat"), (1, "b", "dog"), (2, "c", "eel")]
    entry = task.prediction(task.outputs(np.array([[0.0, 2.0, 1.0]]))[0], classes, 2)
    assert [t["name"] for t in entry["top"]] == ["dog", "eel"] and entry["top"][0]["id"] == "b"
    assert task.prediction_text(entry) == f"dog {entry['top'][0]['probability']:.4f}, eel {entry['top'][1]['probability']:.4f}"
    assert task.encode_targets(np.array([2, 0]), 3, one_hot=True).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_a_registered_task_takes_training_evaluation_and_predict(toy, runner, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", "configs/mnist.yaml", "--data", str(MNIST_NPZ),
                                  "--subset", "64", "--epochs", "1", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert {"loss", "metrics", "one_hot"} <= set(Toy.calls)  # the compile and the batches asked the task

    result = runner.invoke(main, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert "per_class" in Toy.calls

    digit = tmp_path / "seven.png"
    Image.fromarray(np.load(MNIST_NPZ)["x_test"][0]).save(digit)
    result = runner.invoke(main, ["predict", str(run), str(digit)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(f"{digit}: toy says ")
    result = runner.invoke(main, ["predict", str(run), str(digit), "--json"])
    found = json.loads(result.output)
    assert found["task"] == "toy" and isinstance(found["predictions"][0]["toy"], int)
    assert len(found["predictions"][0]["top"]) == 3
