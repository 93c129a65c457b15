"""Annotated fixtures, one per rule family (`tests/fixtures/families/`): code in the shape of a
real project, each line that must be flagged ending in its codes (`# LL101`, `# LL101 LL107`).
Linted with every rule, a fixture yields exactly its annotations: no rule misses its line, and
no rule (of any family) adds a finding anywhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lossguard.rules import all_rules

from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

FAMILIES = Path(__file__).resolve().parent / "fixtures" / "families"
FIXTURES = sorted(FAMILIES.glob("*.py"))
ANNOTATION = re.compile(r"#\s*((?:LL\d{3}\s*)+)$")

# Lines that must be flagged but are not, because of a known bug: (fixture, code, a fragment
# of the line) -> the bug. They are left out of the exact comparison and asserted by a strict
# xfail below, so fixing the bug makes that test pass and the entry goes.
KNOWN_MISSES: dict[tuple[str, str, str], str] = {}


def annotations(source: str) -> set[tuple[int, str]]:
    found = set()
    for number, line in enumerate(source.splitlines(), 1):
        match = ANNOTATION.search(line)
        if match:
            found |= {(number, code) for code in match.group(1).split()}
    return found


def findings(path: Path) -> set[tuple[int, str]]:
    # Linted under its bare name: under `tests/` a module counts as test code, not loss code.
    found = lint_source(path.read_text(encoding="utf-8"), path.name, Settings(select=["ALL"]))
    return {(f.line, f.code) for f in found}


def known_misses(path: Path) -> set[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    misses = set()
    for (name, code, fragment) in KNOWN_MISSES:
        if name == path.name:
            numbers = [n for n, line in enumerate(lines, 1) if fragment in line]
            assert len(numbers) == 1, (name, fragment)
            misses.add((numbers[0], code))
    return misses


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_yields_exactly_its_annotations(path):
    expected = annotations(path.read_text(encoding="utf-8"))
    assert expected, "a fixture annotates at least one line"
    misses = known_misses(path)
    assert misses <= expected
    got = findings(path)
    assert got - expected == set(), "extra findings"
    assert expected - misses - got == set(), "missed lines"


@pytest.mark.xfail(strict=True, reason="known misses (see KNOWN_MISSES)")
@pytest.mark.parametrize("path", [p for p in FIXTURES if known_misses(p)], ids=lambda p: p.stem)
def test_known_misses_are_flagged(path):
    assert known_misses(path) <= findings(path)


FAMILY_PREFIXES = {"numerical": "LL1", "gradients": "LL2", "reductions": "LL3",
                   "framework_api": "LL4"}


@pytest.mark.parametrize(("stem", "prefix"), FAMILY_PREFIXES.items())
def test_every_rule_of_the_family_is_annotated(stem, prefix):
    """Each family's fixture covers every rule of its family (LL1xx for numerical.py, ...)."""
    family = {r.code for r in all_rules() if r.code.startswith(prefix)}
    source = (FAMILIES / f"{stem}.py").read_text(encoding="utf-8")
    assert family <= {code for _, code in annotations(source)}
