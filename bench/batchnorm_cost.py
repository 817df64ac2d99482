"""What batch normalization costs per training step on this machine, and what takes the cost away.

    python bench/batchnorm_cost.py [--batch 128] [--steps 30] [--precision float32,mixed_bfloat16]

A small conv net (28x28x1 input; 3x3 convs of 32 and 64 channels at 28x28, 128 at 14x14, 256 at 7x7, global
average pooling, softmax) is trained on random images, one `train_on_batch` step at a time after a warm-up,
in four forms: without normalization; with Keras' `BatchNormalization` after each conv (what `batch_norm`
builds); the same with `jit_compile=True` (XLA; Keras leaves it off on a CPU-only machine); and with
TensorFlow's fused kernel (`tf.compat.v1.nn.fused_batch_norm`, one op per direction, in a layer defined
here). Prints images/s of each and its time relative to the net without normalization, per precision.
Keras 3's layer is not fused: it casts to float32 and runs moments, rsqrt, scale and shift as separate
ops over the whole activation, each a pass through memory, and as many again in the backward pass.
`--ops` times those ops one by one instead on one activation (128x28x28x64) beside a 3x3 conv of it.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class FusedBatchNorm(keras.layers.Layer):
    """Batch norm over the last axis with TensorFlow's fused kernel (training statistics in the step)."""

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, shape):
        c = shape[-1]
        self.gamma = self.add_weight(shape=(c,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(c,), initializer="zeros", name="beta")
        self.mean = self.add_weight(shape=(c,), initializer="zeros", trainable=False, name="moving_mean")
        self.var = self.add_weight(shape=(c,), initializer="ones", trainable=False, name="moving_variance")

    def call(self, x, training=False):
        if training:
            y, mean, var = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, epsilon=self.epsilon)
            self.mean.assign(self.mean * self.momentum + mean * (1 - self.momentum))
            self.var.assign(self.var * self.momentum + var * (1 - self.momentum))
            return y
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, mean=self.mean, variance=self.var,
                                                   epsilon=self.epsilon, is_training=False)
        return y


def net(norm: str) -> keras.Model:
    x = inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(1 / 255)(x)
    for i, filters in enumerate((32, 64, 128, 256)):
        if i >= 2:
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none")(x)
        if norm == "fused":
            x = FusedBatchNorm()(x)
        elif norm != "none":
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", dtype="float32")(x))


FORMS = {"no norm": ("none", False), "keras BN": ("keras", False), "keras BN + XLA": ("keras", True),
         "fused BN": ("fused", False), "no norm + XLA": ("none", True)}


def images_per_s(norm: str, jit: bool, batch: int, steps: int) -> float:
    model = net(norm)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, batch).astype("int32")
    for _ in range(5):
        model.train_on_batch(x, y)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - started)


def op_times(repeats: int = 20) -> None:
    """Milliseconds of the ops Keras' batch norm is made of, on one activation, beside a conv and the fused op."""
    x32 = tf.random.uniform((128, 28, 28, 64))
    kernel, gamma, beta = tf.random.uniform((3, 3, 64, 64)), tf.ones(64), tf.zeros(64)
    for dtype in (tf.float32, tf.bfloat16):
        x, k = tf.cast(x32, dtype), tf.cast(kernel, dtype)
        ops = {"cast to the other dtype": lambda x: tf.cast(x, tf.bfloat16 if x.dtype == tf.float32 else tf.float32),
               "moments": lambda x: tf.nn.moments(x, [0, 1, 2])[1],
               "scale and shift": lambda x: x * tf.cast(2.0, x.dtype) + tf.cast(1.0, x.dtype),
               "fused batch norm": lambda x: tf.compat.v1.nn.fused_batch_norm(x, gamma, beta)[0],
               "3x3 conv 64->64": lambda x, k=k: tf.nn.conv2d(x, k, 1, "SAME")}
        for name, op in ops.items():
            fn = tf.function(op)
            fn(x).numpy()
            started = time.perf_counter()
            for _ in range(repeats):
                out = fn(x)
            out.numpy()
            print(f"{dtype.name:8s} {name:24s} {(time.perf_counter() - started) / repeats * 1e3:7.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--precision", default="float32,mixed_bfloat16")
    parser.add_argument("--ops", action="store_true", help="time the ops of batch norm one by one instead")
    parser.add_argument("--forms", default=",".join(FORMS), help="comma-separated, of: " + ", ".join(FORMS))
    args = parser.parse_args()
    if args.ops:
        op_times()
        return
    print(f"batch {args.batch}, {args.steps} steps after 5 warm-up steps; load average {os.getloadavg()[0]:.1f}")
    for precision in args.precision.split(","):
        keras.mixed_precision.set_global_policy(precision)
        base = None
        for form in args.forms.split(","):
            speed = images_per_s(*FORMS[form], args.batch, args.steps)
            base = base or speed
            print(f"{precision:15s} {form:16s} {speed:8.0f} images/s  time x{base / speed:.2f} of '{args.forms.split(',')[0]}'",
                  flush=True)
            keras.backend.clear_session()


if __name__ == "__main__":
    main()
