"""How reduced a value is: a scalar, one value per sample, or one per element.

Rules about reductions (LL301-LL305) ask here, and only here:

- `reduction(expr)`: scalar, per-sample, element-wise or unknown, following local assignments,
  module constants and same-module helper calls;
- `loss_reduction(call)`: how a framework loss reduces ("none", "sum", "mean"): Keras loss
  objects reduce over the batch unless built with `reduction="none"`, Keras loss functions return
  one value per sample, PyTorch losses reduce with `reduction="mean"` by default;
- `batch_reduction(call)`: whether a call reduces a non-scalar value over the batch axis, and how
  ("sum" or "mean");
- `objective(call)`: the value a training call differentiates; `objective_terms(function)` and
  `returned_terms(function)`: the calls an objective or a returned value is made of;
- `aligns_shapes(function)`: whether a function aligns the shapes of its inputs.
"""

from __future__ import annotations

from typing import Literal

import libcst as cst

from ..knowledge import ops
from ..knowledge.names import (
    INPUT_NAMES,
    is_gradient_name,
    is_hyperparameter_name,
    is_loss_name,
    is_size_name,
    is_variables_name,
    parameter_role,
)
from .definitions import Body, Definitions
from .index import Function, ModuleIndex
from .losscode import lightning_step
from .tree import (
    argument,
    dotted,
    keyword,
    number,
    positional,
    string,
    walk,
    walk_own,
)

Reduction = Literal["scalar", "per_sample", "elementwise", "unknown"]
LossReduction = Literal["none", "sum", "mean"]
BatchReduction = Literal["sum", "mean"]
_ORDER = {"scalar": 0, "per_sample": 1, "elementwise": 2}

REDUCING = {"sum", "mean", "max", "min", "prod", "logsumexp", "std", "stddev",
            "compute_average_loss", "l2_loss"}
ELEMENTWISE = {"log", "log1p", "exp", "expm1", "sqrt", "rsqrt", "square", "squared_difference",
               "abs", "pow", "maximum", "minimum", "clip", "clamp_min", "clamp_max", "sigmoid",
               "softmax", "log_softmax", "log_sigmoid", "softplus", "relu", "tanh", "cosh", "where",
               "divide", "divide_no_nan", "add", "subtract", "multiply", "cast", "identity",
               "stop_gradient", "xlogy", "negative"}
PER_SAMPLE_LOSSES = {"softmax_xent_logits", "sigmoid_xent_logits", "binary_xent",
                     "categorical_xent"}
TORCH_LOSSES = {"torch_cross_entropy", "torch_nll", "torch_kl_div", "torch_bce",
                "torch_bce_logits", "mse", "mae"}
# Element-wise arithmetic between two tensors (operator or framework call).
ARITHMETIC_OPS = {"add", "subtract", "multiply", "divide", "divide_no_nan", "maximum",
                  "minimum", "pow", "xlogy"}
# Calls that set or check the shape of a tensor (ops kinds).
ALIGNING = {"reshape", "shape_assert", "one_hot"}
# Training calls whose first argument (or receiver) is the differentiated value.
OBJECTIVE_KINDS = ("tape_gradient", "minimize", "add_loss", "backward")

_KERAS_NONE = {"none"}
_KERAS_SUM = {"sum"}


def _lightning_loss(value: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """What Lightning differentiates of a `training_step`'s return: the value, or the "loss"
    of a dict (`{"loss": loss, "log": logs}`)."""
    if isinstance(value, cst.Dict):
        for element in value.elements:
            if isinstance(element, cst.DictElement) and string(element.key) == "loss":
                return element.value
        return None
    return value


def _widest(values: list[Reduction]) -> Reduction:
    known = [v for v in values if v != "unknown"]
    if not known:
        return "unknown"
    return max(known, key=_ORDER.__getitem__)


def _element_index(node: cst.Subscript) -> bool:
    """`x[0]`, `x[-1]`, `x[0, 1]`: integer literals only (a slice, a mask or an index tensor
    keeps a dimension)."""
    for element in node.slice:
        index = element.slice
        if not isinstance(index, cst.Index):
            return False
        value = index.value
        if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
            value = value.expression
        if not isinstance(value, cst.Integer):
            return False
    return True


def is_variables(node: cst.CSTNode | None) -> bool:
    """Whether a `tape.gradient` source is model variables (a training objective), not inputs."""
    if node is None:
        return False
    if isinstance(node, cst.Call):
        return is_variables(node.func)
    if isinstance(node, (cst.List, cst.Tuple)):
        return any(is_variables(e.value) for e in node.elements)
    return is_variables_name(dotted(node) or "")


def reduces_batch(axis: cst.BaseExpression | None) -> bool:
    """Whether a reduction `axis` argument includes the batch axis (none given, None, or 0)."""
    if axis is None:
        return True
    if isinstance(axis, cst.Name):
        return axis.value == "None"
    if isinstance(axis, cst.Integer):
        return number(axis) == 0
    if isinstance(axis, (cst.List, cst.Tuple)):
        return any(isinstance(e.value, cst.Integer) and number(e.value) == 0
                   for e in axis.elements)
    return False


class Shapes:
    def __init__(self, index: ModuleIndex, definitions: Definitions | None = None) -> None:
        self.index = index
        self.definitions = definitions if definitions is not None else Definitions(index)
        self._terms: dict[tuple[int, str], dict[int, cst.CSTNode]] = {}
        self._aligned: dict[int, bool] = {}
        self._active: set[int] = set()
        # the parameters of the helpers being followed, bound to the shapes of their arguments
        self._arguments: list[tuple[Function, dict[str, Reduction]]] = []

    # --- how reduced a value is ------------------------------------------------------------------
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
            return self._name(node, function)
        if isinstance(node, cst.UnaryOperation):
            return self.reduction(node.expression, function)
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, (cst.Multiply, cst.Divide)):
                return self._scaled(node.left, node.right, function)
            return _widest([self.reduction(node.left, function),
                            self.reduction(node.right, function)])
        if isinstance(node, cst.Subscript):
            if _element_index(node):
                return "scalar"  # `losses[0]`: one element
            return self.reduction(node.value, function)
        if isinstance(node, cst.Call):
            return self._call(node, function)
        return "unknown"

    def _name(self, node: cst.Name, function: Function | None) -> Reduction:
        if function is not None:
            binding = self.definitions.body(function).binding(node)
            if binding is not None:  # the definition that reaches this read
                return self._binding(binding, function)
            if function.parent is not None:
                binding = self.definitions.body(function.parent).binding(node)
                if binding is not None:
                    return self._binding(binding, function.parent)
            if any(p.name.value == node.value for p in function.params):
                bound = self._arguments[-1] if self._arguments else None
                if bound is not None and bound[0] is function and node.value in bound[1]:
                    return bound[1][node.value]  # what the call being followed passes
                if any(p.name.value == node.value and p.default is None
                       for p in function.params):
                    if is_loss_name(node.value) or is_gradient_name(node.value):
                        return "unknown"  # a loss (or its gradient) the caller computed
                    if is_size_name(node.value):
                        return "scalar"
                    if parameter_role(node.value) == "hyperparameter":
                        return "unknown"  # `margin`, `warmup_steps`: configuration
                    return "elementwise"
                return "unknown"  # a hyperparameter
            if node.value in self.definitions.body(function).defs:
                return "unknown"  # bound only later (a loop carries it round)
        value = self.index.constants.get(node.value)
        if value is not None:
            return self.reduction(value, None)
        return "unknown"

    def _scaled(self, left: cst.CSTNode, right: cst.CSTNode,
                function: Function | None) -> Reduction:
        """`a * b`, `a / b`, `a.mul(b)`. `wd * loss_wd`: a parameter no word names as a tensor,
        scaling a term, is its coefficient; the product is as reduced as the term. So is a
        weight scaling a scalar (`loss_mt * consistency_weight`): a per-sample weight would
        not."""
        for factor, term in ((left, right), (right, left)):
            if self._coefficient(factor, function):
                return self.reduction(term, function)
            if self._coefficient(factor, function, ("weights",)) and \
                    self.reduction(term, function) == "scalar":
                return "scalar"
        return _widest([self.reduction(left, function), self.reduction(right, function)])

    def _coefficient(self, node: cst.CSTNode, function: Function | None,
                     roles: tuple[str, ...] = ("hyperparameter", "tensor")) -> bool:
        """Whether `node` is a parameter of `function` whose name gives it one of `roles`
        (by default: no word names it a tensor, an input, label, prediction, logit,
        embedding, mask or weight), or a setting read by its key (`params['weight_decay']`)."""
        if isinstance(node, cst.Subscript) and len(node.slice) == 1 and \
                isinstance(node.slice[0].slice, cst.Index):
            key = string(node.slice[0].slice.value)
            return key is not None and is_hyperparameter_name(key)
        return isinstance(node, cst.Name) and function is not None and \
            all(isinstance(binding.node, cst.AugAssign)  # `w *= warmup` scales it, still a number
                for binding in self.definitions.body(function).defs.get(node.value, ())) and \
            any(p.name.value == node.value for p in function.params) and \
            node.value not in INPUT_NAMES and parameter_role(node.value) in roles

    def _binding(self, binding: cst.CSTNode, function: Function) -> Reduction:
        if isinstance(binding, (cst.Assign, cst.AnnAssign)) and binding.value is not None:
            return self.reduction(binding.value, function)
        if isinstance(binding, cst.AugAssign):  # `loss += term`: the old value and the term
            return _widest([self.reduction(binding.target, function),
                            self.reduction(binding.value, function)])
        return "unknown"

    def _call(self, node: cst.Call, function: Function | None) -> Reduction:
        op = self.index.op_of(node)
        if op is not None:
            kind = op.kind
            tensor_method = op.framework == "tensor"
            if kind in REDUCING:
                if kind == "compute_average_loss":
                    return "scalar"
                if reduces_batch(self._axis(node, tensor_method)):
                    return "scalar"
                # Along another axis: what is left has the batch axis, if the operand had one
                # besides (a value of unknown shape may have been a vector: then a scalar).
                operand = self._operand(node, tensor_method)
                shape = self.reduction(operand, function) if operand is not None else "unknown"
                return "unknown" if shape in ("unknown", "scalar") else "per_sample"
            if kind == "inner":
                return "scalar"  # `torch.dot(a, b)`: a 0-d tensor
            if kind in PER_SAMPLE_LOSSES:
                # one value per sample: one in all for a single written-out element
                slot = ops.xent_prediction(op)
                prediction = argument(node, slot[0], *slot[1]) if slot is not None else None
                return "scalar" if prediction is not None and \
                    self.reduction(prediction, function) == "scalar" else "per_sample"
            if kind == "reshape":  # `expand_dims(x, 0)` of one element is one element
                operand = self._operand(node, tensor_method)
                return "scalar" if operand is not None and \
                    self.reduction(operand, function) == "scalar" else "unknown"
            if kind == "placeholder":
                # fed a batch, unless its shape is written out as one element (`shape=[]`,
                # `shape=[1]`) or not at all (`k = tf.placeholder(tf.float32)`: a coefficient)
                written = argument(node, 1, "shape")
                if written is None:
                    return "unknown"
                dims = _literal_shape(written)
                return "scalar" if dims is not None and all(d == 1 for d in dims) \
                    else "elementwise"
            if kind in ELEMENTWISE:
                operands = [a.value for a in node.args if a.keyword is None]
                if tensor_method and isinstance(node.func, cst.Attribute):
                    operands.insert(0, node.func.value)
                if kind in ("multiply", "divide") and len(operands) == 2:
                    return self._scaled(operands[0], operands[1], function)  # `x.mul(gain)`
                return _widest([self.reduction(o, function) for o in operands]) \
                    if operands else "unknown"
        mode = self.loss_reduction(node, function)
        if mode is not None:
            if mode != "none":
                return "scalar"
            return "elementwise" if self._framework_of_loss(node, function) == "torch" \
                else "per_sample"
        if op is not None:
            return "unknown"
        callee_name = dotted(node.func)
        if callee_name is None:
            return "unknown"
        for callee in self.index.by_name.get(callee_name, []):
            if callee.cls is None and callee.parent is None:
                return self._returned_for(callee, node, function)
        return "unknown"

    def _returned_for(self, callee: Function, call: cst.Call,
                      caller: Function | None) -> Reduction:
        """What a module helper returns for this call: its parameters take the shapes of the
        arguments (`log(Z)` with `def log(x): return torch.log(x + eps)` is as reduced as `Z`)."""
        params = [p.name.value for p in callee.params]
        passed: dict[str, Reduction] = {}
        for position, arg in enumerate(a for a in call.args if a.keyword is None and not a.star):
            if position < len(params):
                passed[params[position]] = self.reduction(arg.value, caller)
        for arg in call.args:
            if arg.keyword is not None:
                passed[arg.keyword.value] = self.reduction(arg.value, caller)
        passed = {name: shape for name, shape in passed.items() if shape != "unknown"}
        self._arguments.append((callee, passed))
        try:
            return self.returned(callee)
        finally:
            self._arguments.pop()

    @staticmethod
    def _operand(node: cst.Call, tensor_method: bool) -> cst.BaseExpression | None:
        """What a reduction reduces: a tensor method's receiver, else its first argument."""
        if tensor_method and isinstance(node.func, cst.Attribute):
            return node.func.value
        return positional(node, 0) or keyword(node, "input_tensor") or keyword(node, "input") \
            or keyword(node, "x")

    @staticmethod
    def _axis(node: cst.Call, tensor_method: bool) -> cst.BaseExpression | None:
        axis = keyword(node, "axis") or keyword(node, "dim") or keyword(node, "dims")
        if axis is None:
            axis = positional(node, 0 if tensor_method else 1)
        return axis

    def returned(self, function: Function) -> Reduction:
        values = []
        for node in walk_own(function.node.body):
            if isinstance(node, cst.Return) and node.value is not None:
                values.append(self.reduction(node.value, function))
        return _widest(values) if values else "unknown"

    # --- framework losses -----------------------------------------------------------------------
    def _loss_api(self, node: cst.Call, function: Function | None
                  ) -> tuple[str, cst.Call] | None:
        """(kind of framework loss, the call that configures it) for a loss call: the call itself
        for a loss function, the constructor for a loss object (`mse(y, p)` with
        `mse = MeanSquaredError(...)`, `self.criterion(out, y)`, `nn.MSELoss()(out, y)`)."""
        func = node.func
        qualified = self.index.resolve(func)
        if qualified is not None:
            kind = ops.framework_loss(qualified)
            if kind in ("keras_function", "torch_function"):
                return kind, node
            return None
        constructor: cst.BaseExpression | None = None
        if isinstance(func, cst.Call):
            constructor = func
        elif isinstance(func, cst.Name):
            if function is not None:
                constructor = self.definitions.body(function).value(func)
                if constructor is None and function.parent is not None:
                    constructor = self.definitions.body(function.parent).value(func)
            if constructor is None:
                constructor = self.index.constants.get(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self" and function is not None and function.cls is not None:
            constructor = function.cls.init_values.get(func.attr.value)
        if not isinstance(constructor, cst.Call):
            return None
        qualified = self.index.resolve(constructor.func)
        kind = ops.framework_loss(qualified) if qualified else None
        if kind in ("keras_class", "torch_class"):
            return kind, constructor
        return None

    def _framework_of_loss(self, node: cst.Call, function: Function | None) -> str | None:
        api = self._loss_api(node, function)
        return api[0].split("_")[0] if api else None

    def loss_reduction(self, node: cst.Call, function: Function | None) -> LossReduction | None:
        """How a framework loss call reduces its per-sample values: "none" (one value per sample
        or element), "sum" or "mean" over the batch; None when `node` is no framework loss."""
        api = self._loss_api(node, function)
        if api is None:
            op = self.index.op_of(node)
            if op is None or op.kind not in TORCH_LOSSES or op.framework != "torch" or \
                    op.name.rpartition(".")[2][:1].isupper():  # a class: its constructor
                return None
            api = ("torch_function", node)
        kind, config = api
        if kind == "keras_function":
            return "none"
        value = keyword(config, "reduction")
        text = string(value) if value is not None else None
        if text is None and value is not None:
            text = (dotted(value) or "").rpartition(".")[2]
        text = (text or "").lower()
        if kind == "keras_class":
            if text in _KERAS_NONE:
                return "none"
            return "sum" if text in _KERAS_SUM else "mean"
        # PyTorch: `reduction=`, or the legacy `reduce=False` / `size_average=False`.
        if text in ("none", "sum", "mean"):
            return text  # type: ignore[return-value]
        reduce = keyword(config, "reduce")
        if isinstance(reduce, cst.Name) and reduce.value == "False":
            return "none"
        size_average = keyword(config, "size_average")
        if isinstance(size_average, cst.Name) and size_average.value == "False":
            return "sum"
        return "mean"

    def batch_reduction(self, node: cst.Call, function: Function | None
                        ) -> BatchReduction | None:
        """"sum" or "mean" when `node` reduces a non-scalar value over the batch axis
        (`reduce_sum(x)`, `x.mean()`, `reduce_mean(x, axis=0)`, a loss object with its default
        reduction, torch `reduction="sum"`), else None."""
        op = self.index.op_of(node)
        if op is not None and op.kind in ("sum", "mean", "l2_loss"):
            tensor_method = op.framework == "tensor"
            if op.kind != "l2_loss" and not reduces_batch(self._axis(node, tensor_method)):
                return None
            operand = node.func.value if tensor_method and isinstance(node.func, cst.Attribute) \
                else (positional(node, 0) or keyword(node, "input_tensor") or
                      keyword(node, "x") or keyword(node, "input"))
            if operand is None or \
                    self.reduction(operand, function) not in ("per_sample", "elementwise"):
                return None
            return "mean" if op.kind == "mean" else "sum"
        mode = self.loss_reduction(node, function)
        return mode if mode in ("sum", "mean") else None  # type: ignore[return-value]

    # --- what an objective is made of -----------------------------------------------------------
    def objective(self, node: cst.Call, kinds: tuple[str, ...] = OBJECTIVE_KINDS
                  ) -> cst.BaseExpression | None:
        """The value a training call differentiates: `tape.gradient(t, vars)`,
        `opt.minimize(t)`, `add_loss(t)`, `t.backward()`; None when the call is not a training
        objective (a gradient with respect to an input tensor is taken for inspection)."""
        op = self.index.op_of(node)
        kind = op.kind if op else None
        if kind not in kinds:
            return None
        if kind == "tape_gradient":
            if not is_variables(positional(node, 1) or keyword(node, "sources")):
                return None
            return positional(node, 0) or keyword(node, "target")
        if kind == "minimize":
            return positional(node, 0) or keyword(node, "loss")
        if kind == "add_loss":
            return positional(node, 0) or keyword(node, "losses")
        if kind == "backward" and isinstance(node.func, cst.Attribute) and not node.args:
            return node.func.value
        return None

    def terms(self, node: cst.CSTNode, function: Function | None, *,
              normalized_stops: bool = False) -> list[cst.CSTNode]:
        """The leaves a value is made of, through local definitions, unary operators and
        arithmetic (`+ - * /`, framework add/subtract/multiply/divide). With
        `normalized_stops`, a division (or a product with one) ends the search: the value is
        normalized by something."""
        flow = self.definitions.body(function)
        out: list[cst.CSTNode] = []
        seen: set[int] = set()

        stack = [node]  # depth first, left to right
        while stack:
            expr = stack.pop()
            if id(expr) in seen or len(seen) > 200:
                continue
            seen.add(id(expr))
            if isinstance(expr, cst.Name):
                definition = flow.binding(expr)
                if isinstance(definition, (cst.Assign, cst.AnnAssign)) and \
                        definition.value is not None:
                    stack.append(definition.value)
                elif isinstance(definition, cst.AugAssign) and not (normalized_stops and isinstance(
                        definition.operator, (cst.DivideAssign, cst.MultiplyAssign))):
                    stack.extend((definition.value, definition.target))
                continue
            if isinstance(expr, cst.UnaryOperation):
                stack.append(expr.expression)
                continue
            if isinstance(expr, cst.BinaryOperation):
                if not (normalized_stops and self._divides(expr, flow)):
                    stack.extend((expr.right, expr.left))
                continue
            if isinstance(expr, cst.Call):
                op = self.index.op_of(expr)
                if op is not None and op.kind in ("add", "subtract", "multiply", "divide",
                                                  "negative", "identity", "cast"):
                    if normalized_stops and self._divides(expr, flow):
                        continue
                    args = [a.value for a in expr.args if a.keyword is None]
                    if op.kind in ("divide", "identity", "cast"):
                        args = args[:1]
                    stack.extend(reversed(args))
                    continue
            out.append(expr)
        return out

    def _divides(self, expr: cst.CSTNode, flow: Body, depth: int = 0) -> bool:
        """Whether a product or quotient divides by something (`x / n`, `x * (1. / n)`)."""
        if depth > 8:
            return False
        if isinstance(expr, cst.Name):
            definition = flow.binding(expr)
            value = getattr(definition, "value", None)
            return isinstance(definition, (cst.Assign, cst.AnnAssign)) and value is not None \
                and self._divides(value, flow, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, (cst.Divide, cst.FloorDivide)):
                return True
            if isinstance(expr.operator, cst.Multiply):
                return self._divides(expr.left, flow, depth + 1) or \
                    self._divides(expr.right, flow, depth + 1)
            return False
        if isinstance(expr, cst.Call):
            op = self.index.op_of(expr)
            if op is not None and op.kind in ("divide", "divide_no_nan"):
                return True
            if op is not None and op.kind == "multiply":
                return any(self._divides(a.value, flow, depth + 1) for a in expr.args)
        return False

    def objective_terms(self, function: Function | None, kinds: tuple[str, ...] =
                        OBJECTIVE_KINDS, *, normalized_stops: bool = False
                        ) -> dict[int, cst.CSTNode]:
        """The leaves (by id) of every training objective in a function's own body (or at module
        level for None)."""
        body: cst.CSTNode = function.node.body if function is not None else self.index.module
        key = (id(body), f"objective:{kinds}:{normalized_stops}")
        cached = self._terms.get(key)
        if cached is None:
            cached = {}
            lightning = "backward" in kinds and lightning_step(self.index, function)
            for node in walk_own(body):
                target = None
                if isinstance(node, cst.Call):
                    target = self.objective(node, kinds)
                elif lightning and isinstance(node, cst.Return):
                    target = _lightning_loss(node.value)
                if target is not None:
                    cached.update((id(t), t) for t in self.terms(
                        target, function, normalized_stops=normalized_stops))
            self._terms[key] = cached
        return cached

    def returned_terms(self, function: Function) -> dict[int, cst.CSTNode]:
        """The leaves (by id) of the values a function returns."""
        key = (id(function.node.body), "returned")
        cached = self._terms.get(key)
        if cached is None:
            cached = {}
            for node in walk_own(function.node.body):
                if isinstance(node, cst.Return) and node.value is not None:
                    cached.update((id(t), t) for t in self.terms(node.value, function))
            self._terms[key] = cached
        return cached

    # --- written shapes -------------------------------------------------------------------------
    def written_shape(self, node: cst.BaseExpression | None, depth: int = 0
                      ) -> tuple[int | None, ...] | None:
        """The shape module-level code writes out for a value (None: unknown; a dimension
        None: any size): a placeholder's `shape`, a variable made from `zeros([13, 1])` or
        `random_normal([13, 1])`, and what `matmul`, broadcasting arithmetic and element-wise
        operations make of them (TF1 scripts spell their shapes this way)."""
        if node is None or depth > 20:
            return None
        if number(node) is not None:
            return ()
        if isinstance(node, cst.Name):
            return self.written_shape(self.index.constants.get(node.value), depth + 1)
        if isinstance(node, cst.BinaryOperation) and isinstance(
                node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)):
            return broadcast(self.written_shape(node.left, depth + 1),
                             self.written_shape(node.right, depth + 1))
        if not isinstance(node, cst.Call):
            return None
        qualified = self.index.resolve(node.func) or ""
        op = self.index.op_of(node)
        kind = op.kind if op is not None else None
        if kind == "placeholder":
            return _literal_shape(argument(node, 1, "shape"))
        if kind in ("zeros", "ones", "normal", "uniform"):
            return _literal_shape(argument(node, 0, "shape"))
        if qualified.endswith(".Variable"):
            return self.written_shape(argument(node, 0, "initial_value"), depth + 1)
        if kind == "linear" and qualified.endswith("matmul"):
            a = self.written_shape(argument(node, 0, "a"), depth + 1)
            b = self.written_shape(argument(node, 1, "b"), depth + 1)
            if a is not None and b is not None and len(a) == len(b) == 2:
                return a[0], b[1]
            return None
        if kind in WRITTEN_SHAPE_KEPT:
            return self.written_shape(argument(node, 0, "x"), depth + 1)
        if kind in ("add", "subtract", "multiply", "divide"):
            return broadcast(self.written_shape(argument(node, 0, "x"), depth + 1),
                             self.written_shape(argument(node, 1, "y"), depth + 1))
        return None

    # --- shape alignment ------------------------------------------------------------------------
    def aligns_shapes(self, function: Function) -> bool:
        """Whether a function reshapes, squeezes, expands, one-hot encodes or checks the shape of
        its tensors anywhere (an `assert` on a `.shape` counts)."""
        key = id(function.node)
        cached = self._aligned.get(key)
        if cached is None:
            cached = False
            for node in walk(function.node.body):
                if isinstance(node, cst.Call):
                    op = self.index.op_of(node)
                    if op is not None and op.kind in ALIGNING:
                        cached = True
                        break
                elif isinstance(node, cst.Assert) and any(
                        isinstance(n, cst.Attribute) and n.attr.value == "shape"
                        or isinstance(n, cst.Call) and self.index.op_of(n) is not None
                        and self.index.op_of(n).kind == "shape"  # type: ignore[union-attr]
                        for n in walk(node.test)):
                    cached = True
                    break
            self._aligned[key] = cached
        return cached

    def derives_from(self, node: cst.CSTNode, name: str, function: Function,
                     depth: int = 0) -> bool:
        """Whether `node` is the parameter `name` itself, or an element-wise function of it
        alone that keeps its shape (a cast, a clip, arithmetic with constants)."""
        if depth > 10:
            return False
        if isinstance(node, cst.Name):
            definition = self.definitions.body(function).binding(node)
            if isinstance(definition, cst.Assign):
                return self.derives_from(definition.value, name, function, depth + 1)
            return definition is None and node.value == name
        if isinstance(node, cst.UnaryOperation):
            return self.derives_from(node.expression, name, function, depth + 1)
        if isinstance(node, cst.BinaryOperation):
            left = self.derives_from(node.left, name, function, depth + 1)
            right = self.derives_from(node.right, name, function, depth + 1)
            constant = (cst.Integer, cst.Float)
            return (left and (right or isinstance(node.right, constant))) or \
                (right and isinstance(node.left, constant))
        if isinstance(node, cst.Call):
            op = self.index.op_of(node)
            if op is None or op.kind not in ELEMENTWISE or op.kind in ARITHMETIC_OPS:
                return False
            if op.framework == "tensor" and isinstance(node.func, cst.Attribute):
                first: cst.CSTNode | None = node.func.value
            else:
                first = positional(node, 0) or keyword(node, "x")
            return first is not None and self.derives_from(first, name, function, depth + 1)
        return False


# Operations whose result has the shape of their (first) operand.
WRITTEN_SHAPE_KEPT = frozenset({"sigmoid", "softmax", "log_softmax", "relu", "tanh", "exp", "log",
                                "square", "sqrt", "abs", "identity", "stop_gradient", "negative",
                                "softplus", "clip"})


def _literal_shape(node: cst.BaseExpression | None) -> tuple[int | None, ...] | None:
    """`[None, 13]`, `(13, 1)`, `[1]` as a shape; None for anything not written out."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    dims: list[int | None] = []
    for element in node.elements:
        value = element.value
        if isinstance(value, cst.Name) and value.value == "None":
            dims.append(None)
        elif isinstance(value, cst.Integer):
            dims.append(int(value.value, 0))
        else:
            return None
    return tuple(dims)


def broadcast(a: tuple[int | None, ...] | None, b: tuple[int | None, ...] | None
              ) -> tuple[int | None, ...] | None:
    """NumPy broadcasting of two written shapes (a dimension None matches anything)."""
    if a is None or b is None:
        return None
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    out: list[int | None] = []
    for x, y in zip(a, b, strict=True):
        out.append(y if x == 1 else x if y == 1 else x if x == y else None)
    return tuple(out)


def batch_broadcast(a: tuple[int | None, ...] | None, b: tuple[int | None, ...] | None) -> bool:
    """Whether an element-wise operation pairs a vector `(B,)` with a column `(B, 1)`: the
    result is `(B, B)`, every element of one against every element of the other."""
    if a is None or b is None:
        return False
    for vector, column in ((a, b), (b, a)):
        if len(vector) == 1 and len(column) == 2 and column[1] == 1 and vector[0] != 1:
            return True
    return False


def adaptive_optimizers_only(index: ModuleIndex) -> bool:
    """Whether the module's own training builds adaptive optimizers alone (`optim.Adam(...)`,
    `tf.train.AdamOptimizer(...)`; at least one, and no plain gradient descent): a constant
    scale of the loss does not change their steps. (`compile(optimizer="adam")` does not
    count: it trains a compiled loss, not the module's objective.)"""
    names = index.call_names
    return bool(names & ops.ADAPTIVE_OPTIMIZERS) and not names & ops.PLAIN_OPTIMIZERS
