"""Every rule's VALID examples are quiet for that rule; every INVALID example is flagged at the
pinned line with the pinned message fragment."""

from __future__ import annotations

import textwrap

import pytest

from lossguard.api import Invalid, Valid
from lossguard.pipeline import fix
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

from .helpers import RULES, lint


def _cases(kind: str):
    for rule in RULES:
        examples = rule.VALID if kind == "valid" else rule.INVALID
        for number, example in enumerate(examples, 1):
            yield pytest.param(rule, example, id=f"{rule.code}-{kind.upper()}-{number}")


@pytest.mark.parametrize(("rule", "example"), list(_cases("valid")))
def test_valid_examples_are_quiet(rule, example):
    code = example.code if isinstance(example, Valid) else example
    found = [f for f in lint(code) if f.code == rule.code]
    assert found == [], [f"{f.line}: {f.message}" for f in found]


@pytest.mark.parametrize(("rule", "example"), list(_cases("invalid")))
def test_invalid_examples_are_flagged(rule, example):
    example = example if isinstance(example, Invalid) else Invalid(example)
    found = [f for f in lint(example.code) if f.code == rule.code]
    assert found, f"{rule.code} did not fire"
    if example.line is not None:
        assert example.line in {f.line for f in found}, [(f.line, f.message) for f in found]
    if example.message is not None:
        assert any(example.message in f.message for f in found), [f.message for f in found]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_is_documented(rule):
    doc = rule.documentation()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in doc, f"{rule.code} docstring lacks {heading!r}"
    assert rule.INVALID and rule.VALID, f"{rule.code} needs VALID and INVALID examples"
    assert rule.name == rule.name.lower() and " " not in rule.name


def _fixed_cases():
    for rule in RULES:
        for number, example in enumerate(rule.INVALID, 1):
            if isinstance(example, Invalid) and example.fixed is not None:
                yield pytest.param(rule, example, id=f"{rule.code}-FIXED-{number}")


@pytest.mark.parametrize(("rule", "example"), list(_fixed_cases()))
def test_invalid_examples_fix_to_the_pinned_code(rule, example):
    """`--fix --unsafe-fixes` with only this rule turns the example into its `fixed` code, which
    the rule no longer flags."""
    settings = Settings(select=[rule.code])
    before = textwrap.dedent(example.code).lstrip("\n")
    after, _ = fix.fix_text(before, lambda s: lint_source(s, "x.py", settings, None), True)
    assert after == textwrap.dedent(example.fixed).lstrip("\n")
    assert lint_source(after, "x.py", settings, None) == []
