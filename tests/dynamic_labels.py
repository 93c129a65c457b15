"""Findings built from `# expect: LLxxx` labels, for dynamic-pass tests (no static engine needed).

The node a label means is found with the same locator the dynamic pass uses: the first node
on the labelled line of the kind the rule reports on. `function` is the enclosing def's dotted
name, as the engine reports it.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from lossguard.dynamic.patch import _preferred, call_name
from lossguard.engine.results import Finding

OPS = {
    "LL101": {"log", "log2", "log10", "log1p"}, "LL107": {"log"}, "LL106": {"log", "sqrt"},
    "LL108": {"log"}, "LL103": {"sqrt", "norm"}, "LL109": {"sqrt", "log"}, "LL104": {"log", "exp"},
    "LL105": {"pow"},
}
EXPECT = re.compile(r"#\s*expect:\s*((?:LL\d{3}[,\s]*)+)")


def _functions(tree: ast.Module) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno or child.lineno, name))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return spans


def findings_from_labels(path: str) -> list[Finding]:
    source = open(path, encoding="utf-8").read()
    tree = ast.parse(source)
    spans = _functions(tree)
    wrapper = MetadataWrapper(cst.parse_module(source))
    positions = wrapper.resolve(PositionProvider)
    out = []
    for lineno, text in enumerate(source.splitlines(), 1):
        m = EXPECT.search(text)
        if not m:
            continue
        for code in re.findall(r"LL\d{3}", m.group(1)):
            best = None
            for node, pos in positions.items():
                if pos.start.line != lineno or _preferred(code, node) < 3:
                    continue
                op_match = 0 if call_name(node) in OPS.get(code, {call_name(node)}) else 1
                key = (op_match, pos.start.column, -(pos.end.column + 1000 * pos.end.line))
                if best is None or key < best[0]:
                    best = (key, pos)
            if best is not None:
                pos = best[1]
                col, end = pos.start.column + 1, (pos.end.line, pos.end.column + 1)
            else:
                col = len(text) - len(text.lstrip()) + 1
                end = (lineno, len(text.split("#")[0].rstrip()) + 1)
            inner = [s for s in spans if s[0] <= lineno <= s[1]]
            function = max(inner, key=lambda s: s[0])[2] if inner else None
            out.append(Finding(path=path, line=lineno, column=col, end_line=end[0],
                               end_column=end[1], code=code, name=code, severity="error",
                               message="", function=function))
    return out
