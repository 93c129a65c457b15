"""`--format sarif` validates against the official SARIF 2.1.0 schema (pinned by hash)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from lossguard.rules import all_rules

from lossguard.cli import main as cli
from lossguard.report import sarif

jsonschema = pytest.importorskip("jsonschema")

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
ROOT = Path(__file__).resolve().parent.parent

BAD = """\
import tensorflow as tf


def xent(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)


def masked_loss(y_true, y_pred, mask):
    return tf.reduce_sum(mask * tf.square(y_true - y_pred)) / tf.reduce_sum(mask)
"""


def validator():
    data = SCHEMA.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256, "the SARIF schema was changed"
    return jsonschema.Draft4Validator(json.loads(data))


def sarif_of(argv: list[str], capsys) -> dict:
    cli.main(["--format", "sarif", *argv])
    return json.loads(capsys.readouterr().out)


def test_schema_is_the_pinned_one():
    validator()


def test_output_validates(tmp_path, capsys, monkeypatch):
    (tmp_path / "losses.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    doc = sarif_of(["--select", "ALL", "losses.py"], capsys)
    errors = sorted(validator().iter_errors(doc), key=str)
    assert not errors, errors[:3]
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert run["tool"]["driver"]["name"] == "lossguard"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {r.code for r in all_rules()}
    assert "## Why is this bad?" in rules["LL101"]["help"]["text"]
    results = {r["ruleId"]: r for r in run["results"]}
    log = results["LL101"]
    location = log["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "losses.py"
    assert location["region"]["startLine"] == 5
    assert location["region"]["startColumn"] == 36
    assert log["level"] == "error"
    assert run["tool"]["driver"]["rules"][log["ruleIndex"]]["id"] == "LL101"
    change = log["fixes"][0]["artifactChanges"][0]
    replacement = change["replacements"][0]
    assert replacement["insertedContent"]["text"] == "tf.math.log(tf.maximum(y_pred, 1e-7))"
    assert replacement["deletedRegion"]["startColumn"] == 36


@pytest.mark.parametrize("folder", ["examples", "tests"])
def test_project_folders_validate(folder, capsys):
    doc = sarif_of(["--select", "ALL", str(ROOT / folder)], capsys)
    assert not list(validator().iter_errors(doc))


def test_no_findings_validates():
    doc = sarif.document([])
    assert not list(validator().iter_errors(doc))
    assert doc["runs"][0]["results"] == []


def test_notebook_finding_validates(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import tensorflow as tf"),
                nbformat.v4.new_code_cell("def loss(y_true, y_pred):\n"
                                          "    return tf.reduce_mean(tf.math.log(y_pred))")]
    path = tmp_path / "nb.ipynb"
    path.write_text(nbformat.writes(nb))
    doc = sarif_of([str(path)], capsys)
    assert not list(validator().iter_errors(doc))
    result = doc["runs"][0]["results"][0]
    assert result["properties"]["cell"] == 2
    assert result["message"]["text"].startswith("cell 2: ")
