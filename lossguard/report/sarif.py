"""`--format sarif`: SARIF 2.1.0 for code scanning (GitHub, GitLab, IDEs).

Every rule is listed in `tool.driver.rules` with its documentation (the help text is the
rule's docstring); each result has its location and, where the finding carries a fix, a
`fixes` entry with the replacement. Columns are 1-based code points; a finding in a notebook
cell keeps its cell number in the result's properties (lines count from the top of the cell).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..api import Rule
from ..engine.results import Finding
from .docs import rule_markdown

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/lossguard/lossguard"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def uri(path: str) -> dict:
    """An artifactLocation: relative paths stay relative (to %SRCROOT%), others become file URIs."""
    p = Path(path)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": quote(p.as_posix()), "uriBaseId": "%SRCROOT%"}


def rule_descriptor(rule: type[Rule]) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary()},
        "fullDescription": {"text": rule.documentation()},
        "help": {"text": rule.documentation(), "markdown": rule_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity],
                                 "enabled": rule.default_enabled()},
        "properties": {"tags": ["lossguard", rule.scope], "precision": "high"},
    }


def _region(finding: Finding) -> dict:
    region = {"startLine": finding.line, "startColumn": finding.column}
    if (finding.end_line, finding.end_column) >= (finding.line, finding.column):
        region["endLine"] = finding.end_line
        region["endColumn"] = finding.end_column
    return region


def result(finding: Finding, index: dict[str, int]) -> dict:
    text = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
    if finding.cell is not None:
        text = f"cell {finding.cell}: {text}"
    data: dict = {
        "ruleId": finding.code,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": uri(finding.path),
                                            "region": _region(finding)}}],
        "partialFingerprints": {
            "lossguard/v1": f"{finding.code}:{finding.function or ''}:{finding.message}"},
    }
    if finding.code in index:
        data["ruleIndex"] = index[finding.code]
    if finding.function:
        data["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": finding.function, "kind": "function"}]
    properties: dict = {}
    if finding.cell is not None:
        properties["cell"] = finding.cell
    if finding.dynamic is not None:
        properties["dynamic"] = {"status": finding.dynamic.status,
                                 "summary": finding.dynamic.summary}
    if properties:
        data["properties"] = properties
    if finding.fix is not None and finding.cell is None:
        data["fixes"] = [{
            "description": {"text": finding.fix.description + (
                "" if finding.fix.safe else " (unsafe: values change slightly)")},
            "artifactChanges": [{
                "artifactLocation": uri(finding.path),
                "replacements": [{
                    "deletedRegion": {"startLine": e.start[0], "startColumn": e.start[1] + 1,
                                      "endLine": e.end[0], "endColumn": e.end[1] + 1},
                    "insertedContent": {"text": e.replacement},
                } for e in finding.fix.edits],
            }],
        }]
    return data


def document(findings: list[Finding], rules: list[type[Rule]] | None = None) -> dict:
    if rules is None:
        from ..rules import all_rules

        rules = all_rules()
    index = {rule.code: position for position, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lossguard",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule_descriptor(rule) for rule in rules],
            }},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "results": [result(f, index) for f in findings],
        }],
    }


def render(findings: list[Finding], **_: object) -> str:
    return json.dumps(document(findings), indent=2) + "\n"
