"""How reduced a value is: a scalar, one value per sample, or one per element.

Rules about reductions (LL301-LL305) ask `reduction(expr)`; the answer follows local assignments
and same-module helper calls, and knows which framework losses reduce by default.
"""

from __future__ import annotations

from typing import Literal

import libcst as cst

from .index import Function, ModuleIndex
from .ops import KERAS_LOSSES
from .tree import dotted, keyword, positional, string, walk_own

Reduction = Literal["scalar", "per_sample", "elementwise", "unknown"]
_ORDER = {"scalar": 0, "per_sample": 1, "elementwise": 2}

REDUCING = {"sum", "mean", "max", "min", "prod", "logsumexp", "std", "compute_average_loss"}
ELEMENTWISE = {"log", "log1p", "exp", "sqrt", "rsqrt", "square", "abs", "pow", "maximum",
               "minimum", "clip", "clamp_min", "clamp_max", "sigmoid", "softmax",
               "log_softmax", "log_sigmoid", "softplus", "relu", "tanh", "cosh", "where",
               "divide", "divide_no_nan", "add", "subtract", "multiply", "cast", "identity",
               "stop_gradient", "xlogy"}
PER_SAMPLE_LOSSES = {"softmax_xent_logits", "sigmoid_xent_logits", "binary_xent",
                     "categorical_xent"}
TORCH_LOSSES = {"torch_cross_entropy", "torch_nll", "torch_bce", "torch_bce_logits", "mse",
                "mae"}


def _widest(values: list[Reduction]) -> Reduction:
    known = [v for v in values if v != "unknown"]
    if not known:
        return "unknown"
    return max(known, key=_ORDER.__getitem__)


class Shapes:
    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self._locals: dict[int, dict[str, cst.BaseExpression]] = {}
        self._active: set[int] = set()

    def local_values(self, function: Function) -> dict[str, cst.BaseExpression]:
        """The last expression assigned to each plain name in a function (flow-insensitive)."""
        key = id(function.node)
        table = self._locals.get(key)
        if table is None:
            table = {}
            for node in walk_own(function.node.body):
                if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(
                        node.targets[0].target, cst.Name):
                    table[node.targets[0].target.value] = node.value
            self._locals[key] = table
        return table

    def reduction(self, node: cst.CSTNode, function: Function | None) -> Reduction:
        key = id(node)
        if key in self._active:
            return "unknown"
        self._active.add(key)
        try:
            return self._reduction(node, function)
        finally:
            self._active.discard(key)

    def _reduction(self, node: cst.CSTNode, function: Function | None) -> Reduction:
        if isinstance(node, (cst.Integer, cst.Float)):
            return "scalar"
        if isinstance(node, cst.Name):
            if function is not None:
                value = self.local_values(function).get(node.value)
                if value is not None:
                    return self.reduction(value, function)
                if function.parent is not None:
                    value = self.local_values(function.parent).get(node.value)
                    if value is not None:
                        return self.reduction(value, function.parent)
                if any(p.name.value == node.value and p.default is None
                       for p in function.params):
                    return "elementwise"  # a tensor parameter: one value per element
            return "unknown"
        if isinstance(node, cst.UnaryOperation):
            return self.reduction(node.expression, function)
        if isinstance(node, cst.BinaryOperation):
            return _widest([self.reduction(node.left, function),
                            self.reduction(node.right, function)])
        if isinstance(node, cst.Call):
            return self._call(node, function)
        return "unknown"

    def _call(self, node: cst.Call, function: Function | None) -> Reduction:
        op = self.index.op_of(node)
        if op is not None:
            kind = op.kind
            tensor_method = op.framework == "tensor"
            if kind in REDUCING:
                if kind == "compute_average_loss":
                    return "scalar"
                axis = keyword(node, "axis") or keyword(node, "dim") or keyword(node, "dims")
                if axis is None:
                    axis = positional(node, 0 if tensor_method else 1)
                return "scalar" if axis is None else "per_sample"
            if kind in PER_SAMPLE_LOSSES:
                return "per_sample"
            if kind in TORCH_LOSSES:
                reduction = keyword(node, "reduction")
                return "elementwise" if reduction is not None and string(reduction) == "none" \
                    else "scalar"
            if kind in ELEMENTWISE:
                operands = [a.value for a in node.args if a.keyword is None]
                if tensor_method and isinstance(node.func, cst.Attribute):
                    operands.insert(0, node.func.value)
                return _widest([self.reduction(o, function) for o in operands]) \
                    if operands else "unknown"
            return "unknown"
        callee_name = dotted(node.func)
        if callee_name is None:
            return "unknown"
        # A Keras loss object or function: `mse(y, p)` with `mse = MeanSquaredError(...)`.
        keras_loss = self.keras_loss_call(node, function)
        if keras_loss is not None:
            return keras_loss
        for callee in self.index.by_name.get(callee_name, []):
            if callee.cls is None and callee.parent is None:
                return self.returned(callee)
        return "unknown"

    def keras_loss_call(self, node: cst.Call, function: Function | None) -> Reduction | None:
        func = node.func
        qualified = self.index.resolve(func)
        if qualified and qualified.startswith("keras.losses."):
            name = qualified.rpartition(".")[2]
            if name in KERAS_LOSSES and name[0].islower():
                return "per_sample"
        if isinstance(func, cst.Name):
            constructor = self.index.constants.get(func.value)
            if constructor is None and function is not None:
                constructor = self.local_values(function).get(func.value)
            if isinstance(constructor, cst.Call):
                qualified = self.index.resolve(constructor.func) or ""
                name = qualified.rpartition(".")[2]
                if qualified.startswith("keras.losses.") and name in KERAS_LOSSES:
                    reduction = keyword(constructor, "reduction")
                    if reduction is not None and string(reduction) in ("none", "NONE"):
                        return "per_sample"
                    if reduction is not None and dotted(reduction) and \
                            dotted(reduction).endswith("NONE"):
                        return "per_sample"
                    return "scalar"
        return None

    def returned(self, function: Function) -> Reduction:
        values = []
        for node in walk_own(function.node.body):
            if isinstance(node, cst.Return) and node.value is not None:
                values.append(self.reduction(node.value, function))
        return _widest(values) if values else "unknown"
