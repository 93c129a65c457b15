"""Property-based tests over generated loss functions built from the operations the rules know.

Invariants: linting never raises; applying a finding's own fix removes that finding and adds
none; renaming variables or import aliases changes no finding; the cache and the process pool
change nothing.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossguard.pipeline.batch import RunOptions, run
from lossguard.pipeline.cache import Cache
from lossguard.pipeline.config import Settings
from lossguard.pipeline.fix import apply_edits
from lossguard.pipeline.lint import lint_source

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
ALL = Settings(select=["ALL"])

# framework -> (import line with {alias}, default alias, spelling of each op with {m} the alias)
FRAMEWORKS = {
    "tf": ("import tensorflow as {m}", {"log": "{m}.math.log", "sqrt": "{m}.sqrt",
           "exp": "{m}.exp", "mean": "{m}.reduce_mean", "sum": "{m}.reduce_sum",
           "square": "{m}.square", "divide": "{m}.math.divide"}),
    "K": ("from tensorflow.keras import backend as {m}", {
        "log": "{m}.log", "sqrt": "{m}.sqrt", "exp": "{m}.exp", "mean": "{m}.mean",
        "sum": "{m}.sum", "square": "{m}.square", "divide": None}),
    "ops": ("from keras import ops as {m}", {
        "log": "{m}.log", "sqrt": "{m}.sqrt", "exp": "{m}.exp", "mean": "{m}.mean",
        "sum": "{m}.sum", "square": "{m}.square", "divide": "{m}.divide"}),
    "torch": ("import torch as {m}", {
        "log": "{m}.log", "sqrt": "{m}.sqrt", "exp": "{m}.exp", "mean": "{m}.mean",
        "sum": "{m}.sum", "square": "{m}.square", "divide": "{m}.div"}),
    "jnp": ("import jax.numpy as {m}", {
        "log": "{m}.log", "sqrt": "{m}.sqrt", "exp": "{m}.exp", "mean": "{m}.mean",
        "sum": "{m}.sum", "square": "{m}.square", "divide": "{m}.divide"}),
}
# Names of one role: data (a structural zero, see `names.is_data_name`) that no word makes
# labels, predictions or logits. Not the tensor-like names (`y_true`, `logits`, ...): a
# parameter after the last of those is a hyperparameter by design (scope.inputs_of), and not
# names without a data word (`ref`, `t1`): those are the caller's to keep in range, so
# renaming across either line changes meaning.
NEUTRAL = ["a", "b", "u", "v", "x1", "x2", "z1", "z2"]
ALIASES = ["m", "mm", "lib", "F", "X9", "backend_"]


@st.composite
def shapes(draw: st.DrawFn) -> dict:
    """The structure of one loss function, without its names."""
    framework = draw(st.sampled_from(sorted(FRAMEWORKS)))
    unary = draw(st.lists(st.sampled_from(["log", "sqrt", "exp", "square", "none"]),
                          min_size=1, max_size=3))
    return {
        "framework": framework,
        "unary": unary,
        "diff": draw(st.booleans()),
        "divide": draw(st.booleans()) and FRAMEWORKS[framework][1]["divide"] is not None,
        "reduce": draw(st.sampled_from(["mean", "sum", "none"])),
        "name": draw(st.sampled_from(["loss", "dice_loss", "my_objective", "xent", "cost_fn"])),
    }


@st.composite
def namings(draw: st.DrawFn) -> dict:
    true, pred, tmp = draw(st.lists(st.sampled_from(NEUTRAL), min_size=3, max_size=3,
                                    unique=True))
    return {"alias": draw(st.sampled_from(ALIASES)), "true": true, "pred": pred, "tmp": tmp}


def render(shape: dict, names: dict) -> str:
    importer, spell = FRAMEWORKS[shape["framework"]]
    m = names["alias"]

    def op(kind: str, arg: str) -> str:
        return arg if kind == "none" else f"{spell[kind].format(m=m)}({arg})"

    t, p, tmp = names["true"], names["pred"], names["tmp"]
    expr = f"{p} - {t}" if shape["diff"] else p
    for kind in shape["unary"]:
        expr = op(kind, expr)
    lines = [importer.format(m=m), "", "", f"def {shape['name']}({t}, {p}):",
             f"    {tmp} = {expr}"]
    value = tmp
    if shape["divide"]:
        value = f"{spell['divide'].format(m=m)}({tmp}, {t})"
    lines.append(f"    return {op(shape['reduce'], value)}")
    return "\n".join(lines) + "\n"


def summary(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(source, "gen.py", ALL)]


@FAST
@given(shapes(), namings())
def test_never_raises(shape, names):
    source = render(shape, names)
    for finding in lint_source(source, "gen.py", ALL):
        assert finding.line >= 1 and finding.code.startswith("LL")
    lint_source(source, "gen.py", Settings(select=["ALL"], all_code=True))


@FAST
@given(shapes(), namings(), namings())
def test_renaming_changes_nothing(shape, first, second):
    assert summary(render(shape, first)) == summary(render(shape, second))


@FAST
@given(shapes(), namings())
def test_fix_removes_its_finding_and_adds_none(shape, names):
    source = render(shape, names)
    findings = lint_source(source, "gen.py", ALL)
    for finding in findings:
        if finding.fix is None or finding.code == "LL002":
            continue
        fixed = apply_edits(source, finding.fix.edits)
        after = lint_source(fixed, "gen.py", ALL)
        assert not [f for f in after if (f.line, f.column, f.code) == (
            finding.line, finding.column, finding.code)], (source, fixed, finding.message)
        # Adds none: what is left is what there was, less the fixed finding (positions on the
        # line may move, so compare codes per line).
        left = Counter((f.line, f.code) for f in findings)
        left[(finding.line, finding.code)] -= 1
        added = Counter((f.line, f.code) for f in after) - left
        assert not added, (source, fixed, finding.message)


@settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(shapes(), namings()), min_size=2, max_size=5))
def test_cache_and_jobs_change_nothing(functions):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for number, (shape, names) in enumerate(functions):
            (root / f"gen_{number}.py").write_text(render(shape, names))
        plain = [f.to_json() for f in run([folder], ALL).findings]
        cache = Cache(root / ".cache")
        for options in (RunOptions(jobs=2), RunOptions(jobs=3, cache=cache),
                        RunOptions(jobs=1, cache=cache), RunOptions(jobs=2, prefilter=False)):
            assert [f.to_json() for f in run([folder], ALL, options).findings] == plain


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="_abcdeglopstrxyLPS0123456789", max_size=12))
def test_the_naming_vocabulary_answers_any_identifier(name):
    """Every `is_*` question of the vocabulary answers any name, `_` and `__` included (one
    raised on a name with no tokens and lost the whole file as an internal error)."""
    import inspect

    from lossguard.knowledge import names

    for label, question in inspect.getmembers(names, inspect.isfunction):
        if label.startswith("is_") and question.__module__ == names.__name__:
            if label in ("is_test_module", "is_loss_module"):
                continue  # they take paths
            assert isinstance(question(name), bool), label
