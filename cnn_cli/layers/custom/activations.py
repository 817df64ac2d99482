"""Activations Keras has only as a function with an argument, registered under `cnn` so that a saved model
names them: `gelu_tanh` is `keras.activations.gelu(x, approximate=True)` (GELU's tanh approximation)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cnn", name="gelu_tanh")
def gelu_tanh(x):
    """GELU's tanh approximation, as `keras.activations.gelu(x, approximate=True)`."""
    return keras.activations.gelu(x, approximate=True)
