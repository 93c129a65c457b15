"""Hostile input: every bad file is one clear line, never a traceback, and the rest is linted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lossguard.cli import main as cli
from lossguard.pipeline.batch import RunOptions, run
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

LOSS = "import torch\n\n\ndef nll(pred, target):\n    return -(target * torch.log(pred)).mean()\n"


def hostile(folder: Path) -> dict[str, str | None]:
    """Write the hostile files; name -> a fragment of the LL001 message (None: lints normally)."""
    folder.mkdir(exist_ok=True)
    expected: dict[str, str | None] = {}

    def write(name: str, data: bytes | str, message: str | None) -> None:
        path = folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        expected[name] = message

    write("good.py", LOSS, None)
    write("syntax.py", "import torch\ndef loss(y_true, y_pred)\n    return y_true\n",
          "syntax error")
    write("bad_utf8.py", b"import torch\nname = '\xff\xfe'\n", "cannot decode")
    write("bom.py", b"\xef\xbb\xbf" + LOSS.encode(), None)
    write("latin1.py", "# -*- coding: latin-1 -*-\n# caf\xe9\n".encode("latin-1")
          + LOSS.encode(), None)
    write("crlf.py", LOSS.replace("\n", "\r\n"), None)
    mixed = LOSS.split("\n")
    write("mixed.py", "\r\n".join(mixed[:3]) + "\n" + "\r".join(mixed[3:4]) + "\n"
          + "\n".join(mixed[4:]), None)
    write("tabs.py", LOSS.replace("    ", "\t"), None)
    write("nul.py", "import torch\nx = 1\x00\n", "NUL")
    write("empty.py", "", None)
    write("huge.py", "import torch\n" + "x = 1\n" * 3_500_000, "too large")
    write("deep.py", "import torch\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n", "nested")
    write("chain.py", "import torch\nx = " + " + ".join(["a"] * 5000) + "\n", "nested")
    write("binary.py", bytes(range(256)) * 64, "")
    write("broken.ipynb", '{"cells": [ {"cell_type": "code", ', "invalid notebook")
    write("no_code.ipynb", json.dumps({"cells": [{"cell_type": "markdown", "source": "# loss"}],
                                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
          None)
    loop = folder / "loop.py"
    os.symlink("loop.py", loop)
    expected["loop.py"] = "cannot read"
    locked = folder / "locked.py"
    locked.write_text(LOSS)
    locked.chmod(0)
    if not os.access(locked, os.R_OK):
        expected["locked.py"] = "cannot read"
    else:  # root reads anything
        locked.chmod(0o644)
        expected["locked.py"] = None
    return expected


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "hostile"
    yield path
    locked = path / "locked.py"
    if locked.exists():
        locked.chmod(0o644)


def test_each_hostile_file(folder):
    expected = hostile(folder)
    result = run([str(folder)], Settings(), RunOptions(jobs=1, prefilter=False))
    assert not result.internal_errors
    by_file: dict[str, list] = {}
    for finding in result.findings:
        by_file.setdefault(Path(finding.path).name, []).append(finding)
    for name, message in expected.items():
        found = by_file.get(name, [])
        errors = [f for f in found if f.code == "LL001"]
        if message is None:
            assert not errors, (name, [f.message for f in errors])
        else:
            assert len(errors) == 1, (name, [f.message for f in found])
            assert message in errors[0].message, (name, errors[0].message)
            assert "\n" not in errors[0].message
    # The good files among them are linted, with the right lines.
    for name in ("good.py", "bom.py", "crlf.py", "tabs.py", "mixed.py"):
        assert [(f.line, f.code) for f in by_file[name]] == [(5, "LL101")], name
    assert [(f.line, f.code) for f in by_file["latin1.py"]] == [(7, "LL101")]
    assert "empty.py" not in by_file and "no_code.ipynb" not in by_file


def test_folder_of_hostile_files_exits_1_without_traceback(folder):
    hostile(folder)
    for extra in ([], ["-j", "2"], ["--no-prefilter", "--no-cache"]):
        done = subprocess.run([sys.executable, "-m", "lossguard", str(folder), *extra],
                              capture_output=True, text=True, timeout=300, cwd=folder.parent)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert "good.py:5" in done.stdout


def test_missing_path_exits_2_and_names_it(tmp_path, capsys):
    missing = tmp_path / "nowhere.py"
    assert cli.main([str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_symlink_loop_named_directly(tmp_path, capsys):
    loop = tmp_path / "loop.py"
    os.symlink("loop.py", loop)
    assert cli.main([str(loop)]) == 2
    err = capsys.readouterr().err
    assert str(loop) in err and "symbolic links" in err


def test_lint_source_survives_deep_and_odd_text():
    settings = Settings(select=["ALL"])
    for text in ("x = " + "[" * 3000 + "]" * 3000, "x = " + "-" * 5000 + "1",
                 "def loss(a):\n    return " + " * ".join(["a"] * 3000), "\x0c\n", "\\\n",
                 "def loss(a):\n\treturn a\n        "):
        for finding in lint_source(text, "x.py", settings):
            assert finding.code == "LL001"


def test_an_attribute_that_reads_itself_is_analysed():
    # `self.queue = normalize(self.queue)` in `__init__` once recursed without end: the whole
    # file came back as one LL001 "nested too deeply" and its findings were lost
    source = (
        "import torch\n"
        "import torch.nn.functional as F\n"
        "class MoCoLoss(torch.nn.Module):\n"
        "    def __init__(self, dim, size):\n"
        "        self.queue = torch.randn(dim, size)\n"
        "        self.queue = F.normalize(self.queue, dim=0)\n"
        "    def forward(self, q, target):\n"
        "        logits = torch.mm(q, self.queue)\n"
        "        return -(target * torch.log(logits)).sum()\n"
    )
    findings = lint_source(source, "moco.py", Settings())
    assert [f.code for f in findings] == ["LL101"]
