"""The backend registry: backends are classes registered by name, their optional capabilities declared
(`supports`), never probed; a toy backend registered here shows the routes: Distribution takes its own loop
when it declares `custom_fit`, and Grad-CAM is skipped in one line on a backend without `gradcam`."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli import backends
from cnn_cli.backends.base import CAPABILITIES, Backend, Unsupported
from cnn_cli.backends.single import OneDevice
from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, mnist_run


class Toy(Backend):
    """A backend that computes nothing: enough of the interface for the routes under test."""

    NAME, LABEL, PACKAGE = "toy", "Toy", "toy"
    CAPABILITIES = frozenset({"custom_fit"})
    fitted: list = []

    def start(self):
        raise AssertionError("the toy backend does not start")

    def seed_everything(self, seed, deterministic=False):
        pass

    def gpu_names(self):
        return []

    def gpu_precision(self):
        return None

    def cpu_precision(self):
        return "float32"

    def steps_per_execution(self, wanted):
        return wanted

    def devices_used(self, strategy):
        return None

    def check_devices(self, settings):
        pass

    def make_strategy(self, settings, *, slurm=False, worker=None):
        return None, "default"

    def default_strategy(self):
        return OneDevice()

    def tensorboard_problem(self):
        return None

    def fit_works_under(self, strategy):
        return strategy is None

    def custom_fit(self, model, strategy, train_ds, **kwargs):
        self.fitted.append((model, strategy, train_ds, kwargs))
        return "toy history"


class Plain(Toy):
    NAME, LABEL = "plain", "Plain"
    CAPABILITIES = frozenset()


@pytest.fixture
def toy():
    backends.register(Toy)
    backends.register(Plain)
    yield backends.lookup("toy")
    backends.unregister("toy")
    backends.unregister("plain")


def test_the_tools_backends_declare_their_capabilities():
    assert set(CAPABILITIES) == {"gradcam", "custom_fit", "tf_distribute", "keras_distribution"}
    assert backends.lookup("tensorflow").supports("gradcam")
    assert backends.lookup("tensorflow").supports("custom_fit") and backends.lookup("tensorflow").supports("tf_distribute")
    assert not backends.lookup("tensorflow").supports("keras_distribution")
    assert [c for c in CAPABILITIES if backends.lookup("jax").supports(c)] == ["keras_distribution"]
    assert not any(backends.lookup("torch").supports(c) for c in CAPABILITIES)
    for name in ("jax", "torch"):
        found = backends.lookup(name)
        assert found.NAME == name
        with pytest.raises(Unsupported):
            found.feature_gradients(None, None, None)
    assert backends.lookup("nothing") is None
    assert backends.lookup("jax") is backends.lookup("jax")  # one instance per process


def test_a_registered_backend_answers_supports(toy):
    assert backends.names() == ("tensorflow", "jax", "torch", "toy", "plain")
    assert toy.supports("custom_fit") and not toy.supports("gradcam") and not toy.supports("tf_distribute")
    with pytest.raises(ValueError, match="unknown backend capability 'grad_cam'"):
        toy.supports("grad_cam")


def test_an_unknown_capability_cannot_be_declared():
    with pytest.raises(AssertionError, match=r"declares unknown capabilities \['flash'\]"):
        type("Flash", (Toy,), {"CAPABILITIES": frozenset({"flash"})})


def test_unregistering_forgets_only_registered_backends(toy):
    backends.unregister("toy")
    backends.unregister("jax")
    assert backends.lookup("toy") is None and backends.lookup("jax") is not None


def test_the_custom_loop_is_taken_where_the_backend_declares_it(toy, monkeypatch, tmp_path):
    from cnn_cli.training import distribute

    strategy = object()
    run = distribute.Distribution(strategy, "toy", None, tmp_path)
    monkeypatch.setattr(distribute, "backend", lambda: toy)
    assert run.custom_loop() and run.fit("model", "batches", epochs=1) == "toy history"
    assert toy.fitted[-1] == ("model", strategy, "batches", {"chief": True, "epochs": 1})
    monkeypatch.setattr(distribute, "backend", lambda: backends.lookup("plain"))
    assert not run.custom_loop()  # Keras' fit, even where it would fail: the backend has no loop of its own


def test_grad_cam_is_skipped_in_one_line_on_a_backend_without_it(toy, runner, monkeypatch, tmp_path):
    from cnn_cli.inference import gradcam

    digit = tmp_path / "seven.png"
    Image.fromarray(np.load(MNIST_NPZ)["x_test"][0]).save(digit)
    monkeypatch.setattr(gradcam, "backend", lambda: backends.lookup("plain"))
    assert not gradcam.available()
    out = tmp_path / "out"
    result = runner.invoke(main, ["inspect", str(mnist_run()), str(digit), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Note: Grad-CAM needs the TensorFlow backend; skipped" in result.output.splitlines()
    assert not list(out.glob("gradcam_*.png"))


def test_no_backend_is_probed_with_hasattr():
    """Capabilities are declared (`supports`), not discovered: no `hasattr(backend...)` in the package."""
    probes = []
    for path in (Path(backends.__file__).parents[1]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hasattr"
                    and "backend" in ast.unparse(node.args[0]).lower()):
                probes.append(f"{path.name}:{node.lineno}")
    assert not probes, probes
