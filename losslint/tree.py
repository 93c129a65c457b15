"""Cheap questions about libcst trees: children, dotted names, literal values, source text.

libcst's own visitor rebuilds every node it passes (about two thirds of a parse in time); the
engine only reads the tree, so it walks the dataclass fields that can hold nodes, a list per node
type computed once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

# Fields that never hold anything but whitespace, punctuation or comments.
_SKIP = {
    "whitespace_before", "whitespace_after", "lpar", "rpar", "leading_lines", "header",
    "footer", "semicolon", "comma", "equal", "whitespace_before_colon",
    "whitespace_after_colon", "lines_after_decorators", "whitespace_after_def",
    "whitespace_before_params", "whitespace_after_class", "whitespace_after_arg",
    "whitespace_after_param", "whitespace_after_star", "whitespace_after_star_star",
    "whitespace_before_equal", "whitespace_after_equal", "whitespace_after_import",
    "whitespace_before_import", "whitespace_after_from", "whitespace_after_as",
    "whitespace_before_as", "whitespace_after_lambda", "whitespace_after_await",
    "whitespace_after_return", "whitespace_after_for", "whitespace_before_in",
    "whitespace_after_in", "whitespace_after_if", "whitespace_before_if",
    "whitespace_after_with", "whitespace_before_else", "whitespace_after_else",
    "whitespace_after_assert", "whitespace_after_del", "whitespace_after_raise",
    "whitespace_after_global", "whitespace_after_nonlocal", "whitespace_after_yield",
    "whitespace_after_cases", "newline", "indent", "trailing_whitespace", "dot", "colon",
    "operator", "star", "default_indent", "default_newline", "encoding",
    "has_trailing_newline", "first_line", "empty_lines", "leading_whitespace",
    "whitespace_after_async", "asynchronous", "whitespace_before_walrus",
    "whitespace_after_walrus", "bracket", "lbracket", "rbracket", "lbrace", "rbrace",
    "whitespace_after_at", "whitespace_before_from", "whitespace_before_colon_annotation",
}
_FIELDS: dict[type, tuple[str, ...]] = {}
# Every concrete node class: `type(x) in NODE_TYPES` is a set lookup, where
# `isinstance(x, cst.CSTNode)` goes through ABCMeta (a third of the engine's own time).
def _node_types() -> frozenset[type]:
    found: set[type] = set()
    pending = [cst.CSTNode]
    while pending:  # the subclasses too: libcst's slots decorator leaves a second copy of each
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return frozenset(found | {value for value in vars(cst).values()
                              if isinstance(value, type) and issubclass(value, cst.CSTNode)})


NODE_TYPES: frozenset[type] = _node_types()


def child_fields(node_type: type) -> tuple[str, ...]:
    fields = _FIELDS.get(node_type)
    if fields is None:
        fields = tuple(f.name for f in dataclasses.fields(node_type) if f.name not in _SKIP)
        _FIELDS[node_type] = fields
    return fields


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes of `node` that can hold code, in source order."""
    nodes = NODE_TYPES
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind in nodes:
            yield value
        elif kind is tuple or kind is list:
            for item in value:
                if type(item) in nodes:
                    yield item


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every code node under `node` (itself included), parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kids = list(children(current))
        kids.reverse()
        stack.extend(kids)


def dotted(node: cst.CSTNode) -> str | None:
    """`tf.math.log` -> "tf.math.log"; None for anything that is not a plain attribute chain."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def number(node: cst.CSTNode) -> float | None:
    """The value of a numeric literal (with an optional sign), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        try:
            return float(node.evaluated_value)
        except (ValueError, OverflowError):
            return None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = number(node.expression)
        if inner is None:
            return None
        return -inner if isinstance(node.operator, cst.Minus) else inner
    return None


def string(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - odd prefixes: not a plain string
            return None
        return value if isinstance(value, str) else None
    return None


def keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def positional(call: cst.Call, index: int) -> cst.BaseExpression | None:
    position = 0
    for arg in call.args:
        if arg.keyword is None and not arg.star:
            if position == index:
                return arg.value
            position += 1
    return None


def argument(call: cst.Call, index: int, name: str) -> cst.BaseExpression | None:
    """The argument passed by keyword `name` or at position `index`."""
    value = keyword(call, name)
    return value if value is not None else positional(call, index)


_EMPTY_MODULE = cst.Module(body=())


def code(node: cst.CSTNode) -> str:
    """The source text of a node, on one line."""
    text = _EMPTY_MODULE.code_for_node(node).strip()
    return " ".join(text.split())


def assigned_names(target: cst.BaseExpression) -> list[str]:
    """Plain names bound by an assignment target (tuples unpacked)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        names = []
        for element in target.elements:
            names.extend(assigned_names(element.value))
        return names
    return []


_NESTED = frozenset(t for t in NODE_TYPES if issubclass(t, (cst.FunctionDef, cst.ClassDef,
                                                              cst.Lambda)))


def walk_own(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Like `walk`, but does not enter nested functions, classes or lambdas below `node`."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kids = [k for k in children(current) if type(k) not in _NESTED]
        kids.reverse()
        stack.extend(kids)
