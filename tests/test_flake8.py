"""The flake8 plugin reports what `lossguard` reports, and never aborts flake8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from lossguard.cli import flake8_plugin

pytest.importorskip("flake8")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def folders() -> list[str]:
    found = [ROOT / "examples", ROOT / "tests" / "fixtures"]
    return [str(f) for f in found if f.is_dir()]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str = ""


@pytest.fixture
def flake8(capsys, monkeypatch):
    """flake8 in this process (a real run of its command line, one job)."""
    from flake8.main.cli import main

    def run(*args: str, cwd: Path = ROOT, isolated: bool = True) -> Run:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([*(["--isolated"] if isolated else []), "-j", "1", *args])
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    return run


def subprocess_flake8(*args: str, cwd: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})


def flake8_findings(result: Run) -> set[tuple]:
    found = set()
    for line in result.stdout.splitlines():
        path, line_no, column, rest = line.split(":", 3)
        code, _, message = rest.strip().partition(" ")
        found.add((os.path.realpath(path), int(line_no), int(column), code, message))
    return found


def lossguard_findings(*args: str) -> set[tuple]:
    result = subprocess.run([sys.executable, "-m", "lossguard", "--format", "json", *args],
                            capture_output=True, text=True, cwd=ROOT)
    return {(os.path.realpath(f["path"]), f["line"], f["column"], f["code"], f["message"])
            for f in json.loads(result.stdout) if not f.get("cell")}


def test_same_findings_as_lossguard(flake8):
    paths = folders()
    assert paths
    expected = lossguard_findings(*paths)
    assert expected  # the examples do hold findings
    result = flake8("--select", "LL", *paths)
    assert result.returncode == 1, result.stderr
    assert flake8_findings(result) == expected


def test_info_rules_stay_off_unless_selected(tmp_path, flake8):
    path = tmp_path / "noqa.py"
    path.write_text("import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
                    "    return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LL101\n")
    assert flake8("--select", "LL", str(path)).stdout == ""
    assert flake8(str(path)).stdout == ""  # flake8's defaults
    shown = flake8("--select", "LL", "--extend-select", "LL002", str(path)).stdout
    assert ":5:" in shown and "LL002 unused noqa" in shown


def test_flake8_noqa_and_ignores(tmp_path, flake8):
    path = tmp_path / "losses.py"
    path.write_text(textwrap.dedent("""\
        import tensorflow as tf


        def xent(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
        """))
    assert "LL101" in flake8("--select", "LL", str(path)).stdout
    assert flake8("--select", "LL", "--extend-ignore", "LL101", str(path)).stdout == ""
    assert flake8("--select", "LL", "--per-file-ignores", "losses.py:LL1", str(path),
                  cwd=tmp_path).stdout == ""
    path.write_text(path.read_text().replace("axis=-1)", "axis=-1)  # noqa: LL101"))
    assert flake8("--select", "LL", str(path)).stdout == ""


def test_options_from_config(tmp_path, flake8):
    (tmp_path / "setup.cfg").write_text("[flake8]\nselect = LL\nlossguard-loss-names = score_*\n")
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import tensorflow as tf


        def score_fn(a, b):
            return tf.math.log(a) / tf.reduce_sum(b)
        """))
    assert "LL101" in flake8("model.py", cwd=tmp_path, isolated=False).stdout
    (tmp_path / "setup.cfg").write_text("[flake8]\nselect = LL\n")
    assert "LL101" not in flake8("model.py", cwd=tmp_path, isolated=False).stdout
    assert "LL101" in flake8("--select", "LL", "--lossguard-all-code", "model.py",
                             cwd=tmp_path).stdout


CRASH = """
import sys
import libcst
def boom(*args, **kwargs):
    raise libcst.ParserSyntaxError("libcst cannot parse this", lines=["x"], raw_line=1,
                                   raw_column=0)
libcst.parse_module = boom
from flake8.main.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_libcst_parse_error_does_not_abort_flake8(tmp_path):
    """A file libcst cannot parse is one LL001 finding; flake8 goes on to the next file and
    its own checks."""
    (tmp_path / "a.py").write_text("import os\nimport torch\nx = 1\n")
    (tmp_path / "b.py").write_text("import sys\nimport tensorflow as tf\n")
    result = subprocess_flake8("--isolated", "-j", "1", "--select", "LL,F401", "a.py", "b.py",
                               cwd=tmp_path, code=CRASH)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert "a.py:1:1: LL001 syntax error: libcst cannot parse this" in lines
    assert "b.py:1:1: LL001 syntax error: libcst cannot parse this" in lines
    assert "a.py:1:1: F401 'os' imported but unused" in lines


def test_plugin_skips_files_with_nothing_to_lint(monkeypatch):
    """A file with no framework, loss word or training code is not parsed at all."""
    def parse_fails(*args, **kwargs):
        raise AssertionError("parsed a file the prefilter should skip")

    monkeypatch.setattr("lossguard.pipeline.lint.lint_source", parse_fails)
    monkeypatch.setattr(flake8_plugin.LossGuardChecker, "all_code", False)
    monkeypatch.setattr(flake8_plugin.LossGuardChecker, "loss_names", ())
    checker = flake8_plugin.LossGuardChecker(None, ["import os\n", "x = 1\n"], "x.py")
    assert list(checker.run()) == []


def test_plugin_collects_garbage_rarely_only_while_it_lints(monkeypatch):
    """The raised GC threshold holds while the plugin lints a file; flake8's own comes back,
    also when the lint fails."""
    import gc

    from lossguard.pipeline import batch
    from lossguard.pipeline import lint as runner

    real = runner.lint_source
    during = []

    def spy(*args, **kwargs):
        during.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr("lossguard.pipeline.lint.lint_source", spy)
    before = gc.get_threshold()
    lines = ["import tensorflow as tf\n", "def xent_loss(y_true, y_pred):\n",
             "    return tf.math.log(y_pred)\n"]
    results = list(flake8_plugin.LossGuardChecker(None, lines, "x.py").run())
    assert [r[2][:5] for r in results] == ["LL101"]
    assert during == [batch.GC_THRESHOLD]
    assert gc.get_threshold() == before

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("lossguard.pipeline.lint.lint_source", broken)
    list(flake8_plugin.LossGuardChecker(None, lines, "x.py").run())
    assert gc.get_threshold() == before


def test_internal_error_becomes_ll001(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("lossguard.pipeline.lint.lint_source", broken)
    checker = flake8_plugin.LossGuardChecker(None, ["import tensorflow as tf\n"], "x.py")
    results = list(checker.run())
    assert len(results) == 1
    line, column, message, kind = results[0]
    assert (line, column) == (1, 0) and message.startswith("LL001 lossguard internal error")


def test_plugin_does_not_import_tensorflow():
    code = ("import sys, lossguard.cli.flake8_plugin as p\n"
            "list(p.LossGuardChecker(None, ['import tensorflow as tf\\n'], 'x.py').run())\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'torch', 'jax', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr
