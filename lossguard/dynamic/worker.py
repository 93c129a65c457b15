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
from typing import Any

from .tfenv import configure_tensorflow, keras_version

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


def build(target: dict, namespace: dict | None, for_training: bool = False) -> Any:
    """The callable a probe uses, from a namespace (module dict or patched copy)."""
    if namespace is None:
        return None
    obj = namespace[target["qualname"][0]]
    kind = target["kind"]
    if kind == "factory":
        return obj()
    if kind == "loss_class":
        instance = obj()
        return instance if for_training else instance.call
    return obj


def run_target(target: dict, module: Any, path: str) -> dict:
    from . import probes as checks

    code = target["code"]
    ns = vars(module)
    original = build(target, ns)
    if code in {"LL108", "LL302"}:
        original_fit = build(target, ns, for_training=True)
    patched = build(target, variant(module, target.get("patched"), target["line"], checks.HELPERS,
                                    f"guarded {target['index']}"), for_training=code == "LL108")
    tapped = build(target, variant(module, target.get("tapped"), target["line"], checks.HELPERS,
                                   f"tapped {target['index']}"))
    if target["kind"] == "train_step":
        return checks.probe_train_step(target, tapped)
    if target["kind"] == "custom_gradient":
        return checks.probe_custom_gradient(target, original, path)
    if code == "LL108":
        return checks.probe_training(target, original_fit, patched)
    if code == "LL302":
        return checks.probe_weighted(target, original_fit)
    if code == "LL201":
        return checks.probe_discarded(target, tapped, original)
    if code in {"LL203", "LL204", "LL205"}:
        return checks.probe_gradient_path(target, tapped, original)
    if code == "LL304":
        return checks.probe_label_broadcast(target, tapped, original)
    if code == "LL303":
        return checks.probe_batch_scaling_loss(target, tapped, original)
    if code == "LL301":
        return checks.probe_rank(target, original)
    if code == "LL402":
        return checks.probe_argument_order(target, original)
    if code == "LL202":
        return checks.result("not_checked", target["probe"],
                             reason="LL202 is probed on tf.custom_gradient functions only")
    return checks.probe_numeric(target, original, patched, path)


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


def main(argv: list[str]) -> int:
    global RESULTS
    job_path, RESULTS = argv[0], os.path.abspath(argv[1])
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    started = time.monotonic()
    emit({"event": "phase", "phase": "tensorflow"})
    tf = configure_tensorflow()
    emit({"event": "tensorflow", "seconds": round(time.monotonic() - started, 2),
          "version": tf.__version__, "keras": keras_version()})
    emit({"event": "phase", "phase": "import"})
    path = job["path"]
    try:
        module = load_module(job)
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
        res["index"] = target["index"]
        res["seconds"] = round(time.monotonic() - t0, 2)
        emit({"event": "result", **res})
    emit({"event": "done", "vm_peak_kb": _vm_peak_kb()})
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]) or 0)  # skip TensorFlow's slow interpreter teardown
