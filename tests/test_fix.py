"""--fix, --unsafe-fixes, --diff, --exit-non-zero-on-fix, and the rewrite helpers that build
the replacement code in the user's own spelling."""

from __future__ import annotations

import io
import shutil
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from lossguard.analysis import rewrite
from lossguard.analysis.index import build
from lossguard.analysis.tree import walk
from lossguard.api import Rule
from lossguard.cli import main as cli
from lossguard.engine.results import Edit
from lossguard.engine.walk import Linter
from lossguard.pipeline import fix
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

ROOT = Path(__file__).resolve().parent.parent


def dedent(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def fixed(code: str, *, unsafe: bool = True, select: list[str] | None = None) -> str:
    settings = Settings(select=select or ["ALL"])
    text, _ = fix.fix_text(dedent(code), lambda s: lint_source(s, "x.py", settings), unsafe)
    return text


# --- text edits -------------------------------------------------------------------------------
def test_apply_edits_by_line_and_column():
    text = "a = log(x)\r\nb = 2\r\n"
    out = fix.apply_edits(text, [Edit((1, 4), (1, 10), "log_softmax(x)"),
                                 Edit((2, 4), (2, 5), "3")])
    assert out == "a = log_softmax(x)\r\nb = 3\r\n"


def test_overlapping_edits_are_refused():
    with pytest.raises(ValueError):
        fix.apply_edits("abcdef", [Edit((1, 0), (1, 3), "x"), Edit((1, 2), (1, 4), "y")])


# --- the unsafe fixes of LL101 and LL102 -------------------------------------------------------
@pytest.mark.parametrize(("before", "after"), [
    ("""
     import tensorflow as tf
     def xent(y_true, y_pred):
         return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
     """, "tf.math.log(tf.maximum(y_pred, 1e-7))"),
    ("""
     from tensorflow.keras import backend as K
     def log_ratio_loss(y_true, y_pred):
         return K.mean(K.square(K.log(y_pred) - y_true), axis=-1)
     """, "K.log(K.maximum(y_pred, K.epsilon()))"),
    ("""
     import keras
     def loss(y_true, y_pred):
         return keras.ops.mean(y_true * keras.ops.log(y_pred))
     """, "keras.ops.log(keras.ops.maximum(y_pred, keras.backend.epsilon()))"),
    ("""
     import torch
     def nll_loss(pred, target):
         return -(target * pred.log()).mean()
     """, "pred.clamp_min(1e-7).log()"),
    ("""
     import torch
     def nll_loss(pred, target):
         return -(target * torch.log(pred)).mean()
     """, "torch.log(torch.clamp_min(pred, 1e-7))"),
    ("""
     import jax.numpy as jnp
     def nll_loss(p, y):
         return -jnp.mean(y * jnp.log(p))
     """, "jnp.log(jnp.maximum(p, 1e-7))"),
    ("""
     import numpy as np
     def nll_cost(probs, labels):
         return -np.sum(labels * np.log(probs))
     """, "np.log(np.maximum(probs, 1e-7))"),
])
def test_log_guard(before, after):
    out = fixed(before, select=["LL101"])
    assert after in out, out
    assert "noqa" not in out
    assert fixed(before, unsafe=False, select=["LL101"]) == dedent(before)  # unsafe only


@pytest.mark.parametrize(("before", "after"), [
    ("""
     import tensorflow as tf
     def masked_loss(y_true, y_pred, mask):
         return tf.reduce_sum(mask * tf.square(y_true - y_pred)) / tf.reduce_sum(mask)
     """, "return tf.math.divide_no_nan(tf.reduce_sum(mask * tf.square(y_true - y_pred)), "
          "tf.reduce_sum(mask))"),
    ("""
     import torch
     def normalized_loss(pred, target):
         err = (pred - target).abs()
         return (err / err.sum()).mean()
     """, "return (err / (err.sum() + 1e-7)).mean()"),
    ("""
     import jax.numpy as jnp
     def iou_loss(y_true, y_pred):
         inter = jnp.sum(y_true * y_pred)
         union = jnp.sum(y_true) + jnp.sum(y_pred) - inter
         return 1.0 - inter / union
     """, "return 1.0 - inter / (union + 1e-7)"),
    # TensorFlow code, but the division spells no TensorFlow call: a smoothing term, as the
    # README says (divide_no_nan only where the division reuses a TensorFlow spelling)
    ("""
     import tensorflow as tf
     def dice_loss(y_true, y_pred):
         inter = tf.reduce_sum(y_true * y_pred)
         union = tf.reduce_sum(y_true) + tf.reduce_sum(y_pred)
         return 1.0 - 2.0 * inter / union
     """, "return 1.0 - 2.0 * inter / (union + 1e-7)"),
])
def test_division_guard(before, after):
    out = fixed(before, select=["LL102"])
    assert after in out, out


# --- safe rewrites: helpers, exact code per framework ------------------------------------------
class _LogOf(Rule):
    """Test rule: offers the safe rewrites of `log(softmax)`, `log(sigmoid)`, `log(1 + exp)`,
    `log(sum(exp))` through the helpers the numerical rules use."""

    code = "LL999"
    name = "test-rewrites"
    scope = "all"

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.kind(node) not in ("log", "log1p"):
            return
        index = self.ctx.index
        operand = self.ctx.operand(node)
        if operand is None and isinstance(node.func, cst.Attribute):
            operand = node.func.value  # a tensor method: `x.softmax(1).log()`
        kind = self.ctx.kind(operand)
        new = None
        if kind == "softmax":
            new = rewrite.log_softmax_of(index, operand)
        elif kind == "sigmoid":
            new = rewrite.log_sigmoid_of(index, operand)
        elif kind == "exp" and self.ctx.kind(node) == "log1p":
            new = rewrite.softplus_of(index, operand, self.ctx.operand(operand))
        elif isinstance(operand, cst.BinaryOperation) and self.ctx.kind(operand.right) == "exp":
            new = rewrite.softplus_of(index, operand.right, self.ctx.operand(operand.right))
        elif kind == "sum":
            inner = self.ctx.operand(operand)
            if inner is None and isinstance(operand.func, cst.Attribute):
                inner = operand.func.value
            if self.ctx.kind(inner) == "exp":
                x = self.ctx.operand(inner)
                if x is None and isinstance(inner.func, cst.Attribute):
                    x = inner.func.value
                new = rewrite.logsumexp_of(index, operand, x)
        self.report(node, "rewrite", fix=rewrite.replace(node, new, "stable form"))


def rewritten(code: str) -> str:
    linter = Linter([_LogOf])
    text, count = fix.fix_text(dedent(code), lambda s: linter.lint("x.py", s))
    return text


@pytest.mark.parametrize(("before", "after"), [
    # log(softmax(x)) -> log_softmax(x), each framework
    ("import tensorflow as tf\ny = tf.math.log(tf.nn.softmax(logits, axis=-1))\n",
     "import tensorflow as tf\ny = tf.nn.log_softmax(logits, axis=-1)\n"),
    ("import keras\ny = keras.ops.log(keras.ops.softmax(logits))\n",
     "import keras\ny = keras.ops.log_softmax(logits)\n"),
    ("import tensorflow as tf\nfrom tensorflow.keras import backend as K\n"
     "y = K.log(K.softmax(logits))\n",
     "import tensorflow as tf\nfrom tensorflow.keras import backend as K\n"
     "y = tf.nn.log_softmax(logits)\n"),
    ("import torch\ny = torch.log(torch.softmax(pred, dim=1))\n",
     "import torch\ny = torch.log_softmax(pred, dim=1)\n"),
    ("import torch\nimport torch.nn.functional as F\ny = torch.log(F.softmax(pred, dim=1))\n",
     "import torch\nimport torch.nn.functional as F\ny = F.log_softmax(pred, dim=1)\n"),
    ("import torch\ny = pred.softmax(dim=1).log()\n",
     "import torch\ny = pred.log_softmax(dim=1)\n"),
    ("import jax\nimport jax.numpy as jnp\ny = jnp.log(jax.nn.softmax(logits))\n",
     "import jax\nimport jax.numpy as jnp\ny = jax.nn.log_softmax(logits)\n"),
    # log(sigmoid(x)) -> log_sigmoid(x)
    ("import tensorflow as tf\ny = tf.math.log(tf.nn.sigmoid(z))\n",
     "import tensorflow as tf\ny = tf.math.log_sigmoid(z)\n"),
    ("import keras\ny = keras.ops.log(keras.ops.sigmoid(z))\n",
     "import keras\ny = keras.ops.log_sigmoid(z)\n"),
    ("import torch\nimport torch.nn.functional as F\ny = torch.log(torch.sigmoid(z))\n",
     "import torch\nimport torch.nn.functional as F\ny = F.logsigmoid(z)\n"),
    ("import torch\ny = torch.log(torch.sigmoid(z))\n",
     "import torch\ny = torch.nn.functional.logsigmoid(z)\n"),
    ("import jax\nimport jax.numpy as jnp\ny = jnp.log(jax.nn.sigmoid(z))\n",
     "import jax\nimport jax.numpy as jnp\ny = jax.nn.log_sigmoid(z)\n"),
    # log(1 + exp(x)) -> softplus(x)
    ("import tensorflow as tf\ny = tf.math.log(1.0 + tf.exp(z))\n",
     "import tensorflow as tf\ny = tf.math.softplus(z)\n"),
    ("from tensorflow.keras import backend as K\ny = K.log(1 + K.exp(z))\n",
     "from tensorflow.keras import backend as K\ny = K.softplus(z)\n"),
    ("import torch\nimport torch.nn.functional as F\ny = torch.log1p(torch.exp(z))\n",
     "import torch\nimport torch.nn.functional as F\ny = F.softplus(z)\n"),
    ("import jax\nimport jax.numpy as jnp\ny = jnp.log1p(jnp.exp(z))\n",
     "import jax\nimport jax.numpy as jnp\ny = jax.nn.softplus(z)\n"),
    # log(sum(exp(x))) -> reduce_logsumexp(x)
    ("import tensorflow as tf\ny = tf.math.log(tf.reduce_sum(tf.exp(z), axis=-1))\n",
     "import tensorflow as tf\ny = tf.reduce_logsumexp(z, axis=-1)\n"),
    ("import keras\ny = keras.ops.log(keras.ops.sum(keras.ops.exp(z), axis=1))\n",
     "import keras\ny = keras.ops.logsumexp(z, axis=1)\n"),
    ("import torch\ny = torch.log(torch.sum(torch.exp(z), dim=1))\n",
     "import torch\ny = torch.logsumexp(z, dim=1)\n"),
    ("import torch\ny = z.exp().sum(1).log()\n", "import torch\ny = z.logsumexp(1)\n"),
    ("import jax\nimport jax.numpy as jnp\ny = jnp.log(jnp.sum(jnp.exp(z), axis=0))\n",
     "import jax\nimport jax.numpy as jnp\ny = jax.nn.logsumexp(z, axis=0)\n"),
])
def test_safe_rewrite(before, after):
    assert rewritten(before) == after


@pytest.mark.parametrize("code", [
    "from tensorflow.keras import backend as K\ny = K.log(K.softmax(logits))\n",  # no tf import
    "import torch\ny = torch.log(torch.sum(torch.exp(z)))\n",  # torch.logsumexp needs a dim
    "import jax.numpy as jnp\ny = jnp.log(jnp.sum(jnp.exp(z)))\n",  # jax.nn not imported
])
def test_no_rewrite_without_a_reachable_spelling(code):
    assert rewritten(code) == code


def test_spelling_keeps_the_users_alias():
    index = build(cst.parse_module("import tensorflow.math as tfm\n"
                                   "import torch.nn.functional as Fn\n"))
    assert cst.Module([]).code_for_node(rewrite.spelling(index, "torch.nn.functional.softplus")) \
        == "Fn.softplus"
    assert rewrite.spelling(index, "jax.nn.softplus") is None


# --- files ----------------------------------------------------------------------------------------
BAD = """\
import tensorflow as tf


def xent(y_true, y_pred):
    # the cross-entropy, by hand
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)


def masked_loss(y_true, y_pred, mask):
    return tf.reduce_sum(mask * tf.square(y_true - y_pred)) / tf.reduce_sum(mask)
"""


def codes_at(path: Path) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in lint_source(path.read_text(), str(path), Settings())}


def test_fix_writes_fixed_file_and_relint_is_clean(tmp_path, capsys):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    before = codes_at(path)
    assert {(6, "LL101"), (10, "LL102")} <= before
    assert cli.main(["--fix", str(path)]) == 1  # only unsafe fixes: nothing applied
    assert path.read_text() == BAD
    assert cli.main(["--fix", "--unsafe-fixes", str(path)]) == 0
    text = path.read_text()
    assert "# the cross-entropy, by hand" in text  # comments and formatting kept
    assert "noqa" not in text
    assert not {c for c in codes_at(path) if c[1] in ("LL101", "LL102")}
    assert cli.main(["--fix", "--unsafe-fixes", str(path)]) == 0
    assert path.read_text() == text  # fixing twice changes nothing
    assert not list(tmp_path.glob(".*lossguard"))  # no temporary file left


def test_diff_writes_nothing(tmp_path, capsys):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    assert cli.main(["--diff", "--unsafe-fixes", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- {path}\n+++ {path}\n")
    assert "+    return -tf.reduce_sum(y_true * tf.math.log(tf.maximum(y_pred, 1e-7)), axis=-1)" \
        in out
    assert path.read_text() == BAD
    assert cli.main(["--diff", str(path)]) == 0  # no safe fix: no diff


def _stdin(monkeypatch, capsys, text: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = cli.main([*args, "--stdin-filename", "losses.py", "-"])
    out, err = capsys.readouterr()
    return code, out, err


def test_fix_from_stdin_writes_the_fixed_source_to_stdout(monkeypatch, capsys):
    """What an editor runs: the fixed source on stdout, what is left on stderr."""
    code, out, err = _stdin(monkeypatch, capsys, BAD, "--fix", "--unsafe-fixes")
    assert code == 0
    assert "tf.math.log(tf.maximum(y_pred, 1e-7))" in out
    assert "# the cross-entropy, by hand" in out
    assert "LL101" not in err and "fixed 2 findings" in err
    code, out, err = _stdin(monkeypatch, capsys, BAD, "--fix")  # no safe fix applies
    assert code == 1
    assert out == BAD
    assert "losses.py:6:" in err and "LL101" in err


def test_diff_and_noqa_from_stdin(monkeypatch, capsys):
    code, out, err = _stdin(monkeypatch, capsys, BAD, "--diff", "--unsafe-fixes")
    assert code == 1
    assert out.startswith("--- losses.py\n+++ losses.py\n")
    assert "would apply 2 fixes" in err
    code, out, _ = _stdin(monkeypatch, capsys, BAD, "--add-noqa")
    assert code == 0
    assert "tf.math.log(y_pred), axis=-1)  # noqa: LL101" in out


def test_stdin_that_does_not_parse_comes_back_unchanged(monkeypatch, capsys):
    broken = BAD + "def oops(:\n"
    code, out, err = _stdin(monkeypatch, capsys, broken, "--fix", "--unsafe-fixes")
    assert code == 1
    assert out == broken
    assert "LL001" in err


def test_stdin_must_be_the_only_path_when_fixing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    monkeypatch.setattr("sys.stdin", io.StringIO(BAD))
    assert cli.main(["--fix", "--unsafe-fixes", "-", str(path)]) == 2
    assert "must be the only path" in capsys.readouterr().err
    assert path.read_text() == BAD


def test_exit_non_zero_on_fix(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    assert cli.main(["--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", str(path)]) == 1
    assert cli.main(["--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", str(path)]) == 0


def test_line_endings_and_encoding_are_kept(tmp_path):
    source = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD
    path = tmp_path / "crlf.py"
    path.write_bytes(source.replace("\n", "\r\n").encode("latin-1"))
    cli.main(["--fix", "--unsafe-fixes", str(path)])
    data = path.read_bytes()
    assert b"caf\xe9" in data and data.count(b"\r\n") == source.count("\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"tf.maximum(y_pred, 1e-7)" in data


def test_bom_is_kept(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + BAD.encode())
    cli.main(["--fix", "--unsafe-fixes", str(path)])
    assert path.read_bytes().startswith(b"\xef\xbb\xbfimport tensorflow")


def test_fix_is_not_kept_when_result_does_not_parse(tmp_path, monkeypatch):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    monkeypatch.setattr(fix, "parses", lambda text: False)
    cli.main(["--fix", "--unsafe-fixes", str(path)])
    assert path.read_text() == BAD


def test_fix_examples_and_fixtures(tmp_path):
    """Every fix on the examples and test fixtures leaves code that parses, removes the
    finding it fixes, and a second --fix changes nothing."""
    copy = tmp_path / "tree"
    copy.mkdir()
    for folder in (ROOT / "examples", ROOT / "tests" / "fixtures"):
        if folder.is_dir():
            shutil.copytree(folder, copy / folder.name)
    settings = Settings(select=["ALL"])
    result = fix.run([str(copy)], settings, unsafe=True)
    for changed in result.changed:
        assert fix.parses(changed.after)
        before = {(f.line, f.column, f.code) for f in lint_source(changed.before, "x.py", settings)
                  if f.fix is not None}
        for line in changed.diff().splitlines():
            if line.startswith("+") and not line.startswith("+++"):
                assert "# noqa" not in line
        assert before
    again = fix.run([str(copy)], settings, unsafe=True)
    assert not again.changed


def test_every_fix_removes_its_finding():
    code = dedent(BAD)
    settings = Settings(select=["ALL"])
    for finding in lint_source(code, "x.py", settings):
        if finding.fix is None:
            continue
        after = fix.apply_edits(code, finding.fix.edits)
        assert fix.parses(after)
        left = [f for f in lint_source(after, "x.py", settings)
                if f.code == finding.code and f.line == finding.line]
        assert not left, (finding.code, after)


def test_fixes_never_add_noqa():
    code = dedent(BAD)
    for finding in lint_source(code, "x.py", Settings(select=["ALL"])):
        if finding.fix is not None:
            assert all("noqa" not in e.replacement for e in finding.fix.edits)


def test_nodes_of_helpers_are_valid_code():
    module = cst.parse_module("import tensorflow as tf\ny = tf.math.log(p)\n")
    index = build(module)
    call = next(n for n in walk(module) if isinstance(n, cst.Call))
    new = rewrite.guarded_log(index, call, call.args[0].value)
    assert module.code_for_node(new) == "tf.math.log(tf.maximum(p, 1e-7))"
