"""The static path stays light: linting imports none of TensorFlow, NumPy, torch or JAX."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "numpy", "torch", "jax", "keras")


def _imported_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps([m for m in {watched!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_linting_imports_no_heavy_framework():
    code = ("from lossguard.cli.main import main\n"
            "main(['--exit-zero', '--format', 'json', 'examples'])")
    assert _imported_after(code) == []


def test_a_plain_run_loads_only_what_it_uses(tmp_path):
    """Every start pays for what it imports: a run over one Python file, without a
    pyproject.toml, the cache, a notebook, a fix, `--dynamic` or the server, loads none of
    their modules."""
    source = tmp_path / "losses.py"
    source.write_text("import tensorflow as tf\n\ndef loss(y_true, y_pred):\n"
                      "    return tf.reduce_mean(tf.math.log(y_pred))\n")
    code = ("from lossguard.cli.main import main\n"
            f"main(['--exit-zero', '--no-cache', {str(source)!r}])")
    lazy = ("tomllib", "lossguard.pipeline.cache", "lossguard.pipeline.notebook",
            "lossguard.pipeline.fix", "lossguard.dynamic", "lossguard.cli.server",
            "lossguard.report.html", "shutil")
    assert _imported_after(code, lazy) == []


def test_the_command_goes_through_its_light_entry_point():
    """`lossguard` (the script) and `python -m lossguard` run `lossguard.__main__.run`, which
    imports the command line itself, with the garbage collector off: the entry module loads
    nothing of it."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["lossguard"] == "lossguard.__main__:run"
    assert _imported_after("import lossguard.__main__", ("lossguard.cli.main", "libcst")) == []


def test_flake8_plugin_imports_no_heavy_framework():
    assert _imported_after("import lossguard.cli.flake8_plugin") == []


def test_a_linted_tree_is_freed_without_the_garbage_collector():
    """No reference cycle outlives a file's lint: its tree (a million objects on a big module)
    goes as soon as the file is done, not at the next full collection, which would traverse
    every tree still waiting."""
    import gc

    import libcst as cst

    from lossguard.pipeline.config import Settings
    from lossguard.pipeline.lint import lint_source

    sources = [p.read_text() for p in sorted((ROOT / "examples").rglob("*.py"))]
    # nested functions, classes
    sources.append((ROOT / "lossguard" / "analysis" / "gradient_flow.py").read_text())
    assert sources
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for source in sources:
            findings = lint_source(source, "m.py", Settings(select=["ALL"]))
            del findings
        gc.collect()
        kept = [o for o in gc.garbage if isinstance(o, cst.CSTNode)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert kept == []


def test_a_cli_run_collects_garbage_rarely_and_restores_the_collector(monkeypatch):
    """Since trees are freed by reference counting, a run raises the collector's threshold
    (tracing each tree many times is most of the collector's cost); a host process that calls
    `main` (a test, an editor) gets its own settings back."""
    import gc

    from lossguard.cli import main as cli
    from lossguard.pipeline import batch

    during = []
    real_run = batch.run

    def spy(*args, **kwargs):
        during.append(gc.get_threshold())
        return real_run(*args, **kwargs)

    monkeypatch.setattr(batch, "run", spy)
    before = gc.get_threshold()
    assert before != batch.GC_THRESHOLD
    assert cli.main(["--exit-zero", "--format", "json", str(ROOT / "examples")]) == 0
    assert during == [batch.GC_THRESHOLD]
    assert gc.get_threshold() == before


def test_language_server_imports_no_heavy_framework():
    """The server module, pygls, and what a session runs: a lint, a notebook, a fix, a hover."""
    code = ("from pathlib import Path\n"
            "from lossguard.cli import server\nfrom lossguard.pipeline import fix\n"
            "server.create_server()\n"
            "source = Path('examples/seed_examples.py').read_text()\n"
            "cfg = server.Configs().for_file(Path('examples/seed_examples.py').resolve())\n"
            "assert server.lint_source(source, 'seed_examples.py', cfg.settings, cfg.rules)\n"
            "server.notebook.lint_cells('n.ipynb', server.notebook_cells([source]),\n"
            "                           cfg.settings, cfg.rules)\n"
            "fix.fix_source(source, 'seed_examples.py', cfg.settings, cfg.rules)\n"
            "assert server.rule_documentation('LL101')")
    assert _imported_after(code) == []
