"""cnn: train, check and evaluate convolutional networks described by YAML files."""

__version__ = "0.1.0"
