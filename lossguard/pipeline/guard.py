"""Inputs the parser must not see: files too large to be hand-written code, and expressions nested
so deeply that libcst's native parser overflows its stack (a crash no `except` can catch) or
takes minutes (a chain of a few thousand `+` is cubic there).

Both checks are cheap for ordinary files: a size test and one regex pass over the brackets.
Only a file that looks suspicious (brackets nested past CPython's own limit of 200, or a line
of thousands of characters) is parsed by CPython first to measure the real depth.
"""

from __future__ import annotations

import ast
import re
from itertools import accumulate

MAX_BYTES = 10 * 1024 * 1024  # --max-file-size default, in bytes
MAX_BRACKETS = 200  # CPython: "too many nested parentheses" beyond this
MAX_DEPTH = 500  # syntax-tree depth libcst parses in well under a second
LONG_LINE = 4000  # a file with a line this long gets its depth measured

_BRACKETS = re.compile(r"[()\[\]{}]")
_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def too_large(size: int, limit: int = MAX_BYTES) -> str | None:
    """A message when a file of `size` bytes is over `limit` (0: no limit)."""
    if limit and size > limit:
        return (f"file too large to lint ({size / 1e6:.1f} MB > {limit / 1e6:.1f} MB, "
                f"--max-file-size); not checked")
    return None


def bracket_depth(text: str) -> int:
    """The deepest bracket nesting, counting brackets in strings and comments too (a closing
    bracket in a string can hide depth from this count; the long-line test and CPython's own
    limits catch what is left)."""
    steps = map(_STEP.__getitem__, _BRACKETS.findall(text))
    return max(accumulate(steps, initial=0))


def too_deep(text: str) -> str | None:
    """A message when `text` nests too deeply to parse safely, else None."""
    suspicious = bracket_depth(text) > MAX_BRACKETS or (
        len(text) > LONG_LINE and max(map(len, text.splitlines())) > LONG_LINE)
    if not suspicious:
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        if "too many nested" in str(error.msg):
            return f"syntax error: {error.msg} (more than {MAX_BRACKETS} levels)"
        return None  # an ordinary syntax error: libcst reports it with its position
    except (RecursionError, MemoryError):
        return "expression nested too deeply to parse; not checked"
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        return f"expression nested {depth} levels deep (limit {MAX_DEPTH}); not checked"
    return None


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
