"""The compute backend behind Keras: the only package that imports TensorFlow (a later issue adds JAX and
PyTorch here). `current()` is the backend a run uses; today always `cnn_cli.backends.tensorflow`.

A backend module offers: `start()` (the framework, started quietly), `versions()`, `seed_everything`,
`gpu_precision`, `make_strategy` / `fit_works_under` / `lost_worker_errors` (distribution), and
`custom_fit` / `custom_evaluate` (the loop for strategies where Keras' fit does not work).
"""

from __future__ import annotations

from types import ModuleType


def current() -> ModuleType:
    """The backend module for this process (TensorFlow)."""
    from cnn_cli.backends import tensorflow

    return tensorflow
