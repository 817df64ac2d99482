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
