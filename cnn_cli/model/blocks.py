"""Computed layers and the config's own blocks (`model.blocks`): a layer as written, its expressions
computed in a scope (`$params`, a block's parameters, `$i`/`$i0`/`$n`, `$in`, `$num_classes`), its names'
`{$...}` filled in, then validated as its kind; a block call's parameters checked against the definition (every
mistake at once) and its defaults computed. A bad value given to a block is reported at the call
(`model.layers[1].f: ...`) with the block's line it reached; one written in the block at the block's line
(with the call it was in)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cnn_cli.config.loader import layer_errors
from cnn_cli.config.model import COUNTS, OWN_KEYS, BlockCall, BlockDef
from cnn_cli.errors import ConfigError, ConfigErrors, show_value
from cnn_cli.expressions import ExpressionError, evaluate, fill_braces, is_expression
from cnn_cli.layers import registry
from cnn_cli.layers.base import Repeat, Shape

_ADAPTER: TypeAdapter | None = None
GRAPH_KEYS = ("repeat", "inputs", *OWN_KEYS)
"""A computed layer's keys that the graph reads itself (they are not the kind's)."""


class GraphError(ConfigError):
    """A mistake in the graph that no input shape changes: a name, a reference, a block's parameters."""

    core: tuple | None = None
    """The mistake without what differs between the copies and calls that make it (the key and what was
    expected, without the call it was in): the same mistake found twice is said once (`call_checks`)."""


class GraphErrors(ConfigErrors, GraphError):
    """Several graph mistakes found together (a block call's)."""


def raise_all(errors: list[ConfigError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise GraphErrors(errors)


@dataclass
class Given:
    """Where a block parameter's value comes from at the call: the call's key (`model.layers[1].f`), the block
    lines it went through to get here (nested calls), the value the call gave, and, for a default computed
    from it, that default (`out = '$filters * 2'`)."""

    path: str
    value: Any = None
    via: str = ""
    derived: tuple[str, ...] = ()


@dataclass
class Where:
    """Where a layer's values come from, for errors: its path as written, the call it is in (` (in model.layers[1])`)
    and, inside a block, where each parameter's value comes from at the call (`f` -> `model.layers[1].f`)."""

    source: str
    path: str
    within: str = ""
    given: dict[str, Given] = field(default_factory=dict)

    def error(self, key: str, expected: str, *received: Any) -> GraphError:
        error = GraphError(self.source, f"{self.path}.{key}" if key else self.path, f"{expected}{self.within}",
                           *received)
        error.core = (error.path, expected)
        return error

    def placed(self, raw: dict, error: ConfigError) -> GraphError:
        """A validation error of a key of the layer, at the call that gave its value when it came from a parameter:
        the value the call gave, and the block's line it reached (with what was computed on the way)."""
        key = error.path.split(".")[0].split("[")[0]
        value = raw.get(key)
        names = [name for name in references(value) if name in self.given]
        if names:
            given, line = self.given[names[0]], f"{self.path}.{error.path}"
            whole = isinstance(value, str) and value.strip() == "$" + names[0]
            shown = f" = {show_value(error.received)}" if _received(error) else ""
            steps = list(given.derived)
            if whole and steps:
                steps[0] += shown
            elif not whole:
                steps.insert(0, f"{value!r}{shown}")
            at = given.via + line + (": " + ", ".join(steps) if steps else "")
            out = GraphError(self.source, given.path, f"{error.expected} (at {at})", given.value)
            out.core = (given.path, f"{error.expected} (at {given.via + line})")
            return out
        if is_expression(value):
            out = GraphError(self.source, f"{self.path}.{error.path}", f"{error.expected} (computed from {value!r})"
                             f"{self.within}", *_received(error))
            out.core = (out.path, f"{error.expected} (computed from {value!r})")
            return out
        path = f"{self.path}.{error.path}" if error.path else self.path
        out = GraphError(self.source, path, f"{error.expected}{self.within}", *_received(error))
        out.core = (path, error.expected)
        return out


def references(value: Any) -> list[str]:
    """The names an expression refers to (`$filters * $k` -> filters, k), in order."""
    return re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", value) if isinstance(value, str) else []


def mentions(raw: Any) -> set[str]:
    """Every name a layer as written refers to, in any of its values (`$in`, `$out`, ...)."""
    return set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", repr(raw)))


def given_paths(call: BlockCall, definition: BlockDef, path: str, raw: dict | None = None,
                outer: dict[str, Given] | None = None) -> dict[str, Given]:
    """Where each parameter's value comes from at the call: those it gives (`f` -> `model.layers[1].f`; inside
    a block, a value that is the outer block's parameter goes on to the outer call: `raw` is the call as written,
    `outer` the outer block's), and a default computed from one (`out: $filters * 4` -> the call's `filters`)."""
    given, outer, raw = {}, outer or {}, raw or {}
    for key, value in call.params.items():
        found = [name for name in references(raw.get(key)) if name in outer]
        if found:
            up, written = outer[found[0]], raw.get(key)
            step = f"{path}.{key}" if written.strip() == "$" + found[0] else f"{path}.{key} = {written!r}"
            given[key] = Given(up.path, up.value, f"{up.via}{step} -> ", up.derived)
        else:
            given[key] = Given(f"{path}.{key}", value)
    for key, default in definition.params.items():
        if key not in given:
            found = [name for name in references(default) if name in given]
            if found:
                source = given[found[0]]
                given[key] = Given(source.path, source.value, source.via, (f"{key} = {default!r}", *source.derived))
    return given


def _received(error: ConfigError) -> tuple:
    return () if error.received is ConfigError._MISSING else (error.received,)


def compute(value: Any, scope: dict[str, Any], counts_allowed: bool = False) -> Any:
    """`value` with its expressions computed (a whole number computed as a float becomes an int), the
    `{$...}` parts of a text filled in, and `num_classes`/`num_targets` made the count; ExpressionError."""
    if isinstance(value, str):
        if "{$" in value:  # a text with {$...} parts filled in (`mixed9_{$i - 9}`)
            return fill_braces(value, scope)
        if is_expression(value):
            result = evaluate(value, scope)
            return int(result) if isinstance(result, float) and result.is_integer() else result
        if value in COUNTS and not counts_allowed:
            if scope.get("num_classes") is None:
                raise ExpressionError(f"{value} needs model.{value} or data to count them from")
            return scope["num_classes"]
        return value
    if isinstance(value, dict):
        return {k: compute(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [compute(v, scope) for v in value]
    return value


def input_values(shapes: list[Shape]) -> dict[str, Any]:
    """`$in`: the (first) input's channels, height and width, and its whole shape."""
    if not shapes:
        return {}
    shape = shapes[0]
    out: dict[str, Any] = {"channels": shape[-1], "shape": list(shape)}
    if len(shape) == 3:
        out.update(height=shape[0], width=shape[1])
    return out


def repeat_of(value: Any, scope: dict[str, Any], where: Where) -> Repeat:
    """A computed layer's `repeat:` (a number, an expression, or {count, start, strides})."""
    try:
        value = compute(value, scope)
    except ExpressionError as exc:
        raise where.error("repeat", f"{exc} (in the expression)", value) from None
    try:
        return Repeat(count=value) if not isinstance(value, dict) else Repeat.model_validate(value)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"] if p != "count" or isinstance(value, dict))
            words = error["msg"][0].lower() + error["msg"][1:]
            words = words.removeprefix("value error, ").replace("input should be", "expected")
            words = words.replace("extra inputs are not permitted", "unknown key; expected one of: count, start, "
                                  "strides")
            errors.append(where.error("repeat" + (f".{key}" if key else ""), words, error.get("input", value)))
        raise_all(errors)


def truth(value: Any, scope: dict[str, Any], where: Where, key: str = "when") -> bool:
    try:
        result = compute(value, scope)
    except ExpressionError as exc:
        raise where.error(key, str(exc), value) from None
    if not isinstance(result, bool):
        raise where.error(key, "expected true or false (a comparison, and/or/not)", result)
    return result


def instantiate(raw: dict, scope: dict[str, Any], where: Where, blocks: dict[str, BlockDef]):
    """The layer `raw` with its values computed, validated as its kind or as a block call (every mistake)."""
    data, errors = {}, []
    for key, value in raw.items():
        if key in GRAPH_KEYS:
            continue
        try:
            if key == "name" and isinstance(value, str):
                data[key] = fill_braces(value.removeprefix("/"), scope)  # "/NAME": global (the graph's)
            else:
                data[key] = compute(value, scope, counts_allowed=key == "units")
        except ExpressionError as exc:
            errors.append(where.error(key, str(exc), value))
    raise_all(errors)
    kind = data.get("type")
    if not isinstance(kind, str) or (registry.lookup(kind) is None and kind not in blocks):
        known = ", ".join(sorted([*registry.names(), *blocks]))
        raise where.error("type", f"unknown layer type; expected one of: {known}", kind)
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(registry.layer_union(fallback=BlockCall))
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise_all([where.placed(raw, error) for error in layer_errors(data, exc, where.source)])


def call_scope(call: BlockCall, definition: BlockDef, scope: dict[str, Any], path: str, source: str,
               unknown: frozenset[str] = frozenset()) -> tuple[dict[str, Any], list[ConfigError], set[str]]:
    """The scope of one use of a block: the caller's, then the definition's defaults, then the call's values;
    a default that is an expression is computed from the values before it. With its mistakes (unknown and
    missing parameters, defaults that do not compute) and the parameters whose value is not known yet (those
    missing, and defaults that need a name in `unknown`, such as `$in` before the shapes are)."""
    given, declared, errors = call.params, definition.params, []
    for key in given:
        if key not in declared:
            expected = ", ".join(declared) or "none"
            errors.append(GraphError(source, f"{path}.{key}", f"unknown parameter of block {call.type!r}; "
                                     f"expected one of: {expected}", given[key]))
    values, missing = dict(scope), set()
    for key, default in declared.items():
        if key in given:
            values[key] = given[key]
        elif default is None:
            missing.add(key)
            errors.append(GraphError(source, path, f"block {call.type!r} needs the parameter {key!r} (it has no "
                                     "default)"))
        elif mentions(default) & (unknown | missing):
            missing.add(key)
        else:
            try:
                values[key] = compute(default, values)
            except ExpressionError as exc:
                missing.add(key)
                errors.append(GraphError(source, f"model.blocks.{call.type}.params.{key}", f"{exc} (in the "
                                         f"expression; in {path})", default))
    return values, errors, missing


def block_values(call: BlockCall, definition: BlockDef, scope: dict[str, Any], path: str, source: str,
                 blocks: dict[str, BlockDef], given: dict[str, Given] | None = None) -> dict[str, Any]:
    """The scope of one use of a block (`call_scope`). Every mistake of the call at once: its parameters', and
    each of its layers' that the parameters alone decide (a layer with `when:` or `$in` is checked when it is
    placed)."""
    values, errors, missing = call_scope(call, definition, scope, path, source)
    if not missing:
        where = Where(source, "", f" (in {path})", given if given is not None else given_paths(call, definition, path))
        for j, raw in enumerate(definition.layers):
            if "when" in raw or "$in" in repr(raw) or "repeat" in raw:
                continue
            where.path = f"model.blocks.{call.type}.layers[{j}]"
            try:
                instantiate(raw, values, where, blocks)
            except ConfigErrors as exc:
                errors.extend(exc.errors)
            except ConfigError as exc:
                errors.append(exc)
    raise_all(errors)
    return values
