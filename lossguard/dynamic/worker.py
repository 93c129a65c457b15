"""The sandboxed worker: `python -m lossguard.dynamic.worker JOB.json RESULTS.jsonl`.

Started by `sandbox.py` in a temporary working directory, with an address-space limit
and a time limit. It imports TensorFlow once, imports the user's module the way
pytest does (its package root first on `sys.path`), then runs each target's probe.
Results go to RESULTS.jsonl, one JSON object a line, appended and flushed as they
come, so that user prints (stdout) never mix with them and a crash or a timeout
keeps what was measured before it. Event lines say which phase is running, so the
parent can tell *where* a worker died.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import linecache
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tfenv import keras_version

RESULTS = ""


def emit(obj: dict) -> None:
    """Append one JSON line to the results file (re-opened each time: user code may chdir)."""
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, allow_nan=False, default=str) + "\n")
        fh.flush()


def _where(exc: BaseException, path: str) -> str:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f" (line {lines[-1]})" if lines else ""


def describe(exc: BaseException, path: str) -> str:
    if isinstance(exc, SystemExit):
        return f"user code called sys.exit({exc.code!r}){_where(exc, path)}"
    if isinstance(exc, MemoryError):
        return f"MemoryError: the memory limit was exceeded{_where(exc, path)}"
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}{_where(exc, path)}"


def load_module(job: dict) -> Any:
    """Import the user's module with its package root first on sys.path (pytest `prepend`)."""
    root, name, path = job["root"], job["module_name"], job["path"]
    sys.path.insert(0, root)
    existing = sys.modules.get(name)
    if existing is None or os.path.abspath(getattr(existing, "__file__", "") or "") == path:
        try:
            module = importlib.import_module(name)
            if os.path.abspath(module.__file__ or "") == path:
                return module
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
    # a name taken by another module (e.g. `test`, `keras`): load from the file instead
    spec = importlib.util.spec_from_file_location(f"lossguard_probe_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SKIPPED: list[str] = []  # statements skipped by a statement-by-statement import
# What an import that cannot succeed here raises: a package not installed, a name an older
# TensorFlow or Keras had (`tf.contrib`, `keras.engine`), and the names those would have bound.
MISSING = (ImportError, AttributeError, NameError)


def load_tolerant(job: dict) -> Any:
    """When the import fails on something other than the code under test (a package not
    installed here, a name an old TensorFlow had): run the module's top-level statements one
    by one, as its import would, skipping those that raise `MISSING` (anything else raises,
    and the module is not checked). Functions and classes whose definitions run are probed;
    a call that needs a skipped name fails, and the probe says so. `SKIPPED` lists what was
    skipped (reported with each result)."""
    import types

    path, name = job["path"], job["module_name"]
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    tree = ast.parse(source)
    module = types.ModuleType(name)
    module.__file__ = path
    module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    for stmt in tree.body:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), path, "exec")
        try:
            exec(code, module.__dict__)  # noqa: S102 - the user's module, as its import runs it
        except MISSING as exc:
            text = ast.get_source_segment(source, stmt) or ""
            SKIPPED.append(f"line {stmt.lineno} `{' '.join(text.split())[:60]}`: "
                           f"{type(exc).__name__}")
    return module


def variant(module: Any, source: str | None, line: int, helpers: dict, tag: str) -> dict | None:
    """A copy of the module's namespace with the top-level statement at `line` re-executed
    from the patched `source` (only that statement runs again; line numbers are kept).

    The patched text is registered in `linecache` under its own file name, so that
    AutoGraph (which re-reads a function's source when Keras traces it) sees the patch.
    """
    if source is None:
        return None
    filename = f"<lossguard {tag}> {module.__file__}"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source)
    for stmt in tree.body:
        end = getattr(stmt, "end_lineno", stmt.lineno)
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        if start <= line <= end:
            code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec")
            namespace = dict(vars(module))
            namespace.update(helpers)
            exec(code, namespace)  # noqa: S102 - the user's own code, patched in memory
            return namespace
    return None


@dataclass
class Callables:
    """What a probe can call for one target: the loss as the module defines it, the copies
    with the finding's node guarded or tapped, the module namespace and path."""

    target: dict
    original: Any
    patched: Any
    tapped: Any
    namespace: dict
    path: str


def _numeric(c: Callables) -> dict:
    from . import probes as checks

    res = checks.probe_numeric(c.target, c.original, c.patched, c.path)
    if res["status"] == "not_checked" and c.target.get("expression"):
        return checks.probe_expression(c.target, c.namespace, c.path, res["reason"])
    return res


def _gradient_independence(c: Callables) -> dict:
    from . import probes as checks

    if c.target["kind"] == "train_step":
        return checks.probe_train_step(c.target, c.tapped)
    if c.target["code"] == "LL201":  # a value computed and dropped
        return checks.probe_discarded(c.target, c.tapped, c.original)
    return checks.probe_gradient_path(c.target, c.tapped, c.original)


def _on_step_or_loss(step: Callable, loss: Callable) -> Callable[[Callables], dict]:
    def run(c: Callables) -> dict:
        if c.target["kind"] == "train_step":
            return step(c.target, c.tapped)
        return loss(c)
    return run


def _dispatch() -> dict[str, Callable[[Callables], dict]]:
    """Probe name (as the rules declare it, `Rule.probe`) -> the function that runs it."""
    from . import probes as checks

    return {
        "zero-operand": _numeric,
        "zero-denominator": _numeric,
        "zero-operand-gradient": _numeric,
        "saturated-logits": _numeric,
        "float-precision": _numeric,
        "training-run": lambda c: checks.probe_training(c.target, c.original, c.patched),
        "weighted-training": lambda c: checks.probe_weighted(c.target, c.original),
        "gradient-independence": _gradient_independence,
        "graph-mode": _gradient_independence,
        "finite-differences": lambda c: checks.probe_custom_gradient(c.target, c.original,
                                                                     c.path),
        "output-rank": _on_step_or_loss(checks.probe_train_step,
                                        lambda c: checks.probe_rank(c.target, c.original)),
        "batch-scaling": _on_step_or_loss(
            checks.probe_train_step,
            lambda c: checks.probe_batch_scaling_loss(c.target, c.tapped, c.original)),
        "label-broadcast": lambda c: checks.probe_label_broadcast(c.target, c.tapped,
                                                                  c.original),
        "argument-order": lambda c: checks.probe_argument_order(c.target, c.original),
    }


def run_target(target: dict, module: Any, path: str) -> dict:
    from . import calls
    from . import probes as checks

    probe = target["probe"]
    table = _dispatch()
    if probe not in table:
        return checks.result("not_checked", probe, reason=f"no probe named `{probe}`")
    checks.B.seed()  # every target starts from the same random state: runs repeat exactly
    ns = vars(module)
    if target["kind"] == "expression":
        return checks.probe_expression(target, ns, path, target.get("why_not_called", ""))
    if target["kind"] == "custom_gradient" and target["probe"] != "finite-differences":
        return checks.result("not_checked", probe,
                             reason=f"{target['code']} inside a custom gradient is not probed")
    state: dict = {}
    try:
        original = calls.build(target, ns, state)
        patched = calls.build(target, variant(module, target.get("patched"), target["line"],
                                              checks.HELPERS, f"guarded {target['index']}"),
                              state)
        tapped = calls.build(target, variant(module, target.get("tapped"), target["line"],
                                             checks.HELPERS, f"tapped {target['index']}"), state)
    except calls.CallError as exc:
        if target.get("expression"):
            return checks.probe_expression(target, ns, path, str(exc))
        return checks.result("not_checked", probe, reason=str(exc))
    return table[probe](Callables(target, original, patched, tapped, ns, path))


class _KerasAlias:
    """A meta-path finder that makes `keras` and `keras.*` resolve to `tf_keras` (Keras 2), so
    a module written against Keras 2 (`from keras import backend as K; K.mean(...)`) runs as
    Keras 2 under TensorFlow 2.16+, where `keras` is Keras 3."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        real = "tf_keras" + fullname[len("keras"):]
        try:
            module = importlib.import_module(real)
        except ImportError:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


class _AliasLoader:
    def __init__(self, module: Any) -> None:
        self.module = module

    def create_module(self, spec: Any) -> Any:
        return self.module

    def exec_module(self, module: Any) -> None:
        return None


def use_keras2() -> bool:
    """Make `import keras` give tf_keras (returns False when tf_keras is not installed)."""
    if importlib.util.find_spec("tf_keras") is None:
        return False
    import tf_keras

    for name in [m for m in sys.modules if m == "keras" or m.startswith("keras.")]:
        del sys.modules[name]
    for name, module in list(sys.modules.items()):
        if name == "tf_keras" or name.startswith("tf_keras."):
            sys.modules["keras" + name[len("tf_keras"):]] = module
    sys.meta_path.insert(0, _KerasAlias())
    return tf_keras is not None


def _vm_peak_kb() -> int | None:
    """Peak address space of this process (what RLIMIT_AS limits), from /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _memory_failure(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or any(
        m in text for m in ("failed to map segment", "Cannot allocate memory", "bad_alloc",
                            "cannot allocate memory"))


def main(argv: list[str]) -> int:
    global RESULTS
    job_path, RESULTS = argv[0], os.path.abspath(argv[1])
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    started = time.monotonic()
    framework = job.get("framework", "tf")
    emit({"event": "phase", "phase": "framework", "framework": framework})
    from . import backend as backends
    from . import probes as checks

    try:
        fw = backends.load(framework)
        if framework == "tf" and job.get("legacy_keras"):
            use_keras2()
    except BaseException as exc:  # noqa: BLE001 - the framework itself failed to start
        label = "PyTorch" if framework == "torch" else "TensorFlow"
        missing = isinstance(exc, ModuleNotFoundError)
        emit({"event": "start_failed", "memory": _memory_failure(exc), "missing": missing,
              "reason": (f"{label} is not installed (pip install 'lossguard[{framework}]')"
                         if missing else f"importing {label} failed: {describe(exc, '')}")})
        return 0
    checks.use(fw)
    emit({"event": "framework", "seconds": round(time.monotonic() - started, 2),
          "framework": framework, "version": fw.version,
          "keras": keras_version() if framework == "tf" else None})
    emit({"event": "phase", "phase": "import"})
    path = job["path"]
    sys.argv = [path]  # a module that parses its command line at import sees none
    try:
        try:
            module = load_module(job)
        except MISSING as exc:  # a missing package, an old API: not the code under test
            SKIPPED.clear()
            module = load_tolerant(job)
            SKIPPED.insert(0, "importing the module failed: " + describe(exc, path))
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, exit included
        emit({"event": "import_failed", "reason": "importing the module failed: "
              + describe(exc, path)})
        return 0
    sys.stdout.flush()
    for target in job["targets"]:
        emit({"event": "phase", "phase": "probe", "index": target["index"],
              "function": target["function"]})
        t0 = time.monotonic()
        try:
            res = run_target(target, module, path)
        except BaseException as exc:  # noqa: BLE001
            res = {"status": "not_checked", "probe": target["probe"], "summary": "",
                   "evidence": {}, "reason": "the probe raised " + describe(exc, path)}
        if SKIPPED:
            note = (f"{SKIPPED[0]}; the module was run statement by statement, skipping "
                    f"{len(SKIPPED) - 1}: {'; '.join(SKIPPED[1:3])}")
            res.setdefault("evidence", {})["partial_import"] = note
            if res["status"] == "not_checked":
                res["reason"] = f"{res['reason']} ({note})"
        res["index"] = target["index"]
        res["seconds"] = round(time.monotonic() - t0, 2)
        emit({"event": "result", **res})
    loaded = [m for m in ("tensorflow", "torch") if m in sys.modules]
    emit({"event": "done", "vm_peak_kb": _vm_peak_kb(), "frameworks_loaded": loaded})
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]) or 0)  # skip TensorFlow's slow interpreter teardown
