"""The backend-neutral face of the input pipeline: a `keras.utils.PyDataset` over a `BatchSource`, which
Keras feeds to TensorFlow, JAX and PyTorch alike. Imports Keras (never TensorFlow itself)."""

from __future__ import annotations

import keras

from cnn_cli.data.batches import BatchSource


class SourceBatches(keras.utils.PyDataset):
    """Batch i of the source's current epoch (`source.set_epoch`, set by the trainer's `EpochSeeds` callback
    before the epoch's first batch is asked for). `workers` > 1 gathers batches ahead in threads."""

    def __init__(self, source: BatchSource, workers: int = 1, max_queue_size: int = 8):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max_queue_size)
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int):
        return self.source.batch(index)
