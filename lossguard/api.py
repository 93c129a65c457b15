"""The rule API: all a rule may import.

A rule is a small class whose docstring is its documentation and whose VALID/INVALID examples
are its tests. It asks the engine questions through its context (`Context`) and reports
findings; a fix is a `Replace` on the tree. Besides those, this module offers the vocabulary
rules share: questions about trees (`tree`), the framework table (`ops`), the naming
heuristics (`names`), the facts domain, and the analyses a context hands out (gradient flow,
reductions, models, fix builders). `rules/` imports nothing else of lossguard.
"""

from __future__ import annotations

import inspect
from typing import ClassVar, Literal, NamedTuple, Protocol

import libcst as cst

from .analysis import models, rewrite
from .analysis.definitions import Body, Definition, Definitions
from .analysis.evaluator import Env
from .analysis.facts import FLOAT32_MAX_EXP, INF, Fact, Reason, f32
from .analysis.gradient_flow import NO_PATH, Blocked, GradientFlow
from .analysis.index import Function, ModuleIndex
from .analysis.module import ModuleAnalyses
from .analysis.reductions import (
    Reduction,
    Shapes,
    adaptive_optimizers_only,
    batch_broadcast,
    is_variables,
)
from .analysis.rewrite import Replace
from .analysis.tree import (
    assigned_names,
    callee_name,
    children,
    dotted,
    keyword,
    leaves,
    number,
    positional,
    shorten,
    walk,
    walk_own,
)
from .knowledge import ops
from .knowledge.names import (
    KERAS_PRED_NAMES,
    is_anchor_name,
    is_gradient_name,
    is_loss_name,
    is_optimizer_name,
    label_like,
    name_tokens,
    pred_like,
    reports_only,
)
from .knowledge.ops import Op

__all__ = [
    # the rule class and its examples
    "Rule", "Valid", "Invalid", "Replace", "Severity", "Context",
    # what a context hands out
    "Env", "Fact", "Reason", "Function", "ModuleIndex", "Op", "GradientFlow", "Blocked",
    "NO_PATH", "Reduction", "Shapes", "Body", "Definition", "Definitions",
    "adaptive_optimizers_only", "batch_broadcast", "is_variables",
    # shared vocabulary
    "models", "ops", "rewrite", "FLOAT32_MAX_EXP", "INF", "f32",
    "assigned_names", "callee_name", "children", "dotted", "keyword", "leaves", "number",
    "positional", "shorten", "walk", "walk_own",
    "KERAS_PRED_NAMES", "is_anchor_name", "is_gradient_name", "is_loss_name", "is_optimizer_name",
    "label_like", "name_tokens", "pred_like", "reports_only",
]

Severity = Literal["error", "warning", "info"]


class Context(ModuleAnalyses, Protocol):
    """What a rule may ask while it visits one module (the engine's `FileContext`): the
    module's analyses (`ModuleAnalyses`: its index, operations, facts, values, text) and the
    state of the walk."""

    path: str
    source: str

    @property
    def in_loss_code(self) -> bool: ...

    @property
    def env(self) -> Env: ...

    @property
    def inputs(self) -> set[str]:
        """Tensor parameters of the loss function being visited."""
        ...

    @property
    def flow(self) -> GradientFlow:
        """The gradient-flow analysis of the module."""
        ...

    def reduction(self, node: cst.CSTNode) -> Reduction:
        """How reduced the value of `node` is (scalar, per-sample, element-wise, unknown)."""
        ...

    def is_keras_loss(self, function: Function | None) -> bool: ...

    def explain(self, reason: Reason | None) -> str:
        """"`y_true` is an input and can be 0" for a reason."""
        ...

    def argument(self, call: cst.Call, index: int, name: str) -> cst.BaseExpression | None: ...

    def report(self, rule: Rule, node: cst.CSTNode, message: str, *, hint: str,
               fix: Replace | None, severity: Severity | None,
               gradient_only: bool | None = None) -> None: ...


class Valid(NamedTuple):
    """An example that must not be flagged."""

    code: str


class Invalid(NamedTuple):
    """An example that must be flagged; `line` (1-based, in the dedented code), a fragment of the
    message, and the code after `--fix --unsafe-fixes` may be pinned."""

    code: str
    line: int | None = None
    message: str | None = None
    fixed: str | None = None


class Rule:
    """Base class of every rule. Subclasses set the class attributes and define `visit_<Node>`
    / `leave_<Node>` methods, called in one batched walk over the module."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = "error"
    scope: ClassVar[str] = "loss"  # "loss": runs on loss code only; "all": on every line
    frameworks: ClassVar[tuple[str, ...]] = ("tensorflow", "keras", "torch", "jax", "numpy")
    probe: ClassVar[str | None] = None  # the dynamic check that can confirm a finding
    replaces: ClassVar[tuple[str, ...]] = ()  # general codes this one replaces on the same node
    # A rule that can only report in a module that calls one of these names (an operation's
    # own name, or any alias an import gives it): elsewhere it is not built. None: any module.
    calls: ClassVar[frozenset[str] | None] = None
    # An info rule whose findings can be raised to warning (LL302 where the module passes
    # `sample_weight=`): it also runs by default, and then only its raised findings are kept.
    escalates: ClassVar[bool] = False
    # A numerical hazard matters only where its value reaches the function's objective (its
    # returned or differentiated loss): findings in statements whose values never do (a logged
    # metric, a value only compared against a threshold) are dropped. See `analysis/objective.py`.
    objective: ClassVar[bool] = False
    # The hazard lives in the gradient only (an infinite gradient of `sqrt` at 0): code that
    # records no graph (`with torch.no_grad():`, `@torch.no_grad()`), or whose value reaches
    # the objective only through `stop_gradient`/`.detach()`, cannot have it.
    gradient_only: ClassVar[bool] = False
    hint: ClassVar[str] = ""
    VALID: ClassVar[list[Valid | str]] = []
    INVALID: ClassVar[list[Invalid | str]] = []

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @classmethod
    def default_enabled(cls) -> bool:
        return cls.severity != "info"

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.documentation().split("\n\n")[0].replace("\n", " ")

    def report(self, node: cst.CSTNode, message: str, *, hint: str | None = None,
               fix: Replace | None = None, severity: Severity | None = None,
               gradient_only: bool | None = None) -> None:
        """Report a finding at `node`; `gradient_only` overrides the rule's flag for this one
        (a hazard of the gradient only, dropped where no gradient flows)."""
        self.ctx.report(self, node, message, hint=hint if hint is not None else self.hint,
                        fix=fix, severity=severity, gradient_only=gradient_only)
