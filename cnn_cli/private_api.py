"""The private Keras internals this tool still needs, each behind one function, each with a test in
tests/test_private_api.py that fails loudly when a Keras upgrade changes it (pyproject.toml bounds the
versions the tests ran on).

- `build_for_batch`: `Model._symbolic_build`, which builds a compiled model's loss, metrics and optimizer
  variables from one batch, as `fit` does before its first step. The custom distributed loop needs them made
  outside the replicated `tf.function` (variables made inside one fail under MirroredStrategy); Keras has
  no public call that builds the compiled loss and metrics.
- `global_seed_generator`: the `SeedGenerator` behind Keras' unseeded random calls
  (`keras.random.normal(shape)` without `seed=`). Its state is reset with every other generator at each
  epoch's start, so that epoch e's random draws depend on (seed, e) only; Keras exports no accessor.
- `seed_keras`: what `keras.utils.set_random_seed` does, less its `tf.random.set_seed`, which imports
  TensorFlow (about 5 s) into a JAX or PyTorch run that never uses it. The seed Keras keeps (which
  `keras.distribution` hands to every process) is a global attribute that only `set_random_seed` sets.
"""

from __future__ import annotations


def build_for_batch(model, batch) -> None:
    """Builds `model`'s compiled loss and metrics and its optimizer from one data batch (x, y)."""
    model._symbolic_build(data_batch=batch)


def global_seed_generator():
    """Keras' global `SeedGenerator` (made on first use), or None where the backend has none."""
    from keras.src.random import seed_generator

    try:
        return seed_generator.global_seed_generator()
    except ValueError:  # JAX while tracing: unseeded random calls are refused there
        return None


def seed_keras(seed: int) -> None:
    """`keras.utils.set_random_seed(seed)` without importing TensorFlow: Keras' seed and its global
    `SeedGenerator` (made again from the seed), Python's `random`, NumPy's, and TensorFlow's only where it is
    imported already. The backend's own generator is the caller's (`torch.manual_seed`)."""
    import random
    import sys

    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
