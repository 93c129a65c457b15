"""A run: settings and paths in, findings out. Every failure on one file becomes a finding for
that file; the run goes on."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from . import batch, config, files, guard, notebook
from .engine import Linter, Options
from .finding import Finding
from .rule import Rule
from .rules import all_rules
from .rules.linter import ParseError


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    internal_errors: list[str] = field(default_factory=list)


def selected_rules(settings: config.Settings) -> list[type[Rule]]:
    return [r for r in all_rules()
            if config.enabled(r, settings.select, settings.ignore, settings.extend_select)]


def error_finding(path: str, message: str, line: int = 1, column: int = 1) -> Finding:
    return Finding(path=path, line=line, column=column, end_line=line, end_column=column,
                   code=ParseError.code, name=ParseError.name, severity=ParseError.severity,
                   message=message, hint=ParseError.hint)


_ERROR_AT = re.compile(r"error at (\d+):(\d+)")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends of Python's tokenizer


def syntax_error_position(error: cst.ParserSyntaxError, source: str) -> tuple[int, int]:
    """The 1-based line and column of a libcst syntax error: those its message names ("error at
    3:4"), within the text. libcst's own `raw_line` is one past that line (and clamped to the
    last line at the end of the file)."""
    lines = _NEWLINE.split(source)
    if lines and not lines[-1]:
        lines.pop()  # the text after the final newline
    named = _ERROR_AT.search(error.message)
    if named is None:
        return error.raw_line, error.raw_column + 1
    line, column = int(named.group(1)), int(named.group(2))
    if line > len(lines) and lines:  # the end of the file: point at the end of its last line
        return len(lines), len(lines[-1]) + 1
    return max(line, 1), column + 1


def syntax_error_finding(path: str, error: cst.ParserSyntaxError, source: str) -> Finding:
    line, column = syntax_error_position(error, source)
    return error_finding(path, f"syntax error: {error.message}", line, column)


def lint_source(source: str, path: str, settings: config.Settings,
                rules: list[type[Rule]] | None = None) -> list[Finding]:
    """Lint one decoded source text; parse failures become an LL001 finding."""
    rules = selected_rules(settings) if rules is None else rules
    want_ll001 = any(r.code == ParseError.code for r in rules)
    # would exhaust memory, crash or hang the parser
    refused = guard.too_large(len(source), 0) or guard.too_deep(source)
    if refused is not None:
        return [error_finding(path, refused)] if want_ll001 else []
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        if not want_ll001:
            return []
        return [syntax_error_finding(path, error, source)]
    except RecursionError:
        return [error_finding(path, "cannot parse: nested too deeply")] if want_ll001 else []
    except cst.CSTValidationError as error:  # what the tokenizer let through (found by fuzzing)
        return [error_finding(path, f"syntax error: {error}")] if want_ll001 else []
    linter = Linter([r for r in rules if r.code != ParseError.code],
                    Options(settings.all_code, tuple(settings.loss_names)))
    try:
        findings = linter.lint(path, source, module)
    except RecursionError:
        return [error_finding(path, "cannot analyse: nested too deeply")] if want_ll001 else []
    ignored = config.ignored_for(path, settings.per_file_ignores)
    if ignored:
        findings = [f for f in findings if not any(f.code.startswith(c) for c in ignored)]
    raised_only = {r.code for r in rules if r.escalates and not config.enabled(
        r, settings.select, settings.ignore, settings.extend_select, escalation=False)}
    if raised_only:  # an info rule running by default: keep only its raised findings
        findings = [f for f in findings if not (f.code in raised_only and f.severity == "info")]
    return findings


def lint_path(path: Path, settings: config.Settings,
              rules: list[type[Rule]] | None = None) -> list[Finding]:
    if notebook.is_notebook(path):
        try:
            return notebook.read_and_lint(path, settings, rules)
        except files.SourceError as error:
            return [error_finding(str(path), str(error))]
    try:
        source = files.read(path)
    except files.SourceError as error:
        return [error_finding(str(path), str(error))]
    return lint_source(source, str(path), settings, rules)


def run(paths: list[str], settings: config.Settings,
        options: batch.RunOptions | None = None) -> RunResult:
    if options is not None:  # prefilter, cache, pool: see batch.py
        findings, count, errors = batch.run(paths, settings, options)
        return RunResult(findings, count, errors)
    result = RunResult()
    rules = selected_rules(settings)
    for path in files.discover(paths, settings.exclude):
        result.files += 1
        try:
            result.findings.extend(lint_path(path, settings, rules))
        except Exception as error:  # noqa: BLE001 - one file's crash must not end the run
            result.internal_errors.append(
                f"{path}: internal error: {type(error).__name__}: {error}")
            print(f"lossguard: {path}: internal error: {type(error).__name__}: {error}",
                  file=sys.stderr)
    result.findings.sort(key=lambda f: f.sort_key)
    return result
