"""Training a model from a validated config: seeding, precision, callbacks, the run directory and its files.

`cnn_cli.training.trainer.train` is the entry point; `cnn train` is a thin layer over it.
TensorFlow is imported only inside the functions that need it.
"""
