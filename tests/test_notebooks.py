"""Notebooks: linted cell by cell (magics masked), findings name the cell, --fix writes back
valid notebook JSON that keeps outputs and metadata."""

from __future__ import annotations

import json

import pytest

from lossguard.cli import main as cli
from lossguard.pipeline import notebook
from lossguard.pipeline.config import Settings

nbformat = pytest.importorskip("nbformat")
v4 = nbformat.v4

LOSS = """\
def xent(y_true, y_pred):
    # by hand
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)"""


def make(tmp_path, cells, name="nb.ipynb"):
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["custom"] = {"keep": [1, 2]}
    nb.cells = cells
    path = tmp_path / name
    path.write_text(nbformat.writes(nb))
    return path


def standard(tmp_path):
    output = v4.new_output("stream", name="stdout", text="2.16\n")
    return make(tmp_path, [
        v4.new_markdown_cell("# A loss with a bug"),
        v4.new_code_cell("%matplotlib inline\nimport tensorflow as tf\n!pip list | grep tf",
                         outputs=[output], execution_count=1),
        v4.new_code_cell("print(tf.__version__)\ntf.math.log?"),
        v4.new_code_cell(LOSS, metadata={"tags": ["loss"]}),
        v4.new_code_cell("%%bash\necho $((1/0))"),
    ])


def test_finding_names_its_cell(tmp_path, capsys):
    path = standard(tmp_path)
    assert cli.main([str(path)]) == 1
    out = capsys.readouterr().out
    # cells are counted as Jupyter shows them (and ruff reports them): the markdown one too
    assert f"{path}:cell 4:3:36: LL101 unguarded log of `y_pred`" in out
    assert out.count("LL") == 1  # magics, shell lines and the bash cell are masked
    assert "        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)" in out


def test_github_annotation_points_at_the_line_in_the_notebook_file(tmp_path, capsys):
    path = standard(tmp_path)
    assert cli.main(["--output-format", "github", str(path)]) == 1
    (annotation,) = capsys.readouterr().out.splitlines()
    lines = path.read_text().splitlines()
    expected = next(n for n, line in enumerate(lines, 1) if "tf.math.log(y_pred)" in line)
    assert f",line={expected}," in annotation and "cell 4, line 3:" in annotation


def test_imports_of_earlier_cells_are_seen(tmp_path):
    path = standard(tmp_path)
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.line, f.column, f.code) for f in findings] == [(4, 3, 36, "LL101")]


def test_fix_writes_valid_notebook(tmp_path):
    path = standard(tmp_path)
    before = json.loads(path.read_text())
    assert cli.main(["--fix", "--unsafe-fixes", str(path)]) == 0
    after = json.loads(path.read_text())
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
    code = [c for c in after["cells"] if c["cell_type"] == "code"]
    assert "".join(code[2]["source"]) == LOSS.replace("tf.math.log(y_pred)",
                                                      "tf.math.log(tf.maximum(y_pred, 1e-7))")
    assert code[0]["outputs"] == before["cells"][1]["outputs"]
    assert code[0]["source"] == before["cells"][1]["source"]  # magics untouched
    assert after["metadata"] == before["metadata"]
    assert code[2]["metadata"] == {"tags": ["loss"]}
    assert path.read_text().startswith('{\n "cells": [\n')  # nbformat's layout kept
    assert cli.main(["--fix", "--unsafe-fixes", str(path)]) == 0
    assert json.loads(path.read_text()) == after


def test_diff_on_notebook_writes_nothing(tmp_path, capsys):
    path = standard(tmp_path)
    text = path.read_text()
    assert cli.main(["--diff", "--unsafe-fixes", str(path)]) == 1
    assert "tf.maximum(y_pred, 1e-7)" in capsys.readouterr().out
    assert path.read_text() == text


def test_syntax_error_in_one_cell(tmp_path):
    path = make(tmp_path, [v4.new_code_cell("import tensorflow as tf"),
                           v4.new_code_cell("def broken(:\n    pass"),
                           v4.new_code_cell(LOSS)])
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.code) for f in findings] == [(2, "LL001"), (3, "LL101")]


def test_cells_of_a_notebook_that_mixes_in_r_are_not_syntax_errors(tmp_path):
    # Colab runs R cells beside Python ones with no `%%R` marker: once a cell that does not
    # parse is written in R, the cells that do not parse are taken for R, not reported.
    path = make(tmp_path, [v4.new_code_cell("import tensorflow as tf"),
                           v4.new_code_cell("fit <- glmnet(x, y)\nplot(fit$lambda)"),
                           v4.new_code_cell("write.csv(as.matrix(coef(fit, 0.01)), '/tmp/c.csv')"),
                           v4.new_code_cell(LOSS)])
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.code) for f in findings] == [(4, "LL101")]


def test_a_python_2_notebook_has_no_syntax_errors_for_its_print_statements(tmp_path):
    path = make(tmp_path, [v4.new_code_cell("import tensorflow as tf"),
                           v4.new_code_cell("print \"loss:\", 0.5"),
                           v4.new_code_cell(LOSS)])
    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"]["name"] = "python2"
    path.write_text(json.dumps(nb))
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.code) for f in findings] == [(3, "LL101")]


def test_a_cell_an_editor_tags_as_another_language_is_not_python(tmp_path):
    shell = v4.new_code_cell("python -u run.py \\\n  --is_training 1",
                             metadata={"vscode": {"languageId": "shellscript"}})
    log = v4.new_code_cell("Epoch: 1 cost time: 12.5s\n>>>>>>>testing : 0.31",
                           metadata={"vscode": {"languageId": "plaintext"}})
    broken = v4.new_code_cell("def broken(:\n    pass",
                              metadata={"vscode": {"languageId": "python"}})
    path = make(tmp_path, [v4.new_code_cell("import tensorflow as tf"), shell, log, broken,
                           v4.new_code_cell(LOSS)])
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.code) for f in findings] == [(4, "LL001"), (5, "LL101")]


def test_magics_and_aliases_written_without_percent_are_ipython():
    source = "pip install -r requirements.txt\nls ./data/train/\ncd src\nls = [1, 2]\nrun(ls)\n"
    assert notebook.mask(source).split("\n") == ["pass", "pass", "pass", "ls = [1, 2]",
                                                  "run(ls)", ""]
    # A line that is Python by itself stays Python (`ls -la` is a subtraction there).
    assert notebook.mask("ls -la\n") == "ls -la\n"


def test_a_python_cell_that_compares_with_a_negative_is_still_python(tmp_path):
    path = make(tmp_path, [v4.new_code_cell("import tensorflow as tf\nok = x <- 1"),
                           v4.new_code_cell("def broken(:\n    pass"),
                           v4.new_code_cell(LOSS)])
    findings = notebook.lint_notebook(str(path), path.read_bytes(), Settings())
    assert [(f.cell, f.code) for f in findings] == [(2, "LL001"), (3, "LL101")]


def test_invalid_json_is_one_ll001(tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    assert cli.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("LL001") == 1 and "invalid notebook JSON" in out


def test_notebooks_are_discovered(tmp_path, capsys):
    standard(tmp_path)
    assert cli.main([str(tmp_path)]) == 1
    assert "nb.ipynb:cell 4:3:36" in capsys.readouterr().out


def test_add_noqa_in_notebook(tmp_path):
    path = standard(tmp_path)
    assert cli.main(["--add-noqa", str(path)]) == 0
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
    assert cli.main([str(path)]) == 0


def test_masking_keeps_lines():
    source = "x = 1\n%time y = 2\n!ls\nfiles = !ls\nz?\nif x:\n    %debug\nw = a % b\n"
    masked = notebook.mask(source)
    assert masked.split("\n") == ["x = 1", "pass", "pass", "pass", "pass", "if x:",
                                  "    pass", "w = a % b", ""]
    assert notebook.mask("%%bash\necho hi\n") == "\n\n"
    assert notebook.mask("%%time\nx = 1") == "pass\nx = 1\n"


def test_continued_shell_line_is_masked_at_its_own_indentation():
    source = "! pip install \\\n  -r requirements.txt \\\n  tqdm\nimport torch\n"
    masked = notebook.mask(source)
    assert masked.split("\n") == ["pass", "pass", "pass", "import torch", ""]
    compile(masked, "<cell>", "exec")


@pytest.mark.parametrize("source", [
    "ratio = 0.25\nprint('about %d%% of the size'\\\n      % (ratio * 100))\n",
    "%matplotlib inline\nratio = 0.25\nprint('about %d%% of the size'\\\n      % (ratio * 100))\n",
])
def test_an_operator_continuing_a_line_is_no_magic(source):
    """`% (x)` after a backslash continues the line before: IPython sees a magic only at the
    start of a logical line."""
    masked = notebook.mask(source)
    assert masked.split("\n")[-3:] == source.split("\n")[-3:]
    compile(masked, "<cell>", "exec")


def test_a_cell_indented_as_a_whole_runs_as_ipython_runs_it():
    masked = notebook.mask("  import torch\n  x = torch.ones(3)\n  if x.sum():\n      pass\n")
    compile(masked, "<cell>", "exec")


def test_a_question_mark_in_a_comment_is_no_help_request():
    source = ("dist = Normal(\n    loc=0.0,\n    scale=softplus(s),  # why not?\n)\n"
              "obj?  # help\n")
    masked = notebook.mask(source)
    assert masked.split("\n")[:5] == ["dist = Normal(", "    loc=0.0,",
                                      "    scale=softplus(s),  # why not?", ")", "pass"]
    compile(masked, "<cell>", "exec")
