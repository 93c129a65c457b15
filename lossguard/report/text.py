"""`--format text`: `path:line:col: CODE message`, with the source line, a caret under the node
and the fix hint when the output is a terminal; a closing summary."""

from __future__ import annotations

from collections import Counter

from ..engine.results import Finding
from .confirmation import text_line

COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def location(finding: Finding) -> str:
    if finding.cell is not None:
        return f"{finding.path}:cell {finding.cell}:{finding.line}:{finding.column}"
    return f"{finding.path}:{finding.line}:{finding.column}"


def render(findings: list[Finding], *, color: bool = False, context: bool = False,
           sources: dict[str, list[str]] | None = None, files: int = 0,
           statistics: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if color else text

    out: list[str] = []
    for finding in findings:
        code = paint(finding.code, BOLD + COLORS.get(finding.severity, ""))
        out.append(f"{paint(location(finding), BOLD)}: {code} {finding.message}")
        if context and sources is not None:
            lines = sources.get(finding.path, [])
            if 0 < finding.line <= len(lines) and finding.cell is None:
                line = lines[finding.line - 1].rstrip("\n")
                width = (finding.end_column - finding.column) if finding.end_line == \
                    finding.line else len(line) - finding.column + 1
                out.append(f"    {line}")
                out.append("    " + " " * (finding.column - 1) + paint("^" * max(width, 1),
                                                                    COLORS[finding.severity]))
            if finding.hint:
                out.append(f"    {paint('hint:', DIM)} {finding.hint}")
        if finding.dynamic is not None:
            out.append(f"    {text_line(finding.dynamic)}")
    counts = Counter(f.code for f in findings)
    if statistics and counts:
        for code, count in sorted(counts.items()):
            name = next(f.name for f in findings if f.code == code)
            out.append(f"{count:5d}  {code}  {name}")
    if findings:
        severities = Counter(f.severity for f in findings)
        parts = ", ".join(f"{severities[s]} {s}{'s' if severities[s] != 1 else ''}"
                          for s in ("error", "warning", "info") if severities[s])
        out.append(f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''} "
                   f"({parts}) in {files} file{'s' if files != 1 else ''}.")
    elif files:
        out.append(f"All checks passed ({files} file{'s' if files != 1 else ''}).")
    return "\n".join(out) + ("\n" if out else "")
