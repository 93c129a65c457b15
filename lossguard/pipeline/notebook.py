"""Jupyter notebooks: lint the code cells as one module, report per cell, fix cell by cell.

The code cells are joined into one module (a loss in cell 3 may use the imports of cell 1),
with IPython syntax masked line for line (`%magic`, `!shell`, `x = !cmd`, `obj?`, a magic or
shell alias written without its `%` (`pip install x`, `ls data/`), and whole cells under a
non-Python cell magic such as `%%bash`, or that an editor tags as another language), so line
numbers stay those of the cells. A finding names its cell (the 1-based position among all the
notebook's cells, markdown included, as Jupyter shows it and ruff reports it) and its line in
that cell. A cell that does not parse is one LL001 finding; the other cells are still linted,
except in a notebook that mixes in R cells (Colab runs R through `rpy2` or an R runtime, with
no `%%R` marker): there a cell that does not parse is taken for R, once one of them is written
in R (`x <- f(...)`, `library(...)`, `data$col`, `pkg::fn`); and except in a notebook saved
from a Python 2 kernel, whose `print "x"` cells are Python 2, not errors. `--fix` writes back
notebook JSON that keeps outputs, metadata and key order.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from ..api import Rule
from ..engine.results import Edit, Finding, Fix
from . import config, files
from .lint import error_finding, lint_source, python_error, selected_rules, syntax_error_finding

SUFFIX = files.NOTEBOOK_SUFFIX
# Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "autoreload", "memit",
                      "tensorflow_version"}
# What only R writes: an assignment with `<-`, `library(...)`, the `$` accessor, `pkg::fn`.
_R_CODE = re.compile(r"^\s*[\w.]+(?:\$\w+)?\s*<-\s|^\s*library\(|[A-Za-z_]\$[A-Za-z_]"
                     r"|^\s*[A-Za-z_][\w.]*::[A-Za-z_]", re.M)
_MAGIC = re.compile(r"^\s*(?:[%!]|\?)|^\s*[\w.\[\], ]+\s*=\s*[%!]|\?\??\s*$")
# IPython runs these line magics and shell aliases without their `%` (automagic): `pip install
# x`, `ls ./data`, `cd src`. Masked only on a line that is not Python by itself.
_AUTOMAGIC = re.compile(r"^\s*(?:cd|ls|ll|pwd|pip|conda|cat|cp|mv|rm|mkdir|rmdir|less|more|man|"
                        r"clear|env|set_env|load_ext|reload_ext|matplotlib|pylab|run|time|"
                        r"timeit|who|whos|history|tensorflow_version)(?:\s+[^\s=]|\s*$)")
# Editors tag a code cell written in another language (VS Code: `metadata.vscode.languageId`;
# .NET Interactive: `metadata.dotnet_interactive.language`).
_PYTHON_LANGUAGES = frozenset({"python", "python3", "ipython", "py"})


is_notebook = files.is_notebook
class NotebookError(Exception):
    """A notebook file whose JSON cannot be read: one LL001 finding."""


@dataclass
class Cell:
    number: int  # 1-based among all cells (markdown too), as Jupyter and ruff count them
    index: int  # position in the notebook's cell list
    source: str
    masked: str
    first_line: int = 1  # of the joined module

    @property
    def lines(self) -> int:
        return self.masked.count("\n")


def load(data: bytes) -> dict:
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise NotebookError(f"invalid notebook: cannot decode as UTF-8: {error.reason}") \
            from error
    except json.JSONDecodeError as error:
        raise NotebookError(f"invalid notebook JSON: {error.msg} at line {error.lineno} "
                            f"column {error.colno}") from error
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells", []), list):
        raise NotebookError("invalid notebook: no list of cells")
    return notebook


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def set_cell_source(cell: dict, text: str) -> None:
    if isinstance(cell.get("source"), list):
        cell["source"] = text.splitlines(keepends=True)
    else:
        cell["source"] = text


def language(notebook: dict) -> str:
    metadata = notebook.get("metadata") or {}
    info = metadata.get("language_info") or {}
    kernel = metadata.get("kernelspec") or {}
    return str(info.get("name") or kernel.get("language") or "python").lower()


def mask(source: str) -> str:
    """IPython-only lines replaced by `pass` (same indentation, same line count); a cell under
    a non-Python cell magic becomes blank lines."""
    lines = _without_leading_indent(source.split("\n"))
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split()[0] if first[2:].split() else ""
        if name not in PYTHON_CELL_MAGICS:
            return "\n" * (source.count("\n") + (0 if source.endswith("\n") else 1))
    text = "\n".join(lines)
    if python_error(text) is None:  # plain Python: `% (x)` continuing a line is no magic
        return text if text.endswith("\n") else text + "\n"
    out = []
    continued = False
    indent = ""
    python_continues = False  # the previous Python line ends with a backslash
    for line in lines:
        stripped = line.strip()
        if python_continues:
            out.append(line)
        elif continued or (stripped and not stripped.startswith("#") and (
                _MAGIC.search(_without_comment(line)) or _AUTOMAGIC.match(line))
                and not _is_python(line)):
            if not continued:  # a continued shell line keeps the indentation of its first
                indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "pass")
            continued = line.rstrip().endswith("\\")
            continue
        else:
            out.append(line)
        python_continues = line.rstrip().endswith("\\")
    text = "\n".join(out)
    return text if text.endswith("\n") else text + "\n"


def _without_leading_indent(lines: list[str]) -> list[str]:
    """IPython removes the indentation of a cell's first line from every line (its
    `leading_indent` transform): a cell pasted with an indent runs as if it had none."""
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    if not indent:
        return lines
    return [line[len(indent):] if line.startswith(indent) else line for line in lines]


def _without_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `?` there is no help request: IPython looks
    at the code's tokens). A line that does not tokenize on its own is kept whole."""
    if "#" not in line:
        return line
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                return line[: token.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return line


def _is_python(line: str) -> bool:
    """A line the magic pattern matched that is still plain Python (`x = a % b` does not match,
    but `print(1 if a else 2)?` is not Python)."""
    stripped = line.strip()
    if stripped.startswith(("%", "!", "?")) or stripped.endswith("?"):
        return False
    try:
        compile(stripped, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def code_cells(notebook: dict) -> list[Cell]:
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        masked = mask(source) if _written_in_python(cell) else \
            "\n" * (source.count("\n") + (0 if source.endswith("\n") else 1))
        cells.append(Cell(index + 1, index, source, masked))
    return cells


def _written_in_python(cell: dict) -> bool:
    """Whether an editor's tag (if any) says the code cell is Python: a VS Code cell set to
    `shellscript` or `plaintext` (pasted console output) is not linted."""
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, field in (("vscode", "languageId"), ("dotnet_interactive", "language")):
        tag = metadata.get(key)
        if isinstance(tag, dict) and isinstance(tag.get(field), str):
            return tag[field].lower() in _PYTHON_LANGUAGES
    return True


def syntax_error(text: str) -> cst.ParserSyntaxError | None:
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return error
    except cst.CSTValidationError:  # lint_source reports it as LL001
        return None
    return None


def lint_cells(path: str, cells: list[Cell], settings: config.Settings,
               rules: list[type[Rule]] | None, *, python2: bool = False) -> list[Finding]:
    """Findings of the code cells, in cell coordinates (line and fix edits). In a Python 2
    notebook a cell that does not parse is Python 2 code, not reported."""
    rules = selected_rules(settings) if rules is None else rules
    want_ll001 = any(r.code == "LL001" for r in rules)
    findings: list[Finding] = []
    good = cells
    if syntax_error("".join(c.masked for c in cells)) is not None:
        good, broken = [], []
        for cell in cells:
            error = syntax_error(cell.masked)
            if error is None:
                good.append(cell)
            else:
                broken.append((cell, error))
        foreign = python2 or any(_R_CODE.search(cell.masked) for cell, _ in broken)
        if want_ll001 and not foreign:
            findings.extend(dataclasses.replace(syntax_error_finding(path, error, cell.masked),
                                                cell=cell.number) for cell, error in broken)
    line = 1
    for cell in good:
        cell.first_line = line
        line += cell.lines
    text = "".join(c.masked for c in good)
    if not text.strip():
        return findings
    for finding in lint_source(text, path, settings, rules):
        mapped = _to_cell(finding, good)
        if mapped is not None:
            findings.append(mapped)
    findings.sort(key=lambda f: f.sort_key)
    return findings


def _cell_of(line: int, cells: list[Cell]) -> Cell | None:
    for cell in cells:
        if cell.first_line <= line < cell.first_line + max(cell.lines, 1):
            return cell
    return cells[-1] if cells else None


def _to_cell(finding: Finding, cells: list[Cell]) -> Finding | None:
    cell = _cell_of(finding.line, cells)
    if cell is None:
        return None
    shift = cell.first_line - 1
    last = cell.first_line + max(cell.lines, 1) - 1
    end_line, end_column = finding.end_line, finding.end_column
    if end_line > last:  # clamp to the cell
        end_line, end_column = last, len(cell.masked.split("\n")[cell.lines - 1]) + 1
    fix = finding.fix
    if fix is not None:
        if all(cell.first_line <= e.start[0] and e.end[0] <= last for e in fix.edits):
            fix = Fix(fix.description, tuple(Edit((e.start[0] - shift, e.start[1]),
                                                  (e.end[0] - shift, e.end[1]), e.replacement)
                                             for e in fix.edits), fix.safe)
        else:
            fix = None
    return dataclasses.replace(finding, line=finding.line - shift, end_line=end_line - shift,
                               end_column=end_column, cell=cell.number, fix=fix)


def lint_notebook(path: str, data: bytes, settings: config.Settings,
                  rules: list[type[Rule]] | None = None) -> list[Finding]:
    rules = selected_rules(settings) if rules is None else rules
    try:
        notebook = load(data)
    except NotebookError as error:
        return [error_finding(path, str(error))] if any(r.code == "LL001" for r in rules) \
            else []
    if language(notebook) != "python":
        return []
    return lint_cells(path, code_cells(notebook), settings, rules,
                      python2=_python2(notebook))


def _python2(notebook: dict) -> bool:
    """A notebook saved from a Python 2 kernel (`print "x"` is its syntax, not an error)."""
    metadata = notebook.get("metadata") or {}
    info = metadata.get("language_info") or {}
    kernel = metadata.get("kernelspec") or {}
    return str(info.get("version", "")).startswith("2.") or kernel.get("name") == "python2"


def dumps(notebook: dict, original: bytes) -> str:
    """Notebook JSON in the original file's layout (indent, newline at the end, line ends)."""
    text = original.decode("utf-8-sig", errors="replace")
    match = re.search(r"\{\r?\n( +|\t)\"", text)
    indent: int | str = len(match.group(1)) if match and match.group(1) != "\t" else (
        "\t" if match else 1)
    out = json.dumps(notebook, indent=indent, ensure_ascii=False)
    if text.endswith("\n"):
        out += "\n"
    if "\r\n" in text:
        out = out.replace("\n", "\r\n")
    return out


def read_and_lint(path: Path, settings: config.Settings,
                  rules: list[type[Rule]] | None) -> list[Finding]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise files.SourceError(f"cannot read: {error.strerror or error}") from error
    return lint_notebook(str(path), data, settings, rules)


_SOURCE_KEY = re.compile(r'"source"\s*:\s*(\[)?')
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def file_line(path: str, cell: int, line: int) -> int:
    """The line of the notebook file (its JSON text) that holds line `line` of cell `cell`, for
    reports that can only point at lines of a file (GitHub annotations). 1 when the layout is
    not the usual one (a source list with one string per line is)."""
    return _file_lines(path).get((cell, line), _file_lines(path).get((cell, 0), 1))


@functools.lru_cache(maxsize=64)
def _file_lines(path: str) -> dict[tuple[int, int], int]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        cells = load(text.encode()).get("cells", [])
    except (OSError, UnicodeDecodeError, NotebookError):
        return {}
    keys = [m for m in _SOURCE_KEY.finditer(text)]
    if len(keys) != len(cells):  # a "source" key elsewhere (metadata): do not guess
        return {}
    where: dict[tuple[int, int], int] = {}
    for number, match in enumerate(keys, start=1):
        start_line = text.count("\n", 0, match.start()) + 1
        where[(number, 0)] = start_line
        if not match.group(1):  # one string: every line of the cell is on this line
            continue
        position, row = match.end(), 1
        while True:
            string = _JSON_STRING.match(text, _skip_blank(text, position))
            if string is None:
                break
            where[(number, row)] = text.count("\n", 0, string.start()) + 1
            row += 1
            position = _skip_blank(text, string.end())
            if text.startswith(",", position):
                position += 1
            else:
                break
    return where


def _skip_blank(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
