"""The model config expanded once into a flat list of named primitive nodes, with their shapes.

`inputs:` (earlier layers by name), `repeat:` (copies `name1..nameN`, or `name` with `{i}`, `{i0}` or `{a}`
filled in; only the first keeps `strides`),
composite kinds (their `expand`) and the config's `blocks:` all become `Node`s here; the cost analysis and
the Keras builder both walk these nodes, so their names and shapes agree by construction. Every problem is
a one-line ConfigError with the dotted path of the layer, found before Keras or TensorFlow is imported.

Unless the first layer is `rescaling` or `normalization`, the graph starts with `input_scaling`, a
Rescaling that does what `model.preprocess` says (`SCALINGS`: 1/255 by default; caffe's channel flip is
a `reverse_channels` node, `input_bgr`, before it): models take pixels 0..255. Inside a block, `input`
names the block's input; at the top level it names the model's input as the first layer sees it (after
`input_scaling`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cnn_cli.config.model import BlockCall, ModelConfig
from cnn_cli.errors import ConfigError
from cnn_cli.layers import registry
from cnn_cli.layers.base import Composite, LayerSpec, Shape, ShapeProblem, copy_name
from cnn_cli.layers.rescaling import Rescaling
from cnn_cli.layers.reverse_channels import ReverseChannels
from cnn_cli.model.blocks import block_layers
from cnn_cli.model.preprocess import SCALINGS, preprocessing

INPUT = "input"


class GraphError(ConfigError):
    """A mistake in the graph that no input shape changes: a name, a reference, a block's parameters."""


@dataclass
class Node:
    """One primitive layer: its Keras name, its (bound) spec, the nodes it takes, its output shape."""

    name: str
    spec: LayerSpec
    inputs: list[str]
    input_shapes: list[Shape]
    shape: Shape


@dataclass
class Entry:
    """One row of the config's top level: a layer (one node) or a block (its nodes as children)."""

    name: str
    type: str
    path: str
    nodes: list[Node] = field(default_factory=list)
    is_block: bool = False


@dataclass
class Graph:
    input_shape: Shape
    num_classes: int | None
    entries: list[Entry]
    output: str

    @property
    def nodes(self) -> list[Node]:
        return [node for entry in self.entries for node in entry.nodes]


@dataclass
class _Scope:
    """Names visible to the layers of one level: the top level, or one block instance."""

    prefix: str
    path: str  # dotted path of the layer list, e.g. `model.layers` or `model.blocks.stage.layers`
    refs: dict[str, str]  # name a layer may use in `inputs:` -> node name
    later: set[str] = field(default_factory=set)  # names defined further down (a forward reference)
    counts: dict[str, int] = field(default_factory=dict)
    within: str = ""  # " (in model.layers[4])" for the layers of a block


class _Expander:
    def __init__(self, model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str):
        self.model, self.num_classes, self.source = model, num_classes, source
        self.shapes: dict[str, Shape] = {INPUT: tuple(input_shape)}
        self.entries: list[Entry] = []
        self.active_blocks: list[str] = []

    def error(self, path: str, expected: str, *received: Any) -> ConfigError:
        return GraphError(self.source, path, expected, *received)

    def shape_error(self, path: str, label: str, problem: ShapeProblem, within: str) -> ConfigError:
        return ConfigError(self.source, path, f"{label}: {problem.expected}{within}", problem.received)

    # -- the top level and block bodies ---------------------------------------------------------------

    def run(self) -> Graph:
        layers = self.model.layers
        mode = preprocessing(self.model)
        prev = self.input_scaling(mode) if mode != "none" else INPUT
        explicit = [_names(layer) for layer in layers]
        scope = _Scope("", "model.layers", {INPUT: prev, prev: prev}, {n for names in explicit for n in names})
        for i, layer in enumerate(layers):
            prev = self.layer(layer, scope, prev, i, top=True)
        return Graph(self.shapes[INPUT], self.num_classes, self.entries, prev)

    def input_scaling(self, mode: str) -> str:
        """The nodes of `model.preprocess`: `input_scaling` (a Rescaling), after `input_bgr` for caffe."""
        path, prev = "model.preprocess", INPUT
        channels = self.shapes[INPUT][-1]
        if mode in ("torch", "caffe") and channels != 3:
            raise ConfigError(self.source, path, f"{mode} preprocessing takes RGB images (3 channels); the input "
                              f"has {channels}", mode)
        entry = self._entry("input_scaling", "rescaling", path)
        if mode == "caffe":
            entry.is_block = True
            prev = self.place(ReverseChannels(type="reverse_channels"), "input_bgr", [INPUT], path, entry)
        scale, offset = SCALINGS[mode]
        return self.place(Rescaling(type="rescaling", scale=scale, offset=offset), "input_scaling", [prev], path, entry)

    def layer(self, layer, scope: _Scope, prev: str, index: int, top: bool = False) -> str:
        path = f"{scope.path}[{index}]"
        inputs = self.resolve(layer.inputs, scope, path) if layer.inputs else [prev]
        for copy in range(1, layer.repeat + 1):
            spec = layer if copy == 1 else _later_copy(layer, self.model)
            local = self.local_name(layer, copy, scope)
            full = scope.prefix + local
            entry = self._entry(full, layer.type, path) if top else None
            prev = self.one(spec, full, inputs, path, scope.within, entry)
            inputs = [prev]
            scope.refs[local] = prev
            scope.later.discard(local)
        if layer.name:
            scope.refs[layer.name] = prev  # the name of a repeated layer means its last copy
            scope.later.discard(layer.name)
        return prev

    def one(self, spec, full: str, inputs: list[str], path: str, within: str, entry: Entry | None, label: str = "") -> str:
        if isinstance(spec, BlockCall):
            if entry:
                entry.is_block = True
            return self.block_call(spec, full, inputs, path, entry)
        if isinstance(spec, Composite):
            if entry:
                entry.is_block = True
            try:
                graph = _BlockGraph(self, full, path, within, entry, label or spec.type)
                return spec.expand(graph, self.single_input(spec, inputs, path, within))
            except ShapeProblem as problem:
                raise self.shape_error(path, label or spec.type, problem, within) from None
        return self.place(spec, full, inputs, path, entry, within, label)

    def single_input(self, spec, inputs: list[str], path: str, within: str) -> str:
        if len(inputs) != 1:
            raise self.error(f"{path}.inputs", f"{spec.type} takes one input{within}", inputs)
        return inputs[0]

    def block_call(self, call: BlockCall, full: str, inputs: list[str], path: str, entry: Entry | None) -> str:
        definition = self.model.blocks[call.type]
        if call.type in self.active_blocks:
            raise self.error(path + ".type", f"block {call.type!r} uses itself", " -> ".join(self.active_blocks + [call.type]))
        def_path = f"model.blocks.{call.type}.layers"
        layers = block_layers(call, definition, def_path, path, self.error)
        for j, layer in enumerate(layers):
            self.check_type(layer, f"{def_path}[{j}]")
        within = f" (in {path})"
        explicit = {n for layer in layers for n in _names(layer)}
        scope = _Scope(full + "_", def_path, {INPUT: self.single_input(call, inputs, path, within)}, explicit, within=within)
        self.active_blocks.append(call.type)
        prev = scope.refs[INPUT]
        for j, layer in enumerate(layers):
            prev = self.layer(layer, scope, prev, j)
        self.active_blocks.pop()
        return prev

    def check_type(self, layer, path: str) -> None:
        if isinstance(layer, BlockCall) and layer.type not in self.model.blocks:
            known = sorted([*registry.names(), *self.model.blocks])
            raise self.error(path + ".type", f"unknown layer type; expected one of: {', '.join(known)}", layer.type)

    # -- names and references ---------------------------------------------------------------------------

    def local_name(self, layer, copy: int, scope: _Scope) -> str:
        if layer.name:
            return copy_name(layer.name, copy, layer.repeat)
        kind = registry.lookup(layer.type)
        base = kind.keras_name if kind else layer.type
        taken = set(scope.refs) | scope.later
        while True:
            n = scope.counts.get(base, 0)
            scope.counts[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in taken:
                return candidate

    def resolve(self, names: list[str], scope: _Scope, path: str) -> list[str]:
        refs = []
        for k, name in enumerate(names):
            if name in scope.refs:
                refs.append(scope.refs[name])
            elif name in scope.later:
                raise self.error(f"{path}.inputs[{k}]", f"expected an earlier layer: {name!r} comes later (a cycle or forward reference){scope.within}", name)
            else:
                known = ", ".join(scope.refs) or "none"
                raise self.error(f"{path}.inputs[{k}]", f"unknown input name; expected one of the earlier layers: {known}{scope.within}", name)
        return refs

    # -- placing one primitive node ------------------------------------------------------------------

    def place(self, spec: LayerSpec, name: str, inputs: list[str], path: str, entry: Entry | None, within: str = "",
              label: str = "") -> str:
        if name in self.shapes:
            raise self.error(f"{path}.name", f"expected a name not used before: a layer {name!r} exists already{within}", name)
        input_shapes = [self.shapes[i] for i in inputs]
        try:
            spec = spec.bind(self.num_classes)
            shape = tuple(spec.output_shape(input_shapes))
        except ShapeProblem as problem:
            raise self.shape_error(path, label or spec.type, problem, within) from None
        self.shapes[name] = shape
        node = Node(name, spec, list(inputs), input_shapes, shape)
        (entry or self.current).nodes.append(node)
        return name

    def _entry(self, name: str, kind: str, path: str) -> Entry:
        entry = Entry(name, kind, path)
        self.entries.append(entry)
        self.current = entry
        return entry


class _BlockGraph:
    """What a composite's `expand` sees: `add(kind, suffix, inputs, **args)` and `shape(ref)`."""

    def __init__(self, expander: _Expander, block: str, path: str, within: str, entry: Entry | None, label: str):
        self.expander, self.block, self.path, self.within, self.entry = expander, block, path, within, entry
        self.label = label  # `residual` or, nested, `bottleneck conv2_block1_se (squeeze_excitation)`

    def add(self, kind: str, suffix: str, inputs: str | list[str], **args: Any) -> str:
        cls = registry.lookup(kind)
        if cls is None:
            raise AssertionError(f"a block adds an unknown layer type {kind!r}")
        name = f"{self.block}_{suffix}"
        try:
            spec = cls.model_validate({"type": kind, **args})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ShapeProblem(f"its layer {name} ({kind}) gets {'.'.join(map(str, first['loc']))}: {first['msg']}", first.get("input")) from None
        refs = [inputs] if isinstance(inputs, str) else list(inputs)
        return self.expander.one(spec, name, refs, self.path, self.within, self.entry, f"{self.label}: {name} ({kind})")

    def shape(self, ref: str) -> Shape:
        return self.expander.shapes[ref]


def _names(layer) -> list[str]:
    if not layer.name:
        return []
    return [layer.name] + [copy_name(layer.name, k, layer.repeat) for k in range(1, layer.repeat + 1)]


def _later_copy(layer, model: ModelConfig):
    """Copies after the first of a repeated layer take the previous copy and stride 1."""
    update: dict[str, Any] = {"inputs": None}
    if isinstance(layer, BlockCall):
        params = model.blocks[layer.type].params
        if "strides" in params:
            return BlockCall.model_validate({**layer.model_dump(), "inputs": None, "strides": 1})
        return layer.model_copy(update=update)
    if "strides" in type(layer).model_fields and layer.strided:
        update["strides"] = 1
    return layer.model_copy(update=update)


def check_structure(model: ModelConfig, num_classes: int | None, source: str, probe: Shape = (224, 224, 3)) -> None:
    """For a config whose input shape comes from the data: the mistakes no shape changes, found at once
    by expanding for a probe shape (shape errors wait for the real shape)."""
    try:
        expand(model, probe, num_classes, source)
    except GraphError:
        raise
    except ConfigError:
        pass


def expand(model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str) -> Graph:
    """The model's graph for inputs of `input_shape`; any problem raises a one-line ConfigError."""
    expander = _Expander(model, tuple(input_shape), num_classes, source)
    for i, layer in enumerate(model.layers):
        expander.check_type(layer, f"model.layers[{i}]")
    graph = expander.run()
    _check_all_used(graph, source)
    return graph


def _check_all_used(graph: Graph, source: str) -> None:
    used = {graph.output}
    for node in reversed(graph.nodes):
        if node.name in used:
            used.update(node.inputs)
    for entry in graph.entries:
        if not any(node.name in used for node in entry.nodes):
            raise GraphError(source, entry.path, f"the output of {entry.name!r} is not used: no later layer takes it (name it in inputs:)")
