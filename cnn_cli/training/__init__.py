"""Training a model from a validated config: the plan, precision, callbacks, backups, phases and the end of a run.

`cnn_cli.training.trainer.train` is the entry point; `cnn train` is a thin layer over it.
TensorFlow is imported only inside the functions that need it.
"""
