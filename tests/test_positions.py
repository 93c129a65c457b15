"""Finding positions come from `positions.locate`, one code generation pass: they must equal
libcst's `PositionProvider` for every kind of node, alone or many at once."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from lossguard.analysis.tree import walk
from lossguard.engine import positions

ROOT = Path(__file__).resolve().parent.parent
TRICKY = (
    "# header comment\r\n"
    "import tensorflow as tf\r\n"
    "\r\n"
    "@tf.function\r\n"
    "@decorated(1,\r\n"
    "           2)\r\n"
    "def loss(y_true, y_pred):  # trailing\r\n"
    "\tif y_true is None: return 0; x = 1\r\n"
    "\twhile False:\r\n"
    "\t\tpass\r\n"
    "\telse:\r\n"
    "\t\tx = (  tf.math.log(\r\n"
    "\t\t\ty_pred)  )\r\n"
    "\treturn tf.reduce_mean(x) \\\r\n"
    "\t\t+ 1\r\n"
    "class A:\n"
    "    def f(self): return [i for i in range(3) if i]\n"
    "try:\n"
    "    pass\n"
    "except (ValueError, TypeError) as e:\n"
    "    raise\n"
    "finally:\n"
    "    x = {'a': lambda q: q ** 2}\n"
    "# footer\n"
)
SOURCES = [TRICKY, *(p.read_text() for p in sorted((ROOT / "examples").rglob("*.py")))]


def expected(module: cst.Module) -> dict[int, tuple[positions.Position, positions.Position]]:
    ranges = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(node): ((r.start.line, r.start.column), (r.end.line, r.end.column))
            for node, r in ranges.items()}


def by_statement(module: cst.Module) -> dict[int, list[cst.CSTNode]]:
    return {number: list(walk(statement)) for number, statement in enumerate(module.body)}


@pytest.mark.parametrize("source", SOURCES, ids=range(len(SOURCES)))
def test_every_node_at_once_matches_position_provider(source: str) -> None:
    module = cst.parse_module(source)
    wanted = by_statement(module)
    located = positions.locate(module, wanted)
    truth = expected(module)
    for nodes in wanted.values():
        for node in nodes:
            assert located[id(node)] == truth[id(node)], cst.Module([]).code_for_node(node)


@pytest.mark.parametrize("source", SOURCES, ids=range(len(SOURCES)))
def test_each_node_alone_matches_position_provider(source: str) -> None:
    """Alone, a compound statement's end is taken from a child nobody else asked for."""
    module = cst.parse_module(source)
    truth = expected(module)
    for number, nodes in by_statement(module).items():
        for node in nodes:
            assert positions.locate(module, {number: [node]}) == {id(node): truth[id(node)]}


def test_a_node_reported_under_an_earlier_statement_is_still_found() -> None:
    module = cst.parse_module("a = 1\nb = 2\nc = log(b)\n")
    call = module.body[2].body[0].value
    assert positions.locate(module, {0: [call]}) == {id(call): ((3, 4), (3, 10))}


def test_a_node_from_another_module_is_left_out() -> None:
    module = cst.parse_module("a = 1\n")
    stranger = cst.parse_module("b = 2\n").body[0]
    assert positions.locate(module, {0: [stranger]}) == {}


def test_positions_kept_between_versions_of_a_buffer_are_those_of_a_fresh_pass() -> None:
    """The language server keeps unchanged statements as the same nodes: with a memo, their
    positions come from the last pass, shifted by the lines an edit above them added."""
    source = TRICKY.replace("\r\n", "\n")
    before = cst.parse_module(source)
    memo: positions.Memo = {}
    assert positions.locate(before, by_statement(before), memo) == positions.locate(
        before, by_statement(before))
    assert len(memo) == len(before.body)
    grown = before.body[0].with_changes(leading_lines=[cst.EmptyLine()] * 3)
    after = before.with_changes(body=[grown, *before.body[1:]])  # the rest: the same nodes
    wanted = by_statement(after)
    located = positions.locate(after, wanted, memo)
    truth = expected(after)
    assert located == {key: truth[key] for key in located}
    assert len(located) == len({id(node) for nodes in wanted.values() for node in nodes})
    assert before.body[0] not in [entry.statement for entry in memo.values()]  # pruned
