"""The boundaries: only `cnn_cli/backends/` imports TensorFlow. Each private Keras internal in `cnn_cli.private_api`, checked against the installed Keras: a test here
fails loudly when an upgrade changes one. And no other module reaches into Keras' privates."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnn_cli import private_api  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_cli"
PRIVATE = re.compile(r"from keras\.src|import keras\.src|\._symbolic_build|\._flatten_layers|\._initial_epoch")


def test_privates_used_only_in_private_api():
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if PRIVATE.search(p.read_text()))
    assert users == ["private_api.py"]


def _importers(package: str) -> list[str]:
    pattern = rf"^\s*(import {package}|from {package}[ .])"
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                  if re.search(pattern, p.read_text(), re.MULTILINE))


def test_only_backends_import_tensorflow_jax_or_torch():
    assert _importers("tensorflow") == ["backends/tensorflow.py", "backends/tensorflow_loop.py"]
    assert _importers("jax") == ["backends/jax.py", "backends/jax_distribution.py"]
    assert _importers("torch") == ["backends/torch.py"]


def _compiled_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Dropout(0.5)(inputs)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_build_for_batch_builds_loss_metrics_and_optimizer():
    model = _compiled_model()
    before = len(model.metrics_variables)
    assert not model.optimizer.built
    batch = (np.zeros((2, 4), np.float32), np.zeros((2,), np.int32))
    private_api.build_for_batch(model, batch)
    assert model.optimizer.built
    assert len(model.metrics_variables) == before + 2  # the compiled accuracy's total and count exist now


def test_global_seed_generator_is_the_one_behind_unseeded_calls():
    generator = private_api.global_seed_generator()
    assert isinstance(generator, keras.random.SeedGenerator)
    assert private_api.global_seed_generator() is generator
    before = keras.ops.convert_to_numpy(generator.state).copy()
    keras.random.normal((2,))  # no seed: draws from the global generator
    assert not np.array_equal(before, keras.ops.convert_to_numpy(generator.state))


def test_random_states_are_the_seed_generators():
    from cnn_cli.training.epoch_seeds import random_states

    model = _compiled_model()
    dropout = model.layers[1]
    states = random_states([model])
    assert any(s is dropout.seed_generator.state for s in states)
    assert any(s is private_api.global_seed_generator().state for s in states)
    assert len(states) == 2 and not any(s is w for s in states for w in model.weights)
