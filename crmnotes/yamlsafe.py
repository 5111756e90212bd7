"""Safe, predictable YAML for front-matter and config.

Only plain data is ever built (no ``!!python/...`` objects).  On top of
PyYAML's safe loader this module:

* resolves scalars the YAML 1.2 way: ``+8613800138000`` and ``0571`` stay
  strings, ``no``/``on`` stay strings, ``14:30`` is not sexagesimal 870;
* refuses duplicate keys instead of silently keeping the last one;
* refuses anchors and aliases, which front-matter never needs and which
  "billion laughs" bombs are made of.

Writing uses PyYAML's standard safe dumper, which quotes anything any YAML
reader might misread, so files stay portable (Obsidian, other tools).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlDataError(ValueError):
    """The YAML is valid syntax but not acceptable data; ``line`` is 1-based."""

    def __init__(self, message: str, line: int | None = None, *, bad_value: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.bad_value = bad_value  # a value that cannot be built (2024-02-30), not an unsafe construct


class StrictLoader(_BaseLoader):
    """Safe loader with YAML 1.2 style scalars and no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # "!!map 1": a tag that promises what the node is not
            raise YamlDataError(f"a {node.id} is tagged !!map but is not a mapping", node.start_mark.line + 1,
                                bad_value=True)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlDataError("a key must be a plain value", key_node.start_mark.line + 1)
            if key in seen:
                raise YamlDataError(
                    f"duplicate key '{key}' (first at line {seen[key]})", key_node.start_mark.line + 1
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    "tag:yaml.org,2002:map",
    lambda loader, node: loader.construct_mapping(node, deep=True),
)

# Replace YAML 1.1 implicit resolvers with YAML 1.2 core-schema ones.
StrictLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:0|-?[1-9][0-9]*)$", "-0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:-?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|-?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "tag:yaml.org,2002:timestamp",
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
]:
    StrictLoader.add_implicit_resolver(_tag, re.compile(_pattern, re.X), list(_first))


MAX_NODES = 100_000
MAX_INT_DIGITS = 100  # far beyond any amount or phone; a 5,000-digit number is damage, not data
_BUILD_ERRORS = (ValueError, OverflowError, TypeError, KeyError, AttributeError, IndexError)


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _guarded(tag: str, what: str) -> None:
    """Wrap the safe loader's constructor of ``tag`` so that a value it cannot build
    (``2024-02-30``, ``!!float abc``, ``!!int x``) is a ``YamlDataError`` at its line,
    never a bare ``ValueError`` that takes every command down."""
    build = _BaseLoader.yaml_constructors[tag]  # type: ignore[attr-defined]  # _BaseLoader is SafeLoader or CSafeLoader: both have it

    def construct(loader: Any, node: yaml.Node) -> Any:
        line = node.start_mark.line + 1
        if tag.endswith(":int") and isinstance(node.value, str) and len(node.value) > MAX_INT_DIGITS:
            digits = sum(ch.isdigit() for ch in node.value)
            if digits > MAX_INT_DIGITS:
                raise YamlDataError(f"a number of {digits} digits is not a value crmnotes can use "
                                    f"(at most {MAX_INT_DIGITS})", line, bad_value=True)
        try:
            return build(loader, node)
        except _BUILD_ERRORS:
            raise YamlDataError(f"'{_shown(str(node.value))}' is not a valid {what}", line, bad_value=True) from None

    StrictLoader.add_constructor(tag, construct)


def _refused(tag: str) -> None:
    def construct(loader: Any, node: yaml.Node) -> Any:
        raise YamlDataError(f"the YAML tag !!{tag.rsplit(':', 1)[1]} is not plain data", node.start_mark.line + 1)

    StrictLoader.add_constructor(tag, construct)


for _tag, _what in [("int", "whole number"), ("float", "number"), ("bool", "true/false value"),
                    ("timestamp", "date or time (no such day, month or hour)")]:
    _guarded(f"tag:yaml.org,2002:{_tag}", _what)
for _tag in ("binary", "set", "omap", "pairs"):  # bytes, sets and tuples: no face can show or save them
    _refused(f"tag:yaml.org,2002:{_tag}")


def load(text: str) -> Any:
    """Parse YAML text into plain data, refusing aliases and object tags.

    Raises ``yaml.YAMLError`` for syntax errors and ``YamlDataError`` for
    acceptable syntax carrying unacceptable data.
    """
    if "&" in text or "*" in text:
        _refuse_aliases(text)
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlDataError(f"unsupported YAML tag ({exc.problem})", line) from None
    except RecursionError:  # thousands of nested [ or {: refuse instead of crashing every command
        raise YamlDataError("the YAML is nested too deeply") from None
    finally:
        loader.dispose()


def _refuse_aliases(text: str) -> None:
    """Walk the event stream (cheap) and refuse anchors and aliases."""
    for count, event in enumerate(yaml.parse(text, Loader=_BaseLoader)):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YamlDataError(
                "YAML anchors and aliases (& and *) are not allowed in crmnotes files",
                event.start_mark.line + 1,  # type: ignore[union-attr]  # a parsed event always has its mark
            )
        if count > MAX_NODES:
            raise YamlDataError("the YAML is too large to be front-matter")


class IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as Obsidian writes them.

    The pure-Python dumper is used on purpose: the C emitter ignores the
    indentation hook, and what we dump is a few keys at a time.
    """

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same date object twice must not become &id001 / *id001, which the loader refuses


def dump(data: dict[str, Any]) -> str:
    """Block-style YAML with unicode kept readable (中文 stays 中文)."""
    return yaml.dump(
        data,
        Dumper=IndentedDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
    )


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


IndentedDumper.add_representer(str, _represent_str)
