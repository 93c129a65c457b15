"""The analyses of one module, as the helpers that combine them (`models`, `rewrite`) read
them. The engine's context has them all, and more (`lossguard.api.Context`)."""

from __future__ import annotations

from typing import Protocol

import libcst as cst

from ..knowledge.ops import Op
from .definitions import Definitions
from .facts import Fact
from .index import Function, ModuleIndex
from .reductions import Shapes


class ModuleAnalyses(Protocol):
    module: cst.Module
    index: ModuleIndex
    definitions: Definitions  # what value a name holds where it is read
    shapes: Shapes
    memo: dict[str, object]  # module-wide answers an analysis computes once

    @property
    def function(self) -> Function | None:
        """The innermost function being visited (None at module level)."""
        ...

    def resolve(self, node: cst.CSTNode) -> str | None:
        """The qualified name a node spells (`K.log` -> `keras.backend.log`), else None."""
        ...

    def op(self, call: cst.Call) -> Op | None:
        """The framework operation a call is, else None."""
        ...

    def kind(self, node: cst.CSTNode) -> str | None:
        """The operation kind of a call node ("log", "sum", ...), else None."""
        ...

    def operand(self, call: cst.Call, index: int = 0,
                name: str = "x") -> cst.BaseExpression | None:
        """The operand of an operation (its positional `index` or keyword `name`)."""
        ...

    def compared(self, test: cst.BaseExpression
                 ) -> tuple[cst.BaseExpression, str, cst.BaseExpression] | None:
        """A comparison, also written as a call (`tf.greater(n, 0)`): (left, operator, right)."""
        ...

    def fact(self, node: cst.CSTNode) -> Fact:
        """What is proven about the value of `node` (sign, range, and why)."""
        ...

    def reads_log_scale(self, node: cst.CSTNode) -> bool:
        """Whether `node` reads a value the module uses as a log-scale: its `exp` scales
        Gaussian noise or an anchor box, so that `exp` is meant (see `Evaluator.log_scales`)."""
        ...

    def value_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """Follow local assignments: the expression a name was last assigned, else the node."""
        ...

    def text(self, node: cst.CSTNode) -> str:
        """The source text of a node, on one line."""
        ...
