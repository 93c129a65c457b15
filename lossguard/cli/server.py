"""`lossguard server`: the linter as a language server (LSP over stdio, on pygls 2).

- Diagnostics on open, on save and, debounced, on change, for Python files and for the code
  cells of notebooks (notebook document sync: the cells are linted together, as `lossguard`
  does with an `.ipynb` file, and each cell gets its own findings). Each diagnostic names its
  rule, links to the rule's documentation and carries the rule's severity.
- Code actions: the fix of a finding (unsafe fixes only with `unsafeFixes`), `# noqa: LLxxx`
  on the finding's line, and `source.fixAll.lossguard` (every safe fix, round by round).
- Hover on a code in a `# noqa:` (or `# lossguard: ignore[...]`) comment: the rule's
  documentation.
- Each document is linted with the nearest `pyproject.toml` that has a `[tool.lossguard]`
  table, re-read when its modification time or size changes (and at once when the client
  reports a change to a watched `pyproject.toml`). A bad configuration is shown as a message
  and the defaults apply until it is fixed.
- A buffer that does not parse is one LL001 diagnostic; an internal error in a rule is one
  LL001 diagnostic too, never a crash.

Options (`initializationOptions`, or `workspace/didChangeConfiguration` settings, either at
the top level or under `lossguard`): `unsafeFixes` (bool, default false) and `debounceMs`
(int, default 150).

Nothing here imports TensorFlow, NumPy or torch.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import bisect
import functools
import gc
import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import libcst as cst

from .. import __version__
from ..api import Rule
from ..engine import positions, suppression
from ..engine.results import Edit, Finding
from ..pipeline import config, files, guard, notebook
from ..pipeline import fix as fixes
from ..pipeline.batch import GC_THRESHOLD
from ..pipeline.lint import error_finding, lint_source, selected_rules
from ..report import docs
from ..rules import all_rules

if TYPE_CHECKING:
    from lsprotocol import types as lsp
    from pygls.lsp.server import LanguageServer

NAME = "lossguard"
FIX_ALL = "source.fixAll.lossguard"
NOTEBOOK_FIX_ALL = "notebook.source.fixAll.lossguard"  # every cell at once (VS Code's kind)
DEBOUNCE_MS = 150
_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends of libcst and of the LSP
_CODE = re.compile(r"[A-Za-z]+[0-9]*")
_UNSUPPRESSIBLE = {"LL001", suppression.UNUSED_NOQA}

log = logging.getLogger(__name__)


# --- configuration ------------------------------------------------------------------------------
@dataclass
class Config:
    """The settings a document is linted with, and why the defaults apply if they do."""

    settings: config.Settings
    rules: list[type[Rule]]
    error: str | None = None


def _defaults(error: str | None = None) -> Config:
    settings = config.Settings()
    return Config(settings, selected_rules(settings), error)


class Configs:
    """The configuration of each file: the nearest `pyproject.toml` with a `[tool.lossguard]`
    table (as the command line finds it). A file is read again only when its modification time
    or size changed, so an edit to it applies at the next lint."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[tuple[int, int], Config | None]] = {}
        self.default = _defaults()

    def for_file(self, path: Path) -> Config:
        for folder in path.parents:
            candidate = folder / "pyproject.toml"
            try:
                stat = candidate.stat()
            except OSError:
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._files.get(candidate)
            if cached is None or cached[0] != stamp:
                cached = self._files[candidate] = (stamp, _read(candidate))
            if cached[1] is not None:
                return cached[1]
        return self.default

    def forget(self) -> None:
        self._files.clear()


def _read(path: Path) -> Config | None:
    """The configuration a `pyproject.toml` holds; None if it has no `[tool.lossguard]`. One
    that is not valid TOML is an error for the documents under it (as for the command line:
    never skipped for a parent folder's settings)."""
    try:
        data = config.read_toml(path)
    except config.ConfigError as error:
        return _defaults(str(error))
    tool = data.get("tool")
    if not isinstance(tool, dict) or "lossguard" not in tool:
        return None
    try:
        settings = config.load(path)
    except config.ConfigError as error:
        return _defaults(str(error))
    return Config(settings, selected_rules(settings))


def excluded(path: Path, settings: config.Settings) -> bool:
    """Whether `exclude` (patterns resolved against the folder of the pyproject.toml, see
    `config.resolve_pattern`) leaves out `path`, as the command line leaves it out."""
    return bool(settings.exclude) and files.excluded(path, settings.exclude)


# --- incremental parse ----------------------------------------------------------------------------
class IncrementalParser:
    """libcst's parse of a buffer that is edited a little at a time: the buffer is cut into
    chunks at the lines where top-level statements start (found with `ast`, a C parser, in a
    few milliseconds), each chunk is parsed on its own, and a chunk whose text the last parse
    saw is not parsed again. Typing in one function re-parses that function only.

    A chunk is used only if it prints back its text exactly and has the buffer's line ending
    and (if it has an indented block) indentation, so the module made of their statements
    prints back the buffer: positions and fixes are those of a whole-buffer parse. Comments
    between two statements, which a chunk holds in its footer, go to the next statement's
    leading lines, as a whole-buffer parse puts them. Anything unusual (a syntax error, a
    lone `\r`, a chunk without a statement) is parsed whole, which also gives libcst's own
    errors."""

    def __init__(self) -> None:
        self._chunks: dict[str, cst.Module] = {}
        # A chunk's first statement joined with the comment lines before it, by the ids of
        # those nodes: an unchanged statement stays the same node (positions are kept by node).
        self._joined: dict[tuple[int, ...], tuple[
            cst.SimpleStatementLine | cst.BaseCompoundStatement, tuple[cst.CSTNode, ...]]] = {}
        self.located: positions.Memo = {}  # where the reused statements' nodes lie

    def __call__(self, source: str) -> cst.Module:
        try:
            return self._incremental(source) or cst.parse_module(source)
        except cst.ParserSyntaxError:
            self._chunks = {}
            return cst.parse_module(source)  # raises the error for the whole buffer

    def _incremental(self, source: str) -> cst.Module | None:
        if "\r" in source and source.count("\r") != source.count("\r\n"):
            return None  # a lone \r: ast and libcst may count lines differently
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        starts, last_end = [], 0
        for statement in tree.body:
            first = min([statement.lineno, *(d.lineno for d in getattr(
                statement, "decorator_list", ()))])
            if first > last_end and first > 1:  # not on a line an earlier statement holds
                starts.append(first)
            last_end = max(last_end, statement.end_lineno or statement.lineno)
        if not starts:
            return None
        offsets = fixes.line_starts(source)
        if len(offsets) <= starts[-1] - 1:
            return None
        cuts = [0, *(offsets[line - 1] for line in starts), len(source)]
        found = _NEWLINE.search(source)
        newline = found.group() if found else "\n"
        indent = _first_indent(tree, source, offsets)
        chunks: dict[str, cst.Module] = {}
        modules = []
        for begin, end in zip(cuts, cuts[1:], strict=False):
            text = source[begin:end]
            module = self._chunks.get(text) if text not in chunks else None
            if module is None:  # new text, or a repeat: nodes must not occur twice in a tree
                module = cst.parse_module(text)
                if not module.body or module.code != text:
                    return None
            if module.default_newline != newline or module.default_indent != indent and not all(
                    isinstance(s, cst.SimpleStatementLine) for s in module.body):
                return None
            chunks.setdefault(text, module)
            modules.append(module)
        self._chunks = chunks
        body: list[cst.SimpleStatementLine | cst.BaseCompoundStatement] = []
        pending: list[cst.EmptyLine] = []
        Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement
        joined: dict[tuple[int, ...], tuple[Statement, tuple[cst.CSTNode, ...]]] = {}
        for number, module in enumerate(modules):
            statements = list(module.body)
            carried = [*pending, *(module.header if number else ())]
            if carried:  # the same nodes give the same node (positions are kept by node)
                parts = (statements[0], *carried)  # kept with the entry: ids stay theirs
                key = tuple(map(id, parts))
                entry = self._joined.get(key)
                if entry is None or key in joined:
                    entry = (statements[0].with_changes(
                        leading_lines=[*carried, *statements[0].leading_lines]), parts)
                joined[key] = entry
                statements[0] = entry[0]
            body.extend(statements)
            pending = list(module.footer)
        self._joined = joined
        return cst.Module(body=body, header=modules[0].header, footer=pending,
                          encoding=modules[0].encoding, default_indent=indent,
                          default_newline=newline,
                          has_trailing_newline=modules[-1].has_trailing_newline)


def _first_indent(tree: ast.Module, source: str, offsets: list[int]) -> str:
    """The indentation of the first indented block, which libcst takes as the default."""
    for statement in ast.walk(tree):
        body = getattr(statement, "body", None)
        if isinstance(body, list) and body and isinstance(statement, ast.stmt) and (
                body[0].lineno > statement.lineno):
            line = body[0].lineno
            start = offsets[line - 1]
            return source[start:start + body[0].col_offset]
    return "    "


# --- linting ------------------------------------------------------------------------------------
def guarded(name: str, size: int, lint: Callable[[], list[Finding]]) -> list[Finding]:
    """Findings of `lint`; a buffer over the CLI's default size limit, or an internal error,
    is one LL001 finding, never a crash or a hang."""
    too_large = guard.too_large(size)
    if too_large is not None:
        return [error_finding(name, too_large)]
    try:
        return lint()
    except Exception as error:  # noqa: BLE001 - a rule's bug must not take the server down
        log.exception("internal error linting %s", name)
        return [error_finding(name, f"internal error: {type(error).__name__}: {error}")]


def notebook_cells(sources: list[str]) -> list[notebook.Cell]:
    return [notebook.Cell(i + 1, i, s, notebook.mask(s)) for i, s in enumerate(sources)]


def fix_cell(sources: list[str], number: int, name: str, cfg: Config) -> str:
    """Cell `number` (1-based) of a notebook with its safe fixes applied, round by round,
    the other cells staying as they are (a fix is kept only if the cell still parses)."""
    sources = list(sources)
    text = sources[number - 1]
    for _ in range(fixes.MAX_ROUNDS):
        sources[number - 1] = text
        found = notebook.lint_cells(name, notebook_cells(sources), cfg.settings, cfg.rules)
        chosen = fixes.choose([f for f in found if f.cell == number], unsafe=False)
        if not chosen:
            break
        try:
            new = fixes.apply_edits(text, [e for f in chosen for e in f.fix.edits])  # type: ignore[union-attr]
        except ValueError:
            break
        if new == text or not fixes.parses(notebook.mask(new)):
            break
        text = new
    return text


def noqa_spans(line: str) -> Iterator[tuple[str, int, int]]:
    """The codes of a line's `# noqa: ...` or `# lossguard: ignore[...]` comment, with their
    columns (start, end)."""
    for pattern in (suppression.NAMED_IGNORE, suppression.NOQA):
        for match in pattern.finditer(line):
            codes = match.group("codes")
            if not codes:
                continue
            base = match.start("codes")
            for code in _CODE.finditer(codes):
                yield code.group().upper(), base + code.start(), base + code.end()


@functools.cache
def rules_by_code() -> dict[str, type[Rule]]:
    return {rule.code: rule for rule in all_rules()}


def rule_documentation(code: str) -> str | None:
    """The documentation of a rule code, or a table of the rules a prefix selects."""
    rules = [r for r in rules_by_code().values() if r.code.startswith(code)]
    if not rules:
        return None
    if len(rules) == 1 and rules[0].code == code:
        rule = rules[0]
        link = f"[{rule.code} in docs/rules.md]({docs.rule_url(rule)})"
        return f"{docs.rule_markdown(rule)}\n{link}\n"
    rows = [f"`{code}` selects:", "", "| code | name | what it finds |", "|---|---|---|"]
    rows += [f"| [{r.code}]({docs.rule_url(r)}) | {r.name} | {r.summary()} |" for r in rules]
    return "\n".join(rows) + "\n"


def split_lines(text: str) -> list[str]:
    return _NEWLINE.split(text)


def minimal_edit(old: str, new: str) -> tuple[int, int, str]:
    """One replacement that turns `old` into `new`: (start, end) offsets in `old` and the text,
    leaving the common prefix and suffix alone (the editor keeps its marks there)."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    return start, end_old, new[start:end_new]


@dataclass
class Linted:
    """What was linted for one text document or notebook cell, and what was found."""

    version: int | None
    text: str
    findings: list[Finding]
    notebook: str | None = None  # the notebook's uri, for a cell
    number: int = 0  # the cell's 1-based number among the notebook's code cells
    config: Config | None = None  # what a text document was linted with
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = split_lines(self.text)


@dataclass
class Options:
    unsafe_fixes: bool = False
    debounce_ms: int = DEBOUNCE_MS

    def update(self, values: Any) -> None:
        if not isinstance(values, dict):
            return
        if isinstance(values.get("lossguard"), dict):
            values = values["lossguard"]
        if isinstance(values.get("unsafeFixes"), bool):
            self.unsafe_fixes = values["unsafeFixes"]
        if isinstance(values.get("debounceMs"), int) and values["debounceMs"] >= 0:
            self.debounce_ms = values["debounceMs"]


class Session:
    """The server's state: open documents' findings, configurations, pending lints."""

    def __init__(self, server: LanguageServer, options: Options) -> None:
        from lsprotocol import types

        self.lsp = types
        self.server = server
        self.options = options
        self.configs = Configs()
        self.linted: dict[str, Linted] = {}  # by text document or cell uri
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.parsers: dict[str, IncrementalParser] = {}  # by text document uri
        self.documents: set[str] = set()  # open text documents (the client's uris)
        self.notebooks: set[str] = set()  # open notebooks
        self.shown: set[str] = set()  # configuration errors already shown

    # --- documents ------------------------------------------------------------------------------
    def document(self, uri: str) -> Any:
        """The open text document (pygls keeps them by unquoted uri), else None."""
        return self.server.workspace.text_documents.get(unquote(uri))

    def path_of(self, uri: str, default_name: str = "untitled.py") -> Path:
        from pygls.uris import to_fs_path

        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path:
            return Path(path)
        root = self.server.workspace.root_path
        return Path(root or Path.cwd()) / default_name

    def config_for(self, path: Path) -> Config:
        cfg = self.configs.for_file(path)
        if cfg.error and cfg.error not in self.shown:
            self.shown.add(cfg.error)
            self.server.window_show_message(self.lsp.ShowMessageParams(
                type=self.lsp.MessageType.Error,
                message=f"lossguard: {cfg.error} (linting with the defaults)"))
        return cfg

    def lint_text(self, uri: str) -> Linted | None:
        self.cancel(uri)
        document = self.document(uri)
        if document is None:
            return None
        path = self.path_of(uri)
        cfg = self.config_for(path)
        name = path.as_posix()
        source = document.source
        parse = self.parsers.setdefault(uri, IncrementalParser())
        last = self.linted.get(uri)
        if last is not None and last.text == source and last.config is cfg:
            findings = last.findings  # saved as linted, or an edit undone: nothing to do
        else:
            findings = [] if excluded(path, cfg.settings) else guarded(
                name, len(source), lambda: lint_source(source, name, cfg.settings, cfg.rules,
                                                        parse=parse, located=parse.located))
        linted = self.linted[uri] = Linted(document.version, source, findings, config=cfg)
        self.publish(uri, linted)
        return linted

    def code_cells(self, uri: str) -> list[tuple[str, Any]]:
        """(cell uri, text document) of a notebook's Python code cells, in order."""
        workspace = self.server.workspace
        found = workspace.get_notebook_document(notebook_uri=uri)
        if found is None:
            return []
        cells = []
        for cell in found.cells:
            document = self.document(cell.document)
            if cell.kind == self.lsp.NotebookCellKind.Code and document is not None and (
                    document.language_id in (None, "python")):
                cells.append((cell.document, document))
        return cells

    def lint_notebook(self, uri: str) -> None:
        self.cancel(uri)
        cells = self.code_cells(uri)
        path = self.path_of(uri, "untitled.ipynb")
        cfg = self.config_for(path)
        name = path.as_posix()
        sources = [document.source for _, document in cells]
        findings = [] if excluded(path, cfg.settings) else guarded(
            name, sum(map(len, sources)), lambda: notebook.lint_cells(
                name, notebook_cells(sources), cfg.settings, cfg.rules))
        by_cell: dict[int, list[Finding]] = {}
        for finding in findings:  # an internal error (no cell) goes to the first cell
            by_cell.setdefault(finding.cell or 1, []).append(finding)
        current = set()
        for number, (cell_uri, document) in enumerate(cells, 1):
            current.add(cell_uri)
            linted = self.linted[cell_uri] = Linted(
                document.version, document.source, by_cell.get(number, []), uri, number)
            self.publish(cell_uri, linted)
        for cell_uri in [u for u, v in self.linted.items() if v.notebook == uri]:
            if cell_uri not in current:  # a removed cell, or no longer a Python code cell
                self.clear(cell_uri)

    def lint(self, uri: str) -> None:
        """Lint a text document or a notebook, whichever `uri` names."""
        if uri in self.notebooks:
            self.lint_notebook(uri)
        else:
            self.lint_text(uri)

    def lint_all(self) -> None:
        for uri in sorted(self.notebooks):
            self.lint_notebook(uri)
        for uri in sorted(self.documents):
            self.lint_text(uri)

    def schedule(self, uri: str) -> None:
        """Lint `uri` once no change has come for the debounce delay."""
        self.cancel(uri)
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(self.options.debounce_ms / 1000, self._run, uri)

    def _run(self, uri: str) -> None:
        self.pending.pop(uri, None)
        try:
            self.lint(uri)
        except Exception:  # noqa: BLE001 - a timer callback has no one to report to
            log.exception("cannot lint %s", uri)

    def cancel(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    def clear(self, uri: str) -> None:
        self.cancel(uri)
        self.linted.pop(uri, None)
        self.parsers.pop(uri, None)
        self.server.text_document_publish_diagnostics(
            self.lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def current(self, uri: str) -> Linted | None:
        """The findings of a document as it is now (linted again if it changed since)."""
        linted = self.linted.get(uri)
        document = self.document(uri)
        if document is None:
            return None
        if linted is None or linted.version != document.version or linted.text != document.source:
            notebook_uri = linted.notebook if linted else None
            if notebook_uri is None:
                found = self.server.workspace.get_notebook_document(cell_uri=uri)
                notebook_uri = found.uri if found is not None else None
            if notebook_uri is not None:
                self.lint_notebook(notebook_uri)
                linted = self.linted.get(uri)
            else:
                linted = self.lint_text(uri)
        return linted

    # --- conversions ----------------------------------------------------------------------------
    def position(self, lines: list[str], line: int, column: int) -> lsp.Position:
        """A 1-based line and 0-based column in code points, in the client's units."""
        index = min(max(line - 1, 0), len(lines) - 1)
        column = min(max(column, 0), len(lines[index]))
        codec = self.server.workspace.position_codec
        return codec.position_to_client_units(lines, self.lsp.Position(index, column))

    def range(self, lines: list[str], finding: Finding) -> lsp.Range:
        start = (finding.line, finding.column - 1)
        end = (finding.end_line, finding.end_column - 1)
        if end <= start:  # a point (a parse error): mark the character there, or the one before
            text = lines[min(max(start[0] - 1, 0), len(lines) - 1)]
            if start[1] < len(text):
                end = (start[0], start[1] + 1)
            else:
                start, end = (start[0], max(len(text) - 1, 0)), (start[0], len(text))
        return self.lsp.Range(self.position(lines, *start), self.position(lines, *end))

    def diagnostic(self, lines: list[str], finding: Finding) -> lsp.Diagnostic:
        types = self.lsp
        severity = {"error": types.DiagnosticSeverity.Error,
                    "warning": types.DiagnosticSeverity.Warning,
                    "info": types.DiagnosticSeverity.Information}[finding.severity]
        rule = rules_by_code().get(finding.code)
        message = finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
        return types.Diagnostic(
            range=self.range(lines, finding), message=message, severity=severity,
            code=finding.code, source=NAME,
            code_description=types.CodeDescription(href=docs.rule_url(rule)) if rule else None,
            tags=[types.DiagnosticTag.Unnecessary] if finding.code == suppression.UNUSED_NOQA
            else None,
            data={"fixable": finding.fix is not None,
                  "safe": finding.fix is not None and finding.fix.safe})

    def text_edit(self, lines: list[str], edit: Edit) -> lsp.TextEdit:
        return self.lsp.TextEdit(
            range=self.lsp.Range(self.position(lines, *edit.start),
                                 self.position(lines, *edit.end)),
            new_text=edit.replacement)

    def publish(self, uri: str, linted: Linted) -> None:
        self.server.text_document_publish_diagnostics(self.lsp.PublishDiagnosticsParams(
            uri=uri, version=linted.version,
            diagnostics=[self.diagnostic(linted.lines, f) for f in linted.findings]))

    # --- requests -------------------------------------------------------------------------------
    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        types = self.lsp
        uri = params.text_document.uri
        linted = self.current(uri)
        if linted is None:
            return None
        only = params.context.only

        def wanted(kind: str) -> bool:
            return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)

        actions: list[lsp.CodeAction] = []
        first, last = params.range.start.line + 1, params.range.end.line + 1
        here = [f for f in linted.findings if f.line <= last and f.end_line >= first]
        if wanted(types.CodeActionKind.QuickFix):
            for finding in here:
                actions.extend(self.quick_fixes(uri, linted, finding))
        if wanted(FIX_ALL) and any(f.fix is not None and f.fix.safe for f in linted.findings):
            action = self.fix_all(uri, linted)
            if action is not None:
                actions.append(action)
        if only is not None and wanted(NOTEBOOK_FIX_ALL) and linted.notebook is not None:
            action = self.fix_notebook(linted.notebook)
            if action is not None:
                actions.append(action)
        return actions

    def quick_fixes(self, uri: str, linted: Linted, finding: Finding) -> list[lsp.CodeAction]:
        types = self.lsp
        diagnostic = self.diagnostic(linted.lines, finding)
        actions = []
        fix = finding.fix
        if fix is not None and (fix.safe or self.options.unsafe_fixes):
            actions.append(types.CodeAction(
                title=f"lossguard: {fix.description} ({finding.code}"
                      f"{'' if fix.safe else ', unsafe'})",
                kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                is_preferred=fix.safe,
                edit=types.WorkspaceEdit(changes={
                    uri: [self.text_edit(linted.lines, e) for e in fix.edits]})))
        if finding.code not in _UNSUPPRESSIBLE:
            edits = fixes.noqa_edits(linted.text, [finding])
            if edits:
                actions.append(types.CodeAction(
                    title=f"lossguard: ignore {finding.code} on this line "
                          f"(# noqa: {finding.code})",
                    kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                    edit=types.WorkspaceEdit(changes={
                        uri: [self.text_edit(linted.lines, e) for e in edits]})))
        return actions

    def fix_all(self, uri: str, linted: Linted) -> lsp.CodeAction | None:
        types = self.lsp
        path = self.path_of(uri) if linted.notebook is None else self.path_of(
            linted.notebook, "untitled.ipynb")
        cfg = self.config_for(path)
        name = path.as_posix()
        if linted.notebook is None:
            new = fixes.fix_source(linted.text, name, cfg.settings, cfg.rules)[0]
        else:
            sources = [document.source for _, document in self.code_cells(linted.notebook)]
            if not 0 < linted.number <= len(sources):
                return None
            new = fix_cell(sources, linted.number, name, cfg)
        if new == linted.text:
            return None
        return types.CodeAction(
            title="lossguard: fix all (safe fixes)", kind=FIX_ALL,
            edit=types.WorkspaceEdit(changes={uri: [self.whole_edit(linted.text, new)]}))

    def fix_notebook(self, uri: str) -> lsp.CodeAction | None:
        """Every safe fix in every cell of a notebook, cell after cell, as one edit."""
        types = self.lsp
        path = self.path_of(uri, "untitled.ipynb")
        cfg = self.config_for(path)
        name = path.as_posix()
        cells = self.code_cells(uri)
        sources = [document.source for _, document in cells]
        changes = {}
        for number, (cell_uri, document) in enumerate(cells, 1):
            new = sources[number - 1] = fix_cell(sources, number, name, cfg)
            if new != document.source:
                changes[cell_uri] = [self.whole_edit(document.source, new)]
        if not changes:
            return None
        return types.CodeAction(title="lossguard: fix all in the notebook (safe fixes)",
                                kind=NOTEBOOK_FIX_ALL, edit=types.WorkspaceEdit(changes=changes))

    def whole_edit(self, old: str, new: str) -> lsp.TextEdit:
        """One text edit turning `old` into `new`, over the part that changed."""
        start, end, replacement = minimal_edit(old, new)
        starts = fixes.line_starts(old)

        def at(offset: int) -> tuple[int, int]:
            line = bisect.bisect_right(starts, offset)
            return line, offset - starts[line - 1]

        return self.text_edit(split_lines(old), Edit(at(start), at(end), replacement))

    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        types = self.lsp
        document = self.document(params.text_document.uri)
        if document is None:
            return None
        lines = split_lines(document.source)
        if params.position.line >= len(lines):
            return None
        codec = self.server.workspace.position_codec
        at = codec.position_from_client_units(lines, params.position)
        line = lines[at.line]
        for code, start, end in noqa_spans(line):
            if start <= at.character <= end:
                text = rule_documentation(code)
                if text is None:
                    return None
                return types.Hover(
                    contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                    range=types.Range(self.position(lines, at.line + 1, start),
                                      self.position(lines, at.line + 1, end)))
        return None

    def watch_configuration(self) -> None:
        """Ask the client to report changes to `pyproject.toml` files, where it can."""
        types = self.lsp
        capabilities = self.server.client_capabilities.workspace
        watched = capabilities.did_change_watched_files if capabilities else None
        if not (watched and watched.dynamic_registration):
            return  # the modification time is checked at every lint anyway
        self.server.client_register_capability(types.RegistrationParams(registrations=[
            types.Registration(
                id="lossguard-pyproject", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[
                    types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]))]))


def create_server(options: Options | None = None) -> LanguageServer:
    """The language server, its handlers registered (pygls and lsprotocol imported here)."""
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    server = LanguageServer(
        NAME, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        notebook_document_sync=types.NotebookDocumentSyncOptions(
            notebook_selector=[types.NotebookDocumentFilterWithCells(
                cells=[types.NotebookCellLanguage(language="python")])],
            save=True))
    session = Session(server, options or Options())
    server.lossguard = session  # type: ignore[attr-defined]

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        session.options.update(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        session.watch_configuration()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        session.documents.add(params.text_document.uri)
        session.lint_text(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        session.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri.endswith("pyproject.toml"):
            session.configs.forget()
            session.lint_all()
        elif uri in session.documents:
            session.lint_text(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        session.documents.discard(params.text_document.uri)
        session.clear(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(params: types.DidOpenNotebookDocumentParams) -> None:
        session.notebooks.add(params.notebook_document.uri)
        session.lint_notebook(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(params: types.DidChangeNotebookDocumentParams) -> None:
        session.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(params: types.DidSaveNotebookDocumentParams) -> None:
        session.lint_notebook(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(params: types.DidCloseNotebookDocumentParams) -> None:
        session.notebooks.discard(params.notebook_document.uri)
        session.cancel(params.notebook_document.uri)
        for cell in params.cell_text_documents:
            session.clear(cell.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.uri.endswith("pyproject.toml") for change in params.changes):
            session.configs.forget()
            session.lint_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(params: types.DidChangeConfigurationParams) -> None:
        session.options.update(params.settings)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL, NOTEBOOK_FIX_ALL]))
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return session.code_actions(params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover | None:
        return session.hover(params)

    return server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lossguard server",
        description="Run lossguard as a language server (LSP) on stdin and stdout.")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="offer the unsafe fixes as code actions too (the client's "
                             "`unsafeFixes` option overrides this)")
    parser.add_argument("--debounce-ms", type=int, default=DEBOUNCE_MS, metavar="MS",
                        help=f"lint this long after the last change (default {DEBOUNCE_MS})")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="what to log on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        print("lossguard: error: the language server needs pygls: "
              "pip install 'lossguard[lsp]'", file=sys.stderr)
        return 2
    # Trees are freed by reference counting (see batch.py): collect cyclic garbage rarely.
    gc.set_threshold(*GC_THRESHOLD)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="lossguard server: %(levelname)s %(name)s: %(message)s")
    server = create_server(Options(args.unsafe_fixes, max(args.debounce_ms, 0)))
    server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
