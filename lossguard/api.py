"""The rule API: a rule is a small class whose docstring is its documentation and whose
VALID/INVALID examples are its tests. It asks the engine questions and reports findings.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

from .engine.results import Severity

if TYPE_CHECKING:
    from .engine.walk import FileContext


@dataclass(frozen=True)
class Valid:
    code: str


@dataclass(frozen=True)
class Invalid:
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
    # metric, a value only compared against a threshold) are dropped. See `objective.py`.
    objective: ClassVar[bool] = False
    hint: ClassVar[str] = ""
    VALID: ClassVar[list[Valid | str]] = []
    INVALID: ClassVar[list[Invalid | str]] = []

    def __init__(self, ctx: FileContext) -> None:
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
               fix: Replace | None = None, severity: Severity | None = None) -> None:
        self.ctx.report(self, node, message, hint=hint if hint is not None else self.hint,
                        fix=fix, severity=severity)


@dataclass(frozen=True)
class Replace:
    """A fix expressed on the tree: put `new` where `old` is. The engine turns it into a text
    edit once positions are known, so rules never deal with line numbers."""

    old: cst.CSTNode
    new: cst.CSTNode
    description: str
    safe: bool = True
    also: tuple[tuple[cst.CSTNode, cst.CSTNode], ...] = ()  # more (old, new) pairs, one fix

    def pairs(self) -> tuple[tuple[cst.CSTNode, cst.CSTNode], ...]:
        return ((self.old, self.new), *self.also)
