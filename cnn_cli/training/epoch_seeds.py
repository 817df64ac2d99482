"""The run's random streams as functions of (seed, epoch) alone.

tf.data's reshuffling and Keras' dropout and augmentation layers draw from generators that advance once per
epoch or step *in this process*: after a resume from epoch k they would restart from their epoch-0 state,
and a resumed run would not see the data order, masks and distortions an uninterrupted run sees. At every
epoch's beginning `EpochSeeds` sets the training batches' epoch (`cnn_cli.data.pipeline.TrainingBatches`)
and resets the state of every random generator (the model's layers, the augmentation layers, Keras' global
one) to a value derived from (seed, epoch, its index).

With `train.deterministic` (the backend's op determinism) the final weights of a run killed and resumed equal
those of an uninterrupted one, bit for bit (tests/test_crash_safety.py).
"""

from __future__ import annotations

import keras
import numpy as np

from cnn_cli import private_api
from cnn_cli.data.pipeline import TrainingBatches, derived_seed


def random_states(layers) -> list:
    """The state variables of the layers' random generators (`SeedGenerator`s), nested layers included:
    what `layer.variables` holds beyond `layer.weights` (Keras documents `variables` as the weights plus
    the random seeds)."""
    found: dict[int, object] = {}
    for layer in layers:
        weights = {id(w) for w in layer.weights}
        for variable in layer.variables:
            if id(variable) not in weights:
                found.setdefault(id(variable), variable)
    generator = private_api.global_seed_generator()
    if generator is not None:
        found.setdefault(id(generator.state), generator.state)
    return list(found.values())


class EpochSeeds(keras.callbacks.Callback):
    """At each epoch's beginning: the batches' epoch, and every random generator's state, from (seed, epoch)."""

    def __init__(self, batches: TrainingBatches):
        super().__init__()
        self.batches = batches
        self._states: list | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        if self._states is None:
            self._states = random_states([self.model, *self.batches.random_layers])
        for i, state in enumerate(self._states):
            value = np.array([derived_seed(self.batches.seed, epoch, i + 1), 0])
            state.assign(keras.ops.convert_to_tensor(value, dtype=state.dtype))
