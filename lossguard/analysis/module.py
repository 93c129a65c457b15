"""The analyses of one module, as the helpers that combine them (`models`, `rewrite`) read
them. The engine's context has them all, and more (`lossguard.api.Context`)."""

from __future__ import annotations

from typing import Protocol

import libcst as cst

from .index import ModuleIndex
from .reductions import Shapes


class ModuleAnalyses(Protocol):
    module: cst.Module
    index: ModuleIndex
    shapes: Shapes

    def resolve(self, node: cst.CSTNode) -> str | None:
        """The qualified name a node spells (`K.log` -> `keras.backend.log`), else None."""
        ...

    def kind(self, node: cst.CSTNode) -> str | None:
        """The operation kind of a call node ("log", "sum", ...), else None."""
        ...
