"""`--fix`, `--unsafe-fixes`, `--diff`, `--add-noqa`: apply the fixes findings carry.

A fix is a set of text edits (computed by the engine from a rule's `Replace`). Edits that do
not overlap are applied together, then the file is linted again and the next round applied,
until no fix applies (at most `MAX_ROUNDS`). The result is kept only if it parses; a file is
written atomically (temporary file in the same folder, then `os.replace`) with its original
encoding and line endings. Notebooks are fixed cell by cell (`fix_notebook`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from ..api import Rule
from ..engine.results import Edit, Finding
from ..engine.suppression import NAMED_IGNORE, NOQA
from . import config, files, notebook
from .lint import lint_source, selected_rules

MAX_ROUNDS = 10
_NEWLINE = re.compile(r"\r\n|\r|\n")


# --- text edits -------------------------------------------------------------------------------
def line_starts(text: str) -> list[int]:
    """Offsets of the start of each line (libcst's line breaks: \\r\\n, \\r, \\n)."""
    starts = [0]
    starts.extend(m.end() for m in _NEWLINE.finditer(text))
    return starts


def offset(starts: list[int], text: str, position: tuple[int, int]) -> int:
    line, column = position
    if line - 1 >= len(starts):
        return len(text)
    return min(starts[line - 1] + column, len(text))


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """`text` with non-overlapping edits applied (an overlapping edit is an error)."""
    starts = line_starts(text)
    spans = sorted(((offset(starts, text, e.start), offset(starts, text, e.end), e.replacement)
                    for e in edits), key=lambda s: (s[0], s[1]))
    out, last = [], 0
    for begin, end, replacement in spans:
        if begin < last:
            raise ValueError("overlapping edits")
        out.append(text[last:begin])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def _span(edit: Edit) -> tuple[tuple[int, int], tuple[int, int]]:
    return edit.start, edit.end


def _overlaps(a: Edit, b: Edit) -> bool:
    (a0, a1), (b0, b1) = _span(a), _span(b)
    if a0 == a1 and b0 == b1:
        return a0 == b0
    return a0 < b1 and b0 < a1 or a0 == b0


def applicable(findings: Iterable[Finding], unsafe: bool) -> list[Finding]:
    return [f for f in findings if f.fix is not None and (f.fix.safe or unsafe)]


def choose(findings: Iterable[Finding], unsafe: bool) -> list[Finding]:
    """Fixable findings whose edits overlap no earlier chosen one (in source order)."""
    chosen: list[Finding] = []
    taken: list[Edit] = []
    for finding in sorted(applicable(findings, unsafe), key=lambda f: f.sort_key):
        edits = finding.fix.edits  # type: ignore[union-attr]
        if any(_overlaps(e, t) for e in edits for t in taken):
            continue
        chosen.append(finding)
        taken.extend(edits)
    return chosen


def parses(text: str) -> bool:
    try:
        cst.parse_module(text)
    except Exception:  # noqa: BLE001 - any failure means: do not keep this text
        return False
    return True


Linter = Callable[[str], list[Finding]]


def fix_text(text: str, lint: Linter, unsafe: bool = False,
             applied: list[str] | None = None) -> tuple[str, int]:
    """Apply fixes round by round; the text and the number of fixes applied (their codes are
    appended to `applied` when given)."""
    fixed = 0
    seen = {text}
    for _ in range(MAX_ROUNDS):
        chosen = choose(lint(text), unsafe)
        if not chosen:
            break
        new = apply_edits(text, [e for f in chosen for e in f.fix.edits])  # type: ignore[union-attr]
        if new in seen or not parses(new):
            break
        seen.add(new)
        text = new
        fixed += len(chosen)
        if applied is not None:
            applied.extend(f.code for f in chosen)
    return text, fixed


# --- noqa comments ------------------------------------------------------------------------------
def noqa_line(line: str, codes: Iterable[str]) -> str:
    """`line` with `codes` added to its `# noqa` (or `# lossguard: ignore[...]`) comment, or a
    new `# noqa: CODES` comment."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    wanted = sorted(set(codes))
    named = NAMED_IGNORE.search(body)
    if named:
        have = [c.strip() for c in re.split(r"[,\s]+", named.group("codes")) if c.strip()]
        merged = have + [c for c in wanted if c not in have]
        start, end = named.span("codes")
        return body[:start] + ", ".join(merged) + body[end:] + ending
    match = NOQA.search(body)
    if match:
        if not match.group("codes"):
            return line  # a bare noqa comment already suppresses everything
        have = [c.strip() for c in re.split(r"[,\s]+", match.group("codes")) if c.strip()]
        merged = have + [c for c in wanted if c.upper() not in {h.upper() for h in have}]
        start, end = match.span("codes")
        return body[:start] + ", ".join(merged) + body[end:] + ending
    return body.rstrip() + "  # noqa: " + ", ".join(wanted) + ending


def noqa_edits(text: str, findings: Iterable[Finding]) -> list[Edit]:
    """One edit per line that holds findings: the line with their codes added to its noqa."""
    by_line: dict[int, set[str]] = {}
    for finding in findings:
        by_line.setdefault(finding.line, set()).add(finding.code)
    starts = line_starts(text)
    edits = []
    for line, codes in sorted(by_line.items()):
        if not 0 < line <= len(starts):
            continue
        begin = starts[line - 1]
        end = starts[line] if line < len(starts) else len(text)
        old = text[begin:end]
        new = noqa_line(old, codes)
        if new != old:
            body = old.rstrip("\r\n")
            edits.append(Edit((line, 0), (line, len(body)), new.rstrip("\r\n")))
    return edits


def add_noqa_text(text: str, findings: list[Finding]) -> tuple[str, int]:
    """`text` with `# noqa` comments for `findings`; kept only if it still parses."""
    edits = noqa_edits(text, findings)
    if not edits:
        return text, 0
    new = apply_edits(text, edits)
    if not parses(new):
        # Lines inside a multi-line string: add one line at a time, keeping those that parse.
        done = 0
        for edit in edits:
            candidate = apply_edits(text, [edit])
            if parses(candidate):
                text, done = candidate, done + 1
                edits = noqa_edits(text, [f for f in findings if f.line > edit.start[0]])
        return text, done
    return new, len(edits)


# --- files --------------------------------------------------------------------------------------
@dataclass
class FileFix:
    path: Path
    before: str
    after: str
    fixed: int
    encoding: str = "utf-8"
    codes: list[str] = field(default_factory=list)  # the code of each fix applied

    def encoded(self) -> bytes:
        return self.after.encode(self.encoding)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        import difflib  # only --diff needs it

        name = str(self.path)
        return "".join(difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
            fromfile=name, tofile=name))


@dataclass
class FixResult:
    files: list[FileFix] = field(default_factory=list)

    @property
    def fixed(self) -> int:
        return sum(f.fixed for f in self.files)

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    import tempfile  # only a run that writes needs it

    folder = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".lossguard",
                                         dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        try:
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        except OSError:
            pass
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def fix_file(path: Path, settings: config.Settings, rules: list[type[Rule]], *,
             unsafe: bool = False, add_noqa: bool = False) -> FileFix | None:
    """The fixed text of one file (nothing written); None when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if notebook.is_notebook(path):
        return fix_notebook(path, data, settings, rules, unsafe=unsafe, add_noqa=add_noqa)
    try:
        text = files.decode(data, str(path))
    except files.SourceError:
        return None
    codes: list[str] = []
    after, count = fix_source(text, str(path), settings, rules, unsafe=unsafe,
                              add_noqa=add_noqa, applied=codes)
    return FileFix(path, text, after, count, files.encoding_of(data), codes)


def fix_notebook(path: Path, data: bytes, settings: config.Settings, rules: list[type[Rule]],
                 *, unsafe: bool = False, add_noqa: bool = False) -> FileFix | None:
    """The fixed notebook, cell by cell (a fix that would break its cell is not applied)."""
    try:
        document = notebook.load(data)
    except notebook.NotebookError:
        return None
    if notebook.language(document) != "python":
        return None
    before = data.decode("utf-8-sig", errors="replace")
    name = str(path)
    cells = notebook.code_cells(document)
    count = 0
    codes: list[str] = []
    rounds = 1 if add_noqa else MAX_ROUNDS
    for _ in range(rounds):
        findings = notebook.lint_cells(name, cells, settings, rules)
        by_cell: dict[int, list[Finding]] = {}
        for finding in findings:
            if finding.cell is not None and finding.code != "LL001":
                by_cell.setdefault(finding.cell, []).append(finding)
        changed = False
        for cell in cells:
            own = by_cell.get(cell.number, [])
            if add_noqa:
                edits = noqa_edits(cell.source, own)
                applied = len(edits)
                names: list[str] = []
            else:
                chosen = choose(own, unsafe)
                edits = [e for f in chosen for e in f.fix.edits]  # type: ignore[union-attr]
                applied = len(chosen)
                names = [f.code for f in chosen]
            if not edits:
                continue
            try:
                new = apply_edits(cell.source, edits)
            except ValueError:
                continue
            masked = notebook.mask(new)
            if new == cell.source or notebook.syntax_error(masked) is not None:
                continue
            cell.source, cell.masked = new, masked
            count += applied
            codes.extend(names)
            changed = True
        if not changed:
            break
    raw_cells = document.get("cells", [])
    for cell in cells:
        if notebook.cell_source(raw_cells[cell.index]) != cell.source:
            notebook.set_cell_source(raw_cells[cell.index], cell.source)
    after = notebook.dumps(document, data) if count else before
    return FileFix(path, before, after, count, "utf-8", codes)


def fix_source(text: str, name: str, settings: config.Settings, rules: list[type[Rule]], *,
               unsafe: bool = False, add_noqa: bool = False,
               applied: list[str] | None = None) -> tuple[str, int]:
    """The fixed text (or the text with noqa comments) and the number of changes."""
    def lint(source: str) -> list[Finding]:
        return lint_source(source, name, settings, rules)

    if add_noqa:
        return add_noqa_text(text, [f for f in lint(text) if f.code != "LL001"])
    return fix_text(text, lint, unsafe, applied)


def run(paths: list[str], settings: config.Settings, *, unsafe: bool = False,
        diff: bool = False, add_noqa: bool = False) -> FixResult:
    """Fix (or add noqa comments to) every file under `paths`; with `diff`, write nothing."""
    rules = selected_rules(settings)
    result = FixResult()
    for path in files.discover(paths, settings.exclude):
        try:
            fixed = fix_file(path, settings, rules, unsafe=unsafe, add_noqa=add_noqa)
        except Exception as error:  # noqa: BLE001 - one file's crash must not end the run
            print(f"lossguard: {path}: cannot fix: {type(error).__name__}: {error}",
                  file=sys.stderr)
            continue
        if fixed is None:
            continue
        result.files.append(fixed)
        if fixed.changed and not diff:
            write_atomic(path, fixed.encoded())
    return result
