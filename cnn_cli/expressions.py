"""The model language's expressions: a string that holds a `$` reference (`"$filters * 4"`,
`"make_divisible($params.width * 32, 8)"`) is computed from what the scope holds, by a tokenizer and a
recursive-descent parser of the tool's own (never Python's `eval`), before TensorFlow starts.

References: `$name` (a block parameter, or a value the scope has: `$i`, `$i0`, `$n`, `$num_classes`),
`$a.b` (a key of a mapping: `$params.width`, `$in.channels`) and `$a[k]` (an item of a list:
`$params.depths[2]`, a slice `$params.depths[0:2]`). Literals: numbers, 'strings' or "strings", true, false,
null, lists `[a, b]`. Operators, loosest first: `or`, `and`, `not`, the comparisons `== != < <= > >=`, `+ -`,
`* / // %`, unary `-`, `**`; and `a if condition else b`. Functions: min, max, round, ceil, floor, abs, int, float, sum and len (of a list),
and `make_divisible(x, divisor, min=divisor)`, Keras' rule for channel counts (the nearest multiple of
`divisor`, at least `min`, never below 90% of `x`).

A text made of one reference gives its value as it is (a list, a string: `type: $kind`); anything else gives
a number, a truth value or a string. Every problem is an `ExpressionError`, one line, that the caller puts
after the key's path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

MARK = "$"


class ExpressionError(Exception):
    """What is wrong with an expression, in one line (the caller adds the key and the expression)."""


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and MARK in value


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """keras.applications' `_make_divisible` (MobileNetV2/V3, EfficientNet's `round_filters`): the nearest
    multiple of `divisor` (halves go up), at least `min_value` (default `divisor`), and at least 90% of `value`."""
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def _round(value, digits=None):
    return round(value) if digits is None else round(value, digits)


FUNCTIONS: dict[str, Callable] = {
    "min": min, "max": max, "round": _round, "ceil": math.ceil, "floor": math.floor, "abs": abs,
    "int": int, "float": float, "make_divisible": make_divisible,
}

LIST_FUNCTIONS: dict[str, Callable] = {"sum": sum, "len": len}

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
    | (?P<ref>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],.:])
    )""", re.VERBOSE)

_WORDS = {"and", "or", "not", "if", "else", "true", "false", "null", "True", "False", "None"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:].strip()[:20]!r} (at character {at + 1})")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        at = match.end()
    out.append(("end", ""))
    return out


class _Parser:
    def __init__(self, text: str, scope: Mapping[str, Any]):
        self.tokens, self.at, self.scope = _tokens(text), 0, scope

    # -- tokens --------------------------------------------------------------------------------------------

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at]

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.at]
        if value is not None and token[1] != value:
            shown = repr(token[1]) if token[0] != "end" else "the end"
            raise ExpressionError(f"expected {value!r}, found {shown}")
        self.at += 1
        return token

    def accept(self, *values: str) -> str | None:
        kind, value = self.peek()
        if kind in ("op", "name") and value in values:
            self.at += 1
            return value
        return None

    # -- grammar, loosest first ------------------------------------------------------------------------------

    def parse(self) -> Any:
        value = self.conditional()
        kind, rest = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {rest!r}")
        return value

    def conditional(self) -> Any:
        """`a if condition else b` (both sides computed; the condition picks one)."""
        value = self.disjunction()
        if self.accept("if"):
            condition = _truth(self.disjunction())
            self.take("else")
            other = self.conditional()
            return value if condition else other
        return value

    def disjunction(self) -> Any:
        value = self.conjunction()
        while self.accept("or"):
            other = self.conjunction()
            value = _truth(value) or _truth(other)
        return value

    def conjunction(self) -> Any:
        value = self.negation()
        while self.accept("and"):
            other = self.negation()
            value = _truth(value) and _truth(other)
        return value

    def negation(self) -> Any:
        if self.accept("not"):
            return not _truth(self.negation())
        return self.comparison()

    def comparison(self) -> Any:
        value = self.sum()
        op = self.accept("==", "!=", "<", "<=", ">", ">=")
        if op is None:
            return value
        other = self.sum()
        if op in ("==", "!="):
            return (value == other) == (op == "==")
        _numbers(op, value, other)
        return {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}[op]

    def sum(self) -> Any:
        value = self.product()
        while (op := self.accept("+", "-")) is not None:
            other = self.product()
            _numbers(op, value, other)
            value = value + other if op == "+" else value - other
        return value

    def product(self) -> Any:
        value = self.unary()
        while (op := self.accept("*", "/", "//", "%")) is not None:
            other = self.unary()
            _numbers(op, value, other)
            if op != "*" and other == 0:
                raise ExpressionError(f"division by zero ({op})")
            value = {"*": lambda a, b: a * b, "/": lambda a, b: a / b, "//": lambda a, b: a // b,
                     "%": lambda a, b: a % b}[op](value, other)
        return value

    def unary(self) -> Any:
        if (op := self.accept("-", "+")) is not None:
            value = self.unary()
            _numbers(op, value, 0)
            return -value if op == "-" else value
        return self.power()

    def power(self) -> Any:
        value = self.postfix()
        if self.accept("**"):
            other = self.unary()
            _numbers("**", value, other)
            return value ** other
        return value

    def postfix(self) -> Any:
        value = self.atom()
        while True:
            if self.accept("["):
                start = None if self.peek() == ("op", ":") else self.disjunction()
                if self.accept(":"):
                    stop = None if self.peek() == ("op", "]") else self.disjunction()
                    self.take("]")
                    value = _slice(value, start, stop)
                else:
                    self.take("]")
                    value = _item(value, start)
            else:
                return value

    def atom(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "string":
            return value[1:-1]
        if kind == "ref":
            return self.reference(value[1:])
        if kind == "name":
            if value in ("true", "True"):
                return True
            if value in ("false", "False"):
                return False
            if value in ("null", "None"):
                return None
            if value in _WORDS:
                raise ExpressionError(f"unexpected {value!r}")
            return self.call(value)
        if value == "(":
            inner = self.conditional()
            self.take(")")
            return inner
        if value == "[":
            items = []
            if not self.accept("]"):
                items.append(self.conditional())
                while self.accept(","):
                    items.append(self.conditional())
                self.take("]")
            return items
        raise ExpressionError(f"unexpected {value!r}" if kind != "end" else "the expression ends too soon")

    def reference(self, name: str) -> Any:
        if name not in self.scope:
            known = ", ".join("$" + key for key in self.scope) or "none"
            raise ExpressionError(f"unknown reference ${name}; known here: {known}")
        value, path = self.scope[name], "$" + name
        while self.peek() == ("op", "."):
            self.take()
            kind, key = self.take()
            if kind != "name":
                raise ExpressionError(f"expected a key after {path}.")
            if not isinstance(value, Mapping) or key not in value:
                known = (", ".join(value) or "no keys") if isinstance(value, Mapping) else "none (it is not a mapping)"
                raise ExpressionError(f"unknown key {path}.{key}; {path} has: {known}")
            value, path = value[key], f"{path}.{key}"
        return value

    def call(self, name: str) -> Any:
        if name not in FUNCTIONS and name not in LIST_FUNCTIONS:
            raise ExpressionError(f"unknown function {name!r}; expected one of: "
                                  f"{', '.join([*FUNCTIONS, *LIST_FUNCTIONS])}")
        self.take("(")
        args = []
        if not self.accept(")"):
            args.append(self.conditional())
            while self.accept(","):
                args.append(self.conditional())
            self.take(")")
        if name in LIST_FUNCTIONS:
            if len(args) != 1 or not isinstance(args[0], list):
                raise ExpressionError(f"{name}() takes one list, found {', '.join(map(repr, args)) or 'nothing'}")
            if name == "sum":
                for arg in args[0]:
                    _numbers("sum()", arg, 0)
            return LIST_FUNCTIONS[name](args[0])
        for arg in args:
            _numbers(name + "()", arg, 0)
        try:
            return FUNCTIONS[name](*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExpressionError(f"{name}() of {', '.join(map(repr, args))}: {exc}") from None


def _truth(value: Any) -> bool:
    if not isinstance(value, (bool, int, float)):
        raise ExpressionError(f"expected true or false, found {value!r}")
    return bool(value)


def _numbers(op: str, a: Any, b: Any) -> None:
    for value in (a, b):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"{op} takes numbers, found {value!r}")


def _item(value: Any, index: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ExpressionError(f"[{index!r}] of {value!r}, which is not a list")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ExpressionError(f"a list's index is an integer, found {index!r}")
    if not -len(value) <= index < len(value):
        raise ExpressionError(f"index {index} is outside the list of {len(value)} items")
    return value[index]


def _slice(value: Any, start: Any, stop: Any) -> list:
    if not isinstance(value, (list, tuple)):
        raise ExpressionError(f"a slice of {value!r}, which is not a list")
    for bound in (start, stop):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise ExpressionError(f"a slice's bounds are integers, found {bound!r}")
    return list(value[start:stop])


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """The value of the expression `text` in `scope` (names without the `$`); ExpressionError if it has none.
    A whole number computed as a float (`$w * 32` with w = 1.0) stays a float: a key that takes an integer
    accepts it when it has no fraction."""
    return _Parser(text, scope).parse()


_BRACES = re.compile(r"\{(\$[^{}]*)\}")


def fill_braces(text: str, scope: Mapping[str, Any]) -> str:
    """A name with `{$expression}` parts filled in (`conv_dw_{$id}` -> `conv_dw_3`); `{i}` and friends stay."""
    def one(match: re.Match) -> str:
        value = evaluate(match.group(1), scope)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)

    return _BRACES.sub(one, text)
