"""The generated documentation matches the rule classes."""

from __future__ import annotations

from pathlib import Path

from lossguard.rules import all_rules

from lossguard.report.docs import rules_document, with_table

ROOT = Path(__file__).resolve().parent.parent


def test_docs_rules_md_is_fresh():
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert text == rules_document(all_rules()), "run python scripts/generate_docs.py"


def test_readme_rules_table_is_fresh():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == with_table(readme, all_rules()), "run python scripts/generate_docs.py"


def test_every_rule_has_a_section():
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule in all_rules():
        assert f"## {rule.code} {rule.name}" in text
