"""What value does this name hold where it is read: the one definitions service.

Every analysis asks it (the facts through `FileContext.value_of`, the reductions, the gradient
flow, the model reader, the rules). A body (a function's own statements, or the module's) is
numbered once, in source order: each statement gets an ordinal and the chain of suites that
hold it (an `if` body and its `else` are different suites); each binding of a name is a
`Definition` at its statement: a plain or annotated assignment, an augmented assignment, a
tuple unpacked (with the name's position), a `for` or `with ... as` target, a nested `def`,
a subscript written (`xs[i] = v`) and a call that changes a value in place (`xs.append(v)`,
`g.mul_(dy)`, `torch.mul(a, b, out=g)`).

A definition reaches a read at a later statement unless a later definition that rebinds the
name whole and dominates the read (its suite holds the read) lies between them; a definition
in the other branch of an `if` holding the read never reaches it, unless a loop holds both. A
read before a definition in a loop body does not see it (loops are read once, in source
order); a read the body does not hold (in a nested function) sees every definition.
An attribute of `self` holds what the method assigned it before the read (`self.out = ...`),
else what `__init__` assigned it (`Function.cls.init_values`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import libcst as cst

from .index import Function, ModuleIndex
from .tree import assigned_names, children, keyword, walk_own

# Methods that put a value into the container they are called on.
MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "appendleft",
                       "extendleft", "setdefault"})
_SUITES = (cst.BaseSuite, cst.If, cst.Else, cst.ExceptHandler, cst.Finally, cst.ExceptStarHandler)


class Definition(NamedTuple):
    """One binding of a name in a body."""

    name: str
    ordinal: int  # the statement that binds it
    chain: tuple[int, ...]  # the suites holding that statement, outermost first
    value: cst.BaseExpression | None  # the expression assigned (the iterable of a `for`, ...)
    kind: str  # "assign", "aug" (adds to the old value), "for", "with", "function"
    # The binding node: the statement for a plain assignment, annotated or augmented, of the
    # name alone; the target (or the mutating call) for any other binding.
    node: cst.CSTNode | None = None
    direct: bool = True  # the name is the whole target (not unpacked from a tuple)
    position: int | None = None  # where an unpacked name sits in a flat tuple target

    @property
    def plain(self) -> cst.BaseExpression | None:
        """The value of a plain assignment of the name alone (`x = v`, `x: T = v`), else
        None."""
        return self.value if self.kind == "assign" and self.direct else None


class Body:
    """One body's own statements, numbered in source order, with what each defines, reads,
    returns and calls."""

    def __init__(self, function: Function | None) -> None:
        self.function = function
        self.chain: dict[int, tuple[int, ...]] = {}  # ordinal -> the suites holding it
        self.statements: dict[int, cst.CSTNode] = {}  # ordinal -> the statement
        self.nograd: dict[int, cst.With] = {}  # ordinal -> its `with torch.no_grad()`
        self.defs: dict[str, list[Definition]] = {}
        self.returns: list[tuple[cst.Return, int]] = []
        self.calls: list[tuple[cst.Call, int]] = []
        self.tests: list[tuple[cst.CSTNode, cst.BaseExpression, int]] = []
        self.at: dict[int, int] = {}  # id of a statement, a Name or Call read -> ordinal
        self.branches: dict[int, int] = {}  # id of an `if` body or `else` -> id of the `if`
        self.loops: set[int] = set()  # ids of loop bodies
        self.count = 0

    def dominates(self, ordinal: int, at: int) -> bool:
        """Whether statement `ordinal` runs on every path to statement `at` (it comes before
        it, and a suite holding `at` holds it)."""
        chain = self.chain.get(ordinal, ())
        return ordinal < at and self.chain.get(at, ())[:len(chain)] == chain

    def ordinal_of(self, node: cst.CSTNode) -> int:
        """The statement an expression of this body is evaluated at (after the last statement
        when the body does not hold it: every definition reaches it)."""
        for sub in walk_own(node):
            found = self.at.get(id(sub))
            if found is not None:
                return found
        return self.count + 1

    # --- reaching definitions -------------------------------------------------------------
    def reaching(self, name: str, at: int) -> tuple[list[Definition], bool]:
        """The definitions of `name` that reach statement `at`, in source order, and whether
        the value the name had on entry (a parameter, an enclosing scope's) still may. A
        definition that rebinds the name whole and dominates the read hides the earlier ones;
        one that adds to its value (`x += v`, `xs[i] = v`, `xs.append(v)`) hides none."""
        chain = self.chain.get(at, ())
        defs = [d for d in self.defs.get(name, ())
                if d.ordinal < at and not self._exclusive(d.chain, chain)]
        for position in range(len(defs) - 1, -1, -1):
            found = defs[position]
            if found.kind != "aug" and chain[:len(found.chain)] == found.chain:
                return defs[position:], False
        return defs, True

    def _exclusive(self, definition: tuple[int, ...], read: tuple[int, ...]) -> bool:
        """Whether two chains part in the two branches of one `if` with no loop around it."""
        for mine, theirs in zip(definition, read, strict=False):
            if mine != theirs:
                branch = self.branches.get(mine)
                return branch is not None and branch == self.branches.get(theirs)
            if mine in self.loops:
                return False
        return False

    def closest(self, read: cst.Name) -> Definition | None:
        """The last definition that reaches a read (None when none does: a parameter, a
        global). An augmented one (`x += v`) is the closest: its node says so."""
        defs, _ = self.reaching(read.value, self.ordinal_of(read))
        return defs[-1] if defs else None

    def binding(self, read: cst.Name) -> cst.CSTNode | None:
        """The binding node of the closest definition (see `Definition.node`)."""
        found = self.closest(read)
        return found.node if found is not None else None

    def value(self, read: cst.Name) -> cst.BaseExpression | None:
        """The expression a plain assignment of the name alone gave it, as seen where it is
        read; None when another kind of binding (or none) is the closest."""
        found = self.closest(read)
        return found.plain if found is not None else None

    def value_before(self, name: str, at: int) -> cst.BaseExpression | None:
        """The plain value `name` holds at statement `at` (see `value`)."""
        defs, _ = self.reaching(name, at)
        return defs[-1].plain if defs else None


class Definitions:
    """The bodies of one module, numbered on first use."""

    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self._bodies: dict[int, Body] = {}

    def body(self, function: Function | None) -> Body:
        """The body of `function`, or the module's own statements for None."""
        key = id(function.node) if function is not None else 0
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = Body(function)
            root = function.node.body if function is not None else self.index.module
            _Scanner(self.index, body).run(root)
        return body

    def value(self, node: cst.CSTNode, function: Function | None) -> cst.BaseExpression | None:
        """The expression a name (or `self.x`) holds where `node` reads it: the closest plain
        assignment of the innermost scope that binds it (the function, the functions around
        it, the module), or what `__init__` assigned to an attribute of `self`; None for a
        parameter, an import, an unpacked or looped name."""
        if type(node) is cst.Name:
            while function is not None:
                body = self.body(function)
                if node.value in body.defs:
                    return body.value(node)
                if any(p.name.value == node.value for p in function.params):
                    return None
                function = function.parent
            body = self.body(None)
            return body.value(node) if node.value in body.defs else None
        key = self_attribute(node)
        if key:
            while function is not None and function.cls is None:
                function = function.parent
            if function is None or function.cls is None:
                return None
            body = self.body(function)
            if key in body.defs:  # assigned in this method before the read
                defs, entry = body.reaching(key, body.ordinal_of(node))
                if defs and not entry:
                    return defs[-1].plain
            return function.cls.init_values.get(node.attr.value)  # type: ignore[attr-defined]
        return None

    def value_at(self, name: str, at: cst.CSTNode, function: Function | None
                 ) -> tuple[cst.BaseExpression | None, list[cst.BaseExpression]]:
        """The value `name` holds at `at`, with the layers `name.add(...)`ed to it since (a
        Keras `Sequential` built step by step); enclosing functions and the module are
        searched when the function does not bind it."""
        while True:
            body = self.body(function)
            defs, _ = body.reaching(name, body.ordinal_of(at))
            adds: list[cst.BaseExpression] = []
            for found in reversed(defs):
                if found.kind == "aug" and _adds_layer(found.node) and found.value is not None:
                    adds.append(found.value)
                    continue
                if found.plain is not None or adds:
                    return found.plain, adds[::-1]
                break
            if adds:
                return None, adds[::-1]
            if function is None or defs or any(p.name.value == name for p in function.params):
                return None, []
            at, function = function.node, function.parent


def self_attribute(node: cst.CSTNode) -> str:
    """`self.pred` of an attribute of `self`, as the definitions name it (else "")."""
    if type(node) is cst.Attribute and type(node.value) is cst.Name and \
            node.value.value == "self":
        return f"self.{node.attr.value}"
    return ""


def _adds_layer(node: cst.CSTNode | None) -> bool:
    return type(node) is cst.Call and type(node.func) is cst.Attribute and \
        node.func.attr.value == "add"


def _subscripted(target: cst.BaseExpression) -> cst.BaseExpression:
    """The value a subscript target writes into (`g` for `g[m][0]`); other targets as they
    are."""
    while isinstance(target, cst.Subscript):
        target = target.value
    return target


class _Scanner:
    def __init__(self, index: ModuleIndex, body: Body) -> None:
        self.index = index
        self.body = body

    def run(self, root: cst.CSTNode) -> None:
        if isinstance(root, (cst.IndentedBlock, cst.Module)):
            self.block(root.body, (), None)
        elif isinstance(root, cst.SimpleStatementSuite):
            for small in root.body:
                self.small(small, (), None)

    def next(self, node: cst.CSTNode, chain: tuple[int, ...], nograd: cst.With | None) -> int:
        self.body.count += 1
        ordinal = self.body.count
        self.body.chain[ordinal] = chain
        self.body.statements[ordinal] = node
        self.body.at[id(node)] = ordinal
        if nograd is not None:
            self.body.nograd[ordinal] = nograd
        return ordinal

    def define(self, target: cst.BaseExpression, ordinal: int, value: cst.BaseExpression | None,
               kind: str, node: cst.CSTNode | None = None) -> None:
        chain = self.body.chain[ordinal]
        key = self_attribute(target)
        if key:  # `self.out = clip(out, ...)`: read later in the same method
            self.body.defs.setdefault(key, []).append(Definition(
                key, ordinal, chain, value, kind, node or target))
            return
        direct = isinstance(target, cst.Name)
        positions: dict[str, int] = {}
        if isinstance(target, (cst.Tuple, cst.List)) and all(
                isinstance(e, cst.Element) for e in target.elements):
            for position, element in enumerate(target.elements):
                if isinstance(element.value, cst.Name):
                    positions[element.value.value] = position
        binding = node if direct and node is not None else target
        for name in assigned_names(target):
            self.body.defs.setdefault(name, []).append(Definition(
                name, ordinal, chain, value, kind, binding, direct, positions.get(name)))

    def expressions(self, node: cst.CSTNode | None, ordinal: int) -> None:
        if node is None:
            return
        at = self.body.at
        for sub in walk_own(node):
            if isinstance(sub, cst.Call):
                self.body.calls.append((sub, ordinal))
                at[id(sub)] = ordinal
            elif isinstance(sub, cst.Name):
                at[id(sub)] = ordinal
            elif isinstance(sub, cst.IfExp):
                self.body.tests.append((sub, sub.test, ordinal))

    def block(self, statements: Iterable[cst.CSTNode], chain: tuple[int, ...],
              nograd: cst.With | None) -> None:
        for statement in statements:
            self.statement(statement, chain, nograd)

    def suite(self, node: cst.CSTNode, chain: tuple[int, ...], nograd: cst.With | None) -> None:
        if isinstance(node, cst.IndentedBlock):
            self.block(node.body, chain, nograd)
        elif isinstance(node, cst.SimpleStatementSuite):
            for small in node.body:
                self.small(small, chain, nograd)
        elif isinstance(node, (cst.If, cst.BaseCompoundStatement)):
            self.statement(node, chain, nograd)
        else:
            for child in children(node):
                if isinstance(child, _SUITES):
                    self.suite(child, chain, nograd)

    def statement(self, node: cst.CSTNode, chain: tuple[int, ...],
                  nograd: cst.With | None) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.small(small, chain, nograd)
            return
        ordinal = self.next(node, chain, nograd)
        if isinstance(node, cst.FunctionDef):
            self.body.defs.setdefault(node.name.value, []).append(
                Definition(node.name.value, ordinal, chain, None, "function", node))
            return
        if isinstance(node, cst.ClassDef):
            return
        if isinstance(node, cst.With):
            inner = nograd
            for item in node.items:
                self.expressions(item.item, ordinal)
                op = self.index.op_of(item.item) if isinstance(item.item, cst.Call) else None
                if op is not None and op.kind == "no_grad":
                    inner = node
                if item.asname is not None:
                    self.define(item.asname.name, ordinal, item.item, "with")  # type: ignore[arg-type]
            self.suite(node.body, chain, inner)
            return
        if isinstance(node, cst.For):
            self.expressions(node.iter, ordinal)
            self.define(node.target, ordinal, node.iter, "for")
        elif isinstance(node, (cst.If, cst.While)):
            self.expressions(node.test, ordinal)
            if isinstance(node, cst.If):
                self.body.tests.append((node, node.test, ordinal))
        for child in children(node):
            if isinstance(child, _SUITES):
                if isinstance(node, cst.If):
                    self.body.branches[id(child)] = id(node)
                elif isinstance(node, (cst.For, cst.While)) and child is node.body:
                    self.body.loops.add(id(child))
                self.suite(child, (*chain, id(child)), nograd)

    def small(self, node: cst.CSTNode, chain: tuple[int, ...], nograd: cst.With | None) -> None:
        ordinal = self.next(node, chain, nograd)
        if isinstance(node, cst.Assign):
            self.expressions(node.value, ordinal)
            for target in node.targets:
                item = target.target
                if isinstance(item, cst.Subscript):  # `xs[i] = v`, `g[m][0] = v`
                    self.define(_subscripted(item), ordinal, node.value, "aug")
                else:
                    self.define(item, ordinal, node.value, "assign", node)
        elif isinstance(node, cst.AnnAssign):
            self.expressions(node.value, ordinal)
            if node.value is not None:
                self.define(node.target, ordinal, node.value, "assign", node)
        elif isinstance(node, cst.AugAssign):
            self.expressions(node.value, ordinal)
            self.define(_subscripted(node.target), ordinal, node.value, "aug",
                        node if isinstance(node.target, cst.Name) else None)
        elif isinstance(node, cst.Return):
            self.expressions(node.value, ordinal)
            self.body.returns.append((node, ordinal))
        else:
            self.expressions(node, ordinal)
            if isinstance(node, cst.Expr):
                self.mutation(node.value, ordinal)

    def mutation(self, call: cst.BaseExpression, ordinal: int) -> None:
        """A call that changes a value in place: from here on the value also holds what the
        call puts in it. `xs.append(v)` and the like put their last argument; an in-place
        tensor method (`g.mul_(dy)`, `g.masked_fill_(m, 0)`) mixes its arguments into its
        receiver; `torch.mul(dy, 2, out=g)` writes its result into `out`."""
        if type(call) is not cst.Call or not call.args:
            return
        func = call.func
        out = keyword(call, "out")
        if type(out) is cst.Name:
            self.define(out, ordinal, call, "aug")
        if type(func) is not cst.Attribute or type(func.value) is not cst.Name:
            return
        method = func.attr.value
        if method in MUTATORS:
            self.define(func.value, ordinal, call.args[-1].value, "aug", call)
        elif method.endswith("_") and not method.startswith("_"):
            self.define(func.value, ordinal, call, "aug", call)
