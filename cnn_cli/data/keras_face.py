"""The backend-neutral face of the input pipeline: a `keras.utils.PyDataset` over a `BatchSource`, which
Keras feeds to TensorFlow, JAX and PyTorch alike. Imports Keras (never TensorFlow itself)."""

from __future__ import annotations

import keras

from cnn_cli.data.batches import BatchSource


class SourceBatches(keras.utils.PyDataset):
    """Batch i of the source's current epoch (`source.set_epoch`, set by the trainer's `EpochSeeds` callback
    before the epoch's first batch is asked for). `workers` > 1 gathers batches ahead in threads."""

    def __init__(self, source: BatchSource, workers: int = 1, max_queue_size: int = 8):
        if keras.backend.backend() != "tensorflow":
            # On JAX and PyTorch, Keras' threaded PyDataset may gather a batch ahead across an epoch's end, before
            # the epoch's seed is set (on PyTorch an epoch of 200 examples came as 7 full batches of 32), and a
            # resumed run then differs from an uninterrupted one: one worker gives each epoch its own batches.
            workers = 1
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max_queue_size)
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int):
        return self.source.batch(index)
