"""Suppression in the source: `# noqa` and `# lossguard: ignore[...]` on a line,
`# lossguard: noqa[: CODES]` for a file, and LL002 (a noqa that suppresses nothing).
Per-file ignores from the configuration are the configuration's (`pipeline.config`).
"""

from __future__ import annotations

import io
import re
import tokenize

from ..api import Rule
from .results import Edit, Finding, Fix

NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?", re.I)
NAMED_IGNORE = re.compile(r"#\s*lossguard:\s*ignore\[(?P<codes>[A-Z0-9,\s]+)\]")
# Plain strings, compiled (and cached) by `re` on first use: only a file that starts with
# comments, or has an unused suppression to report, needs them.
FILE_NOQA = r"#\s*lossguard:\s*noqa\b(?::\s*(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?"
_CODE = r"^[A-Z]+[0-9]+$"

UNUSED_NOQA = "LL002"


def file_noqa(lines: list[str]) -> set[str] | None:
    """The codes a file-level `# lossguard: noqa[: CODES]` silences (an empty set: every code;
    None: no such comment). Only the leading comments count (shebang, encoding, licence
    header): the first line of code, a docstring included, ends them."""
    codes: set[str] = set()
    found = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        match = re.match(FILE_NOQA, stripped, re.I)
        if match is None:
            continue
        if not match.group("codes"):
            return set()
        found = True
        codes.update(c.upper() for c in re.split(r"[,\s]+", match.group("codes")) if c)
    return codes if found else None


def noqa_codes(line: str) -> set[str] | None:
    """The codes a line's `# noqa` suppresses: None for none, an empty set for all."""
    match = NAMED_IGNORE.search(line)
    if match:
        return {c.strip().upper() for c in re.split(r"[,\s]+", match.group("codes")) if c.strip()}
    match = NOQA.search(line)
    if not match:
        return None
    codes = match.group("codes")
    if not codes:
        return set()
    return {c.strip().upper() for c in re.split(r"[,\s]+", codes) if c.strip()}


def suppressing(lines: list[str], line: int, rule_code: str) -> set[str] | None:
    """The noqa codes of `line` that suppress `rule_code` (empty for a bare noqa), else None."""
    if not 0 < line <= len(lines):
        return None
    codes = noqa_codes(lines[line - 1])
    if codes is None:
        return None
    if not codes:
        return set()
    matched = {c for c in codes if rule_code.startswith(c)}
    return matched or None


def unused_noqa(path: str, source: str, used: dict[int, set[str]], enabled: frozenset[str],
                rule: type[Rule]) -> list[Finding]:
    """LL002 (`rule`): `# noqa: LLxxx` comments (and `# lossguard: ignore[...]`) naming an
    enabled rule that reported nothing on that line (`used`: line -> the codes that did
    suppress a finding there). Comments only: text in strings is not a noqa."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []
    findings = []
    for token in tokens:
        comment = token.string
        match = NAMED_IGNORE.search(comment) or NOQA.search(comment)
        if match is None or not match.group("codes"):
            continue
        raw = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
        unused = [c for c in raw if c.upper() in enabled and c.upper() != UNUSED_NOQA
                  and c.upper() not in used.get(token.start[0], set())]
        if not unused:
            continue
        line, column = token.start
        start, end = match.span("codes")
        fix = None
        if all(re.match(_CODE, c.upper()) for c in raw):
            kept = [c for c in raw if c not in unused]
            if kept:
                edit = Edit((line, column + start), (line, column + end), ", ".join(kept))
                fix = Fix("remove the unused codes", (edit,), True)
            elif not comment[match.end():].strip() and not comment[:match.start()].strip():
                text = source.splitlines()[line - 1]
                begin = len(text[:column].rstrip())
                fix = Fix("remove the unused noqa comment",
                          (Edit((line, begin), (line, column + len(comment)), ""),), True)
        names = ", ".join(f"`{c}`" for c in unused)
        findings.append(Finding(
            path=path, line=line, column=column + start + 1, end_line=line,
            end_column=column + end + 1, code=rule.code, name=rule.name,
            severity=rule.severity,
            message=f"unused noqa: {names} suppress{'es' if len(unused) == 1 else ''} "
                    f"nothing on this line", hint=rule.hint, fix=fix))
    return findings
