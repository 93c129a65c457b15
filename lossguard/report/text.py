"""`--output-format full` and `concise`: `path:line:col: CODE message`; `full` adds the source
line, a caret under the node and the fix hint (on a terminal or not); then a closing summary
and, where findings can be fixed, a footer saying how.

A finding whose fix `--fix` would apply (safe fixes; unsafe ones too with `--unsafe-fixes`)
is marked `[*]` after its code, as ruff does.
"""

from __future__ import annotations

from collections import Counter

from ..engine.results import Finding
from .confirmation import text_line

COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"
Sources = dict  # path (or (path, cell) for a notebook cell) -> its lines


def location(finding: Finding) -> str:
    if finding.cell is not None:
        return f"{finding.path}:cell {finding.cell}:{finding.line}:{finding.column}"
    return f"{finding.path}:{finding.line}:{finding.column}"


def fixable(finding: Finding, unsafe: bool = False) -> bool:
    """Whether `--fix` (with `unsafe`: `--fix --unsafe-fixes`) applies this finding's fix."""
    return finding.fix is not None and (finding.fix.safe or unsafe)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render(findings: list[Finding], *, color: bool = False, context: bool = False,
           sources: Sources | None = None, files: int = 0, statistics: bool = False,
           unsafe: bool = False, show_fixes: bool = False, quiet: bool = False,
           fixed: int | None = None) -> str:
    """The report. `context`: the `full` format; `files`: how many files were checked;
    `fixed`: how many fixes `--fix` applied (None: it did not run)."""
    if statistics:
        return render_statistics(findings, unsafe)

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if color else text

    out: list[str] = []
    for finding in findings:
        code = paint(finding.code, BOLD + COLORS.get(finding.severity, ""))
        mark = " [*]" if fixable(finding, unsafe) else ""
        out.append(f"{paint(location(finding), BOLD)}: {code}{mark} {finding.message}")
        if context:
            key = finding.path if finding.cell is None else (finding.path, finding.cell)
            lines = (sources or {}).get(key, [])
            if 0 < finding.line <= len(lines):
                line = lines[finding.line - 1].rstrip("\r\n")
                width = (finding.end_column - finding.column) if finding.end_line == \
                    finding.line else len(line) - finding.column + 1
                out.append(f"    {line}")
                out.append("    " + " " * (finding.column - 1) + paint("^" * max(width, 1),
                                                                    COLORS[finding.severity]))
            if finding.hint:
                out.append(f"    {paint('hint:', DIM)} {finding.hint}")
        if show_fixes and finding.fix is not None:
            kind = "safe" if finding.fix.safe else "unsafe: values change slightly"
            out.append(f"    {paint('fix:', DIM)} {finding.fix.description} ({kind})")
        if finding.dynamic is not None:
            out.append(f"    {text_line(finding.dynamic)}")
    if not quiet:
        out.extend(summary(findings, files, fixed, unsafe))
    return "\n".join(out) + ("\n" if out else "")


def summary(findings: list[Finding], files: int, fixed: int | None = None,
            unsafe: bool = False) -> list[str]:
    """The closing lines: how many findings in how many files (of how many checked), what
    `--fix` did, and what it could do."""
    out: list[str] = []
    if findings:
        severities = Counter(f.severity for f in findings)
        parts = [_plural(severities[s], s) for s in ("error", "warning", "info") if severities[s]]
        if fixed is not None:
            parts = [f"{fixed} fixed, {len(findings)} remaining"]
            total = len(findings) + fixed
        else:
            total = len(findings)
        with_findings = len({f.path for f in findings})
        out.append(f"Found {_plural(total, 'finding')} ({', '.join(parts)}) in "
                   f"{with_findings} of {_plural(max(files, with_findings), 'file')}.")
    elif fixed:
        out.append(f"Found {_plural(fixed, 'finding')} ({fixed} fixed, 0 remaining).")
    elif files:
        out.append(f"All checks passed ({_plural(files, 'file')}).")
    out.extend(fix_footer(findings, unsafe))
    return out


def fix_footer(findings: list[Finding], unsafe: bool = False) -> list[str]:
    """`[*] N fixable with `--fix` (M more with `--unsafe-fixes`)`, when something is."""
    safe = sum(1 for f in findings if f.fix is not None and f.fix.safe)
    risky = sum(1 for f in findings if f.fix is not None and not f.fix.safe)
    if unsafe and safe + risky:
        return [f"[*] {safe + risky} fixable with `--fix --unsafe-fixes`."]
    if safe and risky:
        return [f"[*] {safe} fixable with `--fix` ({risky} more with `--unsafe-fixes`)."]
    if safe:
        return [f"[*] {safe} fixable with `--fix`."]
    if risky:
        return [f"{risky} fixable with `--fix --unsafe-fixes`."]
    return []


def statistics_rows(findings: list[Finding], unsafe: bool = False) -> list[dict]:
    """Counts per code, most frequent first (`--statistics`)."""
    counts = Counter(f.code for f in findings)
    rows = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        own = [f for f in findings if f.code == code]
        rows.append({"code": code, "name": own[0].name, "count": count,
                     "fixable": sum(1 for f in own if fixable(f, unsafe))})
    return rows


def render_statistics(findings: list[Finding], unsafe: bool = False) -> str:
    out = []
    for row in statistics_rows(findings, unsafe):
        mark = "[*] " if row["fixable"] else ""
        out.append(f"{row['count']:5d}  {row['code']}  {mark}{row['name']}")
    return "\n".join(out) + ("\n" if out else "")
