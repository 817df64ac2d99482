"""cnn: train, check and evaluate convolutional networks described by YAML files.

The command line is `cnn` (`cnn_cli.cli`); from Python, `cnn_cli.load_run(path)` gives a trained run's model,
class names and `predict` (see `cnn_cli.api`). Importing the package imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def load_run(path, model_file: str = "model.keras"):
    """The run directory `path` written by `cnn train`, its model loaded (float32): `.model`, `.class_names`,
    `.predict(images)` (probabilities) and `.classify(images)` (names), for uint8 arrays or image files."""
    from cnn_cli.api import load_run as load

    return load(path, model_file)
