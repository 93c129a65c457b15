"""The static path stays light: linting imports none of TensorFlow, NumPy, torch or JAX."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "numpy", "torch", "jax", "keras")


def _imported_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_linting_imports_no_heavy_framework():
    code = ("from losslint.cli import main\n"
            "main(['--exit-zero', '--format', 'json', 'examples'])")
    assert _imported_after(code) == []


def test_flake8_plugin_imports_no_heavy_framework():
    assert _imported_after("import losslint.flake8_plugin") == []
