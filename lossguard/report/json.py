"""`--output-format json`: a JSON array of findings; `json-lines`: one JSON object a line."""

from __future__ import annotations

import json

from ..engine.results import Finding


def render(findings: list[Finding], **_: object) -> str:
    return json.dumps([f.to_json() for f in findings], indent=2) + "\n"


def render_lines(findings: list[Finding], **_: object) -> str:
    return "".join(json.dumps(f.to_json()) + "\n" for f in findings)
