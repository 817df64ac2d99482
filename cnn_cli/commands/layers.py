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

LANGUAGE = """\
The model language beyond a plain list of layers (docs/language.md has it all):

  Blocks (model.blocks): a sub-graph with parameters (null: required; a default may be an expression of
  those before it), used as a layer type; `input` names its input, its layers are named CALL_LAYER, and
  `output: true` gives one of them the call's name. A parameter may name a kind (type: $kind).
  Model parameters (model.params): `$params.NAME` in every expression; `--set model.params.width=1.1`
  makes another member of a family.
  Expressions: a string with a $ reference. $name (a block parameter), $params.depths[2], $i / $i0 / $n
  (the copy's number, its position from 0, the count), $in.channels / $in.height / $in.width (the layer's
  input), $num_classes; + - * / // % **, == != < <= > >=, and or not, a if c else b, lists [a, b] and
  slices; min max round ceil floor abs int float sum len, make_divisible(x, 8) (Keras' channel rule).
  In a name, {$expression} is written in: "conv_dw_{$id}".
  repeat: N (NAME1..NAMEN), an expression ("$params.depths[1]"), or {count, start, strides: first|last|all};
  a name may hold {i}, {i0} or {a} (block2{a}: block2a, block2b, ...).
  when: <expression>: the layer is left out when false, its input passing on under its name.
  num_classes (num_targets) goes wherever an integer does; the output is checked to have one per class.

Example (cnn summary --config FILE):

name: example
model:
  input_shape: [32, 32, 3]
  num_classes: 10
  params: {width: 1.0, depths: [1, 2]}
  blocks:
    unit:
      params: {filters: null, strides: 1, out: "make_divisible($filters * $params.width, 8)"}
      layers:
        - {type: conv2d, name: conv, filters: $out, kernel_size: 3, strides: $strides, padding: same}
        - {type: batch_norm, name: bn}
        - {type: activation, name: relu, activation: relu}
        - {type: add, name: add, inputs: [relu, input], when: "$strides == 1 and $in.channels == $out"}
  layers:
    - {type: conv2d, name: stem, filters: 16, kernel_size: 3, padding: same}
    - {type: unit, name: "s1_{i}", filters: 16, repeat: "$params.depths[0]"}
    - {type: unit, name: "s2_{i}", filters: 32, strides: 2, repeat: {count: "$params.depths[1]", start: 1}}
    - {type: global_avg_pool2d, name: pool}
    - {type: dense, name: predictions, units: num_classes, activation: softmax}
"""


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
@click.option("--language", "language", is_flag=True,
              help="Print the model language (blocks, model.params, expressions, repeat, when) with an example.")
@json_option
def command(type_name, language, as_json):
    """List the layer kinds a config can use, with their arguments and manuals.

    \b
    Examples:
      cnn layers                  every kind, one line each
      cnn layers conv2d           one kind's arguments, defaults and manual
      cnn layers --json           everything, for tools
      cnn layers --language       blocks, model.params, expressions, repeat, when: with an example

    Expressions, when:, repeat's forms and model.params: docs/language.md.
    """
    if language:
        if type_name or as_json:
            raise CnnError("cnn layers: --language prints the language alone (without TYPE or --json)")
        click.echo(LANGUAGE, nl=False)
        return

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
                   "`cnn layers --language`, docs/language.md.")
