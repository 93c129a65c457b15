"""In-memory source patches that tie a dynamic failure to one node.

A finding points at one node (the node its rule reports). To show that a
measured failure comes from that node and not from another part of the loss, the
worker re-runs the probe on a copy of the function in which only that node is
changed: the rule's own fix (guard a `log`/`sqrt` operand, add an epsilon to a
denominator, clip an `exp` operand), or a *tap* that records the value the node
computes. Patches wrap expressions in place, so line numbers do not move.

The wrappers are names (`__ll_guard_pos__`, ...) that the worker injects into the
namespace the patched statement is executed in; nothing here imports TensorFlow.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

GUARD_POS = "__ll_guard_pos__"  # max(x, eps): log / sqrt / pow base
GUARD_LOG1P = "__ll_guard_log1p__"  # max(x, -1 + eps): log1p operand
GUARD_DEN = "__ll_guard_den__"  # x + eps: denominators
CLIP_EXP = "__ll_clip_exp__"  # minimum(x, 80): exp operands
PLUS_ONE = "__ll_plus_one__"  # x + 1: the offset of a log-error objective raised to 1
TAP_OUT = "__ll_tap_out__"  # record the node's value
TAP_IN = "__ll_tap_in__"  # record an operand of a call inside the node

HELPER_NAMES = (GUARD_POS, GUARD_LOG1P, GUARD_DEN, CLIP_EXP, PLUS_ONE, TAP_OUT, TAP_IN)

_LOG_NAMES = {"log", "log2", "log10", "xlogy"}
_SQRT_NAMES = {"sqrt", "norm", "rsqrt"}
_POW_NAMES = {"pow", "power", "float_power"}
_DIV_NAMES = {"divide", "truediv", "realdiv", "div", "true_divide"}
_EXP_NAMES = {"exp", "expm1"}


def call_name(node: cst.CSTNode) -> str | None:
    """The last dotted component of a call's function (`tf.math.log(x)` -> `log`)."""
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, line: int, col0: int) -> None:
        self.line = line
        self.col0 = col0
        self.hits: list[tuple[cst.CSTNode, tuple[int, int]]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        pos = self.get_metadata(PositionProvider, node, None)
        if pos is not None:
            if pos.start.line == self.line and pos.start.column == self.col0:
                self.hits.append((node, (pos.end.line, pos.end.column)))
            if pos.end.line < self.line or pos.start.line > self.line + 1000:
                return False
        return True


def _preferred(code: str, node: cst.CSTNode) -> int:
    """How well a node fits what a rule points at (higher is better, 0 unusable)."""
    name = call_name(node)
    if code in {"LL201"}:
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            return 3
        if isinstance(node, cst.Expr):
            return 2
        if isinstance(node, cst.Call):
            return 1
        return 0
    if code == "LL102":
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Divide, cst.FloorDivide)
        ):
            return 3
        if name in _DIV_NAMES:
            return 3
        return 0
    if code == "LL105":
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Power):
            return 3
        return 3 if name in _POW_NAMES else 0
    if code in {"LL101", "LL103", "LL104", "LL106", "LL107", "LL108", "LL109"}:
        if name is not None:
            return 3
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Divide, cst.Power)
        ):
            return 2
        return 0
    if isinstance(node, cst.Call):
        return 3
    if isinstance(node, cst.BaseExpression):
        return 2
    if isinstance(node, (cst.Assign, cst.Expr)):
        return 1
    return 0


def locate(
    wrapper: MetadataWrapper, code: str, line: int, column: int, end: tuple[int, int] | None
) -> cst.CSTNode | None:
    """The node a finding points at: starts at (line, column) (1-based column), fits the rule.

    Among nodes starting there, prefer the kind the rule reports on, then one whose end
    matches the finding's end, then the outermost (a call rather than its `tf.math.log` name).
    """
    collector = _Collector(line, column - 1)
    wrapper.visit(collector)
    best: tuple[int, int, int] | None = None
    chosen = None
    for order, (node, node_end) in enumerate(collector.hits):
        score = _preferred(code, node)
        if score == 0:
            continue
        end_match = 0
        if end is not None and (node_end == end or node_end == (end[0], end[1] - 1)):
            end_match = 1
        key = (score, end_match, -order)
        if best is None or key > best:
            best, chosen = key, node
    return chosen


def _wrap(name: str, expr: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=cst.Name(name), args=[cst.Arg(value=expr.with_changes(lpar=[], rpar=[]))])


def _first_arg_index(call: cst.Call) -> int | None:
    for i, arg in enumerate(call.args):
        if arg.keyword is None and arg.star == "":
            return i
    # keyword first operand: x=, a=
    for i, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value in {"x", "a", "input", "tensor"}:
            return i
    return None


def _wrap_arg(call: cst.Call, index: int, name: str) -> cst.Call:
    args = list(call.args)
    args[index] = args[index].with_changes(value=_wrap(name, args[index].value))
    return call.with_changes(args=args)


def _guard(code: str, node: cst.CSTNode) -> cst.CSTNode | None:
    """The rule's own fix for `node`, as an expression wrapper; None when it has no operand."""
    name = call_name(node)
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, (cst.Divide, cst.FloorDivide)):
            return node.with_changes(right=_wrap(GUARD_DEN, node.right))
        if isinstance(node.operator, cst.Power):
            return node.with_changes(left=_wrap(GUARD_POS, node.left))
        return None
    if not isinstance(node, cst.Call) or name is None:
        return None
    if code == "LL104":
        if name in _EXP_NAMES:
            i = _first_arg_index(node)
            return None if i is None else _wrap_arg(node, i, CLIP_EXP)
        inner = _find_exp(node)
        if inner is None:
            return None
        return node.deep_replace(inner, _guard("LL104", inner))  # type: ignore[arg-type]
    if code == "LL108":
        i = _first_arg_index(node)
        return None if i is None else _wrap_arg(node, i, PLUS_ONE)
    if name in _DIV_NAMES:
        positional = [i for i, a in enumerate(node.args) if a.keyword is None]
        if len(positional) >= 2:
            return _wrap_arg(node, positional[1], GUARD_DEN)
        for i, a in enumerate(node.args):
            if a.keyword is not None and a.keyword.value in {"y", "denominator"}:
                return _wrap_arg(node, i, GUARD_DEN)
        return None
    i = _first_arg_index(node)
    if i is None:
        return None
    if name == "log1p":
        return _wrap_arg(node, i, GUARD_LOG1P)
    if name in _EXP_NAMES:
        return _wrap_arg(node, i, CLIP_EXP)
    return _wrap_arg(node, i, GUARD_POS)


def _find_exp(node: cst.CSTNode) -> cst.Call | None:
    found: list[cst.Call] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> bool:
            if not found and call_name(n) in _EXP_NAMES:
                found.append(n)
            return not found

    node.visit(_V())
    return found[0] if found else None


def _tap_calls(node: cst.CSTNode) -> cst.CSTNode:
    """Wrap every positional argument of every call inside `node` in TAP_IN."""

    class _T(cst.CSTTransformer):
        def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
            if isinstance(updated.func, cst.Name) and updated.func.value in HELPER_NAMES:
                return updated
            func = updated.func
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
                # the receiver of a method call is an operand too: `pred.detach()`
                updated = updated.with_changes(func=func.with_changes(
                    value=_wrap(TAP_IN, func.value)))
            args = [
                a.with_changes(value=_wrap(TAP_IN, a.value))
                if a.keyword is None and a.star == "" and not isinstance(a.value, _LITERALS)
                else a
                for a in updated.args
            ]
            return updated.with_changes(args=args)

        def leave_BinaryOperation(
            self, original: cst.BinaryOperation, updated: cst.BinaryOperation
        ) -> cst.BaseExpression:
            return updated.with_changes(
                left=updated.left
                if isinstance(updated.left, _LITERALS)
                else _wrap(TAP_IN, updated.left),
                right=updated.right
                if isinstance(updated.right, _LITERALS)
                else _wrap(TAP_IN, updated.right),
            )

    return node.visit(_T())


_LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.UnaryOperation, cst.List, cst.Tuple)


def _tap(code: str, node: cst.CSTNode) -> cst.CSTNode | None:
    """Record the node's value (and, for gradient-path rules, its operands)."""
    if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        if node.value is None:
            return None
        return node.with_changes(value=_wrap(TAP_OUT, node.value))
    if isinstance(node, cst.Expr):
        return node.with_changes(value=_wrap(TAP_OUT, node.value))
    if not isinstance(node, cst.BaseExpression):
        return None
    if code in {"LL203", "LL204", "LL205"}:
        node = _tap_calls(node)
    elif code == "LL301" and isinstance(node, cst.Call):
        i = _first_arg_index(node)
        if i is None:
            return None
        return _wrap_arg(node, i, TAP_IN)
    return _wrap(TAP_OUT, node)  # type: ignore[arg-type]


def patch_source(
    source: str, code: str, line: int, column: int, end: tuple[int, int] | None, mode: str
) -> str | None:
    """Return `source` with the node at (line, column) guarded (`mode="guard"`) or tapped.

    None when no suitable node is found there or the node has no operand to change.
    """
    located = _located(source, code, line, column, end)
    if located is None:
        return None
    wrapper, node = located
    if node is None:
        return None
    new = _guard(code, node) if mode == "guard" else _tap(code, node)
    if new is None:
        return None
    patched = wrapper.module.deep_replace(node, new)  # type: ignore[arg-type]
    text = patched.code
    if text.count("\n") != source.count("\n"):
        return None
    return text


def _located(source: str, code: str, line: int, column: int, end: tuple[int, int] | None
             ) -> tuple[MetadataWrapper, cst.CSTNode | None] | None:
    """The parsed source and the node a finding points at (None when it does not parse)."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return None
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper, locate(wrapper, code, line, column, end)


def flagged_expression(
    source: str, code: str, line: int, column: int, end: tuple[int, int] | None
) -> tuple[str, str] | None:
    """(the flagged expression's text, the same text with the rule's guard) for probing the
    expression alone; None when the node is not an expression that can be guarded."""
    located = _located(source, code, line, column, end)
    if located is None:
        return None
    wrapper, node = located
    if not isinstance(node, cst.BaseExpression):
        return None
    guarded = _guard(code, node)
    if guarded is None:
        return None
    return f"({wrapper.module.code_for_node(node)})", f"({wrapper.module.code_for_node(guarded)})"
