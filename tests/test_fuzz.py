"""The fuzz target, briefly (LOSSGUARD_FUZZ_SECONDS, default 5; `.ci/run` runs it for 60 s), and
every input it ever crashed on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import fuzz_engine

CRASHES = sorted(fuzz_engine.REGRESSIONS.glob("*.txt")) if fuzz_engine.REGRESSIONS.is_dir() \
    else []


def test_fuzz_briefly():
    seconds = float(os.environ.get("LOSSGUARD_FUZZ_SECONDS", "5"))
    assert fuzz_engine.fuzz(seconds, batch=50) > 0


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_regression(path: Path):
    text = path.read_text(encoding="utf-8", errors="surrogatepass")
    for which in range(len(fuzz_engine.SETTINGS)):
        fuzz_engine.check(text, which)
