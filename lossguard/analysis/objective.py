"""What reaches the objective: the statements of a function whose values never reach its loss.

A numerical hazard matters where its value reaches the returned or differentiated loss. A
metric computed beside the loss and only logged, an IoU computed only for a threshold mask, a
value that is never read: a `log(0)` there changes nothing the optimiser sees. This analysis
finds, for one function, the statements whose values cannot reach

- a `return` or `yield` (the loss a loss function returns),
- a statement that acts: a call made for its effect (`loss.backward()`, `self.add_loss(l)`,
  `optimizer.apply_gradients(...)`), an assignment to an attribute or an item (state read
  elsewhere), except the calls that only report a value (`print`, `tf.summary.scalar`,
  `self.log`, `metric.update_state`: `names.REPORTING_CALLS`).

Values flow backwards through assignments (all of them, in any order: a loop may carry a value
round), augmented assignments, tuple targets, `for` targets, and the tests of the `if`/`while`
blocks that hold a live statement. A value that is only compared (`iou > 0.5`, `d > 0`) does
not carry its value on: a NaN compared is just False, so the names under a comparison are not
read as values.

Code that records no graph (a `with torch.no_grad():` block) computes values the optimiser
cannot differentiate: returned beside the loss (`return loss, acc`), such a value is a metric,
not part of the objective; so is a value returned detached (`return loss.data`,
`loss.item()`): a function that returns only such values reports. `graphless` finds those
blocks for the rules whose hazard lives in the gradient only (an infinite gradient of `sqrt`
at 0); for them, `unreached(..., cut=...)` also drops the values that reach the objective only
through a call that passes no gradient back (`tf.stop_gradient(target)`, `target.detach()`,
`argmin(cost)`) or only as indices (a matching cost that only picks
`_, idx = torch.topk(cost, k)`): their gradient never does.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from ..knowledge import ops
from ..knowledge.names import reports_only
from .definitions import MUTATORS, Body
from .tree import assigned_names, callee_name, children, walk

_COMPOUND = (cst.If, cst.While, cst.For, cst.With, cst.Try, cst.TryStar, cst.Match)


# Says whether a call records no graph for what runs under it (`torch.no_grad()`) or for
# its operand (`tf.stop_gradient(x)`, `x.detach()`, `x.item()`).
Detaches = Callable[[cst.Call], bool]


class _Statement:
    __slots__ = ("node", "defines", "uses", "root", "controls", "graphless")

    def __init__(self, node: cst.CSTNode, controls: tuple[int, ...]) -> None:
        self.node = node
        self.defines: set[str] = set()
        self.uses: set[str] = set()
        self.root = False
        self.controls = controls  # indexes of the block headers this statement sits in
        self.graphless = False  # under a block that records no graph


def unreached(function: cst.FunctionDef, body: Body, detaches: Detaches | None = None, *,
              cut: Detaches | None = None, indexing: Detaches | None = None,
              aux: bool = False) -> frozenset[int]:
    """The ids of every node inside the statements of `function` (nested functions excluded)
    whose values never reach its objective, or reach it only through a call `cut` names (an
    `argmax` or a comparison: a NaN does not go through; for the gradient-only hazards also
    `stop_gradient`), as an index (`x[idx]`), or as the indices `indexing` calls keep when
    their values are discarded (`_, idx = torch.topk(cost, k)`). `body` holds the function's
    definitions (which of them reach a reader). With `aux` (a function `jax.value_and_grad`
    differentiates with `has_aux=True`) only the first element of a returned tuple is the
    objective: the others are auxiliary outputs, reported."""
    statements: list[_Statement] = []
    headers: list[_Statement] = []
    _block(function.body, (), statements, headers, detaches, cut=cut)
    if cut is not None:
        for statement in statements:
            if statement.graphless or indexing is not None and _indices_only(
                    statement.node, indexing):
                statement.uses = set()  # no gradient flows back from what it defines
    metrics = _drop_metrics(statements, detaches, aux) if detaches is not None else []
    live = _live(statements, headers, body)
    dead = {id(node) for metric in metrics for node in walk(metric)}
    # What is only compared carries no value on (a NaN compared is just False): the operands
    # of a comparison are dead wherever it sits (`j = torch.max(r, 1 / r) < 4.0`).
    for statement in statements:
        for node in walk(statement.node):
            if isinstance(node, cst.Comparison):
                dead.update(id(inner) for inner in walk(node))
    for number, statement in enumerate(statements):
        # a statement no objective reads: an assignment, or a call that only reports
        if not live[number] and (statement.defines or isinstance(statement.node, cst.Expr)):
            dead.update(id(node) for node in walk(statement.node))
    return frozenset(dead)


def _live(statements: list[_Statement], headers: list[_Statement], body: Body) -> list[bool]:
    """Which statements the objective reads, backwards from its roots: a statement is live
    when it defines a name a live statement (or the test of a block holding one) reads, and
    its definition reaches that reader (`Body.reaching`: a whole rebinding on every path
    between them hides it, so `best, _ = ious.max(1); best = best > t; mask[b] = ~best`
    reads only the comparison); a reader before the definition reads it round a loop."""
    defines: dict[str, list[int]] = {}
    for number, statement in enumerate(statements):
        for name in statement.defines:
            defines.setdefault(name, []).append(number)
    header_defines: dict[str, list[int]] = {}
    for number, head in enumerate(headers):
        for name in head.defines:
            header_defines.setdefault(name, []).append(number)
    ordinals = [body.at.get(id(s.node), 0) for s in statements]

    def reaches(definition: int, reader: int, name: str) -> bool:
        at, read = ordinals[definition], ordinals[reader]
        if at >= read:
            return True
        known = [d for d in body.defs.get(name, ()) if d.ordinal == at]
        return not known or any(d.ordinal == at for d in body.reaching(name, read)[0])

    live = [s.root for s in statements]
    header_live = [False] * len(headers)
    pending = [number for number, is_root in enumerate(live) if is_root]
    pending_headers: list[int] = []

    def demand(names: set[str], reader: int | None) -> None:
        for name in names:
            for number in defines.get(name, ()):
                if not live[number] and (reader is None or reaches(number, reader, name)):
                    live[number] = True
                    pending.append(number)
            for number in header_defines.get(name, ()):
                if not header_live[number]:
                    header_live[number] = True
                    pending_headers.append(number)

    while pending or pending_headers:
        while pending:
            number = pending.pop()
            demand(statements[number].uses, number)
            for header in statements[number].controls:
                if not header_live[header]:
                    header_live[header] = True
                    pending_headers.append(header)
        while pending_headers:
            demand(headers[pending_headers.pop()].uses, None)  # a test: every definition
    return live


def _indices_only(node: cst.CSTNode, indexing: Detaches) -> bool:
    """`_, idx = torch.topk(cost, k)`: the values are discarded, only the indices are kept."""
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return False
    target = node.targets[0].target
    return isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2 and \
        isinstance(target.elements[0].value, cst.Name) and \
        target.elements[0].value.value == "_" and isinstance(node.value, cst.Call) and \
        indexing(node.value)


def declared_graphless(decorators: list[str]) -> bool:
    """Decorated to run without a graph (`@torch.no_grad()`, `@torch.inference_mode()`)."""
    for decorator in decorators:
        op = ops.lookup(decorator) if decorator else None
        if op is not None and op.kind == "no_grad":
            return True
    return False


def graphless(function: cst.FunctionDef, detaches: Detaches) -> frozenset[int]:
    """The ids of every node of `function` inside a block that records no graph."""
    found: set[int] = set()
    for node in walk(function.body):
        if isinstance(node, cst.With) and _records_no_graph(node, detaches):
            found.update(id(inner) for inner in walk(node.body))
    return frozenset(found)


def _records_no_graph(node: cst.With, detaches: Detaches | None) -> bool:
    return detaches is not None and any(
        isinstance(item.item, cst.Call) and detaches(item.item) for item in node.items)


def _drop_metrics(statements: list[_Statement], detaches: Detaches,
                  aux: bool = False) -> list[cst.CSTNode]:
    """A returned value (or a returned tuple's element) that holds no graph (computed only
    under `no_grad`, or detached where returned: `acc.item()`, `loss.data`) is a metric: the
    return does not read it; so is every element after the first of a function that returns
    `(loss, aux)` (`aux`). A function that returns only such values reports; what it
    computes reaches no objective unless a statement of its own acts on it (`backward()`).
    Returns those values."""
    detached = _detached_names(statements)
    metrics: list[cst.CSTNode] = []
    for statement in statements:
        value = statement.node.value if isinstance(statement.node, cst.Return) else None
        if value is None:
            continue
        parts = [e.value for e in value.elements] if isinstance(value, (cst.Tuple, cst.List)) \
            else [value]
        dropped = [part for position, part in enumerate(parts)
                   if _metric(part, detached, detaches) or aux and position > 0 and
                   isinstance(value, cst.Tuple)]
        if dropped:
            statement.uses = set().union(*(_values(part) for part in parts
                                           if not any(part is d for d in dropped)))
            metrics.extend(dropped)
    return metrics


def reports(function: cst.FunctionDef, detaches: Detaches) -> bool:
    """Whether every value `function` returns (one at least) holds no graph: detached where it
    is returned (`return loss.detach().item()`) or computed under `no_grad`. It reports a loss
    to its caller, whatever its name: stopping the gradient there is what it is for."""
    statements: list[_Statement] = []
    _block(function.body, (), statements, [], detaches)
    detached = _detached_names(statements)
    values = [s.node.value for s in statements
              if isinstance(s.node, cst.Return) and s.node.value is not None]
    return bool(values) and all(
        _metric(part, detached, detaches) for value in values
        for part in ([e.value for e in value.elements]
                     if isinstance(value, (cst.Tuple, cst.List)) else [value]))


def _detached_names(statements: list[_Statement]) -> set[str]:
    """The names bound only under a block that records no graph (`with torch.no_grad():`)."""
    attached = {name for s in statements if not s.graphless for name in s.defines}
    return {name for s in statements if s.graphless for name in s.defines} - attached


def _metric(node: cst.BaseExpression, detached: set[str], detaches: Detaches) -> bool:
    if isinstance(node, cst.Call) and detaches(node):
        return True  # `acc.item()`, `acc.detach()`, `tf.stop_gradient(acc)`
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        return True  # `loss.data`: PyTorch's view of the values, out of the graph
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
            node.func.attr.value in ("cpu", "numpy", "tolist"):
        return _metric(node.func.value, detached, detaches)  # `probs.data.cpu()`
    return isinstance(node, cst.Name) and node.value in detached


def _block(body: cst.CSTNode, controls: tuple[int, ...], statements: list[_Statement],
           headers: list[_Statement], detaches: Detaches | None = None,
           graphless: bool = False, cut: Detaches | None = None,
           ) -> None:
    smalls = body.body if isinstance(body, cst.SimpleStatementSuite) else ()
    for small in smalls:
        statements.append(_small(small, controls, graphless, cut))
    for statement in getattr(body, "body", ()) if not smalls else ():
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                statements.append(_small(small, controls, graphless, cut))
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(statement, _COMPOUND):
            header = _Statement(statement, controls)
            _header(statement, header, cut)
            headers.append(header)
            inner = (*controls, len(headers) - 1)
            inner_graphless = graphless or (isinstance(statement, cst.With)
                                            and _records_no_graph(statement, detaches))
            for part in _suites(statement):
                _block(part, inner, statements, headers, detaches, inner_graphless, cut)


def _suites(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The indented blocks of a compound statement: body, else, elif, except, finally."""
    found: list[cst.CSTNode] = []
    for child in children(node):
        if isinstance(child, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            found.append(child)
        elif isinstance(child, (cst.If, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler,
                                cst.Finally, cst.MatchCase)):
            if isinstance(child, cst.If):
                # An `elif` is an `If` of its own: its test is read like the outer one.
                found.append(cst.IndentedBlock(body=[child]))
            else:
                found.extend(_suites(child))
    return found


def _header(node: cst.CSTNode, header: _Statement, cut: Detaches | None) -> None:
    if isinstance(node, (cst.If, cst.While)):
        header.uses |= _values(node.test, cut)
    elif isinstance(node, cst.For):
        header.uses |= _values(node.iter, cut)
        header.defines |= set(assigned_names(node.target))
    elif isinstance(node, cst.With):
        for item in node.items:
            header.uses |= _values(item.item, cut)
            if item.asname is not None:
                header.defines |= set(assigned_names(item.asname.name))
    elif isinstance(node, cst.Match):
        header.uses |= _values(node.subject, cut)


def _small(node: cst.CSTNode, controls: tuple[int, ...], graphless: bool = False,
           cut: Detaches | None = None) -> _Statement:
    statement = _Statement(node, controls)
    statement.graphless = graphless
    if isinstance(node, cst.Return):
        statement.root = True
        statement.uses = _values(node.value, cut) if node.value is not None else set()
    elif isinstance(node, cst.Expr):
        statement.uses = _values(node.value, cut)
        receiver = _mutated_local(node.value)
        if receiver is not None:  # `summaries.append(v)`: defines the list, read or not later
            statement.defines.add(receiver)
            statement.uses.add(receiver)
        else:
            statement.root = _acts(node.value)
    elif isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) \
            else [node.target]
        if node.value is not None:
            statement.uses = _values(node.value, cut)
        for target in targets:
            names = assigned_names(target)
            if names:
                statement.defines.update(names)
                if isinstance(node, cst.AugAssign):
                    statement.uses.update(names)
            elif isinstance(target, cst.Subscript) and isinstance(_base(target), cst.Name):
                # `x[i] = v`, `x[i][j] = v` change `x`: it defines and reads `x`.
                statement.defines.add(_base(target).value)  # type: ignore[attr-defined]
                statement.uses |= _values(target, cut)
            else:
                statement.root = True  # `self.x = v`: state that other code reads
                statement.uses |= _values(target, cut)
    return statement


def _base(target: cst.BaseExpression) -> cst.BaseExpression:
    """`x` of `x[i][j]`."""
    while isinstance(target, cst.Subscript):
        target = target.value
    return target


def _mutated_local(value: cst.BaseExpression) -> str | None:
    """`xs` of `xs.append(v)`, `xs.extend(vs)`: a call that changes a local in place."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
            isinstance(value.func.value, cst.Name) and value.func.attr.value in MUTATORS:
        return value.func.value.value
    return None


def _acts(value: cst.BaseExpression) -> bool:
    """Whether an expression statement can change what the optimiser sees: any call but one
    that only reports a value; a `yield`."""
    if isinstance(value, (cst.Yield, cst.Await)):
        return True
    if not isinstance(value, cst.Call):
        return False
    return not reports_only(callee_name(value.func))


def _values(node: cst.CSTNode | None, cut: Detaches | None = None) -> set[str]:
    """The names whose values an expression reads: not attribute names, keyword names, nor
    what sits under a comparison; nor, with `cut`, what sits under a call it detaches."""
    found: set[str] = set()
    if node is None:
        return found
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
        elif isinstance(current, cst.Arg):
            stack.append(current.value)
        elif isinstance(current, cst.Comparison) or \
                cut is not None and isinstance(current, cst.Call) and cut(current):
            continue
        elif cut is not None and isinstance(current, cst.Subscript):
            stack.append(current.value)  # an index carries no gradient
        elif cut is not None and isinstance(current, cst.Attribute) and \
                current.attr.value in ops.META_ATTRIBUTES:
            continue  # nor does `x.shape`
        else:
            stack.extend(children(current))
    return found
