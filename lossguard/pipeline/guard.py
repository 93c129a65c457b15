"""Inputs the parser must not see: files too large to be hand-written code, and expressions nested
so deeply that libcst's native parser overflows its stack (a crash no `except` can catch) or
takes minutes (a chain of a few thousand `+` is cubic there).

A file is also refused when parsing it would need more memory than there is: libcst's tree
and the linter's index take about `BYTES_PER_BYTE` bytes per byte of source, so a 20 MB file
needs some 20 GB (with `--max-file-size 0`, one such file once ran for 550 s past 12 GB).

Both checks are cheap for ordinary files: a size test and one regex pass over the brackets.
Only a file that looks suspicious (brackets nested past CPython's own limit of 200, or a line
of thousands of characters) is parsed by CPython first to measure the real depth.
"""

from __future__ import annotations

import ast
import os
import re
from itertools import accumulate

MB = 1_000_000  # the unit of --max-file-size and of the messages
MAX_BYTES = 10 * MB  # --max-file-size default, in bytes
# Peak memory of a parse and lint per byte of source, measured on generated loss modules of
# 0.1 and 0.4 MB (`benchmarks/bench.py --large-module`): 730-790 for the parse, 790-910 with
# the linter. Rounded up.
BYTES_PER_BYTE = 1000
_CHECK_MEMORY_ABOVE = 256 * 1024  # smaller files need under 256 MB: no need to look
MAX_BRACKETS = 200  # CPython: "too many nested parentheses" beyond this
MAX_DEPTH = 500  # syntax-tree depth libcst parses in well under a second
LONG_LINE = 4000  # a file with a line this long gets its depth measured

_BRACKETS = re.compile(r"[()\[\]{}]")
_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def too_large(size: int, limit: int = MAX_BYTES, available: int | None = None) -> str | None:
    """A message when a file of `size` bytes is over `limit` (0: no limit), or needs more
    memory to parse than is `available` (default: what the system and this process's
    address-space limit leave; unknown: no check)."""
    if limit and size > limit:
        return (f"file too large to lint ({size / MB:.1f} MB > {limit / MB:g} MB, "
                f"--max-file-size); not checked")
    if size < _CHECK_MEMORY_ABOVE and available is None:
        return None
    available = available_memory() if available is None else available
    needed = size * BYTES_PER_BYTE
    if available is not None and needed > available:
        return (f"file too large to parse in the memory available ({size / MB:.1f} MB needs "
                f"about {needed / MB:,.0f} MB, {available / MB:,.0f} MB available); not checked")
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: the system's available memory, bounded by the
    address-space limit (`ulimit -v`) less what the process already maps. None: unknown."""
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    import resource  # deferred for start-up time: only files over 256 KB get here

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as handle:
                mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            mapped = 0
        found.append(max(0, soft - mapped))
    return min(found) if found else None


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
