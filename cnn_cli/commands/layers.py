"""`cnn layers [TYPE]`: the layer vocabulary, from the registry: each kind, its arguments, its manual."""

from __future__ import annotations

import inspect
import json

import click

from cnn_cli.commands.options import json_option
from cnn_cli.errors import CnnError
from cnn_cli.layers import registry
from cnn_cli.layers.base import Composite

COMMON = ("type", "name", "inputs", "repeat")


def describe(kind) -> dict:
    """One kind as data: type, whether it is a block, its manual, and its own arguments."""
    schema = kind.model_json_schema()
    required = set(schema.get("required", []))
    arguments = []
    for key, info in kind.model_fields.items():
        if key in COMMON:
            continue
        prop = schema["properties"].get(key, {})
        arguments.append({
            "name": key,
            "type": _type_text(prop),
            "required": key in required,
            "default": None if key in required else info.get_default(call_default_factory=True),
            "description": info.description or "",
        })

    return {
        "type": kind.type_name(), "block": issubclass(kind, Composite),
        "doc": inspect.cleandoc(kind.__doc__ or ""), "arguments": arguments,
    }


def _type_text(prop: dict) -> str:
    if "anyOf" in prop:
        return " | ".join(_type_text(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type_text(p) for p in prop["prefixItems"]) + "]"
        return f"list[{_type_text(prop.get('items', {}))}]"
    bounds = [f"{op}{prop[key]}" for key, op in (("exclusiveMinimum", ">"), ("minimum", ">="), ("exclusiveMaximum", "<"), ("maximum", "<=")) if key in prop]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _text(item: dict) -> str:
    lines = [f"{item['type']}{' (block)' if item['block'] else ''}", ""]
    lines += ["  " + line for line in item["doc"].splitlines()]
    if item["arguments"]:
        lines += ["", "  Arguments:"]
        for arg in sorted(item["arguments"], key=lambda a: not a["required"]):  # required first, else as declared
            default = "required" if arg["required"] else f"default {arg['default']!r}"
            note = f"  {arg['description']}" if arg["description"] else ""
            lines.append(f"    {arg['name']}: {arg['type']}, {default}.{note}")
    lines += ["", "  Every layer also takes name, inputs (earlier layers by name) and repeat (N copies, or {count, start,",
              "  strides: first|last|all}). Any value may be an expression with a $ reference (\"$filters * 4\",",
              "  \"make_divisible($params.width * 32, 8)\", $i, $in.channels, num_classes where a number goes), and",
              "  `when: <expression>` leaves the layer out when false: see docs/language.md."]
    return "\n".join(lines)


@click.command("layers")
@click.argument("type_name", metavar="[TYPE]", required=False)
@json_option
def command(type_name, as_json):
    """List the layer kinds a config can use, with their arguments and manuals.

    \b
    Examples:
      cnn layers                  every kind, one line each
      cnn layers conv2d           one kind's arguments, defaults and manual
      cnn layers --json           everything, for tools

    Expressions, when:, repeat's forms and model.params: docs/language.md.
    """

    kinds = registry.kinds()
    if type_name is not None and type_name not in kinds:
        raise CnnError(f"cnn layers: unknown layer type {type_name!r}; expected one of: {', '.join(kinds)}")
    chosen = [kinds[type_name]] if type_name else list(kinds.values())
    items = [describe(kind) for kind in chosen]
    if as_json:
        click.echo(json.dumps(items if type_name is None else items[0], indent=2, default=str))
    elif type_name:
        click.echo(_text(items[0]))
    else:
        width = max(len(item["type"]) for item in items)
        for item in items:
            first = item["doc"].splitlines()[0] if item["doc"] else ""
            click.echo(f"{item['type'].ljust(width)}  {'block ' if item['block'] else '      '}{first}")
        click.echo("\nSee `cnn layers TYPE` for a kind's arguments and manual. A model's own blocks (model.blocks),\n"
                   "its parameters (model.params), expressions (\"$filters * 4\"), when: and repeat's forms: "
                   "docs/language.md.")
