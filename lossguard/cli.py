"""The command line: arguments to a run, a run to output and an exit code.

Verbs other than linting are options (`--explain`, `--list-rules`): a path may be called `rules`.
Exit codes: 0 no findings, 1 findings, 2 usage or internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__, batch, config, fix, runner
from .dynamic import cli as dynamic_cli
from .report import json as json_report
from .report import text as text_report
from .rules import all_rules


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lossguard",
        description="Find the bugs that make custom losses NaN, stall or fit badly.")
    parser.add_argument("paths", nargs="*", help="files or folders to lint; - reads stdin")
    parser.add_argument("--version", action="version", version=f"lossguard {__version__}")
    parser.add_argument("--select", type=_codes,
                        help="codes or prefixes to enable (LL1, LL101, ALL)")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes to disable")
    parser.add_argument("--extend-select", type=_codes,
                        help="codes to enable on top of the defaults")
    parser.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text")
    parser.add_argument("--all-code", action="store_true", default=None,
                        help="lint every function, not only loss code")
    parser.add_argument("--loss-names", type=lambda v: [p for p in v.split(",") if p],
                        help="extra glob patterns of loss function names")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    parser.add_argument("--stdin-filename", help="the file name to report for stdin input")
    parser.add_argument("--config", type=Path, help="pyproject.toml to read instead of searching")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    parser.add_argument("--statistics", action="store_true", help="print counts per code")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation")
    parser.add_argument("--list-rules", action="store_true", help="list every rule")
    fix.add_arguments(parser)
    dynamic_cli.add_arguments(parser)
    batch.add_arguments(parser)
    return parser


def settings_for(args: argparse.Namespace, start: Path) -> config.Settings:
    path = args.config if args.config else config.find_pyproject(start.resolve())
    settings = config.load(path)
    if args.select is not None:
        settings.select = args.select
    if args.ignore is not None:
        settings.ignore = [*settings.ignore, *args.ignore]
    if args.extend_select is not None:
        settings.extend_select = [*settings.extend_select, *args.extend_select]
    if args.all_code:
        settings.all_code = True
    if args.loss_names:
        settings.loss_names = [*settings.loss_names, *args.loss_names]
    settings.exclude = [*settings.exclude, *args.exclude]
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
    from .docs import rule_markdown

    for rule in all_rules():
        if rule.code == code.upper() or rule.name == code:
            return rule_markdown(rule)
    return None


def main(argv: list[str] | None = None) -> int:
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
        return 130


def _main(args: argparse.Namespace) -> int:
    if args.list_rules:
        sys.stdout.write(list_rules(args.format))
        return 0
    if args.explain:
        doc = explain(args.explain)
        if doc is None:
            print(f"lossguard: error: unknown rule `{args.explain}`", file=sys.stderr)
            return 2
        sys.stdout.write(doc)
        return 0
    if args.clean_cache:
        _clean_cache(args)
    if not args.paths:
        return 0
    missing = [p for p in args.paths if p != "-" and not Path(p).exists()]
    if missing:
        for path in missing:
            print(f"lossguard: error: {path}: {_missing_reason(path)}", file=sys.stderr)
        return 2
    fixing = args.fix or args.diff or args.add_noqa
    if fixing and "-" in args.paths:
        if args.paths != ["-"]:
            print("lossguard: error: with --fix, --diff or --add-noqa, `-` (stdin) must be the "
                  "only path: the fixed source is written to stdout", file=sys.stderr)
            return 2
        return fix.from_stdin(args, settings_for(args, Path.cwd()))
    verify = _dynamic_config(args) if args.fix and args.dynamic else {}
    probed = dynamic_cli.before_fix(args, _groups(args.paths), settings_for, verify)
    fixed = fix.from_cli(args, _groups(args.paths), settings_for)
    dynamic_cli.after_fix(probed, args, verify)
    if fixed is not None and fixed.exit_code is not None:
        return fixed.exit_code
    result = runner.RunResult()
    sources: dict[str, list[str]] = {}
    dynamic_config: dict = {}
    timings: dict[str, float] | None = {} if args.statistics else None
    for group_start, paths in _groups(args.paths):
        settings = settings_for(args, group_start)
        dynamic_config.update(settings.dynamic)
        if paths == ["-"]:
            name = args.stdin_filename or "<stdin>"
            source = sys.stdin.read()
            findings = runner.lint_source(source, name, settings)
            sources[name] = source.splitlines()
            result.findings.extend(findings)
            result.files += 1
            continue
        options = batch.options_from(args, settings)
        options.timings = timings
        part = runner.run(paths, settings, options)
        result.findings.extend(part.findings)
        result.files += part.files
        result.internal_errors.extend(part.internal_errors)
    result.findings.sort(key=lambda f: f.sort_key)
    result.findings = dynamic_cli.run(result.findings, args, dynamic_config)
    tty = sys.stdout.isatty()
    if args.format == "json":
        sys.stdout.write(json_report.render(result.findings))
    elif args.format in ("sarif", "github"):
        sys.stdout.write(_reporter(args.format).render(result.findings))
    else:
        if tty:
            for path in {f.path for f in result.findings} - set(sources):
                try:
                    sources[path] = Path(path).read_text(encoding="utf-8",
                                                         errors="replace").splitlines()
                except OSError:
                    pass
        color = args.color == "always" or (args.color == "auto" and tty)
        sys.stdout.write(text_report.render(result.findings, color=color, context=tty,
                                            sources=sources, files=result.files,
                                            statistics=args.statistics))
        if timings:
            sys.stdout.write(batch.render_timings(timings))
    if result.internal_errors:
        return 2
    if fixed is not None and fixed.exit_non_zero:
        return 1
    return 1 if dynamic_cli.failing(result.findings, args) and not args.exit_zero else 0


def _dynamic_config(args: argparse.Namespace) -> dict:
    out: dict = {}
    for group_start, _ in _groups(args.paths):
        out.update(settings_for(args, group_start).dynamic)
    return out


def _missing_reason(path: str) -> str:
    try:
        Path(path).stat()
    except OSError as error:
        return (error.strerror or "no such file or directory").lower()
    return "no such file or directory"


def _clean_cache(args: argparse.Namespace) -> None:
    from .cache import Cache, default_dir

    roots = {settings_for(args, start).root for start, _ in _groups(args.paths or ["."])}
    folders = {args.cache_dir} if args.cache_dir else {default_dir(root) for root in roots}
    for folder in folders:
        if Cache(folder).clean():
            print(f"lossguard: removed {folder}", file=sys.stderr)


def _reporter(fmt: str):  # noqa: ANN202 - a report module
    from .report import github, sarif

    return sarif if fmt == "sarif" else github


def _groups(paths: list[str]) -> list[tuple[Path, list[str]]]:
    """Paths grouped by the folder their configuration is searched from."""
    groups: dict[Path, list[str]] = {}
    for path in paths:
        start = Path.cwd() if path == "-" else Path(path)
        key = start if path == "-" else (start if start.is_dir() else start.parent)
        groups.setdefault(key.resolve() if path != "-" else Path("-"), []).append(path)
    return [(Path.cwd() if key == Path("-") else key, value) for key, value in groups.items()]
