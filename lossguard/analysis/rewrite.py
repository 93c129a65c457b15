"""Build the replacement nodes of fixes, in the user's own spelling.

A fix must call a function the file can already reach: `tf.nn.log_softmax` where the file
imports `tensorflow as tf`, `F.log_softmax` where it imports `torch.nn.functional as F`,
`x.log_softmax(1)` where the user wrote a tensor method. The helpers here find that spelling
from the module's imports (`ModuleIndex.imports`) and `ops.SPELLINGS`, the functions that
really exist in each framework; they return None when the file cannot reach one (a fix never
adds an import).

How a rule uses them (`ctx.index` is the module index):

    new = rewrite.log_softmax_of(self.ctx.index, softmax_call)
    self.report(log_call, message,
                fix=rewrite.replace(log_call, new, "use `log_softmax`"))

`replace` returns None when `new` is None, so the report call stays one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import libcst as cst

from ..knowledge import ops
from .index import ModuleIndex

if TYPE_CHECKING:
    from .module import ModuleAnalyses as FileContext

EPSILON, EPSILON_CALLS, METHODS = ops.EPSILON, ops.EPSILON_CALLS, ops.METHOD_SPELLINGS


class Replace(NamedTuple):
    """A fix expressed on the tree: put `new` where `old` is. The engine turns it into a text
    edit once positions are known, so rules never deal with line numbers."""

    old: cst.CSTNode
    new: cst.CSTNode
    description: str
    safe: bool = True
    also: tuple[tuple[cst.CSTNode, cst.CSTNode], ...] = ()  # more (old, new) pairs, one fix

    def pairs(self) -> tuple[tuple[cst.CSTNode, cst.CSTNode], ...]:
        return ((self.old, self.new), *self.also)


@lru_cache(maxsize=1024)
def parse(text: str) -> cst.BaseExpression:
    """An expression for a fix to put in. Nodes are immutable and a fix's new node is only
    printed, so one node serves every fix that writes the same text."""
    return cst.parse_expression(text)


def spelling(index: ModuleIndex, qualified: str) -> cst.BaseExpression | None:
    """`tensorflow.nn.log_softmax` as the file can write it (`tf.nn.log_softmax`), else None."""
    best: tuple[int, str] | None = None
    for local, imported in index.imports.items():
        for base in {imported, ops.normalize(imported)}:
            if qualified == base or qualified.startswith(base + "."):
                text = local + qualified[len(base):]
                # The longest import wins (`F.softplus` over `torch.nn.functional.softplus`).
                if best is None or len(base) > best[0]:
                    best = (len(base), text)
    return parse(best[1]) if best else None


def framework_of(index: ModuleIndex, like: cst.Call) -> tuple[str | None, str | None]:
    """The framework of a call and its normalised namespace (None, None for a tensor method)."""
    op = index.op_of(like)
    if op is None or op.framework == "tensor":
        return None, None
    return op.framework, op.name.rpartition(".")[0]


def function_for(index: ModuleIndex, like: cst.Call, target: str) -> cst.BaseExpression | None:
    """The callee to use for `target` in the framework of `like`, keeping the user's alias."""
    framework, namespace = framework_of(index, like)
    if framework is None:
        return None
    names = ops.SPELLINGS.get(target, {}).get(framework, ())
    # The user's own namespace first (`torch.softmax` -> `torch.log_softmax`).
    ordered = sorted(names, key=lambda n: ops.normalize(n).rpartition(".")[0] != namespace)
    for name in ordered:
        found = spelling(index, name)
        if found is not None:
            return found
    return None


def call_like(index: ModuleIndex, like: cst.Call, target: str,
              args: Sequence[cst.Arg]) -> cst.Call | None:
    """A call of `target` ("log_softmax", "log_sigmoid", "softplus", "logsumexp", "maximum",
    "divide_no_nan") in the framework and spelling of `like`; a tensor method stays a method
    (`x.softmax(1)` -> `x.log_softmax(1)`, with `args` then the method's arguments)."""
    if isinstance(like.func, cst.Attribute) and index.op_of(like) is not None and \
            index.op_of(like).framework == "tensor":  # type: ignore[union-attr]
        method = METHODS.get(target)
        if method is None:
            return None
        return cst.Call(func=like.func.with_changes(attr=cst.Name(method)), args=_clean(args))
    func = function_for(index, like, target)
    if func is None:
        return None
    return cst.Call(func=func, args=_clean(args))


def _clean(args: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Arguments with the last trailing comma dropped (the call is rebuilt)."""
    out = list(args)
    if out and out[-1].comma is not cst.MaybeSentinel.DEFAULT:
        out[-1] = out[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return out


def replace(old: cst.CSTNode, new: cst.CSTNode | None, description: str,
            safe: bool = True) -> Replace | None:
    return Replace(old, new, description, safe) if new is not None else None


# --- safe rewrites: same value, stable numerics -----------------------------------------------
def log_softmax_of(index: ModuleIndex, softmax_call: cst.Call) -> cst.Call | None:
    """`log(softmax(x, axis))` -> `log_softmax(x, axis)`: pass the inner softmax call."""
    return call_like(index, softmax_call, "log_softmax", softmax_call.args)


def log_sigmoid_of(index: ModuleIndex, sigmoid_call: cst.Call) -> cst.Call | None:
    """`log(sigmoid(x))` -> `log_sigmoid(x)`: pass the inner sigmoid call."""
    if len(sigmoid_call.args) != 1 or sigmoid_call.args[0].keyword is not None:
        return None
    return call_like(index, sigmoid_call, "log_sigmoid", sigmoid_call.args)


def softplus_of(index: ModuleIndex, exp_call: cst.Call, x: cst.BaseExpression) -> cst.Call | None:
    """`log(1 + exp(x))` / `log1p(exp(x))` -> `softplus(x)`: pass the `exp` call and `x`."""
    return call_like(index, exp_call, "softplus", [cst.Arg(x)])


def logsumexp_of(index: ModuleIndex, sum_call: cst.Call, x: cst.BaseExpression) -> cst.Call | None:
    """`log(sum(exp(x), axis, ...))` -> `reduce_logsumexp(x, axis, ...)`: pass the `sum` call
    (its axis and keepdims arguments are kept) and `x`. PyTorch's `logsumexp` needs a `dim`:
    none without one."""
    framework, _ = framework_of(index, sum_call)
    if isinstance(sum_call.func, cst.Attribute) and framework is None:
        # `x.exp().sum(dim)` -> `x.logsumexp(dim)`: the receiver becomes `x`.
        if not sum_call.args:
            return None
        method = cst.Attribute(value=x, attr=cst.Name("logsumexp"))
        return cst.Call(func=method, args=_clean(sum_call.args))
    rest = list(sum_call.args[1:]) if sum_call.args and sum_call.args[0].keyword is None \
        else [a for a in sum_call.args if a.keyword is None or a.keyword.value not in
              ("input_tensor", "input", "a", "x")]
    if framework == "torch" and not rest:
        return None
    return call_like(index, sum_call, "logsumexp", [cst.Arg(x), *rest])


# --- unsafe rewrites: values change slightly ---------------------------------------------------
def epsilon(index: ModuleIndex, like: cst.Call | None) -> cst.BaseExpression:
    """The framework's epsilon where the file reaches it (`K.epsilon()`), else `1e-7`."""
    framework = framework_of(index, like)[0] if like is not None else None
    for name in EPSILON_CALLS.get(framework or "", ()):
        func = spelling(index, name)
        if func is not None:
            return cst.Call(func=func)
    return parse(EPSILON)


def guard_positive(index: ModuleIndex, like: cst.Call, operand: cst.BaseExpression,
                   eps: cst.BaseExpression | None = None) -> cst.BaseExpression | None:
    """`operand` kept at least epsilon, in the framework of `like` (the `log`/`sqrt` call):
    `tf.maximum(x, 1e-7)`, `K.maximum(x, K.epsilon())`, `torch.clamp_min(x, 1e-7)`,
    `x.clamp_min(1e-7)` for a tensor method, `max(x, 1e-7)` for `math`."""
    eps = eps if eps is not None else epsilon(index, like)
    framework, _ = framework_of(index, like)
    if framework == "math":
        return cst.Call(func=cst.Name("max"), args=[cst.Arg(operand), cst.Arg(eps)])
    if framework is None:  # a tensor method: `x.log()` -> `x.clamp_min(eps).log()`
        receiver = operand
        if not isinstance(receiver, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            receiver = receiver.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name("clamp_min")),
                        args=[cst.Arg(eps)])
    return call_like(index, like, "maximum", [cst.Arg(_bare(operand)), cst.Arg(eps)])


def guarded_log(index: ModuleIndex, log_call: cst.Call,
                operand: cst.BaseExpression) -> cst.Call | None:
    """`log(x)` -> `log(maximum(x, eps))` (or `x.clamp_min(eps).log()` for a method)."""
    guarded = guard_positive(index, log_call, operand)
    if guarded is None:
        return None
    framework, _ = framework_of(index, log_call)
    if framework is None:
        if not isinstance(log_call.func, cst.Attribute):
            return None
        return log_call.with_changes(func=log_call.func.with_changes(value=guarded))
    return _with_first_argument(log_call, operand, guarded)


def guarded_division(index: ModuleIndex, node: cst.CSTNode, numerator: cst.BaseExpression,
                     denominator: cst.BaseExpression) -> cst.BaseExpression | None:
    """A division that cannot be inf/NaN: `tf.math.divide_no_nan(a, b)` in TensorFlow and
    Keras code that reaches it, else `a / (b + eps)` (a smoothing term)."""
    like = _framework_call(index, node)
    if like is not None and framework_of(index, like)[0] in ("tensorflow", "keras"):
        func = function_for(index, like, "divide_no_nan")
        if func is not None:
            return cst.Call(func=func, args=[cst.Arg(_bare(numerator)),
                                             cst.Arg(_bare(denominator))])
    eps = epsilon(index, like)
    smoothed = cst.BinaryOperation(left=_bare(denominator), operator=cst.Add(), right=eps,
                                   lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    if isinstance(node, cst.BinaryOperation):
        return node.with_changes(right=smoothed)
    if isinstance(node, cst.Call):
        return _with_argument(node, denominator, smoothed)
    return None


def _framework_call(index: ModuleIndex, node: cst.CSTNode) -> cst.Call | None:
    """The first call under `node` that belongs to a framework (its spelling is reused)."""
    from .tree import walk

    for child in walk(node):
        if isinstance(child, cst.Call):
            framework, _ = framework_of(index, child)
            if framework not in (None, "math"):
                return child
    return None


def _bare(node: cst.BaseExpression) -> cst.BaseExpression:
    """An argument needs no parentheses of its own."""
    if getattr(node, "lpar", None):
        return node.with_changes(lpar=[], rpar=[])
    return node


def _with_first_argument(call: cst.Call, old: cst.BaseExpression,
                         new: cst.BaseExpression) -> cst.Call | None:
    return _with_argument(call, old, new)


def _with_argument(call: cst.Call, old: cst.BaseExpression,
                   new: cst.BaseExpression) -> cst.Call | None:
    args = list(call.args)
    for position, arg in enumerate(args):
        if arg.value is old:
            args[position] = arg.with_changes(value=new)
            return call.with_changes(args=args)
    return None


# --- ready-made fixes for rules (one call in a report line) ------------------------------------
def log_guard_fix(ctx: FileContext, log_call: cst.CSTNode,
                  operand: cst.BaseExpression) -> Replace | None:
    """LL101's unsafe fix: `log(x)` -> `log(maximum(x, eps))` (not for `log1p`)."""
    if not isinstance(log_call, cst.Call) or ctx.kind(log_call) != "log":
        return None
    return replace(log_call, guarded_log(ctx.index, log_call, operand),
                   "keep the operand at least epsilon", safe=False)


def division_fix(ctx: FileContext, node: cst.CSTNode, numerator: cst.CSTNode,
                 denominator: cst.CSTNode) -> Replace | None:
    """LL102's unsafe fix: `divide_no_nan` (TensorFlow, Keras) or a smoothing term."""
    if not isinstance(numerator, cst.BaseExpression) or \
            not isinstance(denominator, cst.BaseExpression):
        return None
    new = guarded_division(ctx.index, node, numerator, denominator)
    description = "use `divide_no_nan`" if isinstance(new, cst.Call) and \
        not isinstance(node, cst.Call) else "add a smoothing term to the denominator"
    return replace(node, new, description, safe=False)
