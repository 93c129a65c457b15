"""The fix step of the command line: `--fix`, `--unsafe-fixes`, `--diff`, `--add-noqa` (on
paths, or on stdin as an editor asks), what it says on stderr, and how the run ends."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..pipeline.config import Settings
from ..pipeline.lint import lint_source, selected_rules
from ..report import text as text_report


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
             settings_for: Callable[[argparse.Namespace, Path], Settings]
             ) -> Outcome | None:
    """Run the fix step the arguments ask for (None when they ask for none)."""
    if not (args.fix or args.diff or args.add_noqa):
        return None
    from ..pipeline.fix import run  # a run that fixes nothing does not load the fixer

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


def from_stdin(args: argparse.Namespace, settings: Settings) -> int:
    """`--fix -`, `--diff -` and `--add-noqa -`, as ruff does for an editor: the source is read
    from stdin and the fixed source (or the diff) written to stdout; what is left to fix goes
    to stderr. Nothing is lost: a source that does not parse comes back unchanged."""
    from ..pipeline.fix import FileFix, fix_source

    name = args.stdin_filename or "<stdin>"
    source = sys.stdin.read()
    rules = selected_rules(settings)
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
    left = lint_source(after, name, settings, rules)
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
