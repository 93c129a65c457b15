"""Parse once, index once, walk once: run the enabled rules over a module and collect findings.

The engine owns the walk. While it walks it keeps the context rules ask about (`context.py`):
the function being visited, whether it is loss code, and the environment of facts of the names
assigned so far. Rules of scope "loss" are only called inside loss code; disabled rules are
never built. What the rules report becomes findings here: one per node, placed, suppressed
(`suppression.py`), with fixes turned into text edits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from time import perf_counter

import libcst as cst

from ..analysis.tree import NODE_TYPES
from ..api import Rule
from . import positions, suppression
from .context import FileContext, Options, _Report
from .results import Edit, Finding, Fix


class Linter:
    """Runs a fixed set of rule classes over modules."""

    def __init__(self, rules: Iterable[type[Rule]], options: Options | None = None) -> None:
        self.rule_classes = list(rules)
        self.options = options or Options()
        self.marked = _node_types_named(frozenset(
            {*(attr[6:] for rule in self.rule_classes for attr in _visitor_names(rule)),
             *_CONTEXT_NODES}))

    def lint(self, path: str, source: str, module: cst.Module | None = None,
             located: positions.Memo | None = None) -> list[Finding]:
        """Findings in one module; `located` keeps statement positions between runs over
        versions of one buffer (see `positions.locate`)."""
        if module is None:
            module = cst.parse_module(source)
        ctx = FileContext(path, source, module, self.options, self.marked)
        rules = [cls(ctx) for cls in self.rule_classes
                 if cls.calls is None or ctx.index.calls_any(cls.calls)]
        _Walker(ctx, rules).run()
        return _finish(ctx, self.rule_classes, located)


Visitor = Callable[[cst.CSTNode], object]


# Seconds spent in each rule's visitors, by code; measured only while this is a dict
# (`--statistics`), so a normal run pays nothing.
RULE_TIMES: dict[str, float] | None = None


def _timed(rule: Rule, attr: str) -> Visitor:
    visitor = getattr(rule, attr)
    times = RULE_TIMES
    if times is None:
        return visitor
    code_ = type(rule).code

    def timed(node: cst.CSTNode) -> object:
        started = perf_counter()
        try:
            return visitor(node)
        finally:
            times[code_] = times.get(code_, 0.0) + perf_counter() - started
    return timed


_VISITOR_NAMES: dict[type[Rule], tuple[str, ...]] = {}


def _visitor_names(rule_class: type[Rule]) -> tuple[str, ...]:
    """The `visit_<Node>` and `leave_<Node>` methods of a rule class."""
    names = _VISITOR_NAMES.get(rule_class)
    if names is None:
        names = _VISITOR_NAMES[rule_class] = tuple(
            a for a in dir(rule_class) if a.startswith(("visit_", "leave_")))
    return names


@cache
def _node_types_named(names: frozenset[str]) -> frozenset[type]:
    """The node classes (both copies libcst makes of each) with these names, but the Module."""
    return frozenset(t for t in NODE_TYPES if t.__name__ in names) - {cst.Module}


_CONTEXT_NODES = frozenset({"FunctionDef", "With", "Assign", "AnnAssign", "AugAssign", "For",
                            "Expr", "If", "Else"})


class _Walker:
    def __init__(self, ctx: FileContext, rules: list[Rule]) -> None:
        self.ctx = ctx
        self.visit_all: dict[str, list[Visitor]] = {}
        self.leave_all: dict[str, list[Visitor]] = {}
        self.visit_loss: dict[str, list[Visitor]] = {}
        self.leave_loss: dict[str, list[Visitor]] = {}
        for rule in rules:
            visit = self.visit_loss if rule.scope == "loss" else self.visit_all
            leave = self.leave_loss if rule.scope == "loss" else self.leave_all
            for attr in _visitor_names(type(rule)):
                table = visit if attr.startswith("visit_") else leave
                table.setdefault(attr[6:], []).append(_timed(rule, attr))

    def run(self) -> None:
        """Replay the index's marks (the nodes some rule visits or that change the context),
        statement by statement: visit each, and leave it when its subtree is done."""
        ctx = self.ctx
        index = ctx.index
        marks, ends, starts = index.marks, index.mark_ends, index.statement_marks
        visit_all, visit_loss = self.visit_all, self.visit_loss
        # Only nodes that change the context or that a rule leaves wait for their subtree.
        waiting = {*self.leave_all, *self.leave_loss, *_CONTEXT_NODES}
        open_nodes: list[tuple[int, cst.CSTNode, str, bool, bool, bool]] = []
        for number, statement in enumerate(ctx.module.body):
            first, last = starts[number], starts[number + 1]
            if first == last:
                continue
            ctx.statement = number
            ctx.module_loss_statement = self._module_loss(statement)
            for i in range(first, last):
                while open_nodes and open_nodes[-1][0] <= i:
                    self._leave(*open_nodes.pop()[1:])
                node = marks[i]
                name = type(node).__name__
                if name in waiting:
                    open_nodes.append((ends[i], node, *self._enter(node, name)))
                    continue
                for visitor in visit_all.get(name, ()):  # inline: most nodes are calls
                    visitor(node)
                if name in visit_loss and ctx.in_loss_code:
                    for visitor in visit_loss[name]:
                        visitor(node)
            while open_nodes:
                self._leave(*open_nodes.pop()[1:])
        ctx.module_loss_statement = False

    def _module_loss(self, statement: cst.CSTNode) -> bool:
        if isinstance(statement, cst.SimpleStatementLine):
            return any(id(s) in self.ctx.scope.statements for s in statement.body)
        return False

    def _enter(self, node: cst.CSTNode, name: str) -> tuple[str, bool, bool, bool]:
        ctx = self.ctx
        is_function = name == "FunctionDef"
        # a tape block, or a module-level loss statement in a block (`for`, `with`, `if`)
        opens_loss = (name == "With" and id(node) in ctx.index.tape_withs
                      and not ctx.scope.test_module) or (
            id(node) in ctx.scope.statements and len(ctx.frames) == 1)
        if is_function:
            ctx.enter_function(node)  # type: ignore[arg-type]
        elif name == "For":  # the loop variables hold their values in the body
            ctx.bind_loop_target(node.target)  # type: ignore[attr-defined]
        elif name == "If":
            ctx.enter_if(node)  # type: ignore[arg-type]
        elif name == "Else":
            ctx.enter_else(node)  # type: ignore[arg-type]
        if opens_loss:
            ctx.loss_depth += 1
        loss = ctx.in_loss_code
        for visitor in self.visit_all.get(name, ()):
            visitor(node)
        if loss:
            for visitor in self.visit_loss.get(name, ()):
                visitor(node)
        return name, is_function, opens_loss, loss

    def _leave(self, node: cst.CSTNode, name: str, is_function: bool, opens_loss: bool,
               loss: bool) -> None:
        ctx = self.ctx
        if loss:
            for visitor in self.leave_loss.get(name, ()):
                visitor(node)
        for visitor in self.leave_all.get(name, ()):
            visitor(node)
        if loss or ctx.module_loss_statement:
            self._bind(node, name)
        if name == "If":
            ctx.leave_if(node)  # type: ignore[arg-type]
        if opens_loss:
            ctx.loss_depth -= 1
        if is_function:
            ctx.leave_function()

    def _bind(self, node: cst.CSTNode, name: str) -> None:
        ctx = self.ctx
        if name == "Assign":
            ctx.bind([t.target for t in node.targets], node.value)  # type: ignore[attr-defined]
        elif name == "AnnAssign" and node.value is not None:  # type: ignore[attr-defined]
            ctx.bind([node.target], node.value)  # type: ignore[attr-defined]
        elif name == "AugAssign":
            ctx.bind([node.target], None)  # type: ignore[attr-defined]
        elif name == "Expr":
            ctx.bind_in_place(node.value)  # type: ignore[attr-defined]


def _finish(ctx: FileContext, rules: list[type[Rule]], located: positions.Memo | None = None
            ) -> list[Finding]:
    enabled = frozenset(rule.code for rule in rules)
    unused_noqa = next((r for r in rules if r.code == suppression.UNUSED_NOQA), None)
    check_noqa = unused_noqa is not None and (
        "noqa" in ctx.source or "lossguard:" in ctx.source)
    if not ctx.reports and not check_noqa:
        return []
    lines = ctx.source.splitlines()
    silenced = suppression.file_noqa(lines)
    if silenced is not None and not silenced:
        return []
    # One location, one finding: a specific rule replaces a general one on the same node.
    by_node: dict[int, list[_Report]] = {}
    for report in ctx.reports:
        by_node.setdefault(id(report.node), []).append(report)
    kept: list[_Report] = []
    for group in by_node.values():
        replaced = {code for r in group for code in r.rule.replaces}
        seen: set[str] = set()
        for report in group:
            if report.rule.code in replaced or report.rule.code in seen:
                continue
            seen.add(report.rule.code)
            kept.append(report)
    if silenced:
        kept = [r for r in kept if not any(r.rule.code.startswith(c) for c in silenced)]
    positions = _positions(ctx.module, kept, located)
    findings = []
    used: dict[int, set[str]] = {}  # line -> noqa codes that suppressed a finding
    for report in kept:
        if id(report.node) not in positions:
            continue  # not a node of this module: nothing to point at
        start, end = positions[id(report.node)]
        matched = suppression.suppressing(lines, start[0], report.rule.code)
        if matched is not None:
            used.setdefault(start[0], set()).update(matched)
            continue
        fix = None
        if report.fix is not None:
            pairs = report.fix.pairs()
            spans = [span for old, _ in pairs if (span := positions.get(id(old))) is not None]
            if len(spans) == len(pairs):
                edits = tuple(Edit(span[0], span[1], _replacement(ctx.module, old, new))
                              for span, (old, new) in zip(spans, pairs, strict=True))
                fix = Fix(report.fix.description, edits, report.fix.safe)
        cls = report.rule
        findings.append(Finding(
            path=ctx.path, line=start[0], column=start[1] + 1, end_line=end[0],
            end_column=end[1] + 1, code=cls.code, name=cls.name, severity=report.severity,
            message=report.message, hint=report.hint, function=report.function,
            probe=cls.probe, fix=fix,
        ))
    if unused_noqa is not None and check_noqa:
        findings.extend(suppression.unused_noqa(ctx.path, ctx.source, used, enabled,
                                                unused_noqa))
    findings.sort(key=lambda f: f.sort_key)
    return findings


def _replacement(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> str:
    """The code of `new` for the span of `old`. Positions exclude a node's own parentheses,
    which stay in the source: a new node that kept them drops them."""
    if getattr(old, "lpar", None) and getattr(new, "lpar", None):
        new = new.with_changes(lpar=[], rpar=[])
    return module.code_for_node(new)


def _positions(module: cst.Module, reports: list[_Report], located: positions.Memo | None
               ) -> dict[int, tuple[positions.Position, positions.Position]]:
    """Line/column of the reported nodes and of the nodes their fixes replace."""
    wanted: dict[int, list[cst.CSTNode]] = {}
    for report in reports:
        nodes = wanted.setdefault(report.statement, [])
        nodes.append(report.node)
        if report.fix is not None:
            nodes.extend(old for old, _ in report.fix.pairs())
    return positions.locate(module, wanted, located)
