"""Gradient flow: does a value reach another one, and through a differentiable path?

One small analysis that the gradient rules ask instead of each keeping a copy:

- `GradientFlow.blocked()`: for every differentiated value of the module (the value a loss
  function returns; in training-step code, the target of `.backward()` / `tape.gradient` /
  `minimize` / `add_loss`), whether the prediction reaches it only through non-differentiable
  operations (`argmax`, `round`, a comparison, a cast to an integer dtype, ...) or stopped ones
  (`stop_gradient`, `detach()`, `.item()`, `torch.no_grad()`). Each blocked path is reported at
  its *first* blocking node, counted from the prediction (LL203, LL205).
- `GradientFlow.depends(expr, function, sources)`: whether an expression depends on some names
  at all (LL202: is the upstream gradient used; LL204: is an `if` test a tensor).

The analysis follows local assignments (with reaching definitions, so `pred = sigmoid(pred)`
does not loop and a branch does not hide an earlier value), same-module helper calls (through a
summary per helper parameter), `with torch.no_grad()` blocks, and the operation table.
Every path counts: one differentiable path from the prediction keeps the value live, so a
straight-through estimator written with `x + stop_gradient(round(x) - x)` is quiet. The forward
of a `tf.custom_gradient` function or of a `torch.autograd.Function` is not analysed: there the
custom gradient replaces the forward's own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import NamedTuple

import libcst as cst

from ..knowledge import ops
from ..knowledge.kinds import NON_DIFFERENTIABLE
from ..knowledge.names import (
    FORWARD_METHODS,
    has_label_partner,
    is_label_name,
    is_loss_name,
    is_model_name,
    is_return_name,
    name_tokens,
    pred_like,
)
from ..knowledge.ops import META_ATTRIBUTES, SHAPE_CALLS
from . import objective
from .definitions import Body, Definition, Definitions
from .index import Function, ModuleIndex
from .losscode import LossScope, class_kind, inputs_of, tensor_params
from .tree import (
    callee_name,
    children,
    dotted,
    keyword,
    positional,
    string,
    walk,
    walk_own,
)

# The names `custom_gradient` is called by in the frameworks' tables.
_CUSTOM_GRADIENT = ops.names_of({"custom_gradient"})

STOPPING = {"stop_gradient", "item"}
# Operation kinds whose output does not depend on the values of their input at all.
NO_PATH = {"shape", "size", "arange", "ones_like", "zeros_like", "ones", "zeros", "full", "epsilon",
           "meta", "shape_assert"}
# Python builtins: those that return metadata, and those that pass values through.
BUILTIN_META = {"len", "isinstance", "hasattr", "getattr", "callable", "type", "id", "print",
                "range", "str", "repr", "issubclass", "super"}
BUILTIN_PASS = {"float", "int", "abs", "sum", "min", "max", "list", "tuple", "zip", "map",
                "enumerate", "reversed", "sorted", "dict", "iter", "next", "bool", "round"}
TRAINING_KINDS = {"backward", "tape_gradient", "minimize", "add_loss"}
class Flow(NamedTuple):
    """How a value depends on the sources: `live` (through some differentiable path), blocked
    (only through the `blockers`, the first blocking node of each path), or not at all."""

    live: bool = False
    blockers: tuple[cst.CSTNode, ...] = ()

    @property
    def reaches(self) -> bool:
        return self.live or bool(self.blockers)

    @property
    def blocked(self) -> bool:
        return not self.live and bool(self.blockers)


NONE = Flow()
LIVE = Flow(True)


def join(flows: Iterable[Flow]) -> Flow:
    blockers: list[cst.CSTNode] = []
    for flow in flows:
        if flow.live:
            return LIVE
        for node in flow.blockers:
            if all(node is not b for b in blockers):
                blockers.append(node)
    return Flow(False, tuple(blockers)) if blockers else NONE


class Blocked(NamedTuple):
    """A blocking node on every path from the prediction to a differentiated value."""

    node: cst.CSTNode
    kind: str  # "non-differentiable" or "stopped"
    what: str  # "argmax", "stop_gradient", "torch.no_grad()", "comparison", ...
    owner: cst.FunctionDef  # the function that holds the node
    root: Function  # the function whose differentiated value it blocks
    target: str  # "the returned loss", "the target of `.backward()`", ...
    sources: tuple[str, ...]  # the prediction parameters ("" when a model output)


def _frozen(call: cst.Call) -> bool:
    """`tf.Variable(coords, trainable=False)`: built with no weights to train (the data a
    physics-informed loss watches on a tape)."""
    flag = keyword(call, "trainable")
    return isinstance(flag, cst.Name) and flag.value == "False"


class _Eval:
    """Flows of one function's expressions with respect to a set of source names."""

    def __init__(self, flow: GradientFlow, function: Function, sources: frozenset[str],
                 models_live: bool) -> None:
        self.flow = weakref.proxy(flow)  # the flow owns its evaluators: no cycle
        self.index = flow.index
        self.function = function
        self.body = flow.body(function)
        self.sources = sources
        self.models_live = models_live  # a call of an unknown callable (a model) is a source
        self.params = {p.name.value for p in function.params}
        star = function.node.params.star_arg
        if isinstance(star, cst.Param):
            self.params.add(star.name.value)
        self.memo: dict[object, Flow] = {}
        self.active: set[object] = set()

    # --- entry points -----------------------------------------------------------------------
    def statement(self, expr: cst.BaseExpression, ordinal: int) -> Flow:
        """The flow of an expression evaluated at a statement, `no_grad` blocks applied."""
        result = self.value(expr, ordinal)
        nograd = self.body.nograd.get(ordinal)
        if nograd is not None and result.live:
            self.flow.note(nograd, "stopped", "torch.no_grad()", self.function)
            return Flow(False, (nograd,))
        return result

    def returned(self, position: int | None = None) -> Flow:
        flows = []
        for ret, ordinal in self.body.returns:
            value = ret.value
            if value is None:
                continue
            if position is not None and isinstance(value, (cst.Tuple, cst.List)) and all(
                    isinstance(e, cst.Element) for e in value.elements) and \
                    position < len(value.elements):
                value = value.elements[position].value
            flows.append(self.statement(value, ordinal))
        return join(flows)

    # --- evaluation -------------------------------------------------------------------------
    def value(self, node: cst.CSTNode, at: int) -> Flow:
        return self._memoized(id(node), lambda: self._value(node, at))

    def _memoized(self, key: object, compute: Callable[[], Flow]) -> Flow:
        """`compute()` once per key; NONE for a key already being computed (a cycle)."""
        found = self.memo.get(key)
        if found is not None:
            return found
        if key in self.active:
            return NONE
        self.active.add(key)
        try:
            result = compute()
        finally:
            self.active.discard(key)
        self.memo[key] = result
        return result

    def _value(self, node: cst.CSTNode, at: int) -> Flow:
        if isinstance(node, cst.Name):
            if node.value in ("None", "True", "False"):
                return NONE
            return self.name(node.value, at)
        if isinstance(node, (cst.BaseNumber, cst.BaseString)):
            return NONE
        if isinstance(node, cst.Attribute):
            if node.attr.value in META_ATTRIBUTES:
                return NONE
            return self.value(node.value, at)
        if isinstance(node, cst.Subscript):
            return self.value(node.value, at)
        if isinstance(node, cst.Comparison):
            if all(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn))
                   for c in node.comparisons):
                return NONE
            inner = join([self.value(node.left, at),
                          *(self.value(c.comparator, at) for c in node.comparisons)])
            return self.block(inner, node, "non-differentiable", "comparison")
        if isinstance(node, cst.IfExp):
            return join([self.value(node.body, at), self.value(node.orelse, at)])
        if isinstance(node, cst.Call):
            return self.call(node, at)
        if isinstance(node, cst.Lambda):
            return self.value(node.body, at)  # `tf.cond(c, lambda: a, lambda: b)`
        if isinstance(node, cst.FunctionDef):
            return NONE
        return join(self.value(child, at) for child in children(node))

    def block(self, inner: Flow, node: cst.CSTNode, kind: str, what: str) -> Flow:
        if not inner.live:
            return inner
        self.flow.note(node, kind, what, self.function)
        return Flow(False, (node,))

    def name(self, name: str, at: int) -> Flow:
        return self._memoized((name, at), lambda: self._name(name, at))

    def _name(self, name: str, at: int) -> Flow:
        defs, entry = self.body.reaching(name, at)
        flows = [self.definition(d) for d in defs]
        if entry:
            flows.append(LIVE if name in self.sources and name in self.params else NONE)
        return join(flows)

    def definition(self, d: Definition) -> Flow:
        if d.kind == "function" and isinstance(d.node, cst.FunctionDef):
            # a nested function read as a value (`tf.cond(c, f1, f2)`): what it returns, from
            # the names of this body it closes over
            return join(self.value(n.value, d.ordinal) for n in walk_own(d.node.body)
                        if isinstance(n, cst.Return) and n.value is not None)
        if d.value is None:
            return NONE
        if d.kind == "assign" and is_label_name(d.name) and self._part_of_input(d):
            return NONE  # `y_true = args[n:]`, `x, y_true = batch`: the labels of the input
        if d.kind == "aug":
            result = join([self.name(d.name, d.ordinal), self.value(d.value, d.ordinal)])
        elif d.position is not None and d.kind == "assign":
            result = self.element(d.value, d.position, d.ordinal)
        else:
            result = self.value(d.value, d.ordinal)
        nograd = self.body.nograd.get(d.ordinal)
        if nograd is not None and result.live:
            self.flow.note(nograd, "stopped", "torch.no_grad()", self.function)
            return Flow(False, (nograd,))
        return result

    def _part_of_input(self, d: Definition) -> bool:
        """Whether a definition takes a slice or an element of a parameter (`args[n:]`,
        `inputs[1]`, `x, y = batch`): its name says which part it is."""
        value: cst.BaseExpression | None = d.value
        if d.position is not None and isinstance(value, (cst.Tuple, cst.List)):
            elements = value.elements
            value = elements[d.position].value if d.position < len(elements) else None
        elif d.position is not None:  # `x, y = batch`
            return isinstance(value, cst.Name) and value.value in self.params
        if not isinstance(value, cst.Subscript):
            return False
        while isinstance(value, cst.Subscript):
            value = value.value
        return isinstance(value, cst.Name) and value.value in self.params

    def element(self, value: cst.BaseExpression, position: int, at: int) -> Flow:
        """The flow of element `position` of a value unpacked into a tuple of names."""
        if isinstance(value, (cst.Tuple, cst.List)) and all(
                isinstance(e, cst.Element) for e in value.elements) and \
                position < len(value.elements):
            return self.value(value.elements[position].value, at)
        if isinstance(value, cst.Call) and self.index.op_of(value) is None:
            callee = self.flow.module_function(self.function, value)
            if callee is not None and not self.flow.is_custom_gradient(callee):
                return self.apply(callee, value, at, position)
        return self.value(value, at)

    def call(self, node: cst.Call, at: int) -> Flow:
        op = self.index.op_of(node)
        if op is not None:
            kind = op.kind
            if kind in NO_PATH or op.framework == "numpy":
                return NONE  # NumPy records no graph: what it computes is never differentiated
            operands = [a.value for a in node.args]
            if op.framework == "tensor" and isinstance(node.func, cst.Attribute):
                operands.insert(0, node.func.value)
            inner = join(self.value(o, at) for o in operands)
            if kind in NON_DIFFERENTIABLE:
                return self.block(inner, node, "non-differentiable", kind)
            if kind in STOPPING:
                return self.block(inner, node, "stopped",
                                  "item()" if kind == "item" else _callee_text(node))
            if kind in ("cast", "int_cast") or (op.framework == "tensor" and op.name == "to"):
                if kind == "int_cast" or _integer_cast(node, op):
                    return self.block(inner, node, "non-differentiable", "cast")
            return inner
        func = node.func
        args = [a.value for a in node.args]
        callee = self.flow.module_function(self.function, node)
        if callee is not None:
            if self.flow.is_custom_gradient(callee):
                return join(self.value(a, at) for a in args)
            return self.apply(callee, node, at)
        if callee_name(func).rpartition(".")[2] in SHAPE_CALLS:
            return NONE  # `Z.int_shape(z)`: a static shape
        if isinstance(func, cst.Name) and func.value in BUILTIN_META and \
                func.value not in self.body.defs:
            return NONE
        if isinstance(func, cst.Name) and func.value in BUILTIN_PASS and \
                func.value not in self.body.defs:
            return join(self.value(a, at) for a in args)
        if self.flow.framework_callable(self.function, func) or _frozen(node):
            return join(self.value(a, at) for a in args)
        if isinstance(func, cst.Attribute) and func.attr.value in ops.MODEL_DRIVERS and \
                callee_name(func.value) != "self":
            return NONE  # `model.predict(x)`: Keras returns NumPy arrays, with no graph
        if isinstance(func, cst.Attribute):
            receiver = self.value(func.value, at)
            if receiver.reaches:  # a method of a tensor
                return join([receiver, *(self.value(a, at) for a in args)])
        if isinstance(func, cst.Name) and func.value not in self.body.defs and \
                class_kind(self.index, func.value) in ("module", "loss"):
            return NONE  # `ContentLoss(target)`: a layer or loss built, no value computed
        if at in self.body.nograd:
            return NONE  # a model evaluated under `no_grad`: there is no graph to stop
        if self.models_live:
            return LIVE  # a model, a layer or a callable we cannot see: it may hold weights
        return join(self.value(a, at) for a in args)

    def apply(self, callee: Function, node: cst.Call, at: int,
              position: int | None = None) -> Flow:
        """A call of a module function: the callee's summary per parameter, composed (for
        element `position` of the tuple it returns, when given)."""
        params = [p.name.value for p in callee.positional_params]
        if callee.cls is not None and params and params[0] in ("self", "cls"):
            params = params[1:]
        flows = [self.flow.summary(callee, None, self.models_live, position)]
        index = 0
        for arg in node.args:
            arg_flow = self.value(arg.value, at)
            if not arg_flow.reaches:
                if arg.keyword is None and not arg.star:
                    index += 1
                continue
            if arg.star:
                flows.append(arg_flow)
                continue
            if arg.keyword is not None:
                param = arg.keyword.value
            else:
                param = params[index] if index < len(params) else None
                index += 1
            if param is None:
                flows.append(arg_flow)
                continue
            summary = self.flow.summary(callee, param, self.models_live, position)
            if not summary.reaches:
                continue
            flows.append(summary if arg_flow.live else Flow(False, arg_flow.blockers))
        return join(flows)


def _callee_text(node: cst.Call) -> str:
    name = dotted(node.func) or ""
    return name.rpartition(".")[2] + "()" if name else "stop_gradient"


def _integer_cast(node: cst.Call, op: ops.Op) -> bool:
    dtype = keyword(node, "dtype")
    if dtype is None:
        dtype = positional(node, 0 if op.framework == "tensor" else 1)
    if dtype is None:
        return False
    text = string(dtype)
    if text is None:
        text = dotted(dtype)
    if text is None:
        return False
    return text.rpartition(".")[2] in ops.INTEGER_DTYPES


class GradientFlow:
    """The gradient-flow questions of one module, answered lazily and cached."""

    def __init__(self, index: ModuleIndex, scope: LossScope, loss_names: tuple[str, ...] = (),
                 all_code: bool = False, definitions: Definitions | None = None) -> None:
        self.index = index
        self.definitions = definitions if definitions is not None else Definitions(index)
        self.scope = scope
        self.loss_names = loss_names
        self.all_code = all_code
        self._evals: dict[tuple[int, frozenset[str], bool], _Eval] = {}
        self._summaries: dict[tuple[int, str | None, bool, int | None], Flow] = {}
        self._summary_active: set[tuple[int, str | None, bool, int | None]] = set()
        self._notes: dict[int, tuple[str, str, Function]] = {}
        self._blocked: dict[int, list[Blocked]] | None = None
        self._custom: set[int] | None = None
        self._loss_functions: set[int] | None = None
        self._jax_argnums: dict[str, tuple[int, ...]] | None = None

    # --- building blocks --------------------------------------------------------------------
    def body(self, function: Function) -> Body:
        return self.definitions.body(function)

    def evaluator(self, function: Function, sources: Iterable[str],
                  models_live: bool = False) -> _Eval:
        frozen = frozenset(sources)
        key = (id(function.node), frozen, models_live)
        found = self._evals.get(key)
        if found is None:
            found = _Eval(self, function, frozen, models_live)
            self._evals[key] = found
        return found

    def note(self, node: cst.CSTNode, kind: str, what: str, function: Function) -> None:
        self._notes.setdefault(id(node), (kind, what, function))

    def summary(self, callee: Function, param: str | None, models_live: bool,
                position: int | None = None) -> Flow:
        """How a helper's returned value (or element `position` of it) depends on `param`."""
        key = (id(callee.node), param, models_live, position)
        found = self._summaries.get(key)
        if found is not None:
            return found
        if key in self._summary_active:
            return NONE
        self._summary_active.add(key)
        try:
            sources = () if param is None else (param,)
            result = self.evaluator(callee, sources, models_live).returned(position)
        finally:
            self._summary_active.discard(key)
        self._summaries[key] = result
        return result

    def module_function(self, caller: Function, call: cst.Call) -> Function | None:
        """The function of this module a call invokes (a nested, module-level or `self.` one)."""
        func = call.func
        if isinstance(func, cst.Name):
            scope_fn: Function | None = caller
            while scope_fn is not None:
                if func.value in scope_fn.nested:
                    return scope_fn.nested[func.value]
                scope_fn = scope_fn.parent
            for candidate in self.index.by_name.get(func.value, ()):
                if candidate.cls is None and candidate.parent is None:
                    return candidate
            return None
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self":
            owner = caller
            while owner is not None and owner.cls is None:
                owner = owner.parent
            if owner is not None and owner.cls is not None:
                method = owner.cls.methods.get(func.attr.value)
                # An abstract method says nothing of what the subclasses return.
                return None if method is None or _abstract(method) else method
        return None

    def framework_callable(self, function: Function, func: cst.BaseExpression) -> bool:
        """A framework function (`tf.keras.losses.mse`) or a framework loss object
        (`mse = tf.keras.losses.MeanSquaredError()`): no weights of its own."""
        qualified = self.index.resolve(func)
        if qualified is not None:
            return qualified.split(".")[0] in ops.FRAMEWORK_ROOTS and (
                qualified.rpartition(".")[2][:1].islower() or
                ops.framework_loss(qualified) is not None)
        constructor: cst.CSTNode | None = None
        if isinstance(func, cst.Call):
            constructor = func
        elif isinstance(func, cst.Name):
            defs = self.body(function).defs.get(func.value)
            if defs:
                constructor = defs[-1].value
            else:
                constructor = self.index.constants.get(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self" and function.cls is not None:
            constructor = function.cls.init_values.get(func.attr.value)
        if isinstance(constructor, cst.Call):
            qualified = self.index.resolve(constructor.func)
            return qualified is not None and ops.framework_loss(qualified) is not None
        return False

    # --- custom gradients -------------------------------------------------------------------
    def custom_gradient_functions(self) -> set[int]:
        """ids of functions decorated with, or passed to, `tf.custom_gradient`."""
        if self._custom is None:
            found = {id(f.node) for f in self.index.functions
                     if any(d.endswith("custom_gradient") for d in f.decorators)}
            if self.index.calls_any(_CUSTOM_GRADIENT):
                for node in walk(self.index.module):
                    if type(node) is not cst.Call:
                        continue
                    op = self.index.op_of(node)
                    if op is None or op.kind != "custom_gradient":
                        continue
                    target = positional(node, 0)
                    if isinstance(target, cst.Name):
                        for candidate in self.index.by_name.get(target.value, ()):
                            found.add(id(candidate.node))
            self._custom = found
        return self._custom

    def is_custom_gradient(self, function: Function) -> bool:
        return id(function.node) in self.custom_gradient_functions()

    def autograd_method(self, function: Function) -> bool:
        return function.cls is not None and \
            class_kind(self.index, function.cls.name) == "autograd"

    def straight_through(self, function: Function) -> bool:
        """Inside the forward of a custom gradient: its own gradient does not matter."""
        current: Function | None = function
        while current is not None:
            if self.is_custom_gradient(current) or self.autograd_method(current):
                return True
            current = current.parent
        return False

    def without_gradient(self, function: Function) -> bool:
        """Declared to run without a graph: decorated with `@torch.no_grad()` (DETR's
        `loss_cardinality` logs an argmax-based error that is never differentiated); or
        computed in NumPy alone (an evaluation `dice(a, b)` on label arrays), which records no
        graph at all."""
        if objective.declared_graphless(function.decorators):
            return True
        return self.index.numpy_only(function.node.body)

    def routes_gradients_by_hand(self, function: Function) -> bool:
        """The function, or the class that holds it, registers a gradient hook
        (`t.register_hook(...)`): gradients reach the model through the hook (the GradCache
        pattern returns a detached leaf on purpose), not through the returned graph."""
        owners = [function] if function.cls is None else list(function.cls.methods.values())
        return any("register_hook" in owner.calls
                   or any(method == "register_hook" for _, method in owner.instance_calls)
                   for owner in owners)

    def trains_own_state(self, function: Function,
                         targets: list[tuple[cst.BaseExpression, int, str]],
                         sources: tuple[str, ...]) -> bool:
        """A method whose differentiated value still depends on the object's own state
        (`self.log_alpha * stop_gradient(log_pi + target)`: SAC's temperature loss) through a
        differentiable path: the stop is deliberate, the loss trains that state."""
        params = [p.name.value for p in function.params]
        if not params or params[0] != "self":
            return False
        evaluator = self.evaluator(function, (*sources, "self"), models_live=True)
        return any(evaluator.statement(e, o).live for e, o, _ in targets)

    # --- questions --------------------------------------------------------------------------
    def depends(self, expr: cst.BaseExpression, function: Function, ordinal: int,
                sources: Iterable[str]) -> bool:
        """Whether `expr` (at statement `ordinal` of `function`) depends on the `sources`."""
        return self.evaluator(function, sources).value(expr, ordinal).reaches

    def carries_gradient(self, expr: cst.BaseExpression, function: Function | None,
                         ordinal: int | None = None) -> bool:
        """Whether `expr` (at statement `ordinal` of `function`; found from the tree when not
        given) can carry a gradient: it depends, through a differentiable path, on a prediction
        parameter (`predictions`) or on a model output (a call of a callable we cannot see).
        A value built from labels, masks or weights alone (`tf.math.log(targets)`), or only
        through `stop_gradient`/`argmax`, is never differentiated. Unsure answers are True:
        module-level code, and a nested function reading its enclosing function's values."""
        if function is None:
            return True
        body = self.body(function)
        if ordinal is None:
            ordinal = body.ordinal_of(expr)
        if ordinal is not None and ordinal in body.nograd:
            return False  # computed under `torch.no_grad()`: no graph is recorded
        sources = self.predictions(function)
        if self.runs_own_model(function):
            # `compute_loss(self, done, new_state, memory)` calls `self.model(...)` itself: its
            # parameters are the data it runs the model on, unless named as predictions
            sources = tuple(name for name in sources if pred_like(name))
        if self.evaluator(function, sources, models_live=True).value(expr, ordinal).live:
            return True
        if function.parent is None:
            return False
        params = {p.name.value for p in function.params}
        return any(type(n) is cst.Name and n.value not in body.defs and n.value not in params
                   and not is_label_name(n.value) and self._bound_outside(function, n.value)
                   for n in walk(expr))

    def runs_own_model(self, function: Function) -> bool:
        """Whether a method calls a model it holds: `self.model(x)` (named as a model), or
        `self.client(states)` with `self.client = ActorCritic(...)` a model class of the
        module; or, in a model class (no loss class), the class's own forward
        (`self.evaluate(coords)` in a physics-informed net's `loss_PDE`)."""
        cls = function.cls
        if cls is None:
            return False
        model_class = class_kind(self.index, cls.name) == "module" and \
            not is_loss_name(cls.name)
        for call, _ in self.body(function).calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and
                    func.value.value == "self"):
                continue
            method = func.attr.value
            built = cls.init_values.get(method)
            built_by = dotted(built.func) if isinstance(built, cst.Call) else None
            if is_model_name(method) or built_by is not None and \
                    class_kind(self.index, built_by) == "module":
                return True
            if model_class and method in FORWARD_METHODS and method in cls.methods and \
                    method != function.name:
                return True
        return False

    def _bound_outside(self, function: Function, name: str) -> bool:
        """Whether an enclosing function binds `name` (a closure reads it)."""
        outer = function.parent
        while outer is not None:
            if name in self.body(outer).defs or any(p.name.value == name for p in outer.params):
                return True
            outer = outer.parent
        return False

    def predictions(self, function: Function) -> tuple[str, ...]:
        """The prediction parameters of loss code: tensor inputs that are not labels, masks
        or weights. A function handed to `jax.grad` is differentiated with respect to its
        `argnums` parameters only (the first by default: SAC's `alpha_loss(log_alpha, ...)`)."""
        argnums = self.jax_argnums().get(function.name)
        if argnums is not None:
            params = [p.name.value for p in function.params if p.name.value not in ("self",
                                                                                      "cls")]
            return tuple(params[i] for i in argnums if i < len(params))
        names = []
        params = [p.name.value for p in function.params]
        for name in sorted(inputs_of(function) | tensor_params(self.index, function)):
            if is_label_name(name) and not has_label_partner(name, params) or \
                    is_loss_name(name) or is_return_name(name):
                continue  # labels, masks, weights, returns; a `loss` parameter is a loss
            names.append(name)
        return tuple(names)

    def jax_argnums(self) -> dict[str, tuple[int, ...]]:
        """The functions handed to `jax.grad` / `jax.value_and_grad`, by name: the positions
        of the arguments each is differentiated with respect to (`argnums`, 0 by default)."""
        if self._jax_argnums is None:
            found: dict[str, tuple[int, ...]] = {}
            for call in self.index.grad_calls:
                op = self.index.op_of(call)
                if op is None or op.kind != "gradients" or op.framework != "jax":
                    continue
                fn = positional(call, 0) or keyword(call, "fun")
                name = fn.attr.value if isinstance(fn, cst.Attribute) else \
                    fn.value if isinstance(fn, cst.Name) else None
                argnums = keyword(call, "argnums") or cst.Integer("0")
                values = [e.value for e in argnums.elements] \
                    if isinstance(argnums, cst.Tuple) else [argnums]
                if name is not None and all(isinstance(v, cst.Integer) for v in values):
                    found[name] = tuple(int(v.value) for v in values)  # type: ignore[attr-defined]
            self._jax_argnums = found
        return self._jax_argnums

    def returns_loss(self, function: Function) -> bool:
        """A function whose return value is differentiated: a loss by its own name, one handed
        to Keras, or the `call`/`forward` of a loss class (not a helper it calls)."""
        if name_tokens(function.name)[:1] in (("is",), ("has",), ("should",), ("use",)):
            return False  # a predicate about a loss (`is_categorical_crossentropy`)
        if self.all_code or is_loss_name(function.name, self.loss_names):
            return True
        if function.cls is None and function.parent is None and \
                function.name in self.index.loss_args:
            return True
        if function.cls is not None and function.name in ("call", "__call__", "forward"):
            return class_kind(self.index, function.cls.name) == "loss"
        return False

    def loss_functions(self) -> set[int]:
        """ids of the loss functions proper (`returns_loss`) and the module functions they call
        or define, transitively: loss code without model `call`s and training steps."""
        if self._loss_functions is None:
            found: set[int] = set()
            pending = [f for f in self.index.functions
                       if self.scope.contains(f) and self.returns_loss(f)]
            while pending:
                function = pending.pop()
                if id(function.node) in found:
                    continue
                found.add(id(function.node))
                pending.extend(function.nested.values())
                for name in function.calls:
                    if function.cls is not None and name in function.cls.methods:
                        pending.append(function.cls.methods[name])
                    outer: Function | None = function
                    while outer is not None:
                        if name in outer.nested:
                            pending.append(outer.nested[name])
                        outer = outer.parent
                    pending.extend(c for c in self.index.by_name.get(name, ())
                                   if c.cls is None and c.parent is None)
            self._loss_functions = found
        return self._loss_functions

    def targets(self, function: Function) -> list[tuple[cst.BaseExpression, int, str]]:
        """The differentiated values of a function: (expression, statement, description)."""
        body = self.body(function)
        found = []
        for call, ordinal in body.calls:
            op = self.index.op_of(call)
            if op is None or op.kind not in TRAINING_KINDS:
                continue
            if op.kind == "backward":
                if isinstance(call.func, cst.Attribute):
                    found.append((call.func.value, ordinal, "the target of `.backward()`"))
                continue
            target = positional(call, 0) or keyword(call, "target") or keyword(call, "loss") \
                or keyword(call, "losses")
            if target is not None:
                label = {"tape_gradient": "`tape.gradient`", "minimize": "`minimize`",
                         "add_loss": "`add_loss`"}[op.kind]
                found.append((target, ordinal, f"the target of {label}"))
        if found:
            return found
        if self.returns_loss(function):
            return [(r.value, o, f"the loss `{function.qualname}` returns")
                    for r, o in body.returns if r.value is not None]
        return []

    def blocked(self) -> dict[int, list[Blocked]]:
        """Blocking nodes on every path to a differentiated value, by id of the FunctionDef
        that holds them."""
        if self._blocked is not None:
            return self._blocked
        result: dict[int, list[Blocked]] = {}
        seen: set[int] = set()
        for function in self.index.functions:
            if not self.scope.contains(function) or self.straight_through(function) or \
                    self.without_gradient(function) or \
                    objective.reports(function.node, self.index.detaches):
                continue
            targets = self.targets(function)
            if not targets:
                continue
            sources = self.predictions(function)
            training = not targets[0][2].startswith("the loss")
            evaluator = self.evaluator(function, sources, models_live=training)
            flows = [(evaluator.statement(e, o), label) for e, o, label in targets]
            if any(flow.blocked for flow, _ in flows) and (
                    self.routes_gradients_by_hand(function)
                    or self.trains_own_state(function, targets, sources)):
                continue
            for flow, label in flows:
                if not flow.blocked:
                    continue
                if label.startswith("the loss") and any(f.live for f, _ in flows):
                    continue  # another return path is live
                for node in flow.blockers:
                    note = self._notes.get(id(node))
                    if note is None or id(node) in seen:
                        continue
                    seen.add(id(node))
                    kind, what, owner = note
                    result.setdefault(id(owner.node), []).append(Blocked(
                        node, kind, what, owner.node, function, label,
                        () if training else sources))  # a step: the model output
        self._blocked = result
        return result


def _abstract(function: Function) -> bool:
    """Declared `@abstractmethod`, or a body that only raises (`NotImplementedError`)."""
    if any(d.rpartition(".")[2] == "abstractmethod" for d in function.decorators):
        return True
    body = function.node.body
    statements = [s for s in body.body if not (
        isinstance(s, cst.SimpleStatementLine) and all(
            isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString)
            for small in s.body))] if isinstance(body, cst.IndentedBlock) else []
    return len(statements) == 1 and isinstance(statements[0], cst.SimpleStatementLine) and \
        all(isinstance(small, cst.Raise) for small in statements[0].body)
