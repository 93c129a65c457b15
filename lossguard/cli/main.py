"""The command line: arguments to a run, a run to output and an exit code.

`lossguard check [PATHS]` (or the flat `lossguard [PATHS]`) lints; `lossguard rule LL101`
prints a rule's documentation; `lossguard server` starts the language server. Only a first
argument that is exactly `check`, `rule` or `server` is a subcommand: `lossguard rules` lints
a folder called `rules`, and `lossguard ./check` a folder called `check`.
Exit codes: 0 no findings, 1 findings, 2 usage or configuration error, a missing path, or an
internal error.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .. import __version__
from ..engine.results import Finding
from ..pipeline import batch, config, files
from ..pipeline import lint as runner
from ..report import json as json_report
from ..report import text as text_report
from ..rules import all_rules
from . import dynamic as dynamic_cli
from . import fixes

SUBCOMMANDS = ("check", "rule", "server")
FORMATS = ["full", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit"]
TEXT_FORMATS = ("full", "concise", "text")


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


class _Extend(argparse.Action):
    """A repeated code option adds up (`--select LL1 --select LL2` is `--select LL1,LL2`)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *values])


def build_parser() -> argparse.ArgumentParser:
    # argparse builds a formatter for every argument it adds (to check its metavar), and the
    # default one reads the terminal's size, which imports shutil: the arguments are added
    # with a fixed width, and help and errors get the terminal's (set at the end).
    parser = argparse.ArgumentParser(
        prog="lossguard",
        usage="lossguard [check] [options] [PATH ...]\n       lossguard rule CODE | --all\n"
              "       lossguard server",
        description="Find the bugs that make custom losses NaN, stall or fit badly.",
        formatter_class=functools.partial(argparse.HelpFormatter, width=80))
    parser.add_argument("paths", nargs="*",
                        help="files or folders to lint (default: .); - reads stdin")
    parser.add_argument("--version", action="version", version=f"lossguard {__version__}")
    parser.add_argument("--select", type=_codes, action=_Extend, metavar="CODES",
                        help="codes or prefixes to enable (LL1, LL101, ALL); repeats add up")
    parser.add_argument("--ignore", type=_codes, action=_Extend, metavar="CODES",
                        help="codes or prefixes to disable (at equal specificity, wins over "
                             "--select)")
    parser.add_argument("--extend-select", type=_codes, action=_Extend, metavar="CODES",
                        help="codes to enable on top of the defaults or --select")
    parser.add_argument("--output-format", "--format", dest="output_format",
                        choices=[*FORMATS, "text"], default=None, metavar="FORMAT",
                        help="full (default: source line, caret and hint), concise, json, "
                             "json-lines, sarif, github, gitlab, junit; text is the old "
                             "default: full on a terminal, concise elsewhere")
    parser.add_argument("-o", "--output-file", type=Path, metavar="FILE",
                        help="write the report to FILE instead of stdout")
    parser.add_argument("--all-code", action="store_true", default=None,
                        help="lint every function, not only loss code")
    parser.add_argument("--loss-names", type=lambda v: [p for p in v.split(",") if p],
                        metavar="GLOBS",
                        help="extra glob patterns of loss function names")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip matching files or folders (repeatable; relative to the "
                             "working folder)")
    parser.add_argument("--stdin-filename", help="the file name to report for stdin input")
    parser.add_argument("--config", type=Path, help="pyproject.toml to read instead of searching")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    parser.add_argument("--statistics", action="store_true",
                        help="print the number of findings per code instead of the findings")
    parser.add_argument("--show-files", action="store_true",
                        help="print the files that would be linted, and what is skipped, then "
                             "exit")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print the findings only: no summary, no notes")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="auto: on a terminal, unless NO_COLOR is set")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation")
    parser.add_argument("--list-rules", action="store_true", help="list every rule")
    fixes.add_arguments(parser)
    dynamic_cli.add_arguments(parser)
    batch.add_arguments(parser)
    parser.formatter_class = argparse.HelpFormatter
    return parser


def settings_for(args: argparse.Namespace, start: Path) -> config.Settings:
    path = args.config if args.config else config.find_pyproject(start.resolve())
    settings = config.load(path)
    if args.select is not None:  # a new selection, as ruff's layers: the config's is dropped
        settings.select, settings.ignore, settings.extend_select = args.select, [], []
    if args.ignore is not None:
        settings.ignore = [*settings.ignore, *args.ignore]
    if args.extend_select is not None:
        settings.extend_select = [*settings.extend_select, *args.extend_select]
    if args.all_code:
        settings.all_code = True
    if args.loss_names:
        settings.loss_names = [*settings.loss_names, *args.loss_names]
    cwd = Path.cwd()
    settings.exclude = [*settings.exclude,
                        *(config.resolve_pattern(g, cwd) for g in args.exclude)]
    for key, codes in (("--select", args.select), ("--ignore", args.ignore),
                       ("--extend-select", args.extend_select)):
        if codes:
            config.check_codes(codes, key)
    return settings


def list_rules(fmt: str) -> str:
    rows = [{"code": r.code, "name": r.name, "severity": r.severity,
             "default": r.default_enabled(), "scope": r.scope,
             "frameworks": list(r.frameworks), "summary": r.summary()} for r in all_rules()]
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    lines = [f"{'code':6} {'name':28} {'severity':8} {'default':7} summary"]
    for row in rows:
        lines.append(f"{row['code']:6} {row['name']:28} {row['severity']:8} "
                     f"{'on' if row['default'] else 'off':7} {row['summary']}")
    return "\n".join(lines) + "\n"


def explain(code: str) -> str | None:
    from ..report.docs import rule_markdown

    for rule in all_rules():
        if rule.code == code.upper() or rule.name == code:
            return rule_markdown(rule)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "server":
        return _server(argv[1:])
    if argv and argv[0] == "rule":
        return _rule(argv[1:])
    if argv and argv[0] == "check":
        argv = argv[1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with batch.fewer_collections():
            return _main(args)
    except config.ConfigError as error:
        print(f"lossguard: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lossguard: interrupted", file=sys.stderr)
        if batch.must_exit_at_once():
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130


def _server(rest: list[str]) -> int:
    """`lossguard server`: the language server, an optional extra."""
    import importlib

    try:
        server = importlib.import_module(f"{__package__}.server")
    except ImportError as error:
        print(f"lossguard: error: the language server is not available ({error}); install it "
              "with `pip install 'lossguard[lsp]'`", file=sys.stderr)
        return 2
    return server.main(rest)


def _rule(rest: list[str]) -> int:
    """`lossguard rule LL101` (a rule's documentation), `lossguard rule --all`."""
    parser = argparse.ArgumentParser(prog="lossguard rule",
                                     description="Print a rule's documentation.")
    parser.add_argument("code", nargs="?", help="a rule's code or name (LL101, unguarded-log)")
    parser.add_argument("--all", action="store_true", help="list every rule")
    parser.add_argument("--output-format", "--format", dest="output_format",
                        choices=["text", "json"], default="text")
    args = parser.parse_args(rest)
    if args.all or not args.code:
        if not args.all:
            parser.error("give a rule code (LL101) or --all")
        sys.stdout.write(list_rules(args.output_format))
        return 0
    if args.output_format == "json":
        rows = json.loads(list_rules("json"))
        row = next((r for r in rows if args.code.upper() == r["code"] or args.code == r["name"]),
                   None)
        if row is not None:
            row["documentation"] = explain(args.code)
            sys.stdout.write(json.dumps(row, indent=2) + "\n")
            return 0
    else:
        doc = explain(args.code)
        if doc is not None:
            sys.stdout.write(doc)
            return 0
    print(f"lossguard: error: unknown rule `{args.code}`", file=sys.stderr)
    return 2


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"lossguard: {message}", file=sys.stderr)


def _check_flags(args: argparse.Namespace) -> str | None:
    """Combinations that would do nothing silently: a note, an implied flag, or an error."""
    if args.fix_only:
        args.fix = True
    fixing = args.fix or args.diff
    if args.diff and args.fix and args.add_noqa:
        return "--diff shows either the fixes (--diff) or the noqa comments (--diff " \
               "--add-noqa), not both"
    if args.unsafe_fixes and not fixing and not args.add_noqa:
        _note(args, "note: --unsafe-fixes applies nothing without --fix or --diff; unsafe "
                    "fixes are counted as fixable")
    if args.dynamic_report and not args.dynamic:
        _note(args, "note: --dynamic-report implies --dynamic")
        args.dynamic = True
    if args.fail_on == "confirmed" and not args.dynamic:
        _note(args, "note: --fail-on confirmed has no effect without --dynamic: every "
                    "finding counts")
    if args.output_format is None:
        args.output_format = "full"
    return None


def _main(args: argparse.Namespace) -> int:
    if args.list_rules:
        sys.stdout.write(list_rules("json" if args.output_format == "json" else "text"))
        return 0
    if args.explain:
        doc = explain(args.explain)
        if doc is None:
            print(f"lossguard: error: unknown rule `{args.explain}`", file=sys.stderr)
            return 2
        sys.stdout.write(doc)
        return 0
    error = _check_flags(args)
    if error is not None:
        print(f"lossguard: error: {error}", file=sys.stderr)
        return 2
    if args.clean_cache:
        _clean_cache(args)
        if not args.paths:
            return 0
    paths = args.paths or ["."]
    missing = [p for p in paths if p != "-" and not Path(p).exists()]
    for path in missing:
        print(f"lossguard: error: {path}: {_missing_reason(path)}", file=sys.stderr)
    paths = [p for p in paths if p not in missing]
    if not paths:
        return 2
    if args.show_files:
        return _show_files(args, paths) or (2 if missing else 0)
    status = _lint(args, paths)
    return 2 if missing and status != 130 else status


def _dynamic_config(args: argparse.Namespace, groups: list[tuple[Path, list[str]]]) -> dict:
    """The `[tool.lossguard.dynamic]` tables of the configurations that apply to `groups`."""
    out: dict = {}
    for group_start, _ in groups:
        out.update(settings_for(args, group_start).dynamic)
    return out


def _skipped(args: argparse.Namespace):  # noqa: ANN202 - a callback
    """Say what discovery skips that the user may have meant to lint (not regular files)."""
    def tell(path: Path, reason: str) -> None:
        if reason == "not a regular file":
            _note(args, f"warning: {path}: skipped, not a regular file")
    return tell


def _show_files(args: argparse.Namespace, paths: list[str]) -> int:
    out = sys.stdout
    for group_start, group in _groups(paths, args.stdin_filename):
        if group == ["-"]:
            out.write(f"{args.stdin_filename or '<stdin>'}\n")
            continue
        settings = settings_for(args, group_start)

        def skipped(path: Path, reason: str) -> None:
            out.write(f"skipped: {path} ({reason})\n")

        for path in files.discover(group, settings.exclude, skipped):
            out.write(f"{path}\n")
    return 0


def _lint(args: argparse.Namespace, paths: list[str]) -> int:
    fixing = args.fix or args.diff or args.add_noqa
    if fixing and "-" in paths:
        if paths != ["-"]:
            print("lossguard: error: with --fix, --diff or --add-noqa, `-` (stdin) must be the "
                  "only path: the fixed source is written to stdout", file=sys.stderr)
            return 2
        return fixes.from_stdin(args, settings_for(args, _groups(paths, args.stdin_filename)[0][0]))
    args.summary_in_report = args.output_format in TEXT_FORMATS and not (
        args.fix_only or args.quiet or args.statistics)
    groups = _groups(paths, args.stdin_filename)
    verify = _dynamic_config(args, groups) if args.fix and args.dynamic else {}
    probed = dynamic_cli.before_fix(args, groups, settings_for, verify)
    fixed = fixes.from_cli(args, groups, settings_for)
    dynamic_cli.after_fix(probed, args, verify)
    if fixed is not None and fixed.exit_code is not None:
        return fixed.exit_code
    if args.fix_only:  # fixes.from_cli said how many
        _report_fixes(args, fixed, sys.stdout)
        return 1 if fixed is not None and fixed.exit_non_zero else 0
    result = batch.RunResult()
    sources: dict = {}
    dynamic_config: dict = {}
    timings: dict[str, float] | None = {} if args.statistics else None
    for group_start, group in _groups(paths, args.stdin_filename):
        settings = settings_for(args, group_start)
        dynamic_config.update(settings.dynamic)
        if group == ["-"]:
            name = args.stdin_filename or "<stdin>"
            source = sys.stdin.read()
            findings = runner.lint_source(source, name, settings)
            sources[name] = source.splitlines()
            result.findings.extend(findings)
            result.files += 1
            continue
        options = batch.options_from(args, settings)
        options.timings = timings
        options.skipped = _skipped(args)
        part = batch.run(group, settings, options)
        result.findings.extend(part.findings)
        result.files += part.files
        result.internal_errors.extend(part.internal_errors)
    result.findings.sort(key=lambda f: f.sort_key)
    result.findings = dynamic_cli.run(result.findings, args, dynamic_config)
    if args.dynamic_report:
        _note(args, f"dynamic report written to {Path(args.dynamic_report) / 'index.html'}")
    out: TextIO = sys.stdout
    try:
        if args.output_file is not None:
            out = args.output_file.open("w", encoding="utf-8")
    except OSError as error:
        print(f"lossguard: error: {args.output_file}: cannot write: "
              f"{error.strerror or error}", file=sys.stderr)
        return 2
    try:
        _report(args, result, fixed, sources, timings, out)
    finally:
        if out is not sys.stdout:
            out.close()
    if result.internal_errors:
        return 2
    if fixed is not None and fixed.exit_non_zero:
        return 1
    return 1 if dynamic_cli.failing(result.findings, args) and not args.exit_zero else 0


def _report(args: argparse.Namespace, result: batch.RunResult, fixed: fixes.Outcome | None,
            sources: dict, timings: dict[str, float] | None, out: TextIO) -> None:
    fmt = args.output_format
    findings = result.findings
    text = fmt in TEXT_FORMATS
    if args.show_fixes and fixed is not None:
        _report_fixes(args, fixed, out if text and not args.statistics else sys.stderr)
    if args.statistics:
        if fmt == "json":
            out.write(json.dumps(text_report.statistics_rows(findings, args.unsafe_fixes),
                                 indent=2) + "\n")
        else:
            out.write(text_report.render_statistics(findings, args.unsafe_fixes))
        if timings:
            (out if text else sys.stderr).write(batch.render_timings(timings))
        return
    if fmt == "json":
        out.write(json_report.render(findings))
    elif fmt == "json-lines":
        out.write(json_report.render_lines(findings))
    elif not text:
        out.write(_reporter(fmt).render(findings))
    else:
        terminal = out.isatty()
        context = fmt == "full" or (fmt == "text" and terminal)
        if context:
            _read_sources(findings, sources)
        color = _color(args.color, out, os.environ)
        out.write(text_report.render(findings, color=color, context=context, sources=sources,
                                     files=result.files, unsafe=args.unsafe_fixes,
                                     show_fixes=args.show_fixes, quiet=args.quiet,
                                     fixed=fixed.fixed if fixed is not None else None))


def _color(choice: str, out: TextIO, environ: Mapping[str, str]) -> bool:
    """`--color`: always, never, or on a terminal unless `NO_COLOR` is set (no-color.org)."""
    if choice != "auto":
        return choice == "always"
    return out.isatty() and not environ.get("NO_COLOR")


def _report_fixes(args: argparse.Namespace, fixed: fixes.Outcome | None, out: TextIO) -> None:
    """`--show-fixes` after `--fix`: what was fixed, per file and code."""
    if not args.show_fixes or fixed is None or not fixed.by_file:
        return
    names = {rule.code: rule.name for rule in all_rules()}
    total = sum(len(codes) for codes in fixed.by_file.values())
    out.write(f"Fixed {total} finding{'s' if total != 1 else ''}:\n")
    for path, codes in sorted(fixed.by_file.items()):
        out.write(f"- {path}:\n")
        for code, count in sorted(Counter(codes).items()):
            out.write(f"    {count} x {code} ({names.get(code, '')})\n")
    out.write("\n")


def _read_sources(findings: list[Finding], sources: dict) -> None:
    """The lines the `full` format shows: of each file, and of each notebook cell."""
    for path in {f.path for f in findings} - set(sources):
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        if files.is_notebook(path):
            from ..pipeline import notebook

            try:
                cells = notebook.code_cells(notebook.load(data))
            except notebook.NotebookError:
                continue
            for cell in cells:
                sources[(path, cell.number)] = cell.source.splitlines()
        else:
            sources[path] = data.decode("utf-8", errors="replace").splitlines()


def _missing_reason(path: str) -> str:
    try:
        Path(path).stat()
    except OSError as error:
        return (error.strerror or "no such file or directory").lower()
    return "no such file or directory"


def _clean_cache(args: argparse.Namespace) -> None:
    from ..pipeline.cache import Cache, default_dir

    roots = {settings_for(args, start).root for start, _ in _groups(args.paths or ["."])}
    folders = {args.cache_dir} if args.cache_dir else {default_dir(root) for root in roots}
    for folder in folders:
        if Cache(folder).clean():
            print(f"lossguard: removed {folder}", file=sys.stderr)


def _reporter(fmt: str):  # noqa: ANN202 - a report module
    from ..report import github, gitlab, junit, sarif

    return {"sarif": sarif, "github": github, "gitlab": gitlab, "junit": junit}[fmt]


def _groups(paths: list[str], stdin_filename: str | None = None
            ) -> list[tuple[Path, list[str]]]:
    """Paths grouped by the folder their configuration is searched from (for stdin: the
    folder of `--stdin-filename`, as an editor names the buffer, else the working folder)."""
    groups: dict[Path, list[str]] = {}
    stdin_start = Path(stdin_filename).resolve().parent if stdin_filename else Path.cwd()
    for path in paths:
        start = Path.cwd() if path == "-" else Path(path)
        key = start if path == "-" else (start if start.is_dir() else start.parent)
        groups.setdefault(key.resolve() if path != "-" else Path("-"), []).append(path)
    return [(stdin_start if key == Path("-") else key, value) for key, value in groups.items()]
