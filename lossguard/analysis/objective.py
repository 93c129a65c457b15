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
"""

from __future__ import annotations

import libcst as cst

from ..knowledge.names import REPORTING_CALLS
from .tree import assigned_names, children, dotted, walk

_COMPOUND = (cst.If, cst.While, cst.For, cst.With, cst.Try, cst.TryStar, cst.Match)


class _Statement:
    __slots__ = ("node", "defines", "uses", "root", "controls")

    def __init__(self, node: cst.CSTNode, controls: tuple[int, ...]) -> None:
        self.node = node
        self.defines: set[str] = set()
        self.uses: set[str] = set()
        self.root = False
        self.controls = controls  # indexes of the block headers this statement sits in


def unreached(function: cst.FunctionDef) -> frozenset[int]:
    """The ids of every node inside the statements of `function` (nested functions excluded)
    whose values never reach its objective."""
    statements: list[_Statement] = []
    headers: list[_Statement] = []
    _block(function.body, (), statements, headers)
    live = [s.root for s in statements]
    wanted: set[str] = set()
    header_live = [False] * len(headers)
    changed = True
    while changed:
        changed = False
        for number, statement in enumerate(statements):
            if not live[number] and statement.defines & wanted:
                live[number] = True
            if live[number] and not statement.uses <= wanted:
                wanted |= statement.uses
                changed = True
            if live[number]:
                for header in statement.controls:
                    if not header_live[header]:
                        header_live[header] = True
                        changed = True
        for number, head in enumerate(headers):
            if (header_live[number] or head.defines & wanted) and not head.uses <= wanted:
                wanted |= head.uses
                changed = True
    dead: set[int] = set()
    for number, statement in enumerate(statements):
        if not live[number] and statement.defines:
            dead.update(id(node) for node in walk(statement.node))
    return frozenset(dead)


def _block(body: cst.CSTNode, controls: tuple[int, ...], statements: list[_Statement],
           headers: list[_Statement]) -> None:
    if isinstance(body, cst.SimpleStatementSuite):
        for small in body.body:
            statements.append(_small(small, controls))
        return
    for statement in getattr(body, "body", ()):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                statements.append(_small(small, controls))
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(statement, _COMPOUND):
            header = _Statement(statement, controls)
            _header(statement, header)
            headers.append(header)
            inner = (*controls, len(headers) - 1)
            for part in _suites(statement):
                _block(part, inner, statements, headers)


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


def _header(node: cst.CSTNode, header: _Statement) -> None:
    if isinstance(node, (cst.If, cst.While)):
        header.uses |= _values(node.test)
    elif isinstance(node, cst.For):
        header.uses |= _values(node.iter)
        header.defines |= set(assigned_names(node.target))
    elif isinstance(node, cst.With):
        for item in node.items:
            header.uses |= _values(item.item)
            if item.asname is not None:
                header.defines |= set(assigned_names(item.asname.name))
    elif isinstance(node, cst.Match):
        header.uses |= _values(node.subject)


def _small(node: cst.CSTNode, controls: tuple[int, ...]) -> _Statement:
    statement = _Statement(node, controls)
    if isinstance(node, cst.Return):
        statement.root = True
        statement.uses = _values(node.value) if node.value is not None else set()
    elif isinstance(node, cst.Expr):
        statement.uses = _values(node.value)
        statement.root = _acts(node.value)
    elif isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) \
            else [node.target]
        if node.value is not None:
            statement.uses = _values(node.value)
        for target in targets:
            names = assigned_names(target)
            if names:
                statement.defines.update(names)
                if isinstance(node, cst.AugAssign):
                    statement.uses.update(names)
            elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                # `x[i] = v` changes `x`: it defines and reads `x`.
                statement.defines.add(target.value.value)
                statement.uses |= _values(target)
            else:
                statement.root = True  # `self.x = v`: state that other code reads
                statement.uses |= _values(target)
    return statement


def _acts(value: cst.BaseExpression) -> bool:
    """Whether an expression statement can change what the optimiser sees: any call but one
    that only reports a value; a `yield`."""
    if isinstance(value, (cst.Yield, cst.Await)):
        return True
    if not isinstance(value, cst.Call):
        return False
    name = dotted(value.func) or ""
    return name.rpartition(".")[2] not in REPORTING_CALLS


def _values(node: cst.CSTNode | None) -> set[str]:
    """The names whose values an expression reads: not attribute names, keyword names, nor
    what sits under a comparison."""
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
        elif isinstance(current, cst.Comparison):
            continue
        else:
            stack.extend(children(current))
    return found
