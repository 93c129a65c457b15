"""Cheap questions about libcst trees: children, dotted names, literal values, source text.

libcst's own visitor rebuilds every node it passes (about two thirds of a parse in time); the
engine only reads the tree, so it walks the dataclass fields that can hold nodes, a list per node
type computed once.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

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
# Every concrete node class: `type(x) in NODE_TYPES` is a set lookup, where
# `isinstance(x, cst.CSTNode)` goes through ABCMeta (a third of the engine's own time).
def _node_types() -> frozenset[type]:
    found: set[type] = set()
    pending = [cst.CSTNode]
    while pending:  # the subclasses too: libcst's slots decorator leaves a second copy of each
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    # `in __mro__`, not `issubclass`: libcst's nodes are ABCs, and ABCMeta's subclass check of
    # every name libcst exports cost about 30 ms at every start
    return frozenset(found | {value for value in vars(cst).values()
                              if isinstance(value, type) and cst.CSTNode in value.__mro__})


NODE_TYPES: frozenset[type] = _node_types()
# Whitespace, comments, punctuation and operator tokens: never code.
_NOT_CODE_MODULES = ("libcst._nodes.whitespace", "libcst._nodes.op")


def _holds_code(annotation: object) -> str | None:
    """How a field with this annotation holds code: "node", "nodes" (a sequence), "maybe" (a
    node, a sequence, or something else: None, a sentinel, a string), or None (never)."""
    origin = typing.get_origin(annotation)
    if origin in (Sequence, list, tuple):
        return "nodes" if any(_holds_code(a) for a in typing.get_args(annotation)) else None
    if origin is typing.Union:
        return "maybe" if any(_holds_code(a) for a in typing.get_args(annotation)) else None
    if isinstance(annotation, (typing.ForwardRef, str)):
        return "maybe"
    if isinstance(annotation, type) and cst.CSTNode in annotation.__mro__:  # no ABC check
        return None if annotation.__module__ in _NOT_CODE_MODULES else "node"
    return None


def _code_fields(node_type: type) -> list[tuple[str, str]]:
    """(field, how it holds code) for the fields of `node_type` that can hold code."""
    found = []
    for f in dataclasses.fields(node_type):
        how = None if f.name in _SKIP else _holds_code(f.type)
        if how is not None:
            found.append((f.name, how))
    return found


def _children_function(node_type: type) -> Callable[[cst.CSTNode], list[cst.CSTNode]]:
    """A function returning the code children of a `node_type` node, in source order, written
    for that type from its dataclass fields (no loop over field names, no generator)."""
    lines = []
    for name, how in _code_fields(node_type):
        if how == "node":
            lines.append(f"    out.append(node.{name})")
        elif how == "maybe":
            lines.append(f"    value = node.{name}\n"
                         "    if type(value) in NODES: out.append(value)\n"
                         "    elif type(value) is tuple or type(value) is list: out.extend(value)")
        else:
            lines.append(f"    out.extend(node.{name})")
    if not lines:
        return _no_children
    source = "def children(node):\n    out = []\n" + "\n".join(lines) + "\n    return out\n"
    namespace: dict[str, object] = {"NODES": NODE_TYPES}
    exec(source, namespace)  # noqa: S102 - code built from libcst's own field names
    return namespace["children"]  # type: ignore[return-value]


def _no_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    return []


class _ChildrenFunctions(dict):
    def __missing__(self, node_type: type) -> Callable[[cst.CSTNode], list[cst.CSTNode]]:
        function = self[node_type] = _children_function(node_type)
        return function


CHILDREN: dict[type, Callable[[cst.CSTNode], list[cst.CSTNode]]] = _ChildrenFunctions()
NO_CHILDREN = _no_children  # what CHILDREN gives a leaf (`Name`, `Integer`, ...): four in ten


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes of `node` that can hold code, in source order."""
    return CHILDREN[type(node)](node)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every code node under `node` (itself included), parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(CHILDREN[type(current)](current)))


def dotted(node: cst.CSTNode) -> str | None:
    """`tf.math.log` -> "tf.math.log"; None for anything that is not a plain attribute chain."""
    if type(node) is cst.Name:  # node classes are final: `is` skips the ABC check
        return node.value  # type: ignore[attr-defined]
    parts = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if type(node) is cst.Name:
        parts.append(node.value)  # type: ignore[attr-defined]
        parts.reverse()
        return ".".join(parts)
    return None


def callee_name(func: cst.CSTNode) -> str:
    """The name a call is made by: dotted (`tf.summary.scalar`), else the method's own name
    (`update_state` of `metrics[key].update_state`), else ""."""
    full = dotted(func)
    if full is not None:
        return full
    return func.attr.value if type(func) is cst.Attribute else ""  # type: ignore[attr-defined]


def number(node: cst.CSTNode) -> float | None:
    """The value of a numeric literal (with an optional sign), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return _literal_number(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = number(node.expression)
        if inner is None:
            return None
        return -inner if isinstance(node.operator, cst.Minus) else inner
    return None


@lru_cache(maxsize=4096)
def _literal_number(text: str) -> float | None:
    try:  # a literal_eval compiles, and a loss module repeats its few constants
        return float(ast.literal_eval(text))
    except (ValueError, OverflowError, SyntaxError):
        return None


def string(node: cst.CSTNode) -> str | None:
    """The value of a plain string literal, else None."""
    return _literal_string(node.value) if isinstance(node, cst.SimpleString) else None


@lru_cache(maxsize=4096)
def _literal_string(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except Exception:  # noqa: BLE001 - odd prefixes: not a plain string
        return None
    return value if isinstance(value, str) else None


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


def argument(call: cst.Call, index: int, *names: str) -> cst.BaseExpression | None:
    """The argument passed by one of the keywords `names` or at position `index`."""
    for name in names:
        value = keyword(call, name)
        if value is not None:
            return value
    return positional(call, index)


_EMPTY_MODULE = cst.Module(body=())


def code(node: cst.CSTNode) -> str:
    """The source text of a node, on one line."""
    text = _EMPTY_MODULE.code_for_node(node).strip()
    return " ".join(text.split())


def shorten(text: str, limit: int = 60) -> str:
    """`text`, cut to `limit` characters with "..." (for code quoted in a message)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def leaves(block: cst.BaseSuite) -> bool:
    """A block whose last statement returns, raises, continues or breaks."""
    last: cst.CSTNode | None = block.body[-1] if isinstance(block, cst.IndentedBlock) and \
        block.body else None
    if isinstance(block, cst.SimpleStatementSuite):
        last = block
    return isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) and \
        isinstance(last.body[-1], (cst.Return, cst.Raise, cst.Continue, cst.Break))  # type: ignore[union-attr]


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


_NESTED = frozenset(t for t in NODE_TYPES if {cst.FunctionDef, cst.ClassDef, cst.Lambda} & {
    *t.__mro__})


_COMPARISON_OPERATORS: dict[type, str] = {
    cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.LessThan: "<", cst.LessThanEqual: "<=",
    cst.Equal: "==", cst.NotEqual: "!="}


def comparison_operator(target: cst.ComparisonTarget) -> str | None:
    """The operator of one comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`), None for `is`/`in`."""
    return _COMPARISON_OPERATORS.get(type(target.operator))


def walk_own(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Like `walk`, but does not enter nested functions, classes or lambdas below `node`."""
    stack = [node]
    pop, extend, nested = stack.pop, stack.extend, _NESTED
    while stack:
        current = pop()
        yield current
        kids = CHILDREN[type(current)](current)
        if kids:
            kids.reverse()
            extend([k for k in kids if type(k) not in nested])
