"""Lint code snippets in tests."""

from __future__ import annotations

import textwrap

from lossguard.rules import all_rules

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
