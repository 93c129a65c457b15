"""`lossguard server` end to end: a client talks LSP to the server process over stdio."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from tests.lsp_client import Client, apply, uri  # noqa: E402

LOSSES = textwrap.dedent("""\
    import tensorflow as tf


    def focal_loss(y_true, logits):
        return -tf.reduce_mean(y_true * tf.math.log(tf.nn.softmax(logits)))


    def ratio_loss(y_true, y_pred):
        return tf.reduce_mean(tf.math.log(y_pred))
    """)
CLEAN = textwrap.dedent("""\
    import tensorflow as tf


    def ratio_loss(y_true, y_pred):
        return tf.reduce_mean(tf.math.log(y_pred + 1e-7))
    """)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.lossguard]\nselect = ["LL"]\n')
    return tmp_path


@pytest.fixture
def client(project: Path):
    started = Client("--debounce-ms", "50", cwd=project)
    started.initialize(project)
    yield started
    if started.process.poll() is None:
        assert started.close() == 0, started.stderr()


def by_code(diagnostics: list[dict]) -> dict[str, dict]:
    return {d["code"]: d for d in diagnostics}


def actions(client: Client, document: str, line: int, only: list[str] | None = None) -> list:
    context: dict = {"diagnostics": []}
    if only is not None:
        context["only"] = only
    return client.request("textDocument/codeAction", {
        "textDocument": {"uri": document},
        "range": {"start": {"line": line, "character": 0},
                  "end": {"line": line, "character": 0}},
        "context": context})


def test_diagnostics_on_open_carry_code_link_severity_and_range(client, project):
    document = client.open(project / "losses.py", LOSSES)
    found = by_code(client.diagnostics(document, version=1))
    assert set(found) == {"LL101", "LL107"}
    log = found["LL101"]
    assert log["severity"] == 1  # Error
    assert log["source"] == "lossguard"
    assert log["codeDescription"]["href"].endswith("docs/rules.md#ll101-unguarded-log")
    assert "unguarded log of `y_pred`" in log["message"]
    # `tf.math.log(y_pred)` on line 9 (0-based 8), columns 26 to 45
    assert log["range"] == {"start": {"line": 8, "character": 26},
                            "end": {"line": 8, "character": 45}}


def test_positions_are_in_utf16_units_and_uris_may_be_quoted(client, project):
    folder = project / "my losses"
    folder.mkdir()
    source = LOSSES.replace("    return tf.reduce_mean(tf.math.log(y_pred))",
                            '    tag = "\U0001f642"; return tf.reduce_mean(tf.math.log(y_pred))')
    document = client.open(folder / "lösses.py", source)
    assert "%20" in document and "%C3%B6" in document
    log = by_code(client.diagnostics(document))["LL101"]
    line = source.splitlines()[8]
    start = line.index("tf.math.log(y_pred)")
    # the emoji is one code point and two UTF-16 units: everything after it moves by one
    assert log["range"]["start"] == {"line": 8, "character": start + 1}
    assert log["range"]["end"] == {"line": 8, "character": start + 1 + len("tf.math.log(y_pred)")}
    noqa = next(a for a in actions(client, document, 8) if "noqa" in a["title"])
    assert list(noqa["edit"]["changes"]) == [document]


def test_warning_severity_is_mapped(client, project):
    source = textwrap.dedent("""\
        import tensorflow as tf


        def softmax_loss(y_true, logits):
            return tf.reduce_mean(tf.exp(-logits) * y_true)
        """)
    document = client.open(project / "loss.py", source)
    found = by_code(client.diagnostics(document))
    assert found["LL104"]["severity"] == 2  # Warning


def test_changes_are_linted_once_after_the_debounce(project):
    client = Client("--debounce-ms", "400", cwd=project)
    try:
        client.initialize(project)
        document = client.open(project / "losses.py", LOSSES)
        assert client.diagnostics(document, version=1)
        mark = len(client.notifications)
        for version, text in ((2, LOSSES + "\n"), (3, LOSSES + "\n\n"), (4, CLEAN)):
            client.change(document, text, version)
        assert client.diagnostics(document, after=mark) == []  # the clean text, version 4
        client.drain(1.0)
        after = [p for p in client.published(document) if p.get("version", 0) > 1]
        assert [p["version"] for p in after] == [4]
    finally:
        assert client.close() == 0


def test_save_lints_at_once(project):
    client = Client("--debounce-ms", "60000", cwd=project)  # no lint from the change itself
    try:
        client.initialize(project)
        document = client.open(project / "losses.py", CLEAN)
        assert client.diagnostics(document, version=1) == []
        client.change(document, LOSSES, 2)
        client.notify("textDocument/didSave", {"textDocument": {"uri": document}})
        assert set(by_code(client.diagnostics(document, version=2, timeout=20))) == {
            "LL101", "LL107"}
    finally:
        assert client.close() == 0


def test_quick_fix_applies_the_safe_fix_and_unsafe_fixes_are_not_offered(client, project):
    document = client.open(project / "losses.py", LOSSES)
    client.diagnostics(document)
    offered = actions(client, document, 4)
    titles = [a["title"] for a in offered]
    fix = next(a for a in offered if "LL107" in a["title"] and "noqa" not in a["title"])
    assert fix["kind"] == "quickfix" and fix["isPreferred"] is True
    assert fix["diagnostics"][0]["code"] == "LL107"
    fixed = apply(LOSSES, fix["edit"]["changes"][document])
    assert "tf.nn.log_softmax(logits)" in fixed and "tf.math.log(tf.nn" not in fixed
    # LL101's fix (an epsilon guard) changes values: not offered unless configured
    on_ratio = [a["title"] for a in actions(client, document, 8) if a["kind"] == "quickfix"]
    assert on_ratio == ["lossguard: ignore LL101 on this line (# noqa: LL101)"], titles
    assert [a["kind"] for a in actions(client, document, 8, only=["quickfix"])] == ["quickfix"]


def test_unsafe_fixes_are_offered_where_configured(project):
    client = Client(cwd=project)
    try:
        client.initialize(project, options={"unsafeFixes": True})
        document = client.open(project / "losses.py", LOSSES)
        client.diagnostics(document)
        offered = actions(client, document, 8)
        unsafe = next(a for a in offered if "unsafe" in a["title"])
        assert unsafe["isPreferred"] is False
        fixed = apply(LOSSES, unsafe["edit"]["changes"][document])
        assert "tf.math.log(tf.maximum(y_pred, 1e-7))" in fixed
    finally:
        assert client.close() == 0


def test_fix_all_applies_every_safe_fix(client, project):
    source = LOSSES + textwrap.dedent("""\


        def kl_loss(y_true, logits):
            return tf.reduce_sum(y_true * tf.math.log(tf.nn.sigmoid(logits)))
        """)
    document = client.open(project / "losses.py", source)
    client.diagnostics(document)
    offered = actions(client, document, 0, only=["source.fixAll"])
    assert [a["kind"] for a in offered] == ["source.fixAll.lossguard"]
    fixed = apply(source, offered[0]["edit"]["changes"][document])
    assert "tf.nn.log_softmax(logits)" in fixed
    assert "tf.math.log_sigmoid(logits)" in fixed
    assert "tf.math.log(y_pred)" in fixed  # the unsafe fix is not part of fix all
    client.change(document, fixed, 2)
    left = client.diagnostics(document, version=2)
    assert [d["code"] for d in left] == ["LL101"]
    assert actions(client, document, 0, only=["source.fixAll"]) == []
    assert actions(client, document, 8, only=["source.fixAll"]) == []


def test_noqa_action_silences_the_finding(client, project):
    document = client.open(project / "losses.py", LOSSES)
    client.diagnostics(document)
    noqa = next(a for a in actions(client, document, 8) if "noqa" in a["title"])
    fixed = apply(LOSSES, noqa["edit"]["changes"][document])
    assert fixed.splitlines()[8] == "    return tf.reduce_mean(tf.math.log(y_pred))  # noqa: LL101"
    client.change(document, fixed, 2)
    assert [d["code"] for d in client.diagnostics(document, version=2)] == ["LL107"]


def test_hover_on_a_noqa_code_shows_the_rule(client, project):
    source = "x = 1  # noqa: LL101, LL2\ny = 2  # lossguard: ignore[LL102]\n"
    document = client.open(project / "m.py", source)

    def hover(line: int, character: int):
        return client.request("textDocument/hover", {
            "textDocument": {"uri": document}, "position": {"line": line, "character": character}})

    found = hover(0, 17)
    assert found["contents"]["kind"] == "markdown"
    assert found["contents"]["value"].startswith("## LL101 unguarded-log")
    assert "#ll101-unguarded-log" in found["contents"]["value"]
    assert found["range"] == {"start": {"line": 0, "character": 15},
                              "end": {"line": 0, "character": 20}}
    prefix = hover(0, 23)["contents"]["value"]
    assert "LL201" in prefix and "LL205" in prefix and "LL101" not in prefix
    assert hover(1, 29)["contents"]["value"].startswith("## LL102 unguarded-division")
    assert hover(0, 2) is None  # not in a noqa comment


def test_configuration_is_reloaded_when_it_changes(client, project):
    document = client.open(project / "losses.py", LOSSES)
    assert set(by_code(client.diagnostics(document, version=1))) == {"LL101", "LL107"}
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[tool.lossguard]\nignore = ["LL101"]\n')
    mark = len(client.notifications)
    client.notify("workspace/didChangeWatchedFiles", {
        "changes": [{"uri": uri(pyproject), "type": 2}]})
    assert set(by_code(client.diagnostics(document, after=mark))) == {"LL107"}
    # without a notification (a client that does not watch files), the next lint sees it
    pyproject.write_text('[tool.lossguard]\nignore = ["LL107"]\nexclude = []\n')
    client.change(document, LOSSES + "\n", 2)
    assert set(by_code(client.diagnostics(document, version=2))) == {"LL101"}


def test_the_server_asks_to_watch_pyproject_files(client, project):
    client.open(project / "m.py", "x = 1\n")
    client.diagnostics(uri(project / "m.py"))
    registrations = [r for m in client.server_requests if m["method"] == "client/registerCapability"
                     for r in m["params"]["registrations"]]
    assert registrations[0]["method"] == "workspace/didChangeWatchedFiles"
    assert registrations[0]["registerOptions"]["watchers"] == [
        {"globPattern": "**/pyproject.toml"}]


def test_each_document_gets_its_nearest_configuration(client, project):
    sub = project / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text(
        '[tool.lossguard]\nper-file-ignores = { "experiments/*" = ["LL1"] }\n')
    (sub / "experiments").mkdir()
    top = client.open(project / "experiments" / "losses.py", LOSSES)
    inner = client.open(sub / "experiments" / "losses.py", LOSSES)
    assert set(by_code(client.diagnostics(top))) == {"LL101", "LL107"}
    # per-file-ignores match the path relative to the folder of the pyproject.toml
    assert client.diagnostics(inner) == []


def test_a_bad_configuration_is_shown_and_the_defaults_apply(project):
    (project / "pyproject.toml").write_text('[tool.lossguard]\nselect = ["LL101"\n')
    client = Client(cwd=project)
    try:
        client.initialize(project)
        document = client.open(project / "losses.py", LOSSES)
        assert set(by_code(client.diagnostics(document))) == {"LL101", "LL107"}
        shown = client.wait_for("window/showMessage")
        assert shown["type"] == 1 and "pyproject.toml" in shown["message"]
    finally:
        assert client.close() == 0


def test_a_bad_buffer_is_one_ll001_and_the_server_goes_on(client, project):
    document = client.open(project / "losses.py", "import tensorflow as tf\ndef f(:\n")
    found = client.diagnostics(document)
    assert [d["code"] for d in found] == ["LL001"]
    assert found[0]["range"]["start"]["line"] == 1
    assert "syntax error" in found[0]["message"]
    for version, text in enumerate(["\x00\x01", "(" * 5000, "def f(x):\n\treturn (\n", ""], 2):
        client.change(document, text, version)
        client.diagnostics(document, version=version)
    huge = "x = 1\n" * 2_000_000  # 12 MB: over the size limit, reported at once
    client.change(document, huge, 9)
    too_large = client.diagnostics(document, version=9)
    assert [d["code"] for d in too_large] == ["LL001"] and "too large" in too_large[0]["message"]
    client.change(document, LOSSES, 10)
    assert set(by_code(client.diagnostics(document, version=10))) == {"LL101", "LL107"}
    assert client.process.poll() is None


def test_closing_a_document_clears_its_diagnostics(client, project):
    document = client.open(project / "losses.py", LOSSES)
    assert client.diagnostics(document)
    mark = len(client.notifications)
    client.notify("textDocument/didClose", {"textDocument": {"uri": document}})
    assert client.diagnostics(document, after=mark) == []


NOTEBOOK_CELLS = ["import tensorflow as tf\n%matplotlib inline\n",
                  "# a note\n",
                  "def ratio_loss(y_true, y_pred):\n"
                  "    return tf.reduce_mean(tf.math.log(tf.nn.softmax(y_pred)))\n"]


def open_notebook(client: Client, path: Path, cells: list[str]) -> tuple[str, list[str]]:
    notebook = uri(path)
    kinds = [2, 1, 2]  # code, markdown, code
    cell_uris = [f"vscode-notebook-cell:{path.as_posix()}#W{i}sZmlsZQ==" for i in range(3)]
    client.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": notebook, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": k, "document": u}
                                       for k, u in zip(kinds, cell_uris, strict=True)]},
        "cellTextDocuments": [{"uri": u, "languageId": "python" if k == 2 else "markdown",
                               "version": 1, "text": t}
                              for k, u, t in zip(kinds, cell_uris, cells, strict=True)]})
    return notebook, cell_uris


def test_notebook_cells_are_linted_together_and_fixed_per_cell(client, project):
    notebook, cells = open_notebook(client, project / "train.ipynb", NOTEBOOK_CELLS)
    assert client.diagnostics(cells[0]) == []  # the magic is masked; the import is used
    found = client.diagnostics(cells[2])
    assert [d["code"] for d in found] == ["LL107"]  # sees cell 1's import
    assert found[0]["range"]["start"]["line"] == 1  # the line in its cell
    fix = next(a for a in actions(client, cells[2], 1) if "noqa" not in a["title"])
    fixed = apply(NOTEBOOK_CELLS[2], fix["edit"]["changes"][cells[2]])
    assert "tf.nn.log_softmax(y_pred)" in fixed
    all_fixed = actions(client, cells[2], 0, only=["source.fixAll.lossguard"])
    assert apply(NOTEBOOK_CELLS[2], all_fixed[0]["edit"]["changes"][cells[2]]) == fixed
    whole = actions(client, cells[0], 0, only=["notebook.source.fixAll"])
    assert [a["kind"] for a in whole] == ["notebook.source.fixAll.lossguard"]
    assert list(whole[0]["edit"]["changes"]) == [cells[2]]  # the only cell with a fix
    assert apply(NOTEBOOK_CELLS[2], whole[0]["edit"]["changes"][cells[2]]) == fixed
    # an edit to a cell re-lints the notebook
    mark = len(client.notifications)
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": notebook, "version": 2},
        "change": {"cells": {"textContent": [{
            "document": {"uri": cells[2], "version": 2},
            "changes": [{"text": fixed}]}]}}})
    assert client.diagnostics(cells[2], after=mark) == []
    mark = len(client.notifications)
    client.notify("notebookDocument/didClose", {
        "notebookDocument": {"uri": notebook},
        "cellTextDocuments": [{"uri": u} for u in cells]})
    assert client.diagnostics(cells[2], after=mark) == []


def test_a_cell_that_does_not_parse_is_ll001_in_that_cell(client, project):
    cells = [NOTEBOOK_CELLS[0], "# text\n", "def ratio_loss(y_true, y_pred:\n"]
    _, uris = open_notebook(client, project / "train.ipynb", cells)
    assert client.diagnostics(uris[0]) == []
    assert [d["code"] for d in client.diagnostics(uris[2])] == ["LL001"]


def test_server_subcommand_and_missing_pygls(tmp_path):
    """`lossguard server` runs the server; without pygls it says what to install."""
    import subprocess
    import sys

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "pygls").mkdir()
    (blocker / "pygls" / "__init__.py").write_text("raise ImportError('no pygls here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker), str(Path(__file__).resolve().parent.parent)])}
    done = subprocess.run([sys.executable, "-m", "lossguard", "server"], env=env, input=b"",
                          capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"pip install 'lossguard[lsp]'" in done.stderr
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    message = f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    exit_ = json.dumps({"jsonrpc": "2.0", "method": "exit"})
    message += f"Content-Length: {len(exit_)}\r\n\r\n{exit_}".encode()
    done = subprocess.run([sys.executable, "-m", "lossguard", "server"], input=message,
                          capture_output=True, timeout=60)
    assert b'"serverInfo": {"name": "lossguard"' in done.stdout.replace(b'":{', b'": {')


# --- the incremental parse (in process) --------------------------------------------------------
def test_incremental_parse_lints_as_a_whole_parse():
    """On real code (comments between statements, decorators, `;`, classes), the module made
    of chunks prints back the text, and linting it gives the same findings and fixes."""
    import libcst as cst

    from lossguard.cli.server import IncrementalParser
    from lossguard.pipeline.config import Settings
    from lossguard.pipeline.lint import lint_source, selected_rules

    root = Path(__file__).resolve().parent.parent
    paths = [*sorted((root / "examples").rglob("*.py")), *sorted((root / "rules").glob("*.py")),
             root / "lossguard" / "analysis" / "gradient_flow.py"]
    settings = Settings(select=["ALL"])
    rules = selected_rules(settings)
    sources = [p.read_text() for p in paths]
    sources.append("import tensorflow as tf  # a\n\n\n# about f\n@tf.function\ndef f(x_loss):\n"
                   "    return tf.math.log(x_loss)\n    # inside\n# outside\nx = 1; y = (2,\n"
                   " 3); z = 4\nclass C:\n  def loss(self, y):\n    return tf.math.log(y)")
    sources.append(LOSSES.replace("\n", "\r\n"))
    for source in sources:
        parse = IncrementalParser()
        assert parse(source).code == source
        lines = source.splitlines(keepends=True)
        middle = len(lines) // 2  # then an edit: a line inserted mid-file moves what follows
        edited = "".join([*lines[:middle], "import math\n", *lines[middle:]])
        for text in (source, edited, source):
            whole = lint_source(text, "losses.py", settings, rules)
            again = lint_source(text, "losses.py", settings, rules, parse=parse,
                                located=parse.located)
            assert whole == again
            assert [f.fix for f in whole] == [f.fix for f in again]
    assert cst.parse_module(sources[-2]).code == sources[-2]


def test_incremental_parse_reuses_unchanged_statements_only():
    import libcst as cst

    from lossguard.cli.server import IncrementalParser

    parse = IncrementalParser()
    before = parse(LOSSES)
    edited = LOSSES.replace("tf.math.log(y_pred)", "tf.math.log(y_pred + 1.0)")
    after = parse(edited)
    assert after.code == edited
    assert after.body[0] is before.body[0]  # reused
    assert after.body[1] is before.body[1]  # reused, with its leading lines moved
    assert after.body[2].body is not before.body[2].body  # parsed again
    twice = parse("import os\n" + "def f():\n    pass\n" * 2)
    assert twice.body[1] is not twice.body[2]  # a node occurs once in a tree
    with pytest.raises(cst.ParserSyntaxError):
        parse("def f(:\n    pass\n")


def test_unsafe_fixes_follow_the_client_settings(client, project):
    document = client.open(project / "losses.py", LOSSES)
    client.diagnostics(document)
    assert not [a for a in actions(client, document, 8) if "unsafe" in a["title"]]
    client.notify("workspace/didChangeConfiguration",
                  {"settings": {"lossguard": {"unsafeFixes": True}}})
    assert [a for a in actions(client, document, 8) if "unsafe" in a["title"]]


def test_excluded_files_and_unused_noqa(client, project):
    (project / "pyproject.toml").write_text(
        '[tool.lossguard]\nexclude = ["generated/*"]\nextend-select = ["LL002"]\n')
    (project / "generated").mkdir()
    skipped = client.open(project / "generated" / "losses.py", LOSSES)
    assert client.diagnostics(skipped) == []
    source = LOSSES.replace("tf.math.log(y_pred))", "tf.math.log(y_pred))  # noqa: LL101, LL102")
    document = client.open(project / "losses.py", source)
    unused = by_code(client.diagnostics(document))["LL002"]
    assert unused["severity"] == 3 and unused["tags"] == [1]  # information, unnecessary
    fix = next(a for a in actions(client, document, 8) if "unused" in a["title"])
    assert apply(source, fix["edit"]["changes"][document]).splitlines()[8].endswith(
        "# noqa: LL101")
