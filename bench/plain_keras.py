"""The baseline: the Fashion-MNIST seed's Keras script, written by hand the way the seed writes it.

    python bench/plain_keras.py --epochs 2 [--data PATH] [--batch-size 32]
    python bench/plain_keras.py --early-stop [--data PATH]    # the tutorial's own run, to its early stop

`--early-stop` is the tutorial's script as it is run: `ModelCheckpoint(save_best_only=True)` and
`EarlyStopping(patience=2, restore_best_weights=True)` on the validation loss, 20 epochs at most; the JSON line
then also says how many epochs ran.

Data: the full Fashion-MNIST from Debian's dataset-fashion-mnist when installed (else --data, an .npz
with x_train/y_train/x_test/y_test). Prints one JSON line with throughput and accuracy, for bench/run.py.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import time
from pathlib import Path

import numpy as np

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data: str | None):
    if data:
        with np.load(data, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    return (
        (read_idx(DEBIAN / "train-images-idx3-ubyte.gz"), read_idx(DEBIAN / "train-labels-idx1-ubyte.gz")),
        (read_idx(DEBIAN / "t10k-images-idx3-ubyte.gz"), read_idx(DEBIAN / "t10k-labels-idx1-ubyte.gz")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--early-stop", action="store_true",
                        help="The tutorial's checkpoint and early stopping (patience 2), 20 epochs at most.")
    args = parser.parse_args()
    if args.early_stop:
        args.epochs = 20
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import keras
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(args.seed)
    (train_input, train_target), (test_input, test_target) = load(args.data)
    train_scaled = train_input.reshape(-1, 28, 28, 1) / 255.0
    test_scaled = test_input.reshape(-1, 28, 28, 1) / 255.0
    train_scaled, val_scaled, train_target, val_target = train_test_split(
        train_scaled, train_target, test_size=0.2, random_state=42
    )

    model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28, 1)))
    model.add(keras.layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu", padding="same"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(100, activation="relu"))
    model.add(keras.layers.Dropout(0.4))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.model.history_seconds = getattr(self.model, "history_seconds", []) + [time.perf_counter() - self.start]

    timer = EpochTimer()
    callbacks = [timer]
    if args.early_stop:
        import tempfile

        best = Path(tempfile.mkdtemp(prefix="plain-keras-")) / "best-model.keras"
        callbacks += [keras.callbacks.ModelCheckpoint(str(best), save_best_only=True),
                      keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)]
    history = model.fit(
        train_scaled, train_target, epochs=args.epochs, batch_size=args.batch_size,
        validation_data=(val_scaled, val_target), callbacks=callbacks, verbose=2,
    )
    _, test_accuracy = model.evaluate(test_scaled, test_target, verbose=0)
    print(json.dumps({
        "runner": "plain_keras",
        "train_examples": int(len(train_scaled)),
        "epoch_seconds": model.history_seconds,
        "val_accuracy": float(history.history["val_accuracy"][-1]),
        "test_accuracy": float(test_accuracy),
        "epochs_run": len(history.history["loss"]),
    }))


if __name__ == "__main__":
    main()
