"""Shape, parameter and cost analysis of a model config, in pure Python (no TensorFlow).

It follows Keras' own shape rules, so shape errors are found before TensorFlow starts, and it gives the
figures `cnn summary` reports. Costs are counted per example:

- params: weights and biases; batch norm has 2 trainable (gamma, beta) and 2 non-trainable (moving mean,
  variance) per channel.
- MACs (multiply-accumulates): conv = out_h * out_w * filters * (k_h * k_w * in_channels); dense = inputs *
  units for each position it is applied at; batch norm = one per element (inference form, scale and shift).
  Biases, activations, pooling and additions are not counted.
- activation memory: the elements of each layer's output times the bytes of the compute dtype (4 for
  float32, 2 under mixed precision); a block counts every tensor inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from cnn_cli.config import layers as L
from cnn_cli.config.model import ModelConfig
from cnn_cli.errors import ConfigError

Shape = tuple[int, ...]

KERAS_NAMES = {
    "conv2d": "conv2d", "max_pool2d": "max_pooling2d", "avg_pool2d": "average_pooling2d",
    "min_pool2d": "min_pooling2d", "global_max_pool2d": "global_max_pooling2d",
    "global_avg_pool2d": "global_average_pooling2d", "batch_norm": "batch_normalization",
    "dropout": "dropout", "flatten": "flatten", "dense": "dense", "activation": "activation",
    "inception": "inception", "residual": "residual",
}


@dataclass
class LayerCost:
    """One layer (or block) of the analysis; a block lists the layers inside it as `children`."""

    name: str
    type: str
    output_shape: Shape
    params: int = 0
    non_trainable_params: int = 0
    macs: int = 0
    activation_elements: int = 0
    children: list[LayerCost] = field(default_factory=list)

    @property
    def trainable_params(self) -> int:
        return self.params - self.non_trainable_params


@dataclass
class Analysis:
    input_shape: Shape
    num_classes: int | None
    layers: list[LayerCost]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return sum(layer.non_trainable_params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return self.total_params - self.non_trainable_params

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def activation_elements(self) -> int:
        return sum(layer.activation_elements for layer in self.layers)


class ShapeProblem(Exception):
    """Raised inside the analysis; turned into a ConfigError with the layer's key path."""

    def __init__(self, expected: str, received):
        super().__init__(expected)
        self.expected, self.received = expected, received


def layer_names(layers: Sequence) -> list[str]:
    """Keras-style unique names (`conv2d`, `conv2d_1`, ...) for layers that don't name themselves."""
    taken = {layer.name for layer in layers if layer.name}
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        if layer.name:
            names.append(layer.name)
            continue
        base = KERAS_NAMES[layer.type]
        while True:
            n = counts.get(base, 0)
            counts[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in taken:
                break
        taken.add(candidate)
        names.append(candidate)
    return names


def _out_size(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1 if size >= window else 0


def _spatial(shape: Shape, what: str) -> Shape:
    if len(shape) != 3:
        raise ShapeProblem(f"{what} expects a 3-D (height, width, channels) input", f"shape {shape}")
    return shape


def _window(shape: Shape, window, strides, padding: str, what: str) -> tuple[int, int]:
    h, w, _ = _spatial(shape, what)
    (kh, kw), (sh, sw) = L.pair(window), L.pair(strides)
    oh, ow = _out_size(h, kh, sh, padding), _out_size(w, kw, sw, padding)
    if oh < 1 or ow < 1:
        raise ShapeProblem(
            f"a {kh}x{kw} window with padding '{padding}' needs an input of at least {kh}x{kw}",
            f"input of {h}x{w}",
        )
    return oh, ow


def _elements(shape: Shape) -> int:
    return math.prod(shape)


def _conv(name: str, shape: Shape, filters: int, kernel, strides, padding: str, use_bias: bool) -> LayerCost:
    oh, ow = _window(shape, kernel, strides, padding, "conv2d")
    kh, kw = L.pair(kernel)
    cin = shape[2]
    out = (oh, ow, filters)
    params = kh * kw * cin * filters + (filters if use_bias else 0)
    return LayerCost(name, "conv2d", out, params, 0, oh * ow * filters * kh * kw * cin, _elements(out))


def _batch_norm(name: str, shape: Shape) -> LayerCost:
    channels = shape[-1]
    return LayerCost(name, "batch_norm", shape, 4 * channels, 2 * channels, _elements(shape), _elements(shape))


def _simple(name: str, kind: str, out: Shape) -> LayerCost:
    return LayerCost(name, kind, out, activation_elements=_elements(out))


def _block(name: str, kind: str, out: Shape, children: list[LayerCost]) -> LayerCost:
    return LayerCost(
        name, kind, out,
        params=sum(c.params for c in children),
        non_trainable_params=sum(c.non_trainable_params for c in children),
        macs=sum(c.macs for c in children),
        activation_elements=sum(c.activation_elements for c in children),
        children=children,
    )


def _inception(name: str, shape: Shape, cfg: L.Inception) -> LayerCost:
    _spatial(shape, "inception")
    h, w, _ = shape
    b1 = _conv(f"{name}_1x1", shape, cfg.filters_1x1, 1, 1, "same", True)
    b2r = _conv(f"{name}_3x3_reduce", shape, cfg.filters_3x3_reduce, 1, 1, "same", True)
    b2 = _conv(f"{name}_3x3", b2r.output_shape, cfg.filters_3x3, 3, 1, "same", True)
    b3r = _conv(f"{name}_5x5_reduce", shape, cfg.filters_5x5_reduce, 1, 1, "same", True)
    b3 = _conv(f"{name}_5x5", b3r.output_shape, cfg.filters_5x5, 5, 1, "same", True)
    pool = _simple(f"{name}_pool", "max_pool2d", shape)
    proj = _conv(f"{name}_pool_proj", shape, cfg.filters_pool_proj, 1, 1, "same", True)
    out = (h, w, cfg.filters_1x1 + cfg.filters_3x3 + cfg.filters_5x5 + cfg.filters_pool_proj)
    concat = _simple(f"{name}_concat", "concatenate", out)
    return _block(name, "inception", out, [b1, b2r, b2, b3r, b3, pool, proj, concat])


def _residual(name: str, shape: Shape, cfg: L.Residual) -> LayerCost:
    _spatial(shape, "residual")
    conv1 = _conv(f"{name}_conv1", shape, cfg.filters, 3, cfg.strides, "same", False)
    bn1 = _batch_norm(f"{name}_bn1", conv1.output_shape)
    act1 = _simple(f"{name}_act1", "activation", conv1.output_shape)
    conv2 = _conv(f"{name}_conv2", conv1.output_shape, cfg.filters, 3, 1, "same", False)
    bn2 = _batch_norm(f"{name}_bn2", conv2.output_shape)
    children = [conv1, bn1, act1, conv2, bn2]
    if cfg.strides != 1 or shape[2] != cfg.filters:
        proj = _conv(f"{name}_proj", shape, cfg.filters, 1, cfg.strides, "same", False)
        children += [proj, _batch_norm(f"{name}_proj_bn", proj.output_shape)]
    out = conv2.output_shape
    children += [_simple(f"{name}_add", "add", out), _simple(f"{name}_out", "activation", out)]
    return _block(name, "residual", out, children)


def _layer(name: str, shape: Shape, cfg, num_classes: int | None) -> LayerCost:
    kind = cfg.type
    if kind == "conv2d":
        return _conv(name, shape, cfg.filters, cfg.kernel_size, cfg.strides, cfg.padding, cfg.use_bias)
    if kind in ("max_pool2d", "avg_pool2d", "min_pool2d"):
        strides = cfg.strides if cfg.strides is not None else cfg.pool_size
        oh, ow = _window(shape, cfg.pool_size, strides, cfg.padding, kind)
        return _simple(name, kind, (oh, ow, shape[2]))
    if kind in ("global_max_pool2d", "global_avg_pool2d"):
        return _simple(name, kind, (_spatial(shape, kind)[2],))
    if kind == "batch_norm":
        return _batch_norm(name, shape)
    if kind in ("dropout", "activation"):
        return _simple(name, kind, shape)
    if kind == "flatten":
        return _simple(name, kind, (_elements(shape),))
    if kind == "dense":
        units = num_classes if cfg.units == "num_classes" else cfg.units
        if units is None:
            raise ShapeProblem(
                "units: num_classes needs model.num_classes or data to count the classes from", cfg.units
            )
        inputs, positions = shape[-1], _elements(shape[:-1])
        out = shape[:-1] + (units,)
        params = inputs * units + (units if cfg.use_bias else 0)
        return LayerCost(name, kind, out, params, 0, positions * inputs * units, _elements(out))
    if kind == "inception":
        return _inception(name, shape, cfg)
    if kind == "residual":
        return _residual(name, shape, cfg)
    raise AssertionError(f"no analysis for layer type {kind}")


def analyze(model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str) -> Analysis:
    """Walks the layers from `input_shape`; a layer that cannot take its input raises ConfigError."""
    shape = tuple(input_shape)
    results = []
    for index, (name, cfg) in enumerate(zip(layer_names(model.layers), model.layers)):
        try:
            cost = _layer(name, shape, cfg, num_classes)
        except ShapeProblem as problem:
            raise ConfigError(source, f"model.layers[{index}]", f"{cfg.type}: {problem.expected}", problem.received) from None
        results.append(cost)
        shape = cost.output_shape
    return Analysis(tuple(input_shape), num_classes, results)
