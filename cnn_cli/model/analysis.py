"""Shape, parameter and cost analysis of a model config, in pure Python (no TensorFlow).

It walks the nodes of `cnn_cli.model.graph` (the same nodes the Keras builder walks), so shape errors are
found before TensorFlow starts, and it gives the figures `cnn summary` reports. Costs are per example:

- params and MACs (multiply-accumulates): each kind's own rule, in its docstring (`cnn layers KIND`):
  conv = out_h*out_w*filters*kh*kw*C/groups; depthwise = out_h*out_w*C*mult*kh*kw; separable = depthwise +
  pointwise; dense = inputs*units per position; batch norm, layer norm and normalization one per element.
  Biases, activations, rescaling, pooling, dropout, reshapes and merges (add, multiply, concatenate) are 0.
- activation memory: the elements of each node's output times the bytes of the compute dtype (4 for
  float32, 2 under mixed precision); a block counts every tensor inside it.
- a block's (or composite's) figures are the sums of the nodes of its expansion, listed as its children.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnn_cli.config.model import ModelConfig
from cnn_cli.errors import ConfigError
from cnn_cli.layers.base import Shape, ShapeProblem, elements
from cnn_cli.model.graph import Graph, Node, expand
from cnn_cli.number_format import human_bytes, memory_bytes

__all__ = ["Analysis", "LayerCost", "Shape", "ShapeProblem", "analyze"]


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
    graph: Graph

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


def node_cost(node: Node) -> LayerCost:
    cost = node.spec.cost(node.input_shapes, node.shape)
    return LayerCost(node.name, node.spec.type, node.shape, cost.params, cost.non_trainable, cost.macs, elements(node.shape))


def _block(name: str, kind: str, out: Shape, children: list[LayerCost]) -> LayerCost:
    return LayerCost(
        name, kind, out,
        params=sum(c.params for c in children),
        non_trainable_params=sum(c.non_trainable_params for c in children),
        macs=sum(c.macs for c in children),
        activation_elements=sum(c.activation_elements for c in children),
        children=children,
    )


def analyze(model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str) -> Analysis:
    """Expands the graph from `input_shape`; a layer that cannot take its input raises ConfigError."""
    graph = expand(model, tuple(input_shape), num_classes, source)
    rows, sizes = [], []
    for entry in graph.entries:
        costs = [node_cost(node) for node in entry.nodes]
        sizes.append((sum(c.params for c in costs), entry.path))
        if entry.is_block:
            rows.append(_block(entry.name, entry.type, entry.nodes[-1].shape, costs))
        else:
            rows.extend(costs)
    _check_fits(sizes, source)
    return Analysis(graph.input_shape, num_classes, rows, graph)


BYTES_PER_PARAM = 4  # float32 weights (a mixed-precision model keeps them in float32 too)


def _check_fits(sizes: list[tuple[int, str]], source: str) -> None:
    """Refuses a model whose weights alone cannot be held in this machine's memory (a typo of a few zeros in
    `filters`), naming its largest layer, before Keras tries to allocate them."""

    total, memory = sum(size for size, _ in sizes), memory_bytes()
    if memory is None or total * BYTES_PER_PARAM <= memory:
        return
    largest, path = max(sizes)
    raise ConfigError(source, path, f"a layer of {largest:,} parameters; the model's {total:,} parameters need "
                      f"{human_bytes(total * BYTES_PER_PARAM)} for their weights alone, more than this machine's "
                      f"memory ({human_bytes(memory)})")
