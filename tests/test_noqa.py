"""Suppressions: `# noqa: LLxxx`, `# lossguard: ignore[...]`, `--add-noqa`, LL002 unused-noqa."""

from __future__ import annotations

from lossguard.cli import main as cli
from lossguard.pipeline import fix
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

from .helpers import lint

BAD = """\
import tensorflow as tf


def xent(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)  # by hand


def masked_loss(y_true, y_pred, mask):
    total = tf.reduce_sum(mask * tf.square(y_true - y_pred))  # noqa: E501
    return total / tf.reduce_sum(mask)  # lossguard: ignore[LL999]
"""


def codes(text: str, **settings: object) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(text, "x.py", Settings(**settings))]


def test_noqa_forms():
    assert codes(BAD) == [(5, "LL101"), (10, "LL102")]
    assert codes(BAD.replace("# by hand", "# noqa: LL101")) == [(10, "LL102")]
    assert codes(BAD.replace("# by hand", "# noqa")) == [(10, "LL102")]
    assert codes(BAD.replace("# by hand", "# noqa: LL102")) == [(5, "LL101"), (10, "LL102")]
    assert codes(BAD.replace("ignore[LL999]", "ignore[LL102]")) == [(5, "LL101")]
    assert codes("# lossguard: noqa\n" + BAD) == []


def test_add_noqa(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(BAD)
    assert cli.main(["--add-noqa", str(path)]) == 0
    text = path.read_text()
    assert "    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)  # by hand" \
           "  # noqa: LL101\n" in text
    assert "    return total / tf.reduce_sum(mask)  # lossguard: ignore[LL999, LL102]\n" in text
    assert codes(text) == []
    assert cli.main([str(path)]) == 0
    assert cli.main(["--add-noqa", str(path)]) == 0
    assert path.read_text() == text  # nothing left to add


def test_add_noqa_merges_with_existing_codes():
    assert fix.noqa_line("x = f(y)  # noqa: E501\n", ["LL101"]) == \
        "x = f(y)  # noqa: E501, LL101\n"
    assert fix.noqa_line("x = f(y)  # noqa:LL102\r\n", ["LL101"]) == \
        "x = f(y)  # noqa:LL102, LL101\r\n"
    assert fix.noqa_line("x = f(y)  # noqa\n", ["LL101"]) == "x = f(y)  # noqa\n"
    assert fix.noqa_line("x = f(y)\n", ["LL102", "LL101"]) == "x = f(y)  # noqa: LL101, LL102\n"


def test_add_noqa_on_a_multiline_statement(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text("import tensorflow as tf\n\n\ndef xent(y_true, y_pred):\n"
                    "    return -tf.reduce_sum(\n        y_true * tf.math.log(y_pred),\n"
                    "        axis=-1)\n")
    cli.main(["--add-noqa", str(path)])
    assert "        y_true * tf.math.log(y_pred),  # noqa: LL101\n" in path.read_text()
    assert codes(path.read_text()) == []


def test_unused_noqa_is_off_by_default():
    text = BAD.replace("# by hand", "# noqa: LL101, LL102")
    assert (5, "LL002") not in codes(text)
    found = [f for f in lint(text) if f.code == "LL002"]
    assert [(f.line, f.column) for f in found] == [(5, 75)]
    assert "`LL102` suppresses nothing" in found[0].message


def test_unused_noqa_in_strings_is_ignored():
    text = 'import tensorflow as tf\nDOC = """x  # noqa: LL101"""\n'
    assert not [f for f in lint(text) if f.code == "LL002"]


def test_unused_noqa_of_a_rule_not_selected_is_not_reported():
    text = BAD.replace("# by hand", "# noqa: LL101, LL102")
    assert not [f for f in lint(text, select=["LL002", "LL101"]) if f.code == "LL002"]


def test_unused_noqa_fix_removes_the_codes():
    settings = Settings(select=["ALL"])

    def run(text: str) -> str:
        return fix.fix_text(text, lambda s: [f for f in lint_source(s, "x.py", settings)
                                             if f.code == "LL002"])[0]

    text = BAD.replace("# by hand", "# noqa: LL101, LL102")
    assert "axis=-1)  # noqa: LL101\n" in run(text)
    clean = "import tensorflow as tf\nx = tf.reduce_sum(y)  # noqa: LL101\n"
    assert run(clean) == "import tensorflow as tf\nx = tf.reduce_sum(y)\n"
