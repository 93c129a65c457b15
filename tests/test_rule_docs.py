"""Each rule's documented `## Example` fires that rule, and its `## Use instead` does not: the
examples users read in `docs/rules.md` and `--explain` are real."""

from __future__ import annotations

import re

import pytest

from .helpers import RULES, alone


def block(rule, heading: str) -> str | None:
    """The ```python block right under `## heading` in the rule's docstring."""
    match = re.search(rf"^## {heading}\n+```python\n(.*?)^```", rule.documentation(),
                      re.S | re.M)
    return match.group(1) if match else None


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_example_fires_its_rule(rule):
    code = block(rule, "Example")
    assert code is not None, f"{rule.code}: no ```python block under ## Example"
    assert alone(rule, code), f"{rule.code}: its documented example does not fire it"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_use_instead_is_quiet(rule):
    code = block(rule, "Use instead")
    if code is None:  # prose only (LL001, LL201)
        pytest.skip("no code under ## Use instead")
    found = alone(rule, code)
    assert found == [], [(f.line, f.message) for f in found]
