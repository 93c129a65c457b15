"""Lint code snippets in tests."""

from __future__ import annotations

import re
import textwrap

from lossguard.rules import all_rules

from lossguard.api import Rule
from lossguard.engine.results import Finding
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source


def lint(code: str, *, select: list[str] | None = None, path: str = "example.py",
         **settings: object) -> list[Finding]:
    """Findings for a dedented snippet, with every rule (info ones too) unless `select` is given."""
    chosen = Settings(select=select or ["ALL"], **settings)
    return lint_source(textwrap.dedent(code).lstrip("\n"), path, chosen, None)


def codes(code: str, **kwargs: object) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint(code, **kwargs)]


RULES = all_rules()


def alone(rule: type[Rule], code: str) -> list[Finding]:
    """Findings of `rule` on a snippet linted with that rule alone (plus the rules its noqa
    comments name, which LL002 judges)."""
    named = re.findall(r"\bLL\d{3}\b", code)
    return [f for f in lint(code, select=[rule.code, *named]) if f.code == rule.code]
