"""Operation kinds: the `ops` table produces `Kind`s only, each of them, and every kind the code
compares an operation against is one it can produce (a misspelt kind is a test that is never
true, which no other test notices)."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest

from lossguard.analysis.index import build
from lossguard.knowledge import ops
from lossguard.knowledge.kinds import Kind

from .helpers import lint

ROOT = Path(__file__).resolve().parents[1]


def _produced() -> set[str]:
    kinds = set(ops.METHODS.values())
    for _framework, table in ops.NAMESPACES.values():
        kinds |= set(table.values())
    return kinds


def test_the_table_produces_kinds_only():
    assert _produced() - set(Kind) == set()


def test_every_kind_is_produced_by_the_table():
    assert set(Kind) - _produced() == set()


def test_a_looked_up_operation_has_a_kind():
    op = ops.lookup(ops.normalize("tensorflow.math.log"))
    assert op is not None and op.kind is Kind.LOG and op.kind == "log"
    method = ops.method("clamp")
    assert method is not None and method.kind is Kind.CLIP


def _strings(node: ast.AST, constants: dict[str, ast.AST]) -> set[str]:
    """The string constants an expression spells: a literal, a tuple/set/list/frozenset of
    them, a module-level name bound to one, or a union (`|`) of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
        return set().union(*(_strings(e, constants) for e in node.elts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args and \
            node.func.id in ("frozenset", "set", "tuple"):
        return _strings(node.args[0], constants)
    if isinstance(node, ast.BinOp):
        return _strings(node.left, constants) | _strings(node.right, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return _strings(constants[node.id], constants)
    return set()


def _is_op_kind(node: ast.AST, kind_names: set[str]) -> bool:
    """`ctx.kind(x)`, `op.kind`, `index.op_of(x).kind`, or a local name holding one."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "kind"
    if isinstance(node, ast.Attribute) and node.attr == "kind":
        value = ast.unparse(node.value)
        return value == "op" or value.endswith(("_op", ".op")) or "op_of(" in value \
            or value.startswith(("ops.", "self.ctx.op(", "ctx.op("))
    return isinstance(node, ast.Name) and node.id in kind_names


def _kind_names(function: ast.AST) -> set[str]:
    """Local names bound to an operation's kind, and parameters annotated `Kind`."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and _is_op_kind(node.value, set()):
            names.add(node.targets[0].id)
        elif isinstance(node, ast.arg) and node.annotation is not None and \
                "Kind" in ast.unparse(node.annotation):
            names.add(node.arg)
    return names


def _consumed() -> dict[str, set[str]]:
    """Kind literals the code compares an operation's kind with, and where."""
    found: dict[str, set[str]] = {}
    paths = [*(ROOT / "lossguard").rglob("*.py"), *(ROOT / "rules").rglob("*.py")]
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
                     for t in n.targets if isinstance(t, ast.Name)}
        constants |= {n.target.id: n.value for n in tree.body
                      if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
                      and n.value is not None}
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for scope in scopes:
            names = _kind_names(scope)
            for node in ast.walk(scope):
                if isinstance(node, ast.Compare):
                    sides = [node.left, *node.comparators]
                    if any(_is_op_kind(s, names) for s in sides):
                        for side in sides:
                            for text in _strings(side, constants):
                                found.setdefault(text, set()).add(
                                    f"{path.relative_to(ROOT)}:{node.lineno}")
        for node in ast.walk(tree):  # `ops.names_of({...})`, in a rule's `calls` too
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("names_of") \
                    and node.args:
                for text in _strings(node.args[0], constants):
                    found.setdefault(text, set()).add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_kind_the_code_compares_with_is_produced():
    consumed = _consumed()
    assert "log" in consumed and "softmax" in consumed  # the scan sees the rules' questions
    assert {kind: sorted(where) for kind, where in consumed.items() if kind not in set(Kind)} == {}


@pytest.mark.parametrize("imported", [
    "from bert4keras.backend import keras, K",
    "from .backend import K",
    "from ..utils.backend import K",
])
def test_a_projects_keras_backend_shim_named_k_is_keras_backend(imported):
    """Projects re-export `keras.backend` as `K` from a `backend` module of their own; its
    `K.sum` is Keras's."""
    source = f"""
    {imported}

    def masked_loss(y_true, y_pred, mask):
        loss = K.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        return K.sum(loss * mask) / K.sum(mask)
    """
    assert [(f.line, f.code) for f in lint(source, select=["LL102"])] == [(5, "LL102")]


def test_another_name_from_a_projects_backend_is_not_keras():
    source = """
    from mylib.backend import K2 as K

    def masked_loss(y_true, y_pred, mask):
        return K.sum(y_pred * mask) / K.sum(mask)
    """
    assert lint(source, select=["LL102"]) == []


@pytest.mark.parametrize(("module", "call", "kind"), [
    ("math_ops", "math_ops.sqrt", "sqrt"),
    ("math_ops", "math_ops.truediv", "divide"),
    ("nn_ops", "nn_ops.softmax", "softmax"),
    ("nn_impl", "nn_impl.sigmoid_cross_entropy_with_logits", "sigmoid_xent_logits"),
    ("array_ops", "array_ops.where", "where"),
])
def test_tensorflows_own_modules_are_its_public_operations(module, call, kind):
    """Libraries built on TensorFlow (tf-slim, Addons) import `tensorflow.python.ops.math_ops`:
    its functions are the public ones."""
    source = f"from tensorflow.python.ops import {module}\ny = {call}(x)\n"
    index = build(cst.parse_module(source))
    call_node = index.module.body[1].body[0].value
    op = index.op_of(call_node)
    assert op is not None and op.kind == kind


def test_unbound_conventional_aliases_and_a_star_imports_shim_operations():
    """`from ops import *` of a module that imports TensorFlow as `tf` and defines `flatten`:
    `tf.log` is TensorFlow's and `flatten` keeps its operand's values; so is `torch` in a
    snippet that leaves its imports out; a name the module defines itself is its own."""
    import libcst as cst

    from lossguard.analysis.index import build
    from lossguard.analysis.tree import walk

    index = build(cst.parse_module(
        "from ops import *\n"
        "def flatten_all(x):\n    return x\n"
        "y = tf.log(flatten(p))\nz = flatten_all(q)\n"))
    calls = [c for c in walk(index.module) if isinstance(c, cst.Call)]
    assert {index.module.code_for_node(c.func): index.resolve(c.func) for c in calls} == {
        "tf.log": "tensorflow.log", "flatten": "ops.flatten", "flatten_all": None}
    assert [index.op_of(c).kind if index.op_of(c) else None for c in calls] == [
        "log", "reshape", None]
    snippet = build(cst.parse_module("y = torch.log(p)\n"))  # a snippet with no import
    assert snippet.resolve(snippet.module.body[0].body[0].value.func) == "torch.log"
    bound = build(cst.parse_module("class torch:\n    pass\ny = torch.log(p)\n"))
    assert bound.resolve(bound.module.body[1].body[0].value.func) is None  # its own name
