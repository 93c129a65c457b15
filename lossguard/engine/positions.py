"""Line and column of a few chosen nodes, from one code generation pass.

libcst's `PositionProvider` records a position object for every node and splits every token
on newlines: about one and a half parses of the file. The engine needs the positions of the
few nodes it reports, so this pass generates the code of the module one top-level statement
at a time (each starts at column 0) only up to the last one that holds such a node, counts
characters, and records offsets for the chosen nodes (and the children their position is
taken from) only. The result is the same as `PositionProvider`'s: syntactic positions,
1-based lines, 0-based columns. A statement's line count and positions can be kept between
runs over versions of one buffer (`Memo`), so an edit generates the code of the edited
statements only.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import libcst as cst
from libcst._nodes.internal import CodegenState

Position = tuple[int, int]  # (line, column)
NEWLINE = re.compile(r"\r\n?|\n")  # what libcst counts as a line break


@dataclass
class _OffsetState(CodegenState):
    """Code generation that records where the `wanted` nodes start and end (as offsets)."""

    wanted: set[int] = field(default_factory=set)
    length: int = 0
    starts: dict[int, int] = field(default_factory=dict)
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.length += len(value)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.starts[id(node)] = self.length

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.ranges:  # a syntactic range comes first
            self.ranges[key] = (self.starts[key], self.length)

    def record_syntactic_position(  # type: ignore[override]  # libcst's returns a generator's
            self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
            end_node: cst.CSTNode | None = None) -> contextlib.AbstractContextManager[None]:
        if id(node) not in self.wanted:
            return _NOTHING
        for hoisted in (start_node, end_node):  # positions taken from a child: locate it too
            if hoisted is not None:
                self.wanted.add(id(hoisted))
        return _Record(self, node, start_node, end_node)


_NOTHING = contextlib.nullcontext()  # for every node nobody asked about


class _Record:
    def __init__(self, state: _OffsetState, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = self.state.length

    def __exit__(self, *exc: object) -> None:
        ranges = self.state.ranges
        start = ranges[id(self.start_node)][0] if self.start_node is not None else self.start
        end = ranges[id(self.end_node)][1] if self.end_node is not None else self.state.length
        ranges[id(self.node)] = (start, end)


class Located(NamedTuple):
    """What one top-level statement's code says about positions: how many line breaks it
    spans and where, relative to its first line, the nodes asked about lie. Kept with the
    statement itself, so the key `id(statement)` stays its own while the entry lives."""

    statement: cst.CSTNode
    layout: tuple[str, str]  # the module's default indent and newline, which codegen uses
    lines: int
    spans: dict[int, tuple[Position, Position]]


# Statements located before, by `id(statement)`: a buffer edited a little at a time (the
# language server) keeps the statement nodes it did not re-parse, so their line counts and
# positions need no new code generation.
Memo = dict[int, Located]


def locate(module: cst.Module, wanted: Mapping[int, Iterable[cst.CSTNode]],
           memo: Memo | None = None) -> dict[int, tuple[Position, Position]]:
    """Start and end of each node in `wanted` (by the index of the top-level statement that
    holds it), keyed by `id(node)`; a node that is not in the module is left out. With a
    `memo`, statements located before are not generated again (and the memo keeps only
    this module's statements)."""
    if not wanted:
        return {}
    ids = {id(node) for group in wanted.values() for node in group}
    found = _locate(module, wanted, ids, memo)
    if memo is not None:
        if len(found) < len(ids):  # a node outside its statement: look everywhere
            found = _locate(module, wanted, ids, None)
        current = {id(statement) for statement in module.body}
        for key in [key for key in memo if key not in current]:
            del memo[key]
    return found


def _locate(module: cst.Module, wanted: Mapping[int, Iterable[cst.CSTNode]], ids: set[int],
            memo: Memo | None) -> dict[int, tuple[Position, Position]]:
    layout = (module.default_indent, module.default_newline)
    asked = {number: {id(node) for node in group} for number, group in wanted.items()}
    last = max(wanted)
    found: dict[int, tuple[Position, Position]] = {}
    first_line = 1 + len(module.header)  # each header line is one line
    for number, statement in enumerate(module.body):
        entry = memo.get(id(statement)) if memo is not None else None
        missing = ids - found.keys()
        if entry is None or entry.statement is not statement or entry.layout != layout or (
                not asked.get(number, set()) <= entry.spans.keys()):
            entry = _located(statement, layout, missing)
            if memo is not None:
                memo[id(statement)] = entry
        for key, (start, end) in entry.spans.items():
            if key in missing:
                found[key] = ((first_line + start[0] - 1, start[1]),
                              (first_line + end[0] - 1, end[1]))
        first_line += entry.lines
        if number >= last and len(found) == len(ids):
            break  # a rule may point past its statement: then go on until found
    return found


def _located(statement: cst.CSTNode, layout: tuple[str, str], ids: set[int]) -> Located:
    """Generate one top-level statement's code (it starts at column 0, so columns are the
    module's) and record where the nodes in `ids` lie in it."""
    state = _OffsetState(default_indent=layout[0], default_newline=layout[1], wanted=set(ids))
    statement._codegen(state)
    text = "".join(state.tokens)
    line_starts = [0] + [match.end() for match in NEWLINE.finditer(text)]

    def position(offset: int) -> Position:
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1]

    spans = {key: (position(start), position(end))
             for key, (start, end) in state.ranges.items() if key in ids}
    return Located(statement, layout, len(line_starts) - 1, spans)
