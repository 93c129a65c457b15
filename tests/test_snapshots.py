"""Snapshots of what `lossguard examples/` prints: text (piped, and on a terminal with the
source line and caret under each finding), JSON, SARIF and GitHub annotations, compared with
the committed files in `tests/snapshots/`.

After an intended change of the output, rewrite them with
`LOSSGUARD_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py` and review the diff.
The command runs in the repository root on the relative path `examples`, so the paths it
prints do not depend on where the checkout is; the SARIF file's absolute base URI and the
version are replaced by placeholders, and its rule descriptors keep their short fields (the
long documentation is tested in test_docs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("LOSSGUARD_UPDATE_SNAPSHOTS") == "1"
COMMAND = [sys.executable, "-m", "lossguard", "examples", "--no-cache", "--color", "never"]


def run(*args: str, tty: bool = False) -> str:
    if not tty:
        done = subprocess.run([*COMMAND, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1, done.stderr  # the examples have findings
        return done.stdout
    import pty  # POSIX only; the terminal snapshot is skipped elsewhere

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([*COMMAND, *args], cwd=ROOT, stdout=follower,
                                   stderr=subprocess.PIPE)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the command exits (Linux)
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=120) == 1, process.stderr.read()
    finally:
        os.close(leader)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def normalise_sarif(text: str) -> str:
    log = json.loads(text)
    for run_ in log["runs"]:
        driver = run_["tool"]["driver"]
        driver["version"] = driver["semanticVersion"] = "<version>"
        driver["rules"] = [{key: rule[key] for key in ("id", "name", "shortDescription",
                                                       "defaultConfiguration")}
                           for rule in driver["rules"]]
        for base in run_.get("originalUriBaseIds", {}).values():
            assert base["uri"] == ROOT.as_uri() + "/", base
            base["uri"] = "file:///<checkout>/"
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def check(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"no snapshot {name}: run with LOSSGUARD_UPDATE_SNAPSHOTS=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} changed: rerun with LOSSGUARD_UPDATE_SNAPSHOTS=1 " \
                               "if the change is intended, and review the diff"


def test_text():
    check("examples.txt", run())


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_text_on_a_terminal_shows_source_and_caret():
    output = run(tty=True)
    assert "    ^" in output  # a caret line under a finding
    check("examples.tty.txt", output)


def test_json():
    output = run("--format", "json")
    assert json.loads(output)
    check("examples.json", output)


def test_sarif():
    check("examples.sarif", normalise_sarif(run("--format", "sarif")))


def test_github_annotations():
    check("examples.github.txt", run("--format", "github"))
