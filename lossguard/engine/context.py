"""What a rule may ask while it visits one module: the context the walk keeps (the function
being visited, whether it is loss code, the environment of facts of the names assigned so far)
and the module's analyses, built once per file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import libcst as cst

from ..analysis import facts, objective
from ..analysis import losscode as scope_mod
from ..analysis.definitions import Definitions, self_attribute
from ..analysis.evaluator import Env, Evaluator, input_fact, named_fact
from ..analysis.facts import Fact, Reason
from ..analysis.gradient_flow import GradientFlow
from ..analysis.index import Function, ModuleIndex, build
from ..analysis.reductions import Reduction, Shapes
from ..analysis.tree import argument, assigned_names, code, leaves, shorten, walk
from ..api import Replace, Rule, Severity
from ..knowledge import ops
from ..knowledge.kinds import DETACHING, NAN_BLOCKING, NON_DIFFERENTIABLE, WITH_INDICES
from ..knowledge.names import INPUT_NAMES
from ..knowledge.ops import Op

# Operations that record no graph for their operand or for the code they wrap.


class Options(NamedTuple):
    """What changes the result of linting one file."""

    all_code: bool = False
    loss_names: tuple[str, ...] = ()


class _Report(NamedTuple):
    """A finding as a rule reports it, before its position is known."""

    rule: type[Rule]  # the class: an instance would make a cycle through the context
    node: cst.CSTNode
    statement: int  # index of the enclosing top-level statement
    message: str
    hint: str
    fix: Replace | None
    severity: Severity
    function: str | None


@dataclass
class _Frame:
    """The function being visited (None: the module), its scope and whether it is loss code."""

    function: Function | None
    env: Env
    loss: bool
    inputs: set[str] = field(default_factory=set)


class FileContext:
    """What a rule may ask while it visits one module."""

    def __init__(self, path: str, source: str, module: cst.Module, options: Options,
                 marked: frozenset[type] = frozenset()) -> None:
        """`marked`: the node classes the rule walk visits (see `index.build`)."""
        self.path = path
        self.source = source
        self.module = module
        self.options = options
        self.index: ModuleIndex = build(module, marked)
        self.scope = scope_mod.compute(self.index, options.loss_names,
                                       options.all_code, path)
        self.definitions = Definitions(self.index)
        self.evaluator = Evaluator(self.index, definitions=self.definitions)
        self.shapes = Shapes(self.index, self.definitions)
        self._flow: GradientFlow | None = None
        self.frames: list[_Frame] = [_Frame(None, self.evaluator.module_env, False)]
        self.statement = 0
        self.module_loss_statement = False
        # open `with GradientTape()` blocks and module-level loss statements nested in a block
        self.loss_depth = 0
        self.reports: list[_Report] = []
        self.memo: dict[str, object] = {}  # module-wide answers an analysis computes once
        self._made: list[cst.CSTNode] = []  # nodes made here: kept so their ids stay theirs
        self._branches: list[_Branch] = []  # the `if` statements being walked, innermost last

    # --- questions --------------------------------------------------------------------------
    @property
    def function(self) -> Function | None:
        """The innermost function being visited (None at module level)."""
        return self.frames[-1].function

    @property
    def in_loss_code(self) -> bool:
        return self.frames[-1].loss or self.module_loss_statement or (
            self.loss_depth > 0)

    @property
    def env(self) -> Env:
        return self.frames[-1].env

    @property
    def inputs(self) -> set[str]:
        """Tensor parameters of the loss function being visited."""
        return self.frames[-1].inputs

    def op(self, call: cst.Call) -> Op | None:
        return self.index.op_of(call)

    def kind(self, node: cst.CSTNode) -> str | None:
        """The operation kind of a call node ("log", "sum", ...), else None."""
        if type(node) is cst.Call:
            op = self.index.op_of(node)
            return op.kind if op else None
        return None

    def operand(self, call: cst.Call, index: int = 0, name: str = "x") -> cst.BaseExpression | None:
        return self.evaluator.operand(call, index, name)

    def compared(self, test: cst.BaseExpression
                 ) -> tuple[cst.BaseExpression, str, cst.BaseExpression] | None:
        return self.evaluator.compared(test)

    def fact(self, node: cst.CSTNode) -> Fact:
        return self.evaluator.fact(node, self.env)

    def reads_log_scale(self, node: cst.CSTNode) -> bool:
        return self.evaluator.reads_log_scale(node)

    def value_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """Follow definitions: the expression a name (or `self.x`) holds where it is read (see
        `Definitions.value`), again while that is a name, else the node."""
        for _ in range(20):
            value = self.definitions.value(node, self.function)
            if value is None:
                break
            node = value
        return node

    def resolve(self, node: cst.CSTNode) -> str | None:
        return self.index.resolve(node)

    def reduction(self, node: cst.CSTNode) -> Reduction:
        """How reduced the value of `node` is (scalar, per-sample, element-wise, unknown)."""
        return self.shapes.reduction(node, self.function)

    def is_keras_loss(self, function: Function | None) -> bool:
        return function is not None and id(function.node) in self.scope.keras_losses

    @property
    def flow(self) -> GradientFlow:
        """The gradient-flow analysis of the module (built on first use)."""
        if self._flow is None:
            self._flow = GradientFlow(self.index, self.scope, self.options.loss_names,
                                      self.options.all_code, self.definitions)
        return self._flow

    @staticmethod
    def text(node: cst.CSTNode) -> str:
        return code(node)

    def explain(self, reason: Reason | None) -> str:
        """"`y_true` is an input and can be 0" for a reason."""
        if reason is None:
            return ""
        return f"`{shorten(code(cast(cst.CSTNode, reason.node)))}` {reason.why}"

    def argument(self, call: cst.Call, index: int, name: str) -> cst.BaseExpression | None:
        return argument(call, index, name)

    # --- reporting --------------------------------------------------------------------------
    def report(self, rule: Rule, node: cst.CSTNode, message: str, *, hint: str,
               fix: Replace | None, severity: Severity | None,
               gradient_only: bool | None = None) -> None:
        function = self.function
        if rule.objective and function is not None and (
                id(node) in self.unreached(function) or self._result_dropped(function)):
            return
        if gradient_only is None:
            gradient_only = rule.gradient_only
        if gradient_only and function is not None and (
                objective.declared_graphless(function.decorators)
                or id(node) in self._graphless(function)
                or id(node) in self.unreached(function, gradient=True)
                or self._result_dropped(function, gradient=True)
                or not self._differentiated(node, function)):
            return
        self.reports.append(_Report(type(rule), node, self.statement, message, hint, fix,
                                    severity or rule.severity,
                                    function.qualname if function else None))

    def _differentiated(self, node: cst.CSTNode, function: Function) -> bool:
        """Whether the value at fault can carry a gradient: a gradient-only hazard of a value
        built from NumPy, labels or returns alone (replay priorities, `returns.std()`) never
        meets a backward pass."""
        return not isinstance(node, cst.BaseExpression) or \
            self.flow.carries_gradient(node, function)

    def unreached(self, function: Function, *, gradient: bool = False) -> frozenset[int]:
        """The nodes of `function` whose values never reach its objective (with `gradient`:
        never with their gradient), computed once, and only for a function where a rule
        reports."""
        key = f"unreached:{gradient}:{id(function.node)}"
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = objective.unreached(
                function.node, self.definitions.body(function), self.index.detaches,
                cut=self._passes_no_gradient if gradient else self._passes_no_nan,
                indexing=self._keeps_indices,
                aux=function.parent is None and self.index.returns_aux(function.name))
        return found  # type: ignore[return-value]

    def _result_dropped(self, function: Function, *, gradient: bool = False) -> bool:
        """Whether `function` is a module helper whose result no caller's objective reaches: it
        is called in this module (once at least), only by other loss code (a test that checks
        its value is no use of it), and each call is a value its caller never returns or acts
        on (`iou = box_iou(pred, true)`, then read only by `best_iou < ignore_thresh`). Not a
        function handed to a framework as a loss."""
        sites = self.index.call_sites.get(function.name)
        if not sites or function.parent is not None or function.name in self.index.loss_args:
            return False
        for call, caller in sites:
            if caller is None or caller is function or not self.scope.contains(caller) or \
                    id(call) not in self.unreached(caller, gradient=gradient):
                return False
        return True

    def _graphless(self, function: Function) -> frozenset[int]:
        """The nodes of `function` under a block that records no graph (`torch.no_grad()`)."""
        key = f"graphless:{id(function.node)}"
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = objective.graphless(function.node, self.index.detaches)
        return found  # type: ignore[return-value]

    def _passes_no_gradient(self, call: cst.Call) -> bool:
        """A call whose result carries no gradient back to its operands: a detaching one, or
        a non-differentiable operation (`argmax`, a comparison, `round`)."""
        op = self.op(call)
        return op is not None and (op.kind in DETACHING or op.kind in NON_DIFFERENTIABLE
                                   or op.kind in NAN_BLOCKING)

    def _passes_no_nan(self, call: cst.Call) -> bool:
        """A call whose result a NaN operand cannot make NaN: an index or a truth value
        (`argmax`, a comparison) or the shape of its operand."""
        op = self.op(call)
        return op is not None and op.kind in NAN_BLOCKING

    def _keeps_indices(self, call: cst.Call) -> bool:
        """A call that returns values and their indices (`topk`, `sort`, `max` along an axis)."""
        op = self.op(call)
        return op is not None and op.kind in WITH_INDICES

    # --- environment upkeep, called by the walk -----------------------------------------------
    def enter_function(self, node: cst.FunctionDef) -> None:
        function = self.index.function_of.get(id(node))
        loss = self.scope.contains(function)
        parent = self.frames[-1].env
        if function is not None and loss:
            model = id(function.node) in self.scope.model_code
            inputs = scope_mod.inputs_of(function, model=model, index=self.index)
            env = self.evaluator.function_env(function, inputs, parent, model=model)
        else:  # assignments are not followed here: its locals hide the module's names
            inputs = set()
            env = Env(parent, shadows=function.assigned if function is not None else frozenset())
        self.frames.append(_Frame(function, env, loss, inputs))

    def leave_function(self) -> None:
        self.frames.pop()

    def bind_loop_target(self, target: cst.BaseExpression) -> None:
        """`for x, y in loader:`: a loop variable named like a loss input (`inputs`, `labels`,
        `targets`, `x`, `y`) holds a batch of data, with the facts of a parameter of that name;
        any other holds a value nothing is known of."""
        bound = set(assigned_names(target))
        for name_node in walk(target):
            if isinstance(name_node, cst.Name) and name_node.value in bound:
                known = name_node.value in INPUT_NAMES
                self.env.bind(name_node.value, input_fact(name_node.value, name_node)
                              if known else Fact())

    # `if`/`elif`/`else`: each branch starts from the names as they were before the `if`, and
    # after it a name holds what either branch left (a branch that returns leaves nothing). An
    # `if` without `else` is taken to run, as a configured guard does (`if clip: p = clamp(p)`).
    def enter_if(self, node: cst.If) -> None:
        if self._branches and self._branches[-1].node.orelse is node:
            self._other_branch(self._branches[-1])  # an `elif`
        self._branches.append(_Branch(node, self.env, _snapshot(self.env), leaves(node.body)))
        self._assume(node.test, holds=True)

    def enter_else(self, node: cst.Else) -> None:
        if self._branches and self._branches[-1].node.orelse is node:
            self._other_branch(self._branches[-1])

    def leave_if(self, node: cst.If) -> None:
        branch = self._branches.pop()
        if branch.node is not node:  # never: the walk nests them
            return
        env = branch.env
        if branch.body is None:  # no `else`: what the body left, unless it returned
            if branch.body_leaves:
                _restore(env, branch.before)
                self._assume(node.test, holds=False)  # (what follows runs where it fails)
            return
        body, orelse = branch.body, _snapshot(env)
        if branch.body_leaves:
            body = orelse
        elif isinstance(node.orelse, cst.Else) and leaves(node.orelse.body):
            orelse = body
        _restore(env, _joined(env, body, orelse))

    def _other_branch(self, branch: _Branch) -> None:
        branch.body = _snapshot(branch.env)
        _restore(branch.env, branch.before)
        self._assume(branch.node.test, holds=False)

    def _assume(self, test: cst.BaseExpression, *, holds: bool) -> None:
        """Bind what the branch about to run learns from its test (`Evaluator.assumed`)."""
        learned = self.evaluator.assumed(test, self.env, holds=holds)
        if learned is not None:
            self.env.bind(*learned)

    def bind_in_place(self, call: cst.BaseExpression) -> None:
        """`p.clamp_(1e-7, 1 - 1e-7)` as a statement: `p` now holds `p.clamp(1e-7, 1 - 1e-7)`;
        so after `p.data.clamp_(...)` (in place on the tensor's data)."""
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
            return
        receiver = call.func.value
        if isinstance(receiver, cst.Attribute) and receiver.attr.value == "data":
            receiver = receiver.value
        base = ops.in_place(call.func.attr.value)
        if base is None or not isinstance(receiver, cst.Name):
            return
        computed = call.with_changes(func=call.func.with_changes(attr=cst.Name(base)))
        self._made.append(computed)
        self.bind([receiver], computed)

    def bind(self, targets: Iterable[cst.BaseExpression], value: cst.BaseExpression | None) -> None:
        fact = self.fact(value) if value is not None else Fact()
        for target in targets:
            if isinstance(target, cst.Name):
                self.env.bind(target.value, named_fact(target.value, fact, target), value)
                continue
            attribute = self_attribute(target)
            if attribute and self.function is not None:
                # `self.pred = softmax(...)` in a method: read back as `self.pred` below it
                self.env.bind(attribute, named_fact(attribute, fact, target), value)
                continue
            written = self.evaluator.written_part(target, value, fact, self.env)
            if written is not None:
                self.env.bind(*written)
                continue
            names = _unpacked_names(target) if self.function is not None else None
            names = names or assigned_names(target)
            flat = isinstance(target, (cst.Tuple, cst.List)) and len(names) == len(target.elements)
            unpacked = self.evaluator.unpacked(value, names, self.env) \
                if flat and value is not None else [(Fact(), None)] * len(names)
            for name, (element, held) in zip(names, unpacked, strict=True):
                self.env.bind(name, named_fact(name, element, target), held)


Bindings = tuple[dict[str, Fact], dict[str, cst.BaseExpression]]


def _unpacked_names(target: cst.BaseExpression) -> list[str] | None:
    """The names a tuple target binds, element by element, where each is a name or `self.x`
    (`self.probs, self.value = self._build_net(n)` in a method); None for any other target."""
    if not isinstance(target, (cst.Tuple, cst.List)):
        return None
    names = []
    for element in target.elements:
        value = element.value
        name = value.value if isinstance(value, cst.Name) else self_attribute(value)
        if isinstance(element, cst.StarredElement) or not name:
            return None
        names.append(name)
    return names


@dataclass
class _Branch:
    """An `if` being visited, with the names bound before it (and after its body)."""

    node: cst.If
    env: Env  # the scope the `if` binds in
    before: Bindings
    body_leaves: bool  # the body ends in `return`, `raise`, `break` or `continue`
    body: Bindings | None = None  # the names after the body, once the other branch starts


def _snapshot(env: Env) -> Bindings:
    return dict(env.facts), dict(env.values)


def _restore(env: Env, bindings: Bindings) -> None:
    env.facts, env.values = dict(bindings[0]), dict(bindings[1])


def _joined(env: Env, one: Bindings, other: Bindings) -> Bindings:
    """What a name holds after one of two branches: either's fact; its defining expression
    only when both branches leave the same one."""
    outer = env.parent
    found: dict[str, Fact] = {}
    values: dict[str, cst.BaseExpression] = {}
    for name in one[0].keys() | other[0].keys():
        first = one[0].get(name) or (outer.lookup(name) if outer else None)
        second = other[0].get(name) or (outer.lookup(name) if outer else None)
        found[name] = facts.join(first, second) if first and second else first or second or Fact()
        value = one[1].get(name)
        if value is not None and value is other[1].get(name):
            values[name] = value
    return found, values

