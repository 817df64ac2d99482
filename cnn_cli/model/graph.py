"""The model config expanded once into a flat list of named primitive nodes, with their shapes.

`inputs:` (earlier layers by name), `repeat:` (copies `name1..nameN`, or `name` with `{i}`, `{i0}` or `{a}`
filled in; `{count, start, strides}` numbers them from `start` and says which copy keeps `strides`, the first
by default), computed layers (expressions, `when:`, `output:`: `cnn_cli.model.blocks`),
composite kinds (their `expand`) and the config's `blocks:` all become `Node`s here; the cost analysis and
the Keras builder both walk these nodes, so their names and shapes agree by construction. Every problem is
a one-line ConfigError with the dotted path of the layer, found before Keras or TensorFlow is imported.

An expression's scope: `$params` (model.params), `$num_classes`/`$num_targets` (the count), inside a block its
parameters, `$i`/`$i0`/`$n` (the copy's number from `start`, its position from 0, the count: of the layer's own
`repeat:`, else of the block call it is in; 1, 0, 1 at the top), `$in` (the layer's input: channels, height,
width, shape).

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

from cnn_cli.config.model import BlockCall, Computed, ModelConfig
from cnn_cli.errors import ConfigError
from cnn_cli.expressions import ExpressionError, fill_braces
from cnn_cli.layers import registry
from cnn_cli.layers.base import Composite, LayerSpec, Repeat, Shape, ShapeProblem, copy_name, repeat_form
from cnn_cli.layers.rescaling import Rescaling
from cnn_cli.layers.reverse_channels import ReverseChannels
from cnn_cli.model.blocks import (
    GraphError,
    Where,
    block_values,
    compute,
    given_paths,
    input_values,
    instantiate,
    raise_all,
    repeat_of,
    truth,
)
from cnn_cli.model.call_checks import call_problems
from cnn_cli.model.preprocess import SCALINGS, preprocessing

__all__ = ["GraphError", "Graph", "Node", "Entry", "expand", "check_structure"]

INPUT = "input"


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
    values: dict[str, Any] = field(default_factory=dict)  # what expressions see
    given: dict[str, str] = field(default_factory=dict)  # a block's parameters the call gave -> their path there
    output: str | None = None  # the call's name, which the block's `output: true` layer takes


class _Expander:
    def __init__(self, model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str):
        self.model, self.num_classes, self.source = model, num_classes, source
        self.shapes: dict[str, Shape] = {INPUT: tuple(input_shape)}
        self.entries: list[Entry] = []
        self.active_blocks: list[str] = []
        self.named: dict[str, str] = {}  # each row's (and copy's) full name -> which row made it, for clashes

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
        values = {"params": {}, "num_classes": self.num_classes, "num_targets": self.num_classes,
                  "i": 1, "i0": 0, "n": 1}
        for key, value in self.model.params.items():  # an expression is computed from the ones before it
            try:
                values["params"][key] = compute(value, values)
            except ExpressionError as exc:
                raise self.error(f"model.params.{key}", str(exc), value) from None
        scope = _Scope("", "model.layers", {INPUT: prev, prev: prev}, {n for names in explicit for n in names},
                       values=values)
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
        """One row of a layer list (a kind, a block call, or a computed layer as written), its copies placed."""
        path = f"{scope.path}[{index}]"
        raw = layer if isinstance(layer, dict) else layer.raw if isinstance(layer, Computed) else None
        absolute = raw is not None and isinstance(raw.get("name"), str) and raw["name"].startswith("/")
        if absolute:  # a block's layer named "/NAME" keeps NAME in the model (Keras' own global names)
            raw = {**raw, "name": raw["name"][1:]}
        where = Where(self.source, path, scope.within, scope.given)
        names = raw.get("inputs") if raw is not None else layer.inputs
        if names is not None and (not isinstance(names, list) or not names or
                                  not all(isinstance(n, str) for n in names)):
            raise where.error("inputs", "expected a list of earlier layers' names", names)
        if raw is not None and names:
            try:
                names = [fill_braces(name, scope.values) for name in names]
            except ExpressionError as exc:
                raise where.error("inputs", str(exc), names) from None
        inputs = self.resolve(names, scope, path) if names else [prev]
        if raw is None:
            form, own = repeat_form(layer.repeat), layer.repeat != 1
        else:
            form, own = repeat_of(raw.get("repeat", 1), scope.values, where), "repeat" in raw
        numbered = raw is not None and not isinstance(raw.get("repeat", 1), int) or (
            raw is None and not isinstance(layer.repeat, int))
        last_name = None
        for position in range(form.count):
            number = form.start + position
            values = {**scope.values, "i": number, "i0": position, "n": form.count} if own else scope.values
            if raw is not None:
                values = {**values, "in": input_values([self.shapes[i] for i in inputs])}
                if "when" in raw and not truth(raw["when"], values, where):
                    prev = self.left_out(raw, values, inputs, where, position, form, scope)
                    inputs, last_name = [prev], last_name or prev
                    continue
                spec = instantiate(raw, values, where, self.model.blocks)
                if isinstance(spec, BlockCall):
                    self.check_type(spec, path)
            else:
                spec = layer
            keeper = form.count - 1 if form.strides == "last" else 0
            if position != keeper and form.strides != "all":
                spec = _unstrided(spec, self.model)
            local = self.local_name(spec, position + 1, form, scope, numbered)
            full = local if absolute else scope.prefix + local
            if raw is not None and raw.get("output") is True:
                if scope.output is None:
                    raise where.error("output", "output: true is for a layer of a block (it takes the call's name)")
                full = scope.output
            made = form.count > 1 or numbered
            if made and full in self.shapes:
                raise self.error(f"{path}.name", f"expected names not used before: repeat's copy {position + 1} is "
                                 f"named {full!r} (the name and its number), which a layer has already{scope.within}",
                                 spec.name)
            owner = self.named.get(full)
            if owner is not None and spec.name and not (raw is not None and raw.get("output") is True):
                mine = f"repeat's copy {position + 1} is named {full!r} (the name and its number), which" if made \
                    else f"{full!r}"
                raise self.error(f"{path}.name", f"expected names not used before: {mine} is already the name of "
                                 f"{owner}{scope.within}", spec.name)
            self.named.setdefault(full, f"repeat's copy {position + 1} of {path} (the name and its number)" if made
                                  else path)
            entry = self._entry(full, spec.type, path) if top else None
            prev = self.one(spec, full, inputs, path, scope.within, entry, values, call=(raw, scope.given))
            inputs = [prev]
            scope.refs[local] = prev
            scope.later.discard(local)
        name = raw.get("name") if raw is not None else layer.name
        if isinstance(name, str) and "$" not in name and not absolute:
            scope.refs[name] = prev  # the name of a repeated layer means its last copy
            scope.later.discard(name)
        return prev

    def left_out(self, raw: dict, values: dict, inputs: list[str], where: Where, position: int, form: Repeat,
                 scope: _Scope) -> str:
        """A copy whose `when:` is false: its (first) input passes on, under its name too (a skip's `add` left
        out passes its first input, the branch: write `inputs: [branch, input]`)."""
        name = raw.get("name")
        if isinstance(name, str):
            try:
                local = copy_name(fill_braces(name, values), position + 1, form.count, form.start,
                                  not isinstance(raw.get("repeat", 1), int))
            except Exception:  # noqa: BLE001 - a name that does not compute names nothing
                local = None
            if local:
                scope.refs[local] = inputs[0]
                scope.later.discard(local)
        return inputs[0]

    def one(self, spec, full: str, inputs: list[str], path: str, within: str, entry: Entry | None,
            values: dict | None = None, label: str = "", call: tuple = (None, None)) -> str:
        if isinstance(spec, BlockCall):
            if entry:
                entry.is_block = True
            return self.block_call(spec, full, inputs, path, entry, values or {}, *call, within)
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

    def block_call(self, call: BlockCall, full: str, inputs: list[str], path: str, entry: Entry | None,
                   values: dict, raw: dict | None = None, outer: dict | None = None, outer_within: str = "") -> str:
        definition = self.model.blocks[call.type]
        if call.type in self.active_blocks:
            raise self.error(path + ".type", f"block {call.type!r} uses itself", " -> ".join(self.active_blocks + [call.type]))
        def_path = f"model.blocks.{call.type}.layers"
        within = f" (in {path}{', ' + outer_within.strip()[1:-1] if outer_within else ''})"
        source = self.single_input(call, inputs, path, within)
        given = given_paths(call, definition, path, raw, outer)
        scope_values = block_values(call, definition, {**values, "in": input_values([self.shapes[source]])},
                                    path, self.source, self.model.blocks, given)
        layers = definition.layers
        explicit = {n for layer in layers for n in _names(layer)}
        scope = _Scope(full + "_", def_path, {INPUT: source}, explicit, within=within, values=scope_values,
                       given=given, output=full)
        self.active_blocks.append(call.type)
        prev = source
        for j, layer in enumerate(layers):
            prev = self.layer(layer, scope, prev, j)
        self.active_blocks.pop()
        return prev

    def check_type(self, layer, path: str) -> None:
        if isinstance(layer, BlockCall) and layer.type not in self.model.blocks:
            known = sorted([*registry.names(), *self.model.blocks])
            raise self.error(path + ".type", f"unknown layer type; expected one of: {', '.join(known)}", layer.type)

    # -- names and references ---------------------------------------------------------------------------

    def local_name(self, layer, copy: int, form: Repeat, scope: _Scope, numbered: bool = False) -> str:
        if layer.name:
            return copy_name(layer.name, copy, form.count, form.start, numbered)
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
        return self.expander.one(spec, name, refs, self.path, self.within, self.entry,
                                 label=f"{self.label}: {name} ({kind})")

    def shape(self, ref: str) -> Shape:
        return self.expander.shapes[ref]


def _names(layer) -> list[str]:
    """The names a layer as written gives (for telling a forward reference from an unknown name)."""
    if isinstance(layer, dict) or isinstance(layer, Computed):
        raw = layer if isinstance(layer, dict) else layer.raw
        name, repeat = raw.get("name"), raw.get("repeat", 1)
        if not isinstance(name, str) or "$" in name:
            return []
        if isinstance(repeat, int) and not isinstance(repeat, bool):
            return [name] + [copy_name(name, k, repeat) for k in range(1, repeat + 1)]
        return [name]
    if not layer.name:
        return []
    form = repeat_form(layer.repeat)
    return [layer.name] + [copy_name(layer.name, k, form.count, form.start) for k in range(1, form.count + 1)]


def _unstrided(layer, model: ModelConfig):
    """A copy that does not keep `strides` (all but the first, or but the last): stride 1."""
    update: dict[str, Any] = {"inputs": None}
    if isinstance(layer, BlockCall):
        params = model.blocks[layer.type].params
        if "strides" in params:
            return BlockCall.model_validate({**layer.model_dump(), "inputs": None, "strides": 1})
        return layer.model_copy(update=update)
    if "strides" in type(layer).model_fields and layer.strided:
        update["strides"] = 1
    return layer.model_copy(update=update)


def check_structure(model: ModelConfig, num_classes: int | None, source: str, probe: Shape = (224, 224, 3)) -> Graph | None:
    """For a config whose input shape comes from the data: the mistakes no shape changes, found at once
    by expanding for a probe shape (shape errors wait for the real shape). The probe's graph (its names are the
    real ones), or None when the probe shape does not fit the layers."""
    try:
        return expand(model, probe, num_classes, source)
    except GraphError:
        raise
    except ConfigError:
        return None


def expand(model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str) -> Graph:
    """The model's graph for inputs of `input_shape`; any problem raises a one-line ConfigError."""
    raise_all(call_problems(model.layers, model.blocks, model.params, num_classes, source))
    expander = _Expander(model, tuple(input_shape), num_classes, source)
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
