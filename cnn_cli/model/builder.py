"""Turns a validated model config into a Keras model, with the functional API.

Layer names follow the analysis (`cnn_cli.model.analysis`), so the summary's costs line up with Keras'
layers; a block's layers are named `<block>_<part>` (e.g. `inception_3x3_reduce`, `residual_1_proj`).
"""

from __future__ import annotations

import keras
from keras import layers

from cnn_cli.config import layers as L
from cnn_cli.config.model import ModelConfig
from cnn_cli.model.analysis import Shape, analyze, layer_names
from cnn_cli.model.min_pooling import MinPooling2D


def build_model(model: ModelConfig, input_shape: Shape, num_classes: int, source: str = "config", name: str = "cnn") -> keras.Model:
    """Builds (but does not compile) the model for inputs of `input_shape` and `num_classes` classes.

    The last layer is kept in float32 under a mixed-precision policy, so the softmax and the loss are.
    """
    analyze(model, input_shape, num_classes, source)  # shape errors as config errors, before Keras sees them
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    names = layer_names(model.layers)
    last = len(model.layers) - 1
    for index, (layer_name, cfg) in enumerate(zip(names, model.layers)):
        dtype = "float32" if index == last else None
        x = _apply(cfg, layer_name, x, num_classes, dtype)
    return keras.Model(inputs, x, name=name)


def _conv(x, name: str, filters: int, kernel, strides=1, padding="same", activation=None, use_bias=True, dtype=None):
    return layers.Conv2D(
        filters, L.pair(kernel), strides=L.pair(strides), padding=padding,
        activation=activation, use_bias=use_bias, name=name, dtype=dtype,
    )(x)


def _apply(cfg, name: str, x, num_classes: int, dtype):
    kind = cfg.type
    if kind == "conv2d":
        return _conv(x, name, cfg.filters, cfg.kernel_size, cfg.strides, cfg.padding, cfg.activation, cfg.use_bias, dtype)
    if kind in ("max_pool2d", "avg_pool2d", "min_pool2d"):
        cls = {"max_pool2d": layers.MaxPooling2D, "avg_pool2d": layers.AveragePooling2D, "min_pool2d": MinPooling2D}[kind]
        strides = L.pair(cfg.strides) if cfg.strides is not None else None
        return cls(pool_size=L.pair(cfg.pool_size), strides=strides, padding=cfg.padding, name=name, dtype=dtype)(x)
    if kind == "global_max_pool2d":
        return layers.GlobalMaxPooling2D(name=name, dtype=dtype)(x)
    if kind == "global_avg_pool2d":
        return layers.GlobalAveragePooling2D(name=name, dtype=dtype)(x)
    if kind == "batch_norm":
        return layers.BatchNormalization(momentum=cfg.momentum, epsilon=cfg.epsilon, name=name, dtype=dtype)(x)
    if kind == "dropout":
        return layers.Dropout(cfg.rate, name=name, dtype=dtype)(x)
    if kind == "flatten":
        return layers.Flatten(name=name, dtype=dtype)(x)
    if kind == "dense":
        units = num_classes if cfg.units == "num_classes" else cfg.units
        return layers.Dense(units, activation=cfg.activation, use_bias=cfg.use_bias, name=name, dtype=dtype)(x)
    if kind == "activation":
        return layers.Activation(cfg.activation, name=name, dtype=dtype)(x)
    if kind == "inception":
        return _inception(cfg, name, x, dtype)
    if kind == "residual":
        return _residual(cfg, name, x, dtype)
    raise AssertionError(f"no builder for layer type {kind}")


def _inception(cfg: L.Inception, name: str, x, dtype):
    act = cfg.activation
    b1 = _conv(x, f"{name}_1x1", cfg.filters_1x1, 1, activation=act)
    b2 = _conv(x, f"{name}_3x3_reduce", cfg.filters_3x3_reduce, 1, activation=act)
    b2 = _conv(b2, f"{name}_3x3", cfg.filters_3x3, 3, activation=act)
    b3 = _conv(x, f"{name}_5x5_reduce", cfg.filters_5x5_reduce, 1, activation=act)
    b3 = _conv(b3, f"{name}_5x5", cfg.filters_5x5, 5, activation=act)
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    b4 = _conv(b4, f"{name}_pool_proj", cfg.filters_pool_proj, 1, activation=act)
    return layers.Concatenate(name=f"{name}_concat", dtype=dtype)([b1, b2, b3, b4])


def _residual(cfg: L.Residual, name: str, x, dtype):
    y = _conv(x, f"{name}_conv1", cfg.filters, 3, cfg.strides, use_bias=False)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation(cfg.activation, name=f"{name}_act1")(y)
    y = _conv(y, f"{name}_conv2", cfg.filters, 3, use_bias=False)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    shortcut = x
    if cfg.strides != 1 or x.shape[-1] != cfg.filters:
        shortcut = _conv(x, f"{name}_proj", cfg.filters, 1, cfg.strides, use_bias=False)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation(cfg.activation, name=f"{name}_out", dtype=dtype)(y)
