"""One cheap pass over a module: its imports, functions, classes and the calls that matter.

Everything later stages ask about the module as a whole (which names are imported from where,
which function calls which, what is passed to `compile(loss=...)`) is collected here, once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import libcst as cst

from ..knowledge import ops
from ..knowledge.kinds import DETACHING
from ..knowledge.ops import TAPE_METHODS
from .tree import CHILDREN, NO_CHILDREN, assigned_names, dotted, keyword, positional, string
from .tree import walk as walk_tree


def _nothing() -> None:
    return None


# The index's records are built nearly empty, filled by `build` and compared by identity:
# plain classes, where dataclasses would generate methods at every start (about 1.5 ms).
class Function:
    """A function or method. The index owns its functions and classes; the pointers back up
    (`cls`, `parent`) are weak, so that nothing here is a reference cycle and a module's tree
    is freed as soon as its lint is done (cycles would keep it for the garbage collector)."""

    def __init__(self, node: cst.FunctionDef, name: str, qualname: str,
                 cls_ref: Callable[[], Class | None] = _nothing,
                 parent_ref: Callable[[], Function | None] = _nothing) -> None:
        self.node = node
        self.name = name
        self.qualname = qualname
        self.cls_ref = cls_ref
        self.parent_ref = parent_ref
        self.calls: set[str] = set()  # names of module functions it calls
        # `(receiver, method)` of `rbm.energy(v)` and `self.rbm.energy(v)` ("self.rbm")
        self.instance_calls: set[tuple[str, str]] = set()
        self.instances: dict[str, str] = {}  # `rbm = RBM(...)`: rbm -> RBM
        self.nested: dict[str, Function] = {}
        self.returned: list[cst.BaseExpression] = []  # its own returns' values
        self.trains = False  # calls tape.gradient / .backward() / minimize
        self.assigned: set[str] = set()  # its local names (`x = ...`, `x += ...`)
        self.decorators: list[str] = []  # resolved qualified names

    @property
    def cls(self) -> Class | None:
        """The class this is a method of."""
        return self.cls_ref()

    @property
    def parent(self) -> Function | None:
        """The function this is nested in."""
        return self.parent_ref()

    @property
    def returned_names(self) -> set[str]:
        """The names it returns, alone or in a tuple (`return loss, acc`)."""
        names: set[str] = set()
        for value in self.returned:
            elements = [e.value for e in value.elements] if isinstance(value, cst.Tuple) \
                else [value]
            names.update(e.value for e in elements if isinstance(e, cst.Name))
        return names

    @property
    def params(self) -> list[cst.Param]:
        p = self.node.params
        return [*p.posonly_params, *p.params, *p.kwonly_params]

    @property
    def positional_params(self) -> list[cst.Param]:
        p = self.node.params
        return [*p.posonly_params, *p.params]


class Class:
    """A class of the module, with its methods."""

    def __init__(self, node: cst.ClassDef, name: str, bases: list[str]) -> None:
        self.node = node
        self.name = name
        self.bases = bases  # resolved qualified names (or plain names of module classes)
        self.methods: dict[str, Function] = {}
        self.init_values: dict[str, cst.BaseExpression] = {}  # self.x = <expr>


class ModuleIndex:
    """What one pass over a module finds: its imports, functions, classes, constants and the
    calls and statements the rules ask about."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.imports: dict[str, str] = {}  # local name -> qualified name
        self.star_modules: list[str] = []  # `from ops import *` of a project's own module
        self.functions: list[Function] = []
        self.by_name: dict[str, list[Function]] = {}
        self.classes: dict[str, Class] = {}
        self.constants: dict[str, cst.BaseExpression] = {}
        self.loss_args: set[str] = set()  # names given as loss= / add_loss / ...
        self.metric_args: set[str] = set()  # names given to compile as metrics= (reported)
        self.trained_models: set[str] = set()  # `d` of `d.fit(...)`, `d.train_on_batch(...)`
        self.grad_calls: list[cst.Call] = []  # `grad(f)`, `value_and_grad(f)`
        # functions differentiated with `has_aux=True`: they return `(loss, aux)`
        self.aux_returning: set[str] = set()
        self.replica_fns: set[str] = set()  # `f`, `self.f` in strategy.run(f)
        self.compile_calls: list[cst.Call] = []
        self.calls_by_name: dict[str, list[cst.Call]] = {}
        # `f(...)` and `self.f(...)` by `f`, with the function each is made in (None: module
        # level)
        self.call_sites: dict[str, list[tuple[cst.Call, Function | None]]] = {}
        self.tape_withs: set[int] = set()  # ids of `with GradientTape()` nodes
        self.module_assigns: list[tuple[list[str], cst.BaseExpression, cst.CSTNode]] = []
        self.minimize_targets: set[str] = set()
        # module-level names differentiated: `cost.backward()`, `tape.gradient(cost, ...)`
        self.differentiated: set[str] = set()
        self.instances: dict[str, str] = {}  # module level `rbm = RBM(...)`
        # module-level statements that train: `cost.backward()`, `train = opt.minimize(cost)`
        self.training_statements: list[cst.CSTNode] = []
        self.call_bindings: list[tuple[str, cst.Call]] = []  # `name = f(...)`
        self.call_names: set[str] = set()  # `f` of `f(...)` and `x.f(...)`
        self.sample_weighted = False
        self.mixed_float16 = False
        self.function_of: dict[int, Function] = {}  # id(FunctionDef) -> info
        self._resolved: dict[int, str | None] = {}
        self._ops: dict[int, ops.Op | None] = {}
        # For the rule walk: the nodes of the classes `build` was asked to mark, in pre-order;
        # for each, the number of marks once its subtree is done; for each top-level
        # statement, the number of marks before it (and after the last, the total).
        self.marks: list[cst.CSTNode] = []
        self.mark_ends: list[int] = []
        self.statement_marks: list[int] = []

    def forward_of(self, class_name: str) -> Function | None:
        """What calling an instance of a module class runs: its `forward` (PyTorch), `call`
        (Keras) or `__call__`."""
        cls = self.classes.get(class_name)
        if cls is None:
            return None
        return next((cls.methods[m] for m in ("forward", "call", "__call__")
                     if m in cls.methods), None)

    def calls_any(self, names: frozenset[str]) -> bool:
        """Whether the module calls a function or class of one of these names, directly or
        through an import alias (`from torch.nn.functional import cross_entropy as ce`)."""
        if not self.call_names.isdisjoint(names):
            return True
        imports = self.imports
        return any(imports[local].rpartition(".")[2] in names
                   for local in self.call_names if local in imports)

    # --- name resolution --------------------------------------------------------------------
    def returns_aux(self, name: str) -> bool:
        """Whether the function `name` is differentiated with `has_aux=True`, directly or
        bound first (`loss_fn = functools.partial(compute_loss, net=net)`): it returns
        `(loss, aux)`."""
        if name in self.aux_returning:
            return True
        return any(bound in self.aux_returning and (dotted(call.func) or "").endswith("partial")
                   and isinstance(positional(call, 0), cst.Name)
                   and positional(call, 0).value == name  # type: ignore[union-attr]
                   for bound, call in self.call_bindings)

    def resolve(self, node: cst.CSTNode) -> str | None:
        """The normalised qualified name of a dotted expression, through the imports."""
        key = id(node)
        if key in self._resolved:
            return self._resolved[key]
        result = self._resolve(node)
        self._resolved[key] = result
        return result

    def _resolve(self, node: cst.CSTNode) -> str | None:
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        base = self.imports.get(head)
        if base is None and head not in self.by_name and head not in self.constants and \
                head not in self.classes:
            # A name the module reads but never binds: what a star import of a project module
            # brings (`from ops import *` of a module that imports TensorFlow as `tf` and
            # defines `flatten`), or what a snippet leaves out (`torch.log(p)` with no
            # import): a framework under its conventional alias, a shim's operation
            base = ops.CONVENTIONAL_ALIASES.get(head)
            if base is None and not rest and head in ops.SHIM_OPERATIONS and self.star_modules:
                return f"{self.star_modules[-1]}.{head}"
        if base is None:
            return None
        return ops.normalize(f"{base}.{rest}" if rest else base)

    @property
    def graph_module(self) -> bool:
        """Whether the module imports a library that records a graph (TensorFlow, Keras,
        PyTorch, JAX, Theano)."""
        return any(ops.normalize(qualified).partition(".")[0] in ops.GRAPH_FRAMEWORKS
                   for qualified in self.imports.values())

    def numpy_only(self, node: cst.CSTNode) -> bool:
        """Whether `node` computes in NumPy alone (an operation of NumPy's, none of a library
        that records a graph): its value has no gradient."""
        frameworks = self._frameworks(node)
        return "numpy" in frameworks and not frameworks & ops.GRAPH_FRAMEWORKS

    def uses_graph(self, node: cst.CSTNode) -> bool:
        """Whether `node` calls an operation of a library that records a graph."""
        return bool(self._frameworks(node) & ops.GRAPH_FRAMEWORKS)

    def _frameworks(self, node: cst.CSTNode) -> set[str]:
        frameworks = set()
        for sub in walk_tree(node):
            if type(sub) is cst.Call:
                op = self.op_of(sub)
                frameworks.add(op.framework if op is not None else ops.normalize(
                    self.resolve(sub.func) or "").partition(".")[0])
        return frameworks

    def detaches(self, call: cst.Call) -> bool:
        """A call that records no graph for its operand (`x.detach()`, `x.item()`) or for what
        runs under it (`torch.no_grad()`)."""
        op = self.op_of(call)
        return op is not None and op.kind in DETACHING

    def op_of(self, call: cst.Call) -> ops.Op | None:
        """The framework operation a call denotes, or None (asked by every rule: cached)."""
        key = id(call)
        if key in self._ops:
            return self._ops[key]
        result = self._op_of(call)
        self._ops[key] = result
        return result

    def _op_of(self, call: cst.Call) -> ops.Op | None:
        func = call.func
        qualified = self.resolve(func)
        if qualified is not None:
            return ops.lookup(qualified)
        if type(func) is cst.Attribute:
            receiver = func.value
            if type(receiver) is cst.Name and (
                receiver.value in self.imports or receiver.value in ("self", "cls")
            ):
                return None
            positional = sum(1 for arg in call.args if arg.keyword is None)
            return ops.method(func.attr.value, positional)
        return None


def build(module: cst.Module, marked: frozenset[type] = frozenset()) -> ModuleIndex:
    """Index `module`, keeping the nodes of the `marked` classes for the rule walk."""
    index = ModuleIndex(module)
    _Indexer(index).run(marked)
    return index


_COLLECTED = frozenset({cst.Call, cst.Return, cst.With, cst.Assign, cst.AnnAssign,
                        cst.AugAssign, cst.Expr})  # `visit`s


class _Indexer:
    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        # module-level names assigned more than once (`loss_fn = mse`, later `loss_fn = xent`
        # in a notebook): no alias, what each call sees is a question for the definitions
        self.rebound: set[str] = set()

    def run(self, marked: frozenset[type]) -> None:
        """One pre-order pass; imports are recorded as they come (they precede their uses).

        The stack holds nodes still to visit and, below the children of a function, a class
        or a marked node, a tuple that closes its subtree and restores the function and class
        enclosing it. Other nodes change nothing when their subtree is done."""
        index = self.index
        marks, mark_ends = index.marks, index.mark_ends
        children_of, collected, leaf = CHILDREN, _COLLECTED, NO_CHILDREN
        import_, import_from, function_def, class_def = (cst.Import, cst.ImportFrom,
                                                         cst.FunctionDef, cst.ClassDef)
        function: Function | None = None
        cls: Class | None = None
        stack: list = []
        pop, push, extend, mark = stack.pop, stack.append, stack.extend, marks.append
        for statement in index.module.body:
            index.statement_marks.append(len(marks))
            push(statement)
            while stack:
                node = pop()
                kind = type(node)  # node classes are final: `is` for speed (no ABC check)
                if kind is tuple:  # the subtree of a function, class or marked node is done
                    slot, function, cls = node
                    if slot >= 0:
                        mark_ends[slot] = len(marks)
                    continue
                slot = -1
                if kind in marked:
                    slot = len(marks)
                    mark(node)
                    mark_ends.append(slot + 1)
                children = children_of[kind]
                if children is leaf:
                    continue
                if kind is import_ or kind is import_from:
                    self.imports(node)
                    continue  # nothing below an import is code
                if kind in collected:
                    self.visit(node, function, cls)
                kids = children(node)
                if not kids:
                    continue
                if kind is function_def:
                    push((slot, function, cls))
                    function, cls = self.function(node, function, cls), None
                elif kind is class_def:
                    push((slot, function, cls))
                    function, cls = None, self.klass(node)
                elif slot >= 0:
                    push((slot, function, cls))
                kids.reverse()
                extend(kids)
        index.statement_marks.append(len(marks))

    # --- collectors ---------------------------------------------------------------------------
    def imports(self, node: cst.Import | cst.ImportFrom) -> None:
        table = self.index.imports
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted(alias.name)
                if full is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    table[alias.asname.name.value] = full
                else:
                    head = full.split(".")[0]
                    table[head] = head
            return
        if isinstance(node.names, cst.ImportStar):
            star = dotted(node.module) if node.module is not None else None
            if star is not None and star.partition(".")[0] not in ops.FRAMEWORK_ROOTS:
                self.index.star_modules.append(star)
            return
        base = dotted(node.module) if node.module is not None else None
        if base is not None and base.rpartition(".")[2] == "backend" and \
                (node.relative or base.partition(".")[0] not in ops.FRAMEWORK_ROOTS) and \
                any(dotted(a.name) == "K" and a.asname is None for a in node.names):
            # a project's own Keras shim (`from bert4keras.backend import K`,
            # `from .backend import K`) is `keras.backend`, as Keras's own examples name it
            table["K"] = "keras.backend"
        if node.relative or base is None:
            return  # nothing else of a relative import is a framework's
        for alias in node.names:
            name = dotted(alias.name)
            if name is None or name == "K" and table.get("K") == "keras.backend":
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            if local == "jnp" and base.partition(".")[0] not in ops.FRAMEWORK_ROOTS:
                # a project's own NumPy shim named as JAX's (`from trax.fastmath import
                # numpy as jnp`) is `jax.numpy`, whose API it mirrors
                table[local] = "jax.numpy"
                continue
            table[local] = f"{base}.{name}"

    def alias(self, name: str, value: cst.BaseExpression) -> None:
        """A backend shim, `B = tf.linalg` or `K = tf.keras.backend`: a module-level name for a
        framework namespace (or function) is one more import, so `B.norm` is `tf.linalg.norm`."""
        if type(value) is not cst.Attribute and type(value) is not cst.Name:
            return
        full = dotted(value)
        if full is None:
            return
        head, _, rest = full.partition(".")
        base = self.index.imports.get(head)
        if base is None or base.partition(".")[0] not in ops.FRAMEWORK_ROOTS:
            return
        self.index.imports[name] = f"{base}.{rest}" if rest else base

    def function(self, node: cst.FunctionDef, parent: Function | None,
                 cls: Class | None) -> Function:
        name = node.name.value
        if cls is not None:
            qualname = f"{cls.name}.{name}"
        elif parent is not None:
            qualname = f"{parent.qualname}.{name}"
        else:
            qualname = name
        info = Function(node, name, qualname, weakref.ref(cls) if cls else _nothing,
                        weakref.ref(parent) if parent else _nothing)
        for decorator in node.decorators:
            target = decorator.decorator
            if isinstance(target, cst.Call):
                target = target.func
            info.decorators.append(self.index.resolve(target) or dotted(target) or "")
        if cls is not None:
            cls.methods[name] = info
        if parent is not None:
            parent.nested[name] = info
        self.index.functions.append(info)
        self.index.by_name.setdefault(name, []).append(info)
        self.index.function_of[id(node)] = info
        return info

    def klass(self, node: cst.ClassDef) -> Class:
        bases = []
        for arg in node.bases:
            bases.append(self.index.resolve(arg.value) or dotted(arg.value) or "")
        info = Class(node, node.name.value, bases)
        self.index.classes[info.name] = info
        return info

    def visit(self, node: Any, function: Function | None, cls: Class | None) -> None:
        """`node` is dispatched on its exact type (faster than isinstance)."""
        index = self.index
        kind = type(node)
        if kind is cst.Call:
            self.call(node, function)
        elif kind is cst.Return and function is not None and node.value is not None:
            function.returned.append(node.value)
        elif kind is cst.With:
            for item in node.items:
                call = item.item
                if isinstance(call, cst.Call):
                    op = index.op_of(call)
                    if op is not None and op.kind == "gradient_tape":
                        index.tape_withs.add(id(node))
        elif kind is cst.Expr:
            if function is None and cls is None and _trains(node.value, index.imports):
                index.training_statements.append(node)
        elif kind is cst.AugAssign:
            if function is not None and type(node.target) is cst.Name:
                function.assigned.add(node.target.value)
            if function is None and cls is None and type(node.target) is cst.Name:
                # `disc_cost += LAMBDA * gradient_penalty`: the term joins the script's loss
                index.module_assigns.append(([node.target.value], node.value, node))
        elif kind is cst.AnnAssign:
            if type(node.value) is cst.Call and type(node.target) is cst.Name:
                index.call_bindings.append((node.target.value, node.value))
        elif kind is cst.Assign:
            value = node.value
            if function is not None:
                function.assigned.update(n for t in node.targets for n in assigned_names(t.target))
            if type(value) is cst.Call:
                func = value.func
                instances = function.instances if function is not None else (
                    index.instances if cls is None else None)
                for target in node.targets:
                    if type(target.target) is cst.Name:
                        index.call_bindings.append((target.target.value, value))
                        if instances is not None and type(func) is cst.Name:
                            instances[target.target.value] = func.value
            if function is None and cls is None:
                names = [n for t in node.targets for n in assigned_names(t.target)]
                index.module_assigns.append((names, value, node))
                if len(names) == 1 and len(node.targets) == 1:
                    if names[0] in index.constants:  # rebound: no single meaning to alias
                        self.rebound.add(names[0])
                        index.imports.pop(names[0], None)
                    index.constants[names[0]] = value
                    if names[0] not in self.rebound:
                        self.alias(names[0], value)
                if _trains(value, index.imports):
                    index.training_statements.append(node)
            elif function is not None and function.cls is not None and function.name == "__init__":
                for target in node.targets:
                    t = target.target
                    if (isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name)
                            and t.value.value == "self"):
                        function.cls.init_values[t.attr.value] = node.value

    def call(self, node: cst.Call, function: Function | None) -> None:
        index = self.index
        func = node.func
        kind = type(func)  # node classes are final: `is` skips the ABC check
        attr = func.attr.value if kind is cst.Attribute else (  # type: ignore[attr-defined]
            func.value if kind is cst.Name else "")  # type: ignore[attr-defined]
        if function is not None:
            if kind is cst.Name:
                function.calls.add(attr)
            elif kind is cst.Attribute:
                receiver = func.value  # type: ignore[attr-defined]
                owner = _receiver(receiver)
                if owner == "self":
                    function.calls.add(attr)
                elif owner is not None and owner not in index.imports:
                    function.instance_calls.add((owner, attr))
                if attr in TAPE_METHODS or _graph_gradients(node, index):
                    function.trains = True  # (`tf.gradients(loss, params)` too)
        elif attr in ("backward", "gradient") and _trains(node, index.imports):
            # module-level training: what `cost.backward()` / `tape.gradient(cost, ...)` trains
            target = func.value if attr == "backward" else (  # type: ignore[attr-defined]
                positional(node, 0) or keyword(node, "target"))
            if type(target) is cst.Name:
                index.differentiated.add(target.value)  # type: ignore[union-attr]
        if kind is cst.Name:
            index.calls_by_name.setdefault(attr, []).append(node)
        if kind is cst.Name or kind is cst.Attribute and (_receiver(
                func.value) or "") in {"self", "cls"}:  # type: ignore[attr-defined]
            index.call_sites.setdefault(attr, []).append((node, function))
        index.call_names.add(attr)
        if attr == "compile":
            index.compile_calls.append(node)
            for name in ("metrics", "weighted_metrics"):
                index.metric_args.update(_loss_values(keyword(node, name)))
        if attr in {"compile", "add_loss"} or attr == "Lambda" or attr == "LossFunctionWrapper":
            value = keyword(node, "loss") if attr == "compile" else (
                keyword(node, "fn") or positional(node, 0))
            for candidate in _loss_values(value):
                index.loss_args.add(candidate)
        if attr in ("grad", "value_and_grad"):
            index.grad_calls.append(node)
            fun = positional(node, 0) or keyword(node, "fun")
            flag = keyword(node, "has_aux")
            if isinstance(fun, cst.Name) and isinstance(flag, cst.Name) and flag.value == "True":
                index.aux_returning.add(fun.value)
        if attr == "minimize":
            target = positional(node, 0) or keyword(node, "loss")
            if isinstance(target, cst.Name):
                index.minimize_targets.add(target.value)
            for candidate in _loss_values(target):
                index.loss_args.add(candidate)
        if attr == "run" and isinstance(func, cst.Attribute) and \
                not _imported_elsewhere(index, func.value):
            fn = positional(node, 0) or keyword(node, "fn")
            if isinstance(fn, cst.Name):
                index.replica_fns.add(fn.value)
            elif isinstance(fn, cst.Attribute) and isinstance(fn.value, cst.Name) and \
                    fn.value.value == "self":  # `strategy.run(self.replica_step, ...)`
                index.replica_fns.add(fn.attr.value)
        if attr in ops.TRAINING_DRIVERS and kind is cst.Attribute:
            receiver = dotted(func.value)  # type: ignore[attr-defined]
            if receiver is not None:
                index.trained_models.add(receiver)
        if attr in ops.MODEL_DRIVERS and (
            keyword(node, "sample_weight") is not None or keyword(node, "class_weight") is not None
        ):
            index.sample_weighted = True
        if attr in {"set_global_policy", "Policy", "set_policy"}:
            arg = positional(node, 0) or keyword(node, "name")
            if arg is not None and string(arg) == "mixed_float16":
                index.mixed_float16 = True


def _trains(value: cst.BaseExpression | None, imports: dict[str, str]) -> bool:
    """`cost.backward()`, `tape.gradient(cost, ...)`, `opt.minimize(cost)`; not a module's
    function (`np.gradient(y)`, `optimize.minimize(f, x0)`)."""
    func = value.func if type(value) is cst.Call else None  # type: ignore[union-attr]
    if type(func) is not cst.Attribute or func.attr.value not in TAPE_METHODS:  # type: ignore
        return False
    receiver = func.value  # type: ignore[union-attr]
    return not (type(receiver) is cst.Name and receiver.value in imports)  # type: ignore


def _graph_gradients(call: cst.Call, index: ModuleIndex) -> bool:
    """`tf.gradients(loss, params)`, `K.gradients(loss, x)`: the gradients of a graph's value
    (the table's `gradients` of TensorFlow or Keras; not `jax.grad(f)`, which makes a
    function)."""
    func = call.func
    if type(func) is not cst.Attribute or type(func.value) is not cst.Name or \
            func.value.value not in index.imports:
        return False
    op = ops.lookup(ops.normalize(f"{index.imports[func.value.value]}.{func.attr.value}"))
    return op is not None and op.kind == "gradients" and op.framework in ("tensorflow", "keras")


def _receiver(node: cst.BaseExpression) -> str | None:
    """"rbm" for `rbm.f(...)`, "self.rbm" for `self.rbm.f(...)`, "self" for `self.f(...)`."""
    if type(node) is cst.Name:
        return node.value  # type: ignore[attr-defined]
    if type(node) is cst.Attribute:
        inner = node.value  # type: ignore[attr-defined]
        if type(inner) is cst.Name and inner.value == "self":  # type: ignore[attr-defined]
            return f"self.{node.attr.value}"  # type: ignore[attr-defined]
    return None


def _imported_elsewhere(index: ModuleIndex, receiver: cst.BaseExpression) -> bool:
    """Whether `receiver` is an imported module that is not TensorFlow (`absl.app` of
    `app.run(main)`): its `run` is no distribution strategy's."""
    head = dotted(receiver)
    qualified = index.imports.get(head.partition(".")[0]) if head else None
    return qualified is not None and not qualified.startswith("tensorflow")


def _loss_values(value: cst.BaseExpression | None) -> list[str]:
    """Names of functions a `loss=` argument refers to (a name, a factory call, a dict/list)."""
    if value is None:
        return []
    if isinstance(value, cst.Name):
        return [value.value]
    if isinstance(value, cst.Attribute):
        return [value.attr.value]
    if isinstance(value, cst.Call):
        return _loss_values(value.func)
    if isinstance(value, (cst.List, cst.Tuple)):
        return [n for e in value.elements for n in _loss_values(e.value)]
    if isinstance(value, cst.Dict):
        return [n for e in value.elements if isinstance(e, cst.DictElement)
                for n in _loss_values(e.value)]
    if isinstance(value, cst.Lambda):
        return ["<lambda>"]
    return []
