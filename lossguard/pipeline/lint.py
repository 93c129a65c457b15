"""Lint one source: the selected rules, the parser guarded, parse failures as LL001 findings,
per-file ignores applied. Many files (and notebooks) build on this (`batch.py`, `notebook.py`).
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable

import libcst as cst

from ..api import Rule
from ..engine import positions
from ..engine.context import Options
from ..engine.results import Finding
from ..engine.walk import Linter
from ..rules import all_rules
from ..rules.linter import ParseError
from . import config, guard


def selected_rules(settings: config.Settings) -> list[type[Rule]]:
    return [r for r in all_rules()
            if config.enabled(r, settings.select, settings.ignore, settings.extend_select)]


def error_finding(path: str, message: str, line: int = 1, column: int = 1) -> Finding:
    return Finding(path=path, line=line, column=column, end_line=line, end_column=column,
                   code=ParseError.code, name=ParseError.name, severity=ParseError.severity,
                   message=message, hint=ParseError.hint)


# The patterns of a syntax error's finding: plain strings, compiled (and cached) by `re` on
# first use, so that a start without a syntax error does not compile them.
_ERROR_AT = r"error at (\d+):(\d+)"
_NEWLINE = r"\r\n|\r|\n"  # the line ends of Python's tokenizer


def syntax_error_position(error: cst.ParserSyntaxError, source: str) -> tuple[int, int]:
    """The 1-based line and column of a libcst syntax error: those its message names ("error at
    3:4"), within the text. libcst's own `raw_line` is one past that line (and clamped to the
    last line at the end of the file)."""
    lines = re.split(_NEWLINE, source)
    if lines and not lines[-1]:
        lines.pop()  # the text after the final newline
    named = re.search(_ERROR_AT, error.message)
    if named is None:
        return error.raw_line, error.raw_column + 1
    line, column = int(named.group(1)), int(named.group(2))
    if line > len(lines) and lines:  # the end of the file: point at the end of its last line
        return len(lines), len(lines[-1]) + 1
    return max(line, 1), column + 1


def python_error(source: str) -> Exception | None:
    """What CPython's own parser (far cheaper than libcst's) raises on a text: a SyntaxError,
    or a ValueError, RecursionError or MemoryError; None where the text is Python."""
    try:
        with warnings.catch_warnings():  # its SyntaxWarnings (`"\\d"`) are not the question
            warnings.simplefilter("ignore")
            compile(source, "<lint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return error
    return None


def compiler_error(source: str) -> SyntaxError | None:
    """Python's own verdict on a text libcst rejected: its SyntaxError (with the line and
    column where the statement goes wrong, and a message in Python's words), or None where
    Python compiles it (a construct only libcst's grammar lacks). libcst's parser names the
    token where it gave up, often the start of the next line (`x = # TODO` then `y = 1`)."""
    error = python_error(source)
    return error if isinstance(error, SyntaxError) and error.lineno else None


# Statements of Python 2 that are syntax errors in Python 3 (and to libcst's parser), by what
# they are. (`except E, name:` and `print >>f, x` parse, as a tuple and a shift.)
_PYTHON2 = (
    (r"^\s*print\b(?!\s*[(=.,\[)]|\s*$)", "a print statement"),
    (r"^\s*exec\s+[\"'\w]", "an exec statement"),
    (r"^\s*raise\s+[\w.]+\s*,", "a `raise E, value` statement"),
    (r"(?:^|[\s=(,\[])(?:0[0-7]+[lL]?|\d+[lL])\b", "a Python 2 integer literal"),
    (r"\blambda\s*\(", "a lambda that unpacks a tuple parameter"),
    (r"^\s*def\s+\w+\s*\((?:[^()]*,)?\s*\(", "a function that unpacks a tuple parameter"),
    (r"<>", "the `<>` operator"),
)


def syntax_error_finding(path: str, error: cst.ParserSyntaxError, source: str) -> Finding:
    """LL001 where Python puts the error and in its words; libcst's where only libcst fails."""
    python = compiler_error(source)
    if python is not None and python.lineno:
        line, column = python.lineno, max(python.offset or 1, 1)
        detail = python.msg
    else:
        line, column = syntax_error_position(error, source)
        detail = error.message
    lines = re.split(_NEWLINE, source)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    for pattern, what in _PYTHON2:
        if re.search(pattern, text):
            message = (f"Python 2 source: line {line} is {what}, a syntax error in Python 3; "
                       "lossguard reads Python 3 only, so the file was not checked (port it "
                       "or exclude it)")
            return error_finding(path, message, line, column)
    return error_finding(path, f"syntax error: {detail}", line, column)


def lint_source(source: str, path: str, settings: config.Settings,
                rules: list[type[Rule]] | None = None, *,
                parse: Callable[[str], cst.Module] = cst.parse_module,
                located: positions.Memo | None = None) -> list[Finding]:
    """Lint one decoded source text; parse failures become an LL001 finding. `parse` may
    reuse earlier trees (the language server's incremental parse); it must raise as libcst
    does. `located` keeps the positions of the statements it reuses."""
    rules = selected_rules(settings) if rules is None else rules
    want_ll001 = any(r.code == ParseError.code for r in rules)
    # would exhaust memory, crash or hang the parser
    refused = guard.too_large(len(source), 0) or guard.too_deep(source)
    if refused is not None:
        return [error_finding(path, refused)] if want_ll001 else []
    try:
        module = parse(source)
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
        findings = linter.lint(path, source, module, located)
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
