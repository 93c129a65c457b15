"""`--format github`: one workflow command per finding."""

from __future__ import annotations

import re

from lossguard.cli import main as cli
from lossguard.engine.results import Finding
from lossguard.report import github

COMMAND = re.compile(r"^::(?P<command>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")
BAD = """\
import tensorflow as tf


def xent(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
"""


def parse(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.match(line)
    assert match, line
    props = dict(p.split("=", 1) for p in match.group("props").split(","))
    return match.group("command"), props, match.group("message")


def test_lines_parse_as_workflow_commands(tmp_path, capsys, monkeypatch):
    (tmp_path / "losses.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--format", "github", "losses.py"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    command, props, message = parse(lines[0])
    assert command == "error"
    assert props == {"file": "losses.py", "line": "5", "col": "36", "endLine": "5",
                     "endColumn": "55", "title": "LL101"}
    assert message.startswith("unguarded log of `y_pred`")
    assert "%0A" in message  # the hint on its own line


def finding(**changes: object) -> Finding:
    data = dict(path="a,b:c.py", line=3, column=4, end_line=3, end_column=9, code="LL302",
                name="batch-reduced-loss", severity="info", message="50% of\nit", hint="")
    data.update(changes)
    return Finding(**data)  # type: ignore[arg-type]


def test_severities_and_escaping():
    command, props, message = parse(github.line(finding()))
    assert command == "notice"
    assert props["file"] == "a%2Cb%3Ac.py"
    assert message == "50%25 of%0Ait"
    assert parse(github.line(finding(severity="warning")))[0] == "warning"
    assert parse(github.line(finding(severity="error")))[0] == "error"


def test_notebook_cell_is_named():
    command, props, message = parse(github.line(finding(path="nb.ipynb", cell=3)))
    assert props["line"] == "1"  # no such file to look the cell up in: its first line
    assert message.startswith("cell 3, line 3: ")
