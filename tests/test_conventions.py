"""The command line behaves as a ruff user expects (issue 14): configuration resolution, code
selection, paths, suppression, discovery, output formats, fixes and flags that would
otherwise do nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from lossguard.cli.main import main

BAD = "import tensorflow as tf\n\ndef xent_loss(y_true, y_pred):\n    return tf.math.log(y_pred)\n"
# LL107 (a safe fix) and LL101 (an unsafe one).
TWO = ("import tensorflow as tf\n\ndef xent_loss(y_true, y_pred):\n"
       "    return tf.math.log(tf.nn.softmax(y_pred))\n\n"
       "def l2_loss(y_true, y_pred):\n    return tf.math.log(y_pred)\n")


def run(*args: str, cwd: Path, stdin: str | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lossguard", "--no-cache", *args],
                          capture_output=True, text=True, cwd=cwd, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=120)


def lint_json(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["--no-cache", "--output-format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose pyproject.toml ignores LL101 in legacy/ and excludes generated/."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lossguard]\nper-file-ignores = { "legacy/*" = ["LL101"] }\n'
        'exclude = ["generated/*"]\n')
    for folder in ("legacy", "generated", "src"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "losses.py").write_text(BAD)
    return tmp_path


# --- configuration is resolved against the folder of its pyproject.toml ------------------
@pytest.mark.parametrize("where", ["root", "subfolder", "absolute"])
def test_per_file_ignores_and_exclude_apply_however_the_path_is_spelled(
        project, monkeypatch, capsys, where):
    if where == "root":
        monkeypatch.chdir(project)
        target = "."
    elif where == "subfolder":
        monkeypatch.chdir(project / "src")
        target = ".."
    else:
        monkeypatch.chdir(project.parent)
        target = str(project)
    code, found = lint_json(capsys, target)
    assert code == 1
    assert {Path(f["path"]).parent.name for f in found} == {"src"}


def test_per_file_ignores_apply_to_stdin_named_by_absolute_path(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    ignored = run("--output-format", "json", "--stdin-filename",
                  str(project / "legacy" / "losses.py"), "-", cwd=elsewhere, stdin=BAD)
    assert ignored.returncode == 0 and json.loads(ignored.stdout) == []
    reported = run("--output-format", "json", "--stdin-filename",
                   str(project / "src" / "losses.py"), "-", cwd=elsewhere, stdin=BAD)
    assert reported.returncode == 1 and json.loads(reported.stdout)[0]["code"] == "LL101"


def test_a_pattern_does_not_match_above_the_project(tmp_path, monkeypatch, capsys):
    """`legacy/*` means <project>/legacy, not any folder called legacy on the way to it."""
    project = tmp_path / "legacy" / "proj"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.lossguard]\nper-file-ignores = { "legacy/*" = ["LL101"] }\n')
    (project / "losses.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    assert lint_json(capsys, str(project))[0] == 1


def test_invalid_toml_is_an_error_naming_file_and_position(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lossguard]\nselect = LL1\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "losses.py").write_text(BAD)
    result = run("pkg", cwd=tmp_path)
    assert result.returncode == 2
    assert str(tmp_path / "pyproject.toml") in result.stderr
    assert "line 2" in result.stderr and "Traceback" not in result.stderr


# --- codes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["LL999", "LL5", "LL10000"])
def test_an_unknown_code_or_empty_prefix_is_an_error(tmp_path, capsys, code):
    (tmp_path / "losses.py").write_text(BAD)
    for flag in ("--select", "--ignore", "--extend-select"):
        assert main([flag, code, str(tmp_path)]) == 2
        assert code in capsys.readouterr().err


@pytest.mark.parametrize("table", ['select = ["LL5"]', 'ignore = ["LL999"]',
                                   'per-file-ignores = { "*.py" = ["LL5"] }'])
def test_an_unknown_code_in_the_config_is_an_error(tmp_path, table):
    (tmp_path / "pyproject.toml").write_text(f"[tool.lossguard]\n{table}\n")
    (tmp_path / "losses.py").write_text(BAD)
    result = run(".", cwd=tmp_path)
    assert result.returncode == 2 and "matches no rule" in result.stderr


def test_ignore_wins_at_equal_specificity_and_select_adds_up(tmp_path, capsys):
    (tmp_path / "losses.py").write_text(TWO)
    assert main(["--select", "LL101", "--ignore", "LL101", str(tmp_path)]) == 0
    assert main(["--select", "LL1", "--ignore", "LL1", str(tmp_path)]) == 0
    assert main(["--select", "LL1", "--ignore", "LL10", str(tmp_path)]) == 0  # more specific
    assert main(["--select", "LL101", "--ignore", "LL1", str(tmp_path)]) == 1  # more specific
    capsys.readouterr()
    _, found = lint_json(capsys, "--select", "LL101", "--select", "LL107", str(tmp_path))
    assert {f["code"] for f in found} == {"LL101", "LL107"}
    _, found = lint_json(capsys, "--select", "LL101,LL107", str(tmp_path))
    assert {f["code"] for f in found} == {"LL101", "LL107"}


# --- paths ---------------------------------------------------------------------------------
def test_missing_paths_are_reported_and_the_rest_is_linted(tmp_path):
    (tmp_path / "losses.py").write_text(BAD)
    result = run("--output-format", "json", "nope.py", "losses.py", "gone/", cwd=tmp_path)
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if "no such file" in line] == [
        "lossguard: error: nope.py: no such file or directory",
        "lossguard: error: gone/: no such file or directory"]
    assert [f["code"] for f in json.loads(result.stdout)] == ["LL101"]


def test_no_paths_lints_the_working_folder(tmp_path):
    (tmp_path / "losses.py").write_text(BAD)
    result = run("--output-format", "concise", cwd=tmp_path)
    assert result.returncode == 1 and "losses.py:4:12: LL101" in result.stdout


# --- suppression ---------------------------------------------------------------------------
def test_file_level_noqa_with_codes_silences_only_those(tmp_path, capsys):
    (tmp_path / "a.py").write_text("# lossguard: noqa: LL101\n" + TWO)
    _, found = lint_json(capsys, str(tmp_path / "a.py"))
    assert [f["code"] for f in found] == ["LL107"]
    (tmp_path / "b.py").write_text("#!/usr/bin/env python\n# lossguard: noqa\n" + TWO)
    assert lint_json(capsys, str(tmp_path / "b.py"))[1] == []


def test_file_level_noqa_counts_only_in_the_leading_comments(tmp_path, capsys):
    after_code = TWO.replace("import tensorflow as tf\n",
                             "import tensorflow as tf\n# lossguard: noqa\n")
    (tmp_path / "a.py").write_text(after_code)
    assert len(lint_json(capsys, str(tmp_path / "a.py"))[1]) == 2
    (tmp_path / "b.py").write_text('"""Losses."""\n# lossguard: noqa\n' + TWO)
    assert len(lint_json(capsys, str(tmp_path / "b.py"))[1]) == 2


# --- discovery -----------------------------------------------------------------------------
def test_a_package_named_env_is_linted_a_virtualenv_is_not(tmp_path):
    for name in ("env", ".env", "venv", "myenv"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "losses.py").write_text(BAD)
    (tmp_path / "env" / "__init__.py").write_text("")
    (tmp_path / ".env" / "__init__.py").write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    result = run("--output-format", "json", ".", cwd=tmp_path)
    assert {Path(f["path"]).parent.name for f in json.loads(result.stdout)} == {"env", ".env"}
    shown = run("--show-files", ".", cwd=tmp_path)
    assert shown.returncode == 0
    assert "skipped: venv (virtual environment)" in shown.stdout
    assert "skipped: myenv (virtual environment)" in shown.stdout
    (tmp_path / ".gitignore").write_text("myenv/\n")
    assert "skipped: myenv (ignored by .gitignore)" in run("--show-files", ".",
                                                           cwd=tmp_path).stdout
    assert "env/losses.py" in shown.stdout.splitlines()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_py_is_skipped_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "losses.py").write_text(BAD)
    walked = run("--output-format", "json", ".", cwd=tmp_path)  # a hang times out
    named = run("--output-format", "json", "pipe.py", "losses.py", cwd=tmp_path)
    for result in (walked, named):
        assert result.returncode == 1
        assert [f["code"] for f in json.loads(result.stdout)] == ["LL101"]
        assert "pipe.py: skipped, not a regular file" in result.stderr


def test_a_macos_resource_fork_is_skipped_as_no_source(tmp_path):
    """A folder unpacked from a macOS archive holds `._losses.py` beside `losses.py`: binary
    AppleDouble metadata, which a walk skips (and says so) instead of reporting it as a
    source it cannot decode; a `._` file that is Python is linted."""
    (tmp_path / "losses.py").write_text(BAD)
    (tmp_path / "._losses.py").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (tmp_path / "._helpers.py").write_text(BAD)
    walked = run("--output-format", "json", ".", cwd=tmp_path)
    found = sorted((f["path"].rpartition("/")[2], f["code"])
                   for f in json.loads(walked.stdout))
    assert found == [("._helpers.py", "LL101"), ("losses.py", "LL101")]
    shown = run("--show-files", ".", cwd=tmp_path).stdout
    assert "._losses.py (macOS metadata (AppleDouble), not source)" in shown


# --- output --------------------------------------------------------------------------------
def test_full_output_off_a_terminal_with_marks_footer_and_files_with_findings(tmp_path):
    (tmp_path / "a.py").write_text(TWO)
    (tmp_path / "b.py").write_text("x = 1\n")
    result = run(".", cwd=tmp_path)  # stdout is a pipe: full is still the default
    lines = result.stdout.splitlines()
    assert "a.py:4:12: LL107 [*] log of" in result.stdout
    assert "a.py:7:12: LL101 unguarded log" in result.stdout  # an unsafe fix: not marked
    assert "        return tf.math.log(y_pred)" in lines
    assert any(line.strip().startswith("^^^") for line in lines)
    assert any(line.strip().startswith("hint:") for line in lines)
    assert "Found 2 findings (2 errors) in 1 of 2 files." in lines
    assert "[*] 1 fixable with `--fix` (1 more with `--unsafe-fixes`)." in lines
    assert "\033[" not in result.stdout
    concise = run("--output-format", "concise", ".", cwd=tmp_path).stdout.splitlines()
    assert len(concise) == 4 and not any(line.startswith("    ") for line in concise)
    quiet = run("-q", "--output-format", "concise", ".", cwd=tmp_path).stdout.splitlines()
    assert len(quiet) == 2


def on_a_terminal(cwd: Path, env: dict, *args: str) -> str:
    """What the CLI writes when its stdout is a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "lossguard", "--no-cache", *args],
                                   cwd=cwd, stdout=follower, stderr=subprocess.DEVNULL,
                                   env={**os.environ, **env})
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=120)
    finally:
        os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_is_honoured_and_color_always_still_colours(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    env = {k: "" for k in ("NO_COLOR", "FORCE_COLOR")}
    assert "\033[" in on_a_terminal(tmp_path, env, "a.py")
    assert "\033[" not in on_a_terminal(tmp_path, {"NO_COLOR": "1"}, "a.py")
    assert "\033[" in on_a_terminal(tmp_path, {"NO_COLOR": "1"}, "--color", "always", "a.py")
    assert "\033[" not in run("a.py", cwd=tmp_path).stdout  # not a terminal


def test_output_file(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    result = run("--output-format", "json", "-o", "report.json", ".", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads((tmp_path / "report.json").read_text())[0]["code"] == "LL101"


def test_machine_formats(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.py").write_text(TWO)
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--output-format", "json-lines", "a.py"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["code"] for r in rows] == ["LL107", "LL101"]
    assert rows[0]["fix"]["applicability"] == "safe" and rows[1]["fix"]["applicability"] == \
        "unsafe"
    (edit,) = rows[0]["fix"]["edits"]  # as ruff's JSON: 1-based rows and columns
    assert edit == {"content": "tf.nn.log_softmax(y_pred)", "location": {"row": 4, "column": 12},
                    "end_location": {"row": 4, "column": 46}}
    assert main(["--no-cache", "--format", "gitlab", "a.py"]) == 1
    issues = json.loads(capsys.readouterr().out)
    assert [(i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"],
             i["severity"]) for i in issues] == [("LL107", "a.py", 4, "major"),
                                                  ("LL101", "a.py", 7, "major")]
    assert len({i["fingerprint"] for i in issues}) == 2
    assert main(["--no-cache", "--output-format", "junit", "a.py"]) == 1
    suites = ET.fromstring(capsys.readouterr().out)
    assert suites.get("failures") == "2"
    cases = suites.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["lossguard.LL107", "lossguard.LL101"]
    assert all(c.find("failure") is not None for c in cases)


def test_statistics_prints_counts_not_findings_also_as_json(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.py").write_text(TWO + TWO.replace("xent_loss", "x2_loss").replace(
        "l2_loss", "l3_loss").replace("import tensorflow as tf\n", ""))
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--statistics", "a.py"]) == 1
    out = capsys.readouterr().out
    assert "    2  LL101  unguarded-log" in out and "    2  LL107  [*] log-of-probability" in out
    assert "a.py:" not in out
    assert main(["--no-cache", "--statistics", "--output-format", "json", "a.py"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {r["code"]: (r["count"], r["fixable"]) for r in rows} == {"LL101": (2, 0),
                                                                     "LL107": (2, 2)}


# --- fixes ---------------------------------------------------------------------------------
def test_fix_summary_show_fixes_and_fix_only(tmp_path):
    (tmp_path / "a.py").write_text(TWO)
    fixed = run("--fix", "--show-fixes", "a.py", cwd=tmp_path)
    assert fixed.returncode == 1
    assert "Found 2 findings (1 fixed, 1 remaining) in 1 of 1 file." in fixed.stdout
    assert "1 x LL107 (log-of-probability)" in fixed.stdout
    (tmp_path / "a.py").write_text(TWO)
    shown = run("--show-fixes", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert "    fix: use `log_softmax` (safe)" in shown.stdout.splitlines()
    assert "    fix: keep the operand at least epsilon (unsafe: values change slightly)" in \
        shown.stdout.splitlines()
    assert (tmp_path / "a.py").read_text() == TWO  # showing is not fixing
    only = run("--fix-only", "--unsafe-fixes", "a.py", cwd=tmp_path)
    assert only.returncode == 0 and "LL101" not in only.stdout
    assert "fixed 2 findings in 1 file" in only.stderr
    assert "log(tf.maximum(y_pred" in (tmp_path / "a.py").read_text()


def test_fix_with_add_noqa_fixes_then_silences_the_rest(tmp_path):
    (tmp_path / "a.py").write_text(TWO)
    result = run("--fix", "--add-noqa", "a.py", cwd=tmp_path)
    text = (tmp_path / "a.py").read_text()
    assert "tf.nn.log_softmax(y_pred)" in text and "log(y_pred)  # noqa: LL101" in text
    assert result.returncode == 0
    both = run("--diff", "--fix", "--add-noqa", "a.py", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr


def test_flags_that_would_do_nothing_say_so(tmp_path):
    (tmp_path / "a.py").write_text(TWO)
    unsafe = run("--unsafe-fixes", "a.py", cwd=tmp_path)
    assert "--unsafe-fixes applies nothing without --fix" in unsafe.stderr
    assert "[*] 2 fixable with `--fix --unsafe-fixes`." in unsafe.stdout
    assert (tmp_path / "a.py").read_text() == TWO
    fail_on = run("--fail-on", "confirmed", "a.py", cwd=tmp_path)
    assert "--fail-on confirmed has no effect without --dynamic" in fail_on.stderr
    assert fail_on.returncode == 1


# --- subcommands ---------------------------------------------------------------------------
def test_subcommands_beside_the_flat_form(tmp_path, capsys):
    (tmp_path / "a.py").write_text(BAD)
    assert main(["check", "--no-cache", str(tmp_path)]) == 1
    assert main(["--no-cache", str(tmp_path)]) == 1
    capsys.readouterr()
    assert main(["rule", "LL101"]) == 0
    assert "## LL101 unguarded-log" in capsys.readouterr().out
    assert main(["rule", "LL999"]) == 2
    assert main(["rule", "unguarded-log", "--output-format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["code"] == "LL101" and "## LL101 unguarded-log" in row["documentation"]
    assert main(["rule", "--all", "--output-format", "json"]) == 0
    assert "LL201" in {r["code"] for r in json.loads(capsys.readouterr().out)}


def test_server_subcommand_dispatches_or_says_what_is_missing(monkeypatch, capsys):
    import types

    calls = []
    fake = types.ModuleType("lossguard.cli.server")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "lossguard.cli.server", fake)
    assert main(["server", "--stdio"]) == 0 and calls == [["--stdio"]]
    monkeypatch.setitem(sys.modules, "lossguard.cli.server", None)  # import fails
    assert main(["server"]) == 2
    assert "lossguard[lsp]" in capsys.readouterr().err


def test_dynamic_report_implies_dynamic_and_says_where_it_went(tmp_path):
    (tmp_path / "clean.py").write_text("x = 1\n")  # nothing to probe: TensorFlow never starts
    result = run("--dynamic-report", "report", "clean.py", cwd=tmp_path)
    assert result.returncode == 0
    assert "--dynamic-report implies --dynamic" in result.stderr
    assert f"dynamic report written to {Path('report') / 'index.html'}" in result.stderr
    assert (tmp_path / "report" / "index.html").is_file()


# --- robustness ----------------------------------------------------------------------------
def test_a_file_too_large_for_the_memory_is_refused_not_parsed(tmp_path, monkeypatch, capsys):
    from lossguard.pipeline import guard

    monkeypatch.setattr(guard, "available_memory", lambda: 50 * guard.MB)
    (tmp_path / "big.py").write_text(BAD + "# a comment line to make the file large\n" * 8000)
    code, found = lint_json(capsys, "--max-file-size", "0", str(tmp_path / "big.py"))
    assert code == 1 and [f["code"] for f in found] == ["LL001"]
    assert "too large to parse in the memory available (0.3 MB needs about 320 MB, 50 MB " \
           "available)" in found[0]["message"]
    monkeypatch.setattr(guard, "available_memory", lambda: 1000 * guard.MB)
    assert [f["code"] for f in lint_json(capsys, "--max-file-size", "0",
                                         str(tmp_path / "big.py"))[1]] == ["LL101"]


def test_the_size_message_and_the_help_use_the_same_unit(tmp_path, capsys):
    (tmp_path / "big.py").write_text(BAD + "#" * 1_500_000 + "\n")
    _, found = lint_json(capsys, "--max-file-size", "1", str(tmp_path / "big.py"))
    assert "(1.5 MB > 1 MB, --max-file-size)" in found[0]["message"]
    help_text = run("--help", cwd=tmp_path).stdout
    assert "megabytes (10^6 bytes; default 10)" in " ".join(help_text.split())


def test_ll304_is_linear_in_the_number_of_loss_functions(monkeypatch):
    """LL304 used to look through every function of the module for each loss function's
    callers: quadratic (21.6 s of a 122 s run at 10k functions). Counted in functions looked
    at, not timed: the count per loss function must not grow with the module."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench import large_module

    from lossguard.engine import context as engine
    from lossguard.pipeline.config import Settings
    from lossguard.pipeline.lint import lint_source

    looked_at = 0

    class Counting(list):
        def __iter__(self):  # noqa: ANN204
            nonlocal looked_at
            for item in super().__iter__():
                looked_at += 1
                yield item

    build = engine.build

    def counting_build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        index = build(*args, **kwargs)
        index.functions = Counting(index.functions)
        return index

    monkeypatch.setattr(engine, "build", counting_build)

    def per_function(functions: int) -> float:
        nonlocal looked_at
        looked_at = 0
        found = lint_source(large_module(functions), "large_losses.py",
                            Settings(select=["LL304"]))
        assert [f.code for f in found][:1] == ["LL304"]  # the rule did run
        return looked_at / functions

    assert per_function(400) <= 1.5 * per_function(50)


def test_ll201_says_to_apply_the_gradients_of_a_train_step():
    from tests.helpers import lint

    (finding,) = lint("""
        import tensorflow as tf
        class Trainer(tf.keras.Model):
            def train_step(self, data):
                x, y = data
                with tf.GradientTape() as tape:
                    loss = self.compiled_loss(y, self(x, training=True))
                gradients = tape.gradient(loss, self.trainable_variables)
                return {"loss": loss}
        """, select=["LL201"])
    assert "never applied" in finding.message
    assert finding.hint == ("apply the gradients: `optimizer.apply_gradients(zip(gradients, "
                            "self.trainable_variables))`")


def test_settings_made_in_code_resolve_patterns_against_the_working_folder(tmp_path,
                                                                           monkeypatch):
    from lossguard.pipeline.config import Settings, ignored_for

    monkeypatch.chdir(tmp_path)
    settings = Settings(per_file_ignores={"legacy/*": ["LL101"]})
    assert ignored_for("legacy/a/losses.py", settings.per_file_ignores) == ["LL101"]
    assert ignored_for(str(tmp_path / "legacy" / "losses.py"), settings.per_file_ignores)
    assert ignored_for("src/legacy/losses.py", settings.per_file_ignores) == []


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux memory accounting")
def test_an_address_space_limit_is_memory_not_available(tmp_path):
    """`--max-file-size 0` under `ulimit -v`: the file is refused before the parse, not
    killed (or stuck swapping) in it."""
    import resource

    (tmp_path / "big.py").write_text(BAD + "# padding padding padding padding padding\n" * 45000)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_000_000_000, 1_000_000_000))

    result = subprocess.run([sys.executable, "-m", "lossguard", "--no-cache", "--max-file-size",
                             "0", "--output-format", "concise", "big.py"], cwd=tmp_path,
                            capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "LL001 file too large to parse in the memory available (1.9 MB" in result.stdout
