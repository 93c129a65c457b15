"""`--output-format gitlab`: GitLab Code Quality (a JSON array of issues).

Each issue has `description`, `check_name` (the code), `fingerprint` (stable across runs while
the path, code, function and message stay), `severity` (`major` for errors, `minor` for
warnings, `info`) and `location` (`path` relative to the working folder, where the CI job runs,
and `lines.begin`/`lines.end`). A notebook finding names its cell in the description.
"""

from __future__ import annotations

import hashlib
import json
import os

from ..engine.results import Finding

SEVERITIES = {"error": "major", "warning": "minor", "info": "info"}


def _path(path: str) -> str:
    relative = os.path.relpath(os.path.abspath(path))
    return path if relative.startswith("..") else relative.replace(os.sep, "/")


def issue(finding: Finding, seen: dict[str, int]) -> dict:
    path = _path(finding.path)
    base = f"{path}\0{finding.code}\0{finding.function or ''}\0{finding.message}"
    seen[base] = seen.get(base, 0) + 1  # the same finding twice in a function: two issues
    fingerprint = hashlib.sha256(f"{base}\0{seen[base]}".encode()).hexdigest()
    description = f"{finding.code} {finding.message}"
    if finding.cell is not None:
        description = f"cell {finding.cell}, line {finding.line}: {description}"
    return {
        "description": description,
        "check_name": finding.code,
        "fingerprint": fingerprint,
        "severity": SEVERITIES.get(finding.severity, "minor"),
        "location": {"path": path, "lines": {"begin": finding.line, "end": finding.end_line}},
    }


def render(findings: list[Finding], **_: object) -> str:
    seen: dict[str, int] = {}
    return json.dumps([issue(f, seen) for f in findings], indent=2) + "\n"
