"""What a rule reports: one finding at one place, with an optional fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..api import Severity


@dataclass(frozen=True)
class Edit:
    """Replace the source text between two (line, column) positions (1-based line, 0-based
    column)."""

    start: tuple[int, int]
    end: tuple[int, int]
    replacement: str


@dataclass(frozen=True)
class Fix:
    """A change that removes a finding; `safe` fixes keep the values, unsafe ones change them
    slightly."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True)
class Confirmation:
    """What the dynamic pass measured for a finding."""

    status: Literal["confirmed", "not_reproduced", "not_checked"]
    probe: str
    summary: str
    evidence: dict = field(default_factory=dict, compare=False, hash=False)
    reason: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    `line` is 1-based, `column` is 1-based (as ruff and flake8 print them); the end is exclusive.
    `function` is the dotted name of the enclosing function (`dice_loss`, `FocalLoss.call`), or
    None at module level; `probe` names the dynamic check that can confirm the finding.
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    severity: Severity
    message: str
    hint: str = ""
    function: str | None = None
    probe: str | None = None
    fix: Fix | None = field(default=None, compare=False)
    cell: int | None = None
    dynamic: Confirmation | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_json(self) -> dict:
        data = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "function": self.function,
            "probe": self.probe,
            "fixable": self.fix is not None,
            "fix": None if self.fix is None else {
                "applicability": "safe" if self.fix.safe else "unsafe",
                "message": self.fix.description,
                "edits": [{"content": e.replacement,
                           "location": {"row": e.start[0], "column": e.start[1] + 1},
                           "end_location": {"row": e.end[0], "column": e.end[1] + 1}}
                          for e in self.fix.edits],
            },
        }
        if self.cell is not None:
            data["cell"] = self.cell
        if self.dynamic is not None:
            d = self.dynamic
            data["dynamic"] = {
                "status": d.status,
                "probe": d.probe,
                "summary": d.summary,
                "evidence": d.evidence,
                "reason": d.reason,
            }
        return data
