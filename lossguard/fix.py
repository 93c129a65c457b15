"""`--fix`, `--unsafe-fixes`, `--diff`, `--add-noqa`: apply the fixes findings carry.

A fix is a set of text edits (computed by the engine from a rule's `Replace`). Edits that do
not overlap are applied together, then the file is linted again and the next round applied,
until no fix applies (at most `MAX_ROUNDS`). The result is kept only if it parses; a file is
written atomically (temporary file in the same folder, then `os.replace`) with its original
encoding and line endings. Notebooks are fixed cell by cell (see `notebook.py`).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from . import config, files
from .engine import NAMED_IGNORE, NOQA
from .finding import Edit, Finding
from .rule import Rule

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
    from . import notebook

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if notebook.is_notebook(path):
        return notebook.fix_notebook(path, data, settings, rules, unsafe=unsafe,
                                     add_noqa=add_noqa)
    try:
        text = files.decode(data, str(path))
    except files.SourceError:
        return None
    codes: list[str] = []
    after, count = fix_source(text, str(path), settings, rules, unsafe=unsafe,
                              add_noqa=add_noqa, applied=codes)
    return FileFix(path, text, after, count, files.encoding_of(data), codes)


def fix_source(text: str, name: str, settings: config.Settings, rules: list[type[Rule]], *,
               unsafe: bool = False, add_noqa: bool = False,
               applied: list[str] | None = None) -> tuple[str, int]:
    """The fixed text (or the text with noqa comments) and the number of changes."""
    from . import runner

    def lint(source: str) -> list[Finding]:
        return runner.lint_source(source, name, settings, rules)

    if add_noqa:
        return add_noqa_text(text, [f for f in lint(text) if f.code != "LL001"])
    return fix_text(text, lint, unsafe, applied)


def run(paths: list[str], settings: config.Settings, *, unsafe: bool = False,
        diff: bool = False, add_noqa: bool = False) -> FixResult:
    """Fix (or add noqa comments to) every file under `paths`; with `diff`, write nothing."""
    from . import runner

    rules = runner.selected_rules(settings)
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


# --- command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fixes")
    group.add_argument("--fix", action="store_true",
                       help="apply safe fixes, then report what is left")
    group.add_argument("--unsafe-fixes", action="store_true",
                       help="with --fix or --diff, also apply fixes that change values slightly "
                            "(epsilon guards, divide_no_nan, smoothing terms); alone, count "
                            "them as fixable")
    group.add_argument("--fix-only", action="store_true",
                       help="apply fixes and report only what was fixed (exit 0 unless "
                            "--exit-non-zero-on-fix)")
    group.add_argument("--show-fixes", action="store_true",
                       help="list the fixes applied (with --fix), or each finding's fix")
    group.add_argument("--diff", action="store_true",
                       help="print the fixes as a unified diff and write nothing")
    group.add_argument("--exit-non-zero-on-fix", action="store_true",
                       help="with --fix, exit 1 when a fix was applied, even if nothing is left")
    group.add_argument("--add-noqa", action="store_true",
                       help="add `# noqa: CODE` comments for the current findings (with --fix: "
                            "for what is left after fixing)")


@dataclass
class Outcome:
    """What the fix step did; `exit_code` is set when the run ends there (--diff, --add-noqa)."""

    fixed: int = 0
    files: int = 0
    exit_code: int | None = None
    exit_non_zero: bool = False
    by_file: dict[str, list[str]] = field(default_factory=dict)  # path -> codes fixed
    noqa: int = 0  # comments added after fixing (--fix --add-noqa)


def from_cli(args: argparse.Namespace, groups: list[tuple[Path, list[str]]],
             settings_for: Callable[[argparse.Namespace, Path], config.Settings]
             ) -> Outcome | None:
    """Run the fix step the arguments ask for (None when they ask for none)."""
    if not (args.fix or args.diff or args.add_noqa):
        return None
    outcome = Outcome()
    for start, paths in groups:
        paths = [p for p in paths if p != "-"]
        if not paths:
            continue
        settings = settings_for(args, start)
        fixing_first = args.fix and args.add_noqa  # fix, then noqa what is left
        result = run(paths, settings, unsafe=args.unsafe_fixes, diff=args.diff,
                     add_noqa=args.add_noqa and not fixing_first)
        outcome.fixed += result.fixed
        outcome.files += len(result.changed)
        for changed in result.changed:
            if changed.codes:
                outcome.by_file[str(changed.path)] = changed.codes
        if args.diff:
            for changed in result.changed:
                sys.stdout.write(changed.diff())
        if fixing_first:
            outcome.noqa += run(paths, settings, add_noqa=True).fixed
    return _summarise(outcome, args)


def from_stdin(args: argparse.Namespace, settings: config.Settings) -> int:
    """`--fix -`, `--diff -` and `--add-noqa -`, as ruff does for an editor: the source is read
    from stdin and the fixed source (or the diff) written to stdout; what is left to fix goes
    to stderr. Nothing is lost: a source that does not parse comes back unchanged."""
    from . import runner
    from .report import text as text_report

    name = args.stdin_filename or "<stdin>"
    source = sys.stdin.read()
    rules = runner.selected_rules(settings)
    after, count = fix_source(source, name, settings, rules, unsafe=args.unsafe_fixes,
                              add_noqa=args.add_noqa and not args.fix)
    if args.fix and args.add_noqa:
        after, _ = fix_source(after, name, settings, rules, add_noqa=True)
    change = FileFix(Path(name), source, after, count)
    sys.stdout.write(change.diff() if args.diff else after)
    outcome = _summarise(Outcome(fixed=count, files=int(change.changed)), args)
    if outcome.exit_code is not None:
        return outcome.exit_code
    if getattr(args, "fix_only", False):
        return 1 if outcome.exit_non_zero else 0
    left = runner.lint_source(after, name, settings, rules)
    sys.stderr.write(text_report.render(left, sources={name: after.splitlines()}, files=1,
                                        context=True, unsafe=args.unsafe_fixes))
    if outcome.exit_non_zero or (left and not args.exit_zero):
        return 1
    return 0


def _summarise(outcome: Outcome, args: argparse.Namespace) -> Outcome:
    """Say on stderr what the fix step did, and set how the run ends."""
    if args.diff:
        noun = "comment" if args.add_noqa else "fix"
        plural = "" if outcome.fixed == 1 else ("es" if noun == "fix" else "s")
        print(f"lossguard: would apply {outcome.fixed} {noun}{plural} to {outcome.files} "
              f"file{'s' if outcome.files != 1 else ''}", file=sys.stderr)
        outcome.exit_code = 1 if outcome.files else 0
    elif args.add_noqa and not args.fix:
        print(f"lossguard: added {outcome.fixed} noqa comment{'s' if outcome.fixed != 1 else ''} "
              f"in {outcome.files} file{'s' if outcome.files != 1 else ''}", file=sys.stderr)
        outcome.exit_code = 0
    else:
        said = getattr(args, "summary_in_report", False)  # "(N fixed, M remaining)"
        if outcome.fixed and not said and not getattr(args, "quiet", False):
            print(f"lossguard: fixed {outcome.fixed} finding{'s' if outcome.fixed != 1 else ''} "
                  f"in {outcome.files} file{'s' if outcome.files != 1 else ''}", file=sys.stderr)
        if args.add_noqa and not getattr(args, "quiet", False):
            print(f"lossguard: added {outcome.noqa} noqa comment"
                  f"{'s' if outcome.noqa != 1 else ''} for what is left", file=sys.stderr)
        outcome.exit_non_zero = bool(args.exit_non_zero_on_fix and outcome.fixed)
    return outcome
