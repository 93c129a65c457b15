"""Every rule's VALID examples are quiet for that rule; every INVALID example, linted with its
rule alone, reports exactly its pinned line(s) and carries its pinned message fragment."""

from __future__ import annotations

import textwrap

import pytest

from lossguard.api import Invalid, Valid
from lossguard.pipeline import fix
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

from .helpers import RULES, alone, lint

# INVALID examples whose current message is wrong; the pinned fragment is the right one.
# (rule, a fragment of the example's code) -> what is wrong. Strict: fixing it fails the test,
# so the entry goes.
WRONG_MESSAGE: dict[tuple[str, str], str] = {}


def _cases(kind: str):
    for rule in RULES:
        examples = rule.VALID if kind == "valid" else rule.INVALID
        for number, example in enumerate(examples, 1):
            code = getattr(example, "code", example)
            wrong = [why for (c, fragment), why in WRONG_MESSAGE.items()
                     if kind == "invalid" and c == rule.code and fragment in code]
            marks = [pytest.mark.xfail(reason=wrong[0], strict=True)] if wrong else []
            yield pytest.param(rule, example, id=f"{rule.code}-{kind.upper()}-{number}",
                               marks=marks)


# INVALID examples that report more than once: (rule, a fragment of the example's code) -> the
# line of every finding. Any other INVALID example reports exactly once, on its pinned line.
SEVERAL = {
    ("LL101", "T.log(1 - p)"): [3, 3],  # log(p) and log(1 - p)
    ("LL101", "K.log(y_true)"): [3, 3],  # log(y_pred) and log(y_true)
    ("LL101", "jnp.log(1 - p)"): [3, 3],
    ("LL107", "tf.math.log(1 - y_pred)"): [4, 4],  # log(sigmoid) and log(1 - sigmoid)
    ("LL107", "torch.log(1 - pred)"): [4, 4],
    ("LL204", "K.eval(K.sum(y_true)) == 0"): [3, 3],  # the `if` and the `K.eval`
}


def _expected_lines(rule, example: Invalid) -> list[int] | None:
    keys = [key for key in SEVERAL if key[0] == rule.code and key[1] in example.code]
    assert len(keys) <= 1, keys
    if keys:
        return SEVERAL[keys[0]]
    return None if example.line is None else [example.line]


def test_several_table_names_real_examples():
    """Every entry of SEVERAL matches exactly one INVALID example (a stale entry fails)."""
    for (code, fragment), lines in SEVERAL.items():
        rule = next(r for r in RULES if r.code == code)
        matching = [e for e in rule.INVALID if fragment in getattr(e, "code", e)]
        assert len(matching) == 1, (code, fragment)
        assert matching[0].line in lines


@pytest.mark.parametrize(("rule", "example"), list(_cases("valid")))
def test_valid_examples_are_quiet(rule, example):
    code = example.code if isinstance(example, Valid) else example
    found = alone(rule, code)
    assert found == [], [f"{f.line}: {f.message}" for f in found]
    everything = [f for f in lint(code) if f.code == rule.code]
    assert everything == [], [f"{f.line}: {f.message}" for f in everything]


@pytest.mark.parametrize(("rule", "example"), list(_cases("invalid")))
def test_invalid_examples_are_flagged(rule, example):
    """Linted with its rule alone, an INVALID example reports exactly the pinned line(s), and
    nothing else from that rule (as flake8-bugbear compares the whole list); every INVALID
    example pins a fragment of its message, which one finding carries."""
    example = example if isinstance(example, Invalid) else Invalid(example)
    found = alone(rule, example.code)
    assert found, f"{rule.code} did not fire"
    lines = _expected_lines(rule, example)
    got = sorted(f.line for f in found)
    if lines is None:
        assert len(got) == 1, [(f.line, f.message) for f in found]
    else:
        assert got == sorted(lines), [(f.line, f.message) for f in found]
    assert example.message is not None, "pin a fragment of the message: Invalid(..., message=)"
    assert any(example.message in f.message for f in found), [f.message for f in found]
    # Other rules do not change what this one reports.
    together = sorted(f.line for f in lint(example.code) if f.code == rule.code)
    assert together == got


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
