"""The command line as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lossguard.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
BAD = "import tensorflow as tf\n\ndef xent_loss(y_true, y_pred):\n    return tf.math.log(y_pred)\n"
GOOD = BAD.replace("log(y_pred)", "log(y_pred + 1e-7)")


def run(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lossguard", *args], capture_output=True,
                          text=True, cwd=cwd, input=stdin)


def test_examples_show_the_article_findings():
    result = run("--format", "json", "examples")
    assert result.returncode == 1
    found = {(Path(f["path"]).name, f["code"], f["function"]) for f in json.loads(result.stdout)}
    assert ("seed_examples.py", "LL108", "log_error_loss") in found
    assert ("seed_examples.py", "LL201", "mse_loss_with_manual_gradient") in found
    assert not any(function == "huber_loss" for _, _, function in found)


def test_exit_codes(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "good.py").write_text(GOOD)
    assert main([str(tmp_path / "good.py")]) == 0
    assert main([str(tmp_path / "bad.py")]) == 1
    assert main(["--exit-zero", str(tmp_path / "bad.py")]) == 0
    missing = run(str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "nope.py" in missing.stderr


def test_json_fields(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    finding = json.loads(run("--format", "json", str(tmp_path)).stdout)[0]
    for key in ("path", "line", "column", "end_line", "end_column", "code", "name", "severity",
                "message", "hint"):
        assert key in finding
    assert (finding["line"], finding["column"], finding["code"]) == (4, 12, "LL101")
    assert finding["end_column"] == len("    return tf.math.log(y_pred)") + 1


def test_text_output_and_summary(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    out = run("--color", "never", str(tmp_path / "bad.py")).stdout
    assert f"{tmp_path / 'bad.py'}:4:12: LL101 " in out
    assert "Found 1 finding" in out
    colored = run("--color", "always", str(tmp_path / "bad.py")).stdout
    assert "\033[" in colored


def test_select_ignore_and_prefixes(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    assert main(["--ignore", "LL1", str(tmp_path)]) == 0
    assert main(["--select", "LL10", str(tmp_path)]) == 1
    assert main(["--select", "LL2", str(tmp_path)]) == 0
    assert main(["--select", "LL2", "--extend-select", "LL101", str(tmp_path)]) == 1
    assert main(["--select", "ALL", "--ignore", "LL101", str(tmp_path)]) == 0
    assert main(["--select", "BOGUS", str(tmp_path)]) == 2


def test_stdin(tmp_path):
    result = run("-", "--stdin-filename", "loss.py", "--format", "json", stdin=BAD)
    assert result.returncode == 1
    assert json.loads(result.stdout)[0]["path"] == "loss.py"


def test_all_code_and_loss_names(tmp_path):
    source = "import numpy as np\n\ndef score(p):\n    return np.log(p)\n"
    (tmp_path / "m.py").write_text(source)
    assert main([str(tmp_path)]) == 0
    assert main(["--all-code", str(tmp_path)]) == 1
    assert main(["--loss-names", "sco*", str(tmp_path)]) == 1


def test_discovery_honours_gitignore_and_skips_venvs(tmp_path):
    for folder in ("ignored", ".venv", "__pycache__", "kept"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "bad.py").write_text(BAD)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # as venv writes it
    (tmp_path / ".gitignore").write_text("ignored/\n")
    out = json.loads(run("--format", "json", str(tmp_path)).stdout)
    assert {Path(f["path"]).parent.name for f in out} == {"kept"}
    out = json.loads(run("--format", "json", "--exclude", "kept", str(tmp_path)).stdout)
    assert out == []


def test_noqa(tmp_path):
    (tmp_path / "a.py").write_text(BAD.replace("(y_pred)\n", "(y_pred)  # noqa: LL101\n"))
    (tmp_path / "b.py").write_text(BAD.replace("(y_pred)\n", "(y_pred)  # noqa\n"))
    (tmp_path / "c.py").write_text(BAD.replace("(y_pred)\n", "(y_pred)  # noqa: LL102\n"))
    assert main([str(tmp_path / "a.py")]) == 0
    assert main([str(tmp_path / "b.py")]) == 0
    assert main([str(tmp_path / "c.py")]) == 1


def test_config_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lossguard]\nignore = ["LL101"]\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    assert main([str(tmp_path / "pkg")]) == 0
    assert main(["--select", "LL101", str(tmp_path / "pkg")]) == 1
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lossguard]\nper-file-ignores = {"*bad.py" = ["LL1"]}\n')
    assert main([str(tmp_path / "pkg")]) == 0


@pytest.mark.parametrize("content", ['[tool.lossguard]\nselcet = ["LL1"]\n',
                                     '[tool.lossguard]\nall-code = "yes"\n',
                                     '[tool.lossguard]\nselect = ["XX9"]\n'])
def test_bad_config_is_exit_2(tmp_path, content):
    (tmp_path / "pyproject.toml").write_text(content)
    (tmp_path / "bad.py").write_text(BAD)
    result = run(str(tmp_path))
    assert result.returncode == 2 and "pyproject.toml" in result.stderr


def test_parse_error_is_a_finding_and_the_run_goes_on(tmp_path):
    (tmp_path / "broken.py").write_text("def loss(y_true, y_pred)\n    return 1\n")
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "latin.py").write_bytes(b"\xff\xfe\x00garbage")
    out = json.loads(run("--format", "json", str(tmp_path)).stdout)
    by_file = {(Path(f["path"]).name, f["code"]) for f in out}
    assert ("broken.py", "LL001") in by_file and ("bad.py", "LL101") in by_file
    assert ("latin.py", "LL001") in by_file
    assert not any(name == "empty.py" for name, _ in by_file)


def test_list_rules_and_explain():
    listed = json.loads(run("--list-rules", "--format", "json").stdout)
    assert {"LL101", "LL102", "LL108", "LL201", "LL301"} <= {r["code"] for r in listed}
    text = run("--explain", "LL101").stdout
    assert "## LL101 unguarded-log" in text and "## Use instead" in text
    assert run("--explain", "LL999").returncode == 2


def test_a_folder_named_rules_is_a_path(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.py").write_text(BAD)
    result = run("rules", cwd=tmp_path)
    assert result.returncode == 1 and "LL101" in result.stdout


def test_version():
    assert run("--version").stdout.startswith("lossguard ")
