"""Rule documentation rendered from the rule classes (for --explain and docs/rules.md)."""

from __future__ import annotations

import textwrap

from .rule import Invalid, Rule, Valid


def _example(example: Valid | Invalid | str) -> str:
    code = example if isinstance(example, str) else example.code
    return textwrap.dedent(code).strip("\n")


def rule_markdown(rule: type[Rule]) -> str:
    default = "on" if rule.default_enabled() else "off (select it to enable)"
    parts = [f"## {rule.code} {rule.name}", "",
             f"Severity: {rule.severity}. Default: {default}. Runs on: "
             f"{'loss code' if rule.scope == 'loss' else 'all code'}.", "",
             rule.documentation(), ""]
    if rule.hint:
        parts += [f"Fix hint: {rule.hint}", ""]
    if rule.INVALID:
        parts += ["### Flagged", ""]
        for example in rule.INVALID:
            parts += ["```python", _example(example), "```", ""]
    if rule.VALID:
        parts += ["### Not flagged", ""]
        for example in rule.VALID:
            parts += ["```python", _example(example), "```", ""]
    return "\n".join(parts)
