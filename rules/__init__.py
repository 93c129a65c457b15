"""The rule catalogue: one module per family, one class per rule.

Rules are discovered from the family modules: a new rule touches its family module and nothing
else.
"""

from __future__ import annotations

import importlib

from lossguard.api import Rule

FAMILIES = ("numerical", "gradients", "reductions", "framework_api", "linter")


def all_rules() -> list[type[Rule]]:
    """Every rule class, sorted by code."""
    found: dict[str, type[Rule]] = {}
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.{family}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule \
                    and getattr(value, "code", None):
                found[value.code] = value
    return [found[code] for code in sorted(found)]
