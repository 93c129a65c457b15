"""Which code is loss code: the functions and module-level statements the LL1xx-LL3xx rules read.

See the README, "Where rules look". Every question about scope is answered here, once per module.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from ..knowledge import ops
from ..knowledge.names import (
    INPUT_NAMES,
    LOSS_TARGET_WORDS,
    TRAINING_NAMES,
    is_data_preparation_name,
    is_data_split_name,
    is_hyperparameter_name,
    is_length_name,
    is_loss_module,
    is_loss_name,
    is_metric_module,
    is_schedule_name,
    is_test_module,
    is_test_name,
    name_tokens,
)
from .index import Function, ModuleIndex
from .tree import dotted, number, walk


@dataclass
class LossScope:
    """The loss code of a module: its functions and module-level statements, and why."""

    functions: set[int] = field(default_factory=set)  # ids of FunctionDef nodes
    statements: set[int] = field(default_factory=set)  # ids of module-level statements
    keras_losses: set[int] = field(default_factory=set)  # handed to Keras (compile, Loss.call)
    reasons: dict[int, str] = field(default_factory=dict)
    # Functions reached only from a model's forward pass (a layer, a head): loss code, but their
    # parameters are activations of unknown range, not the loss's inputs.
    model_code: set[int] = field(default_factory=set)
    # A test module: its tape blocks and training loops check losses, they do not train.
    test_module: bool = False

    def contains(self, function: Function | None) -> bool:
        return function is not None and id(function.node) in self.functions


def _class_kind(index: ModuleIndex, name: str, seen: set[str] | None = None, *,
                by_name: bool = True) -> str | None:
    """"loss", "module", "autograd" or None for a class of this module (through its bases).
    A module or layer named like a loss is a "loss" too, unless `by_name` is False."""
    info = index.classes.get(name)
    if info is None:
        return None
    seen = seen or set()
    if name in seen:
        return None
    seen.add(name)
    named_loss = by_name and is_loss_name(name)
    for base in info.bases:
        if base in ops.LOSS_BASES or base.endswith(".Loss") or base.endswith("._Loss"):
            return "loss"
        if base == ops.AUTOGRAD_FUNCTION or base.endswith("autograd.Function"):
            return "autograd"
        # also a bare `Module` the imports do not name (`from torch.nn import *`)
        if base in ops.MODULE_BASES or base.endswith((".Layer", ".Model", ".Module")) or \
                base in ("Module", "Layer", "Model") and base not in index.classes:
            return "loss" if named_loss else "module"
        inner = _class_kind(index, base.rpartition(".")[2], seen, by_name=by_name)
        if inner:
            return inner
    return "loss" if named_loss else None


def lightning_step(index: ModuleIndex, function: Function | None) -> bool:
    """`training_step` of a `LightningModule`: Lightning differentiates what it returns."""
    if function is None or function.cls is None or function.name != "training_step":
        return False
    return _derives(index, function.cls.name, ops.LIGHTNING_MODULE)


def _derives(index: ModuleIndex, name: str, base_name: str) -> bool:
    """Whether a class of this module has a base called `base_name` (its last name), directly
    or through the module's other classes."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        info = index.classes.get(pending.pop())
        for base in info.bases if info is not None else ():
            last = base.rpartition(".")[2]
            if last == base_name:
                return True
            if last not in seen:
                seen.add(last)
                pending.append(last)
    return False


def class_kind(index: ModuleIndex, name: str) -> str | None:
    """"loss", "module", "autograd" or None for a class of this module (through its bases)."""
    return _class_kind(index, name)


def compute(index: ModuleIndex, patterns: tuple[str, ...] = (),
            all_code: bool = False, path: str = "") -> LossScope:
    """The loss code of a module; `path` is its file's (a loss module's public functions)."""
    scope = LossScope()
    if is_test_module(path) and not all_code:
        scope.test_module = True
        return scope  # tests check losses; their reference arithmetic is not a training loss
    roots: list[tuple[Function, str]] = []
    loss_module = is_loss_module(path)
    metric_module = is_metric_module(path)
    for function in index.functions:
        reason = _root_reason(index, function, patterns, loss_module, metric_module)
        if reason:
            roots.append((function, reason))
        if all_code:
            roots.append((function, "--all-code"))
    _module_statements(index, scope, all_code)
    roots.extend(_module_callees(index, scope))
    # Keras-facing losses: what compile/add_loss receives, and Loss.call.
    for function in index.functions:
        if function.cls is None and function.parent is None and function.name in index.loss_args:
            scope.keras_losses.add(id(function.node))
        if function.cls is not None and function.name == "call" and \
                _class_kind(index, function.cls.name, by_name=False) == "loss":
            # (a Keras `Loss`: a `Layer` named like one is called as its author writes)
            scope.keras_losses.add(id(function.node))
    # Transitive closure: callees, nested functions and returned closures; what the loss roots
    # reach first, then what only a model's forward pass reaches.
    loss_roots = [(f, r) for f, r in roots if r != MODEL_PATH]
    _close(index, scope, loss_roots, all_code)
    before = set(scope.functions)
    _close(index, scope, [(f, r) for f, r in roots if r == MODEL_PATH], all_code)
    scope.model_code = scope.functions - before
    return scope


MODEL_PATH = "it is on the model's gradient path"


def _close(index: ModuleIndex, scope: LossScope, roots: list[tuple[Function, str]],
           all_code: bool) -> None:
    """Add `roots` and every function they reach to the scope."""
    pending = list(roots)
    while pending:
        function, reason = pending.pop()
        key = id(function.node)
        if key in scope.functions or (is_test_function(function) or
                                      _computes_in_numpy(index, function)) and not all_code:
            continue
        scope.functions.add(key)
        scope.reasons[key] = reason
        called = f"called by `{function.qualname}`"
        for callee_name in function.calls:
            if (is_schedule_name(callee_name) or is_data_preparation_name(callee_name)) and \
                    not all_code:
                continue  # a learning-rate schedule, a data pipeline: no loss code
            for callee in _callees(index, function, callee_name):
                pending.append((callee, called))
        for receiver, method_name in function.instance_calls:
            method = _instance_method(index, function, receiver, method_name)
            if method is not None:
                pending.append((method, called))
        for nested in function.nested.values():
            pending.append((nested, f"defined in `{function.qualname}`"))


def is_test_function(function: Function) -> bool:
    """A test function, or a method of a test class."""
    return is_test_name(function.name) or (
        function.cls is not None and is_test_name(function.cls.name))


def _method(index: ModuleIndex, class_name: str, name: str, depth: int = 0) -> Function | None:
    """The method `name` of a class of this module, or of its bases in this module."""
    info = index.classes.get(class_name)
    if info is None or depth > 20:
        return None
    if name in info.methods:
        return info.methods[name]
    for base in info.bases:
        found = _method(index, base.rpartition(".")[2], name, depth + 1)
        if found is not None:
            return found
    return None


def _instance_method(index: ModuleIndex, caller: Function | None, receiver: str,
                     name: str) -> Function | None:
    """The method `receiver.name(...)` calls, where `receiver` is an instance of a class of
    this module: built in the caller (or a function it is nested in), at module level, or in
    `__init__` (`self.rbm = RBM(...)`)."""
    class_name = None
    if receiver.startswith("self."):
        cls = caller.cls if caller is not None else None
        value = cls.init_values.get(receiver[5:]) if cls is not None else None
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            class_name = value.func.value
    else:
        scope_fn = caller
        while scope_fn is not None and class_name is None:
            class_name = scope_fn.instances.get(receiver)
            scope_fn = scope_fn.parent
        class_name = class_name or index.instances.get(receiver)
    return _method(index, class_name, name) if class_name else None


def _module_callees(index: ModuleIndex, scope: LossScope) -> list[tuple[Function, str]]:
    """The module functions, and the methods of module-level instances, that the module-level
    loss statements call (`loss = rbm.free_energy(v) - rbm.free_energy(v1)`)."""
    found: list[tuple[Function, str]] = []
    reason = "called by module-level loss code"
    roots = [value for _, value, node in index.module_assigns if id(node) in scope.statements]
    for root in [*roots, *index.training_statements]:
        for sub in walk(root):
            if not isinstance(sub, cst.Call):
                continue
            func = sub.func
            if isinstance(func, cst.Name) and not is_data_preparation_name(func.value):
                found.extend((f, reason) for f in index.by_name.get(func.value, [])
                             if f.cls is None and f.parent is None)
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
                method = _instance_method(index, None, func.value.value, func.attr.value)
                if method is not None:
                    found.append((method, reason))
    return found


def _callees(index: ModuleIndex, caller: Function, name: str) -> list[Function]:
    found = []
    if caller.cls is not None:
        method = _method(index, caller.cls.name, name)
        if method is not None:
            found.append(method)
    scope_fn = caller
    while scope_fn is not None:
        if name in scope_fn.nested:
            found.append(scope_fn.nested[name])
        scope_fn = scope_fn.parent
    for candidate in index.by_name.get(name, []):
        if candidate.cls is None and candidate.parent is None:
            found.append(candidate)
    return found


def _root_reason(index: ModuleIndex, function: Function, patterns: tuple[str, ...],
                 loss_module: bool = False, metric_module: bool = False) -> str:
    name = function.name
    if function.cls is not None and _derives(index, function.cls.name, "Optimizer"):
        return ""  # an optimizer's step updates from gradients a closure's loss gave
    if function.parent is None and function.cls is None and name in index.metric_args and \
            name not in index.loss_args and not index.call_sites.get(name):
        return ""  # `compile(metrics=[rmse])`: Keras reports it, nothing differentiates it
    # (a metrics module's `cross_entropy` is a metric; its `CrossEntropyLoss` is a loss)
    if is_loss_name(name, patterns) and not _predicate(function) and (
            not metric_module or {"loss", "losses"} & set(name_tokens(name))):
        return "its name is a loss name"
    if loss_module and function.parent is None:
        cls = function.cls
        if cls is None and not name.startswith("_"):
            return "it is a public function of a loss module"
        if cls is not None and name in {"call", "__call__", "forward"} and \
                not cls.name.startswith("_"):
            return f"`{cls.name}` is a public class of a loss module"
    if function.parent is None and function.cls is None and name in index.loss_args:
        return "it is given to Keras as a loss"
    if any(d.endswith("custom_gradient") for d in function.decorators):
        return "it defines a custom gradient"
    if function.cls is not None:
        kind = _class_kind(index, function.cls.name)
        if kind == "loss" and name in {"call", "__call__", "forward"}:
            return f"`{function.cls.name}` is a loss class"
        if kind == "autograd" and name in {"forward", "backward"}:
            return "it is part of a `torch.autograd.Function`"
        if kind == "module" and name == "train_step":
            return "it is a training step"
        if kind == "module" and name in {"call", "forward"}:
            return MODEL_PATH
    if (name in TRAINING_NAMES or name in index.replica_fns) and not _in_schedule(function):
        return "it is a training step"
    if function.trains:
        return "it computes gradients"
    return ""


def _computes_in_numpy(index: ModuleIndex, function: Function) -> bool:
    """A function of a module that trains with a graph framework, computing in NumPy alone:
    NumPy's operations (all of `numpy`, listed in the table or not), Python's builtins,
    methods of the arrays it holds and itself, no operation of a graph framework, no model or
    helper it calls (`smape(y, yhat)` with `np.abs`, a replay buffer's priorities, a NumPy IoU
    for data augmentation, a confusion matrix's mIoU). What it computes records no graph and
    no loss is built from it: evaluation, sampling, data handling."""
    if not index.graph_module or function.name in index.loss_args:
        return False  # (a NumPy function handed to Keras as a loss is LL204's)
    numpy = False
    for node in walk(function.node):
        if type(node) is not cst.Call:
            continue
        func = node.func
        op = index.op_of(node)
        if op is not None:
            numpy = numpy or op.framework == "numpy"
            if op.framework != "numpy" and not (
                    op.framework == "tensor" and isinstance(func, cst.Attribute) and
                    func.attr.value in ops.NUMPY_ARRAY_METHODS):
                return False  # a graph framework's operation, or a tensor's (`x.exp()`)
        elif isinstance(func, cst.Name):
            if not hasattr(builtins, func.value) and func.value != function.name:
                return False  # a model, a helper, a class: what it computes is not known
        elif (index.resolve(func) or "").startswith("numpy."):
            numpy = True  # one the table does not list (`np.diag`, `np.bincount`)
        elif not isinstance(func, cst.Attribute) or dotted(func.value) in ("self", "cls") or \
                index.resolve(func) is not None:
            return False  # `self.model(x)`, `self.helper(x)`, another library's function
    return numpy


def _in_schedule(function: Function) -> bool:
    """Defined in a learning-rate schedule (`create_learning_rate_scheduler`'s `step_fn`):
    a function of the step count, named like a training step but computing a rate."""
    outer = function.parent
    while outer is not None:
        if is_schedule_name(outer.name):
            return True
        outer = outer.parent
    return False


def _predicate(function: Function) -> bool:
    """A function whose every `return` is a comparison or a boolean expression (a stopping
    `criterion` of a loop, `is_loss_finite`): it answers a question, it is no loss."""
    return bool(function.returned) and all(_boolean(value) for value in function.returned)


def _boolean(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, (cst.Comparison, cst.BooleanOperation)):
        return True
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return True
    if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, (cst.BitOr, cst.BitAnd)):  # `(i == 0) | (err >= tol)`
        return _boolean(expr.left) and _boolean(expr.right)
    return False


def _module_statements(index: ModuleIndex, scope: LossScope, all_code: bool) -> None:
    """Module-level loss code, at any nesting (a training loop, a `with`, an `if`): TF1-style
    expressions (`cross_entropy = -tf.reduce_sum(y_ * tf.log(y_conv))`, not one computed in
    NumPy alone), what a script differentiates (`cost.backward()`, `tape.gradient(cost, ...)`,
    `minimize(cost)`), and the assignments whose values flow into them."""
    wanted: set[str] = set(index.minimize_targets) | index.differentiated
    scope.statements.update(id(node) for node in index.training_statements)
    numpy_values = _numpy_values(index)
    for names, value, _ in index.module_assigns:
        if id(value) in numpy_values and not all_code:
            continue  # `entropy = -(p * np.log(p)).sum()`: a number reported, not a graph
        for name in names:
            tokens = set(name_tokens(name))
            if tokens & LOSS_TARGET_WORDS or all_code:
                wanted.add(name)
    if not wanted:
        return
    # Walk backwards: a statement that defines a wanted name makes its inputs wanted; not the
    # split of a data set (`train_x = X[:n]`): how the data was prepared is no loss code.
    for names, value, node in reversed(index.module_assigns):
        if set(names) & wanted:
            scope.statements.add(id(node))
            if not all(is_data_split_name(name) for name in names):
                wanted.update(_inputs(value))


def _numpy_values(index: ModuleIndex) -> set[int]:
    """The module-level values (by id) computed in NumPy: by NumPy's operations alone, or from
    names that hold NumPy values with no operation of a library that records a graph
    (`mean_entropy = entropy.mean(axis=0)`)."""
    assigned = {name for names, _, _ in index.module_assigns for name in names}
    held: set[str] = set()
    found: set[int] = set()
    for names, value, _ in index.module_assigns:
        read = set(_inputs(value))
        if index.numpy_only(value) or read & held and not index.uses_graph(value) and \
                all(name in held or name not in assigned for name in read):
            found.add(id(value))
            held.update(names)
        else:
            held.difference_update(names)
    return found


def _inputs(value: cst.CSTNode) -> Iterator[str]:
    """The names a module-level value is computed from; not the data a compiled model is run
    on (`history = model.fit(x_train, y_train)`: preparing `x_train` is no loss code), nor the
    data a pipeline is built from (`DataLoader(TensorDataset(train_x, train_y))`), nor a
    tensor read only for its size (`train_y.size(0)`, `len(x)`)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            yield node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value in ops.MODEL_DRIVERS:
            stack.append(node.func.value)
        elif isinstance(node, cst.Call) and (
                (dotted(node.func) or "").rpartition(".")[2] in ops.DATA_PIPELINES or
                isinstance(node.func, cst.Attribute) and node.func.attr.value in ("size", "dim")
                or isinstance(node.func, cst.Name) and node.func.value == "len"):
            continue
        elif isinstance(node, cst.Attribute) and node.attr.value in ops.META_ATTRIBUTES:
            continue
        else:
            stack.extend(node.children)


def inputs_of(function: Function, *, model: bool = False,
              index: ModuleIndex | None = None) -> set[str]:
    """Names of the tensor parameters of loss code.

    A parameter named like a tensor (`y_true`, `logits`, `mask`, ...) is an input. A parameter
    without a default is an input too, unless it comes after the loss's pair of tensor-named
    ones (in `gce(y_true, y_pred, q)` Keras passes `q=0.5`, a hyperparameter, not a tensor; in
    `cost(y, p)` the pair is not complete, so `p` is the prediction) or is named like
    configuration (`num_classes`, `anchors`, `keep_prob`, `input_shape`, `margin`). A parameter
    whose default is a number (`target=1.0`, the norm a gradient penalty aims at) is
    configuration whatever its name, and so is one declared a Python scalar (by annotation,
    docstring or assertion, see `python_scalars`), and so is one that every call in the
    module (given `index`) fills with configuration (`self._kldiv(s, t, temperature)` from a
    caller whose `temperature=16`; see `configured_by_callers`). A length
    (`enc_len`, `input_lengths`) counts the items of a sequence: it is at least 1.

    In model code (`model=True`: a layer's forward pass, not a loss) only the parameters named
    like tensors are inputs: the others are activations and settings of unknown range.
    """
    scalars = python_scalars(function.node)
    if index is not None:
        scalars |= configured_by_callers(index, function)
    params = [p for p in function.params
              if p.name.value not in ("self", "cls", "ctx") and p.name.value not in scalars]
    named = [i for i, p in enumerate(params) if p.name.value in INPUT_NAMES]
    last_named = named[-1] if len(named) >= 2 else len(params)
    names = set()
    for position, param in enumerate(params):
        name = param.name.value
        if number(param.default) is not None:
            continue  # `target=1.0`: a number by default is configuration, whatever its name
        if name in INPUT_NAMES or (param.default is None and position <= last_named and not
                                   model and not is_hyperparameter_name(name)
                                   and not is_length_name(name)):
            names.add(name)
    return names


def configured_by_callers(index: ModuleIndex, function: Function) -> set[str]:
    """The parameters of `function` that every call of it in the module (one at least) fills
    with configuration: a number, or a parameter of the caller that is configuration itself (a
    number by default, a declared Python scalar), or `self.x` set in `__init__` from one."""
    configured: set[str] | None = None
    for arguments, caller in call_arguments(index, function) or ():
        found = {name for name, value in arguments.items() if _configuration(value, caller)}
        configured = found if configured is None else configured & found
    return configured or set()


def call_arguments(index: ModuleIndex, function: Function
                   ) -> list[tuple[dict[str, cst.BaseExpression], Function | None]] | None:
    """What every call of `function` in the module passes, by parameter name, with the calling
    function (None: module level); None where a call is not read (`*args`), or there is none."""
    sites = index.call_sites.get(function.name, [])
    if not sites or function.parent is not None:
        return None
    params = [p for p in function.params if p.name.value not in ("self", "cls", "ctx")]
    found = []
    for call, caller in sites:
        if isinstance(call.func, cst.Attribute) != (function.cls is not None):
            return None  # a method is called through `self`, a function by its name
        if any(arg.star for arg in call.args):
            return None
        positional = [a for a in call.args if a.keyword is None]
        arguments = {param.name.value: arg.value
                     for param, arg in zip(params, positional, strict=False)}
        arguments.update((arg.keyword.value, arg.value) for arg in call.args
                         if arg.keyword is not None)
        found.append((arguments, caller))
    return found


def _configuration(value: cst.BaseExpression, caller: Function | None) -> bool:
    if number(value) is not None:
        return True
    if isinstance(value, cst.Name) and caller is not None:
        for param in caller.params:
            if param.name.value == value.value:
                return number(param.default) is not None or \
                    value.value in python_scalars(caller.node)
        return False
    if isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name) and \
            value.value.value == "self" and caller is not None and caller.cls is not None:
        init_value = caller.cls.init_values.get(value.attr.value)
        init = caller.cls.methods.get("__init__")
        if init_value is None or init is None:
            return False
        return number(init_value) is not None or _configuration(init_value, init)
    return False


_PYTHON_SCALARS = frozenset({"int", "float", "str", "bool"})
# A parameter's type in its docstring: `shift: int; ...` or `gamma (float): ...` (Google),
# `gamma : float` (NumPy), `:type gamma: float` (Sphinx). The type is the whole phrase before
# the description, so `labels: int tensor of shape [n]` is no scalar.
_DOCUMENTED_TYPE = re.compile(
    r"^\s*(?::type\s+)?(?P<name>\w+)\s*(?:\((?P<paren>[^)]*)\))?\s*:\s*(?P<after>[^;:,.\n]*)",
    re.MULTILINE)
_SCALAR_PHRASES = _PYTHON_SCALARS | {"integer", "boolean", "string", "python int",
                                     "python float", "python bool", "optional int",
                                     "optional float"}


def python_scalars(function: cst.FunctionDef) -> set[str]:
    """Names the function declares Python scalars, configuration and never a tensor: by an
    annotation (`shift: int`), by its docstring (`shift: int; number of positions`) or by an
    assertion (`assert isinstance(shift, int)`, also under `and`)."""
    names: set[str] = set()
    for param in function.params.params:
        annotation = param.annotation.annotation if param.annotation else None
        if isinstance(annotation, cst.Name) and annotation.value in _PYTHON_SCALARS:
            names.add(param.name.value)
    docstring = function.get_docstring() or ""
    for match in _DOCUMENTED_TYPE.finditer(docstring):
        phrase = (match.group("paren") or "").partition(",")[0] or match.group("after")
        if " ".join(phrase.lower().split()) in _SCALAR_PHRASES:
            names.add(match.group("name"))
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    for statement in body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assert):
                _asserted_scalars(small.test, names)
    return names


def tensor_params(index: ModuleIndex, function: Function) -> set[str]:
    """Parameters annotated as tensors (`log_alpha: jnp.ndarray`, `temperature: tf.Variable`):
    values a loss may differentiate, even when named like configuration."""
    return {param.name.value for param in function.params if param.annotation is not None
            and index.resolve(param.annotation.annotation) in ops.TENSOR_TYPES}


def _asserted_scalars(test: cst.BaseExpression, names: set[str]) -> None:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        _asserted_scalars(test.left, names)
        _asserted_scalars(test.right, names)
        return
    if not (isinstance(test, cst.Call) and isinstance(test.func, cst.Name)
            and test.func.value == "isinstance" and len(test.args) == 2):
        return
    subject, kinds = test.args[0].value, test.args[1].value
    types = [e.value for e in kinds.elements] if isinstance(kinds, cst.Tuple) else [kinds]
    if isinstance(subject, cst.Name) and types and all(
            isinstance(t, cst.Name) and t.value in _PYTHON_SCALARS for t in types):
        names.add(subject.value)
