"""Reading YAML safely: no Python object tags, duplicate keys refused, `1e-3` read as a number."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml

from cnn_cli.errors import CnnError, ConfigError

# YAML 1.1 (PyYAML) wants a dot in a float ("1.0e-3"); people write "1e-3" and mean a number.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with numeric exponents without a dot and duplicate keys refused."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class BadValueError(yaml.MarkedYAMLError):
    """A key or number that YAML reads but no config can hold: a key that is a list or a mapping, an integer
    too long for Python to convert (over sys.get_int_max_str_digits() digits)."""


MAX_BYTES = 1024 * 1024  # a config is a few kilobytes; a larger file is refused before it is parsed
MAX_DIGITS = 4300  # Python's default limit on converting digits to an integer (sys.get_int_max_str_digits)


def _int(loader: _Loader, node: yaml.ScalarNode):
    digits = sum(ch.isdigit() for ch in str(node.value))
    if digits > MAX_DIGITS:
        raise BadValueError(None, None, f"line {node.start_mark.line + 1}: an integer of {digits:,} digits; "
                            "expected a number of at most a few digits", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    result: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (list, dict, set)):
            raise BadValueError(None, None, f"line {key_node.start_mark.line + 1}: a key that is a "
                                f"{'list' if isinstance(key, list) else 'mapping'}; expected a name",
                                key_node.start_mark)
        if key in result:
            raise DuplicateKeyError(
                None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class _CLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """`_Loader`'s rules (its resolvers and constructors) on libyaml's C parser where PyYAML was built with it:
    about ten times faster, for reading many files a program wrote itself (`cnn runs`). A scalar's tag is
    remembered (a run's config repeats `null`, `same`, `relu` hundreds of times): with no path resolvers, the
    tag depends on the node's kind, its text and whether it was quoted only."""

    _tags: typing.ClassVar[dict] = {}

    def resolve(self, kind, value, implicit):
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._tags) < 4096:
                self._tags[key] = tag
        return tag


_CLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_CLoader.yaml_constructors = _Loader.yaml_constructors
_STR = "tag:yaml.org,2002:str"


def _fast_load(text: str) -> Any:
    """`yaml.load(text, Loader=_CLoader)` with the mappings and lists built here rather than by PyYAML's generic
    constructor (a third less time on a run's config); scalars other than strings, and any other tag, still go
    through `_CLoader`'s constructors. The same rules: duplicate keys and keys that are lists or mappings are
    refused; a node met twice (an alias) is built once."""
    loader = _CLoader(text)
    built: dict[int, Any] = {}

    def build(node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR else loader.construct_object(node)
        if id(node) in built:
            return built[id(node)]
        if isinstance(node, yaml.MappingNode) and node.tag == yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG:
            out: Any = {}
            built[id(node)] = out
            loader.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = build(key_node)
                if isinstance(key, (list, dict, set)):
                    raise BadValueError(None, None, f"line {key_node.start_mark.line + 1}: a key that is a "
                                        f"{'list' if isinstance(key, list) else 'mapping'}; expected a name",
                                        key_node.start_mark)
                if key in out:
                    raise DuplicateKeyError(None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})",
                                            key_node.start_mark)
                out[key] = build(value_node)
            return out
        if isinstance(node, yaml.SequenceNode) and node.tag == yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG:
            out = []
            built[id(node)] = out
            out.extend(build(item) for item in node.value)
            return out
        return loader.construct_object(node, deep=True)

    try:
        node = loader.get_single_node()
        return None if node is None else build(node)
    finally:
        loader.dispose()


MAX_VALUES = 100_000  # a config has a few hundred; anchors and aliases can make billions ("billion laughs")


def _check_size(data: Any, source: str) -> None:
    """Refuses documents whose values, counted with every alias expanded, exceed MAX_VALUES (alias bombs
    and self-referencing aliases), before anything else walks them."""
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(source, "", f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded; "
                              "refused (an alias bomb or an alias that refers to itself?)")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)


def parse_yaml(text: str, source: str, fast: bool = False) -> Any:
    """Parses YAML text; any problem is a one-line ConfigError naming `source`. Only YAML's plain tags are
    constructed (SafeLoader): `!!python/...` and other object tags are refused. `fast`: libyaml's C parser
    where present (the same rules; its errors may word a problem differently)."""
    try:
        data = _fast_load(text) if fast else yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except RecursionError:
        raise ConfigError(source, "", "invalid YAML: nested too deeply") from None
    except (DuplicateKeyError, BadValueError) as exc:
        raise ConfigError(source, "", exc.problem) from None
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        if "recursive" in str(exc.problem):
            raise ConfigError(source, "", f"line {line}: an alias (*name) inside the value it names") from None
        raise ConfigError(source, "", f"line {line}: {exc.problem} (Python object tags are not allowed)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, "", f"invalid YAML: {where}{problem}") from None
    _check_size(data, source)
    return data


def read_yaml(path: str | Path, fast: bool = False) -> Any:
    """Reads a YAML file; a missing or unreadable file is a one-line CnnError (`fast`: see `parse_yaml`)."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise CnnError(f"{path}: {path.stat().st_size:,} bytes, over the {MAX_BYTES // 1024:,} KB a config may "
                           "have; refused (is it a config file?)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnnError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CnnError(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    return parse_yaml(text, str(path), fast=fast)


def parse_scalar(text: str, source: str = "--set") -> Any:
    """Parses a command-line value (`--set key=value`) as a YAML scalar or flow collection; errors name `source`."""
    return parse_yaml(text, source) if text.strip() else ""


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
