"""Every mistake of the model's block calls and computed layers at once, before any shape is known: each
call's parameters and the values they give its block's layers (nested calls too), each `repeat:` copy's, and
each computed layer's. The graph's expansion stops at its first mistake, so `expand` asks this first; and
when the config's schema already failed (a plain layer's bad value), `raw_problems` adds the calls' mistakes
to the schema's, so that every mistake comes out at once.

A layer that depends on what only the shapes say (`$in`, or a parameter computed from it) waits for the
expansion. A mistake found in several copies of a `repeat:` is said once (`(in copy $i = 2)` when only some
copies have it); one written in a block is said once however many calls reach it."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from cnn_cli.config.model import BlockCall, BlockDef, Computed, Layer
from cnn_cli.errors import ConfigError, ConfigErrors
from cnn_cli.expressions import ExpressionError
from cnn_cli.layers import registry
from cnn_cli.layers.base import Repeat, repeat_form
from cnn_cli.model.blocks import (
    GraphError,
    Where,
    call_scope,
    compute,
    given_paths,
    instantiate,
    mentions,
    repeat_of,
    truth,
)

UNKNOWN = frozenset({"in"})
"""What the checks cannot know before the shapes: `$in`."""


def call_problems(layers: list, blocks: dict[str, BlockDef], params: dict[str, Any], num_classes: int | None,
                  source: str) -> list[ConfigError]:
    """The mistakes of `layers` (`model.layers`; a None row is one the schema refused) that need no shape, in
    order, each once."""
    values: dict[str, Any] = {"params": {}, "num_classes": num_classes, "num_targets": num_classes,
                              "i": 1, "i0": 0, "n": 1}
    errors: list[ConfigError] = []
    for key, value in params.items():  # an expression is computed from the ones before it
        try:
            values["params"][key] = compute(value, values)
        except ExpressionError as exc:
            errors.append(GraphError(source, f"model.params.{key}", str(exc), value))
    if errors:
        return errors
    found = _Checker(blocks, source).rows(layers, values, "model.layers", Where(source, "model.layers"), (), UNKNOWN)
    return _once(found)


def raw_problems(raw: Any, source: str, refused: list[list]) -> list[ConfigError]:
    """`call_problems` of a config whose schema failed (`refused`: the places of its mistakes): the rows and
    blocks that validate on their own are checked; those the schema refused are left to its errors."""
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list):
        return []
    if any(path[:2] == ["model", "params"] for path in refused):
        return []
    blocks = {}
    for name, definition in (model.get("blocks") or {}).items() if isinstance(model.get("blocks"), dict) else ():
        try:
            blocks[name] = BlockDef.model_validate(definition)
        except ValidationError:
            blocks[name] = None  # its own errors are the schema's
    bad_rows = {path[2] for path in refused if path[:2] == ["model", "layers"] and len(path) > 2}
    adapter = TypeAdapter(Layer)
    rows = []
    for i, row in enumerate(model["layers"]):
        try:
            rows.append(None if i in bad_rows else adapter.validate_python(row))
        except ValidationError:
            rows.append(None)
    count = model.get("num_classes", model.get("num_targets"))
    params = model.get("params") if isinstance(model.get("params"), dict) else {}
    usable = {name: block for name, block in blocks.items() if block is not None}
    rows = [None if _calls(row, blocks) and not _calls(row, usable) else row for row in rows]
    return call_problems(rows, usable, params, count if isinstance(count, int) else 2, source)


def _calls(row, blocks: dict) -> bool:
    kind = row.raw.get("type") if isinstance(row, Computed) else getattr(row, "type", None)
    return kind in blocks


class _Checker:
    def __init__(self, blocks: dict[str, BlockDef], source: str):
        self.blocks, self.source = blocks, source

    def rows(self, rows: list, values: dict, base: str, where: Where, stack: tuple, unknown: frozenset
             ) -> list[ConfigError]:
        errors = []
        for j, row in enumerate(rows):
            at = Where(self.source, f"{base}[{j}]", where.within, where.given)
            errors += self.row(row, values, at, stack, unknown)
        return errors

    def row(self, row, values: dict, where: Where, stack: tuple, unknown: frozenset) -> list[ConfigError]:
        """One row's mistakes, each copy's (a row as the schema took it, or as written inside a block)."""
        if row is None:
            return []
        raw = row if isinstance(row, dict) else row.raw if isinstance(row, Computed) else None
        if raw is None and not isinstance(row, BlockCall):
            return []  # a layer kind the schema validated already
        if raw is not None and mentions(raw) & unknown:
            return []  # it waits for the shapes (or for a parameter that does)
        try:
            form = repeat_of(raw.get("repeat", 1), values, where) if raw is not None else repeat_form(row.repeat)
        except ConfigError as exc:
            return [exc]
        own = "repeat" in raw if raw is not None else row.repeat != 1
        copies = []
        for position in range(form.count):
            copy = {**values, "i": form.start + position, "i0": position, "n": form.count} if own else values
            copies.append(self.copy(row, raw, copy, where, stack, unknown, position, form))
        return _merged(copies, form)

    def copy(self, row, raw: dict | None, values: dict, where: Where, stack: tuple, unknown: frozenset,
             position: int, form: Repeat) -> list[ConfigError]:
        try:
            if raw is not None:
                if "when" in raw and not truth(raw["when"], values, where):
                    return []
                spec = instantiate(raw, values, where, self.blocks)
            else:
                spec = row
            if not isinstance(spec, BlockCall):
                return []
            if spec.type not in self.blocks:
                known = ", ".join(sorted([*registry.names(), *self.blocks]))
                return [where.error("type", f"unknown layer type; expected one of: {known}", spec.type)]
            if spec.type in stack:
                return []  # the expansion says so, with the chain of calls
            keeper = form.count - 1 if form.strides == "last" else 0
            if position != keeper and form.strides != "all" and "strides" in self.blocks[spec.type].params:
                spec = BlockCall.model_validate({**spec.model_dump(), "inputs": None, "strides": 1})
            return self.call(spec, raw, values, where, stack, unknown)
        except ConfigErrors as exc:
            return list(exc.errors)
        except ConfigError as exc:
            return [exc]

    def call(self, call: BlockCall, raw: dict | None, values: dict, where: Where, stack: tuple,
             unknown: frozenset) -> list[ConfigError]:
        """A block call's mistakes: its parameters', then its block's layers' with its values."""
        definition = self.blocks[call.type]
        given = given_paths(call, definition, where.path, raw, where.given)
        inner, errors, missing = call_scope(call, definition, values, where.path, self.source, unknown)
        within = f" (in {where.path}{', ' + where.within.strip()[1:-1] if where.within else ''})"
        inside = Where(self.source, "", within, given)
        return errors + self.rows(definition.layers, inner, f"model.blocks.{call.type}.layers", inside,
                                  (*stack, call.type), unknown | missing)


def _merged(copies: list[list[ConfigError]], form: Repeat) -> list[ConfigError]:
    """The copies' mistakes, each once: as it is when every copy has it, else saying which copies do."""
    if len(copies) == 1:
        return copies[0]
    groups: dict[tuple, tuple[ConfigError, list[int]]] = {}
    for position, errors in enumerate(copies):
        for error in errors:
            first, positions = groups.setdefault(_key(error), (error, []))
            if position not in positions:
                positions.append(position)
    out = []
    for error, positions in groups.values():
        if len(positions) == len(copies):
            out.append(error)
            continue
        numbers = ", ".join(str(form.start + p) for p in positions)
        note = f" (in copy $i = {numbers} of {form.count})" if len(positions) == 1 else \
            f" (in copies $i = {numbers} of {form.count})"
        received = () if error.received is ConfigError._MISSING else (error.received,)
        noted = GraphError(error.source, error.path, error.expected + note, *received)
        noted.core = _key(error)
        out.append(noted)
    return out


def _key(error: ConfigError) -> tuple:
    return getattr(error, "core", None) or (error.path, error.expected)


def _once(errors: list[ConfigError]) -> list[ConfigError]:
    """Each mistake once: one written in a block is found at every call that reaches it."""
    seen, out = set(), []
    for error in errors:
        if _key(error) not in seen:
            seen.add(_key(error))
            out.append(error)
    return out
