"""The fix step of the command line: `--fix`, `--unsafe-fixes`, `--diff`, `--add-noqa` (on
paths, or on stdin as an editor asks), what it says on stderr, and how the run ends."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..pipeline.config import Settings
from ..pipeline.fix import FileFix, fix_source, run
from ..pipeline.lint import lint_source, selected_rules
from ..report import text as text_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fixes")
    group.add_argument("--fix", action="store_true",
                       help="apply safe fixes, then report what is left")
    group.add_argument("--unsafe-fixes", action="store_true",
                       help="with --fix or --diff, also apply fixes that change values slightly "
                            "(epsilon guards, divide_no_nan, smoothing terms)")
    group.add_argument("--diff", action="store_true",
                       help="print the fixes as a unified diff and write nothing")
    group.add_argument("--exit-non-zero-on-fix", action="store_true",
                       help="with --fix, exit 1 when a fix was applied, even if nothing is left")
    group.add_argument("--add-noqa", action="store_true",
                       help="add `# noqa: CODE` comments for the current findings")


@dataclass
class Outcome:
    """What the fix step did; `exit_code` is set when the run ends there (--diff, --add-noqa)."""

    fixed: int = 0
    files: int = 0
    exit_code: int | None = None
    exit_non_zero: bool = False


def from_cli(args: argparse.Namespace, groups: list[tuple[Path, list[str]]],
             settings_for: Callable[[argparse.Namespace, Path], Settings]
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
        result = run(paths, settings, unsafe=args.unsafe_fixes, diff=args.diff,
                     add_noqa=args.add_noqa)
        outcome.fixed += result.fixed
        outcome.files += len(result.changed)
        if args.diff:
            for changed in result.changed:
                sys.stdout.write(changed.diff())
    return _summarise(outcome, args)


def from_stdin(args: argparse.Namespace, settings: Settings) -> int:
    """`--fix -`, `--diff -` and `--add-noqa -`, as ruff does for an editor: the source is read
    from stdin and the fixed source (or the diff) written to stdout; what is left to fix goes
    to stderr. Nothing is lost: a source that does not parse comes back unchanged."""
    name = args.stdin_filename or "<stdin>"
    source = sys.stdin.read()
    rules = selected_rules(settings)
    after, count = fix_source(source, name, settings, rules, unsafe=args.unsafe_fixes,
                              add_noqa=args.add_noqa)
    change = FileFix(Path(name), source, after, count)
    sys.stdout.write(change.diff() if args.diff else after)
    outcome = _summarise(Outcome(fixed=count, files=int(change.changed)), args)
    if outcome.exit_code is not None:
        return outcome.exit_code
    left = lint_source(after, name, settings, rules)
    sys.stderr.write(text_report.render(left, sources={name: after.splitlines()}, files=1))
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
    elif args.add_noqa:
        print(f"lossguard: added {outcome.fixed} noqa comment{'s' if outcome.fixed != 1 else ''} "
              f"in {outcome.files} file{'s' if outcome.files != 1 else ''}", file=sys.stderr)
        outcome.exit_code = 0
    else:
        if outcome.fixed:
            print(f"lossguard: fixed {outcome.fixed} finding{'s' if outcome.fixed != 1 else ''} "
                  f"in {outcome.files} file{'s' if outcome.files != 1 else ''}", file=sys.stderr)
        outcome.exit_non_zero = bool(args.exit_non_zero_on_fix and outcome.fixed)
    return outcome
