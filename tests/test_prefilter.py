"""The prefilter must never skip a file that can hold loss code."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossguard.pipeline import files, prefilter
from lossguard.pipeline.batch import run
from lossguard.pipeline.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "dev"


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if p.is_file())


@pytest.mark.parametrize("folder", [ROOT / "examples", ROOT / "tests" / "fixtures"])
def test_no_misses_in_project_files(folder):
    paths = _sources(folder)
    assert paths or not folder.exists()
    missed = [p for p in paths if not prefilter.may_hold_loss(files.read(p))]
    assert missed == []


def test_no_misses_in_dev_corpus():
    if not CORPUS.is_dir():
        pytest.skip("no dev corpus here")
    paths = _sources(CORPUS)
    missed = [str(p) for p in paths if not prefilter.may_hold_loss(files.read(p))]
    assert missed == []


@pytest.mark.parametrize("text", [
    "import torch\n", "from tensorflow import keras\n", "import jax.numpy as jnp\n",
    "import numpy as np\n", "def dice(a, b):\n    return a.log()\n",
    "def my_objective(a):\n    pass\n", "with tape:\n    g = tape.gradient(a, b)\n",
    "out.backward()\n", "model.compile(optimizer='adam')\n", "def train_step(b):\n    pass\n",
    "x = 1  # noqa: LL101\n", "class FocalLoss:\n    pass\n",
])
def test_passes(text):
    assert prefilter.may_hold_loss(text)


@pytest.mark.parametrize("text", [
    "import os\nprint(os.getcwd())\n", "def add(a, b):\n    return a + b\n", "",
    "x = 1  # noqa: E501\n",
])
def test_skips(text):
    assert not prefilter.may_hold_loss(text)


def test_loss_names_and_all_code():
    text = "def energy(a):\n    return a\n"
    assert not prefilter.may_hold_loss(text)
    assert prefilter.may_hold_loss(text, ("energ*",))
    assert prefilter.may_hold_loss(text, ("*",))
    assert prefilter.may_hold_loss(text, all_code=True)


def test_every_framework_import_passes():
    from lossguard.knowledge import ops

    for root in ops.FRAMEWORK_ROOTS:
        assert prefilter.may_hold_loss(f"import {root}\n"), root


def test_skipped_file_is_counted_not_parsed(tmp_path):
    from lossguard.pipeline.batch import RunOptions

    (tmp_path / "plain.py").write_text("def add(a, b)\n    return a + b\n")  # syntax error
    on = run([str(tmp_path)], Settings(), RunOptions(prefilter=True))
    off = run([str(tmp_path)], Settings(), RunOptions(prefilter=False))
    assert on.files == off.files == 1
    assert on.findings == [] and [f.code for f in off.findings] == ["LL001"]
