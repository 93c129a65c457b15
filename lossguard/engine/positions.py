"""Line and column of a few chosen nodes, from one code generation pass.

libcst's `PositionProvider` records a position object for every node and splits every token
on newlines: about one and a half parses of the file. The engine needs the positions of the
few nodes it reports, so this pass generates the code of the module only up to the last
top-level statement that holds one, counts characters, and records offsets for the chosen
nodes (and the children their position is taken from) only. The result is the same as
`PositionProvider`'s: syntactic positions, 1-based lines, 0-based columns.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

Position = tuple[int, int]  # (line, column)
NEWLINE = re.compile(r"\r\n?|\n")  # what libcst counts as a line break


@dataclass
class _OffsetState(CodegenState):
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


def locate(module: cst.Module, wanted: Mapping[int, Iterable[cst.CSTNode]]
           ) -> dict[int, tuple[Position, Position]]:
    """Start and end of each node in `wanted` (by the index of the top-level statement that
    holds it), keyed by `id(node)`; a node that is not in the module is left out."""
    if not wanted:
        return {}
    nodes = [node for group in wanted.values() for node in group]
    state = _OffsetState(default_indent=module.default_indent,
                         default_newline=module.default_newline,
                         wanted={id(node) for node in nodes})
    for line in module.header:
        line._codegen(state)
    last = max(wanted)
    for number, statement in enumerate(module.body):
        statement._codegen(state)
        if number >= last and all(id(node) in state.ranges for node in nodes):
            break  # a rule may point past its statement: then go on until found
    text = "".join(state.tokens)
    line_starts = [0] + [match.end() for match in NEWLINE.finditer(text)]

    def position(offset: int) -> Position:
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1]

    return {id(node): (position(state.ranges[id(node)][0]), position(state.ranges[id(node)][1]))
            for node in nodes if id(node) in state.ranges}
