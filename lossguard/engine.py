"""Parse once, index once, walk once: run the enabled rules over a module and collect findings.

The engine owns the walk. While it walks it keeps the context rules ask about: the function
being visited, whether it is loss code, and the environment of facts of the names assigned so
far. Rules of scope "loss" are only called inside loss code; disabled rules are never built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from time import perf_counter

import libcst as cst

from . import objective, positions
from . import scope as scope_mod
from .evaluator import Env, Evaluator
from .facts import Fact, Reason
from .finding import Edit, Finding, Fix, Severity
from .flow import GradientFlow
from .index import Function, ModuleIndex, build
from .ops import Op
from .rule import Replace, Rule
from .shapes import Reduction, Shapes
from .tree import NODE_TYPES, argument, assigned_names, code

NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?", re.I)
NAMED_IGNORE = re.compile(r"#\s*lossguard:\s*ignore\[(?P<codes>[A-Z0-9,\s]+)\]")
FILE_NOQA = re.compile(
    r"#\s*lossguard:\s*noqa\b(?::\s*(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?", re.I)


def file_noqa(lines: list[str]) -> set[str] | None:
    """The codes a file-level `# lossguard: noqa[: CODES]` silences (an empty set: every code;
    None: no such comment). Only the leading comments count (shebang, encoding, licence
    header): the first line of code, a docstring included, ends them."""
    codes: set[str] = set()
    found = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        match = FILE_NOQA.match(stripped)
        if match is None:
            continue
        if not match.group("codes"):
            return set()
        found = True
        codes.update(c.upper() for c in re.split(r"[,\s]+", match.group("codes")) if c)
    return codes if found else None


@dataclass
class Options:
    """What changes the result of linting one file."""

    all_code: bool = False
    loss_names: tuple[str, ...] = ()


@dataclass
class _Report:
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
        self.evaluator = Evaluator(self.index)
        self.shapes = Shapes(self.index)
        self._flow: GradientFlow | None = None
        self.frames: list[_Frame] = [_Frame(None, self.evaluator.module_env, False)]
        self.statement = 0
        self.module_loss_statement = False
        # open `with GradientTape()` blocks and module-level loss statements nested in a block
        self.loss_depth = 0
        self.reports: list[_Report] = []
        self.memo: dict[str, object] = {}  # module-wide answers an analysis computes once

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

    def fact(self, node: cst.CSTNode) -> Fact:
        return self.evaluator.fact(node, self.env)

    def value_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """Follow local assignments: the expression a name was last assigned, else the node."""
        seen = 0
        while isinstance(node, cst.Name) and seen < 20:
            value = self.env.value(node.value)
            if value is None:
                break
            node = value
            seen += 1
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
                                      self.options.all_code)
        return self._flow

    def is_loss_function(self, function: Function | None) -> bool:
        return self.scope.contains(function)

    @staticmethod
    def text(node: cst.CSTNode) -> str:
        return code(node)

    def explain(self, reason: Reason | None) -> str:
        """"`y_true` is an input and can be 0" for a reason."""
        if reason is None:
            return ""
        return f"`{shorten(code(reason.node))}` {reason.why}"

    def argument(self, call: cst.Call, index: int, name: str) -> cst.BaseExpression | None:
        return argument(call, index, name)

    # --- reporting --------------------------------------------------------------------------
    def report(self, rule: Rule, node: cst.CSTNode, message: str, *, hint: str,
               fix: Replace | None, severity: Severity | None) -> None:
        function = self.function
        if rule.objective and function is not None and id(node) in self.unreached(function):
            return
        self.reports.append(_Report(type(rule), node, self.statement, message, hint, fix,
                                    severity or rule.severity,
                                    function.qualname if function else None))

    def unreached(self, function: Function) -> frozenset[int]:
        """The nodes of `function` whose values never reach its objective (computed once, and
        only for a function where an objective rule reports)."""
        key = f"unreached:{id(function.node)}"
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = objective.unreached(function.node)
        return found  # type: ignore[return-value]

    # --- environment upkeep, called by the walk -----------------------------------------------
    def enter_function(self, node: cst.FunctionDef) -> None:
        function = self.index.function_of.get(id(node))
        loss = self.scope.contains(function)
        parent = self.frames[-1].env
        if function is not None and loss:
            inputs = scope_mod.inputs_of(function)
            env = self.evaluator.function_env(function, inputs, parent)
        else:
            inputs, env = set(), Env(parent)
        self.frames.append(_Frame(function, env, loss, inputs))

    def leave_function(self) -> None:
        self.frames.pop()

    def bind(self, targets: Iterable[cst.BaseExpression], value: cst.BaseExpression | None) -> None:
        fact = self.fact(value) if value is not None else Fact()
        for target in targets:
            if isinstance(target, cst.Name):
                self.env.bind(target.value, fact, value)
                continue
            names = assigned_names(target)
            flat = isinstance(target, (cst.Tuple, cst.List)) and len(names) == len(target.elements)
            unpacked = self.evaluator.unpacked(value, len(names), self.env) \
                if flat and value is not None else [Fact()] * len(names)
            for name, element in zip(names, unpacked, strict=True):
                self.env.bind(name, element)


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Linter:
    """Runs a fixed set of rule classes over modules."""

    def __init__(self, rules: Iterable[type[Rule]], options: Options | None = None) -> None:
        self.rule_classes = list(rules)
        self.options = options or Options()
        self.marked = _node_types_named(frozenset(
            {*(attr[6:] for rule in self.rule_classes for attr in _visitor_names(rule)),
             *_CONTEXT_NODES}))

    def lint(self, path: str, source: str, module: cst.Module | None = None) -> list[Finding]:
        if module is None:
            module = cst.parse_module(source)
        ctx = FileContext(path, source, module, self.options, self.marked)
        rules = [cls(ctx) for cls in self.rule_classes
                 if cls.calls is None or ctx.index.calls_any(cls.calls)]
        _Walker(ctx, rules).run()
        return _finish(ctx, frozenset(cls.code for cls in self.rule_classes))


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


@cache
def _visitor_names(rule_class: type[Rule]) -> tuple[str, ...]:
    """The `visit_<Node>` and `leave_<Node>` methods of a rule class."""
    return tuple(a for a in dir(rule_class) if a.startswith(("visit_", "leave_")))


@cache
def _node_types_named(names: frozenset[str]) -> frozenset[type]:
    """The node classes (both copies libcst makes of each) with these names, but the Module."""
    return frozenset(t for t in NODE_TYPES if t.__name__ in names) - {cst.Module}


_CONTEXT_NODES = frozenset({"FunctionDef", "With", "Assign", "AnnAssign", "AugAssign", "For",
                            "Expr"})


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
        opens_loss = (name == "With" and id(node) in ctx.index.tape_withs) or (
            id(node) in ctx.scope.statements and len(ctx.frames) == 1)
        if is_function:
            ctx.enter_function(node)  # type: ignore[arg-type]
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
        elif name == "AugAssign" or name == "For":
            ctx.bind([node.target], None)  # type: ignore[attr-defined]


def _finish(ctx: FileContext, enabled: frozenset[str] = frozenset()) -> list[Finding]:
    check_noqa = UNUSED_NOQA in enabled and ("noqa" in ctx.source or "lossguard:" in ctx.source)
    if not ctx.reports and not check_noqa:
        return []
    lines = ctx.source.splitlines()
    silenced = file_noqa(lines)
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
    positions = _positions(ctx.module, kept)
    findings = []
    used: dict[int, set[str]] = {}  # line -> noqa codes that suppressed a finding
    for report in kept:
        if id(report.node) not in positions:
            continue  # not a node of this module: nothing to point at
        start, end = positions[id(report.node)]
        matched = _suppressing(lines, start[0], report.rule.code)
        if matched is not None:
            used.setdefault(start[0], set()).update(matched)
            continue
        fix = None
        if report.fix is not None:
            spans = [positions.get(id(old)) for old, _ in report.fix.pairs()]
            if all(span is not None for span in spans):
                edits = tuple(Edit(span[0], span[1], _replacement(ctx.module, old, new))
                              for span, (old, new) in zip(spans, report.fix.pairs(), strict=True))
                fix = Fix(report.fix.description, edits, report.fix.safe)
        cls = report.rule
        findings.append(Finding(
            path=ctx.path, line=start[0], column=start[1] + 1, end_line=end[0],
            end_column=end[1] + 1, code=cls.code, name=cls.name, severity=report.severity,
            message=report.message, hint=report.hint, function=report.function,
            probe=cls.probe, fix=fix,
        ))
    if check_noqa:
        findings.extend(_unused_noqa(ctx, used, enabled))
    findings.sort(key=lambda f: f.sort_key)
    return findings


def _replacement(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> str:
    """The code of `new` for the span of `old`. Positions exclude a node's own parentheses,
    which stay in the source: a new node that kept them drops them."""
    if getattr(old, "lpar", None) and getattr(new, "lpar", None):
        new = new.with_changes(lpar=[], rpar=[])
    return module.code_for_node(new)


def noqa_codes(line: str) -> set[str] | None:
    """The codes a line's `# noqa` suppresses: None for none, an empty set for all."""
    match = NAMED_IGNORE.search(line)
    if match:
        return {c.strip().upper() for c in re.split(r"[,\s]+", match.group("codes")) if c.strip()}
    match = NOQA.search(line)
    if not match:
        return None
    codes = match.group("codes")
    if not codes:
        return set()
    return {c.strip().upper() for c in re.split(r"[,\s]+", codes) if c.strip()}


def _suppressed(lines: list[str], line: int, rule_code: str) -> bool:
    return _suppressing(lines, line, rule_code) is not None


def _suppressing(lines: list[str], line: int, rule_code: str) -> set[str] | None:
    """The noqa codes of `line` that suppress `rule_code` (empty for a bare noqa), else None."""
    if not 0 < line <= len(lines):
        return None
    codes = noqa_codes(lines[line - 1])
    if codes is None:
        return None
    if not codes:
        return set()
    matched = {c for c in codes if rule_code.startswith(c)}
    return matched or None


UNUSED_NOQA = "LL002"
_CODE = re.compile(r"^[A-Z]+[0-9]+$")


def _unused_noqa(ctx: FileContext, used: dict[int, set[str]],
                 enabled: frozenset[str]) -> list[Finding]:
    """LL002: `# noqa: LLxxx` comments (and `# lossguard: ignore[...]`) naming an enabled rule
    that reported nothing on that line. Comments only: text in strings is not a noqa."""
    import io
    import tokenize

    from .rules.linter import UnusedNoqa

    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(ctx.source).readline)
                  if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []
    findings = []
    for token in tokens:
        comment = token.string
        match = NAMED_IGNORE.search(comment) or NOQA.search(comment)
        if match is None or not match.group("codes"):
            continue
        raw = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
        unused = [c for c in raw if c.upper() in enabled and c.upper() != UNUSED_NOQA
                  and c.upper() not in used.get(token.start[0], set())]
        if not unused:
            continue
        line, column = token.start
        start, end = match.span("codes")
        fix = None
        if all(_CODE.match(c.upper()) for c in raw):
            kept = [c for c in raw if c not in unused]
            if kept:
                edit = Edit((line, column + start), (line, column + end), ", ".join(kept))
                fix = Fix("remove the unused codes", (edit,), True)
            elif not comment[match.end():].strip() and not comment[:match.start()].strip():
                text = ctx.source.splitlines()[line - 1]
                begin = len(text[:column].rstrip())
                fix = Fix("remove the unused noqa comment",
                          (Edit((line, begin), (line, column + len(comment)), ""),), True)
        names = ", ".join(f"`{c}`" for c in unused)
        findings.append(Finding(
            path=ctx.path, line=line, column=column + start + 1, end_line=line,
            end_column=column + end + 1, code=UnusedNoqa.code, name=UnusedNoqa.name,
            severity=UnusedNoqa.severity,
            message=f"unused noqa: {names} suppress{'es' if len(unused) == 1 else ''} "
                    f"nothing on this line", hint=UnusedNoqa.hint, fix=fix))
    return findings


def _positions(module: cst.Module, reports: list[_Report]
               ) -> dict[int, tuple[positions.Position, positions.Position]]:
    """Line/column of the reported nodes and of the nodes their fixes replace."""
    wanted: dict[int, list[cst.CSTNode]] = {}
    for report in reports:
        nodes = wanted.setdefault(report.statement, [])
        nodes.append(report.node)
        if report.fix is not None:
            nodes.extend(old for old, _ in report.fix.pairs())
    return positions.locate(module, wanted)
