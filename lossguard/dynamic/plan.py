"""Probe planning: from findings to one job per module (no TensorFlow here).

For each finding the plan says which probe its rule names (README, "Dynamic
confirmation"), how the worker can call the code that holds it (a loss function,
a factory, a Keras `Loss` subclass, a `tf.custom_gradient` function, a training
step), what inputs suit it, and carries the in-memory patches that tie a failure
to the finding's node. Findings the pass cannot run get a `not_checked` reason here.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field

from ..engine.results import Finding
from .patch import patch_source

# The probe each rule names; the worker dispatches on the probe.
PROBES: dict[str, str] = {
    "LL101": "zero-operand",
    "LL102": "zero-denominator",
    "LL103": "sqrt-at-zero",
    "LL104": "saturated-logits",
    "LL105": "fractional-pow",
    "LL106": "epsilon-scale",
    "LL107": "saturated-logits",
    "LL108": "training",
    "LL109": "where-gradient",
    "LL201": "discarded-gradient",
    "LL202": "custom-gradient",
    "LL203": "gradient-path",
    "LL204": "gradient-path",
    "LL205": "gradient-path",
    "LL301": "output-rank",
    "LL302": "weighted-training",
    "LL303": "batch-scaling",
    "LL304": "label-broadcast",
    "LL402": "argument-order",
}
NUMERIC = {"LL101", "LL102", "LL103", "LL104", "LL105", "LL106", "LL107", "LL109"}
GUARDED = NUMERIC | {"LL108"}
TAPPED = {"LL201", "LL203", "LL204", "LL205", "LL301", "LL303", "LL304"}

# Parameter names a training step may take, and what the worker passes for each.
TRAIN_ARGS = {
    "model": "model", "net": "model", "network": "model",
    "optimizer": "optimizer", "opt": "optimizer",
    "x": "x", "inputs": "x", "features": "x", "x_batch": "x", "batch_x": "x", "images": "x",
    "y": "y", "labels": "y", "targets": "y", "y_true": "y", "y_batch": "y", "batch_y": "y",
}

_TORCH = re.compile(r"^\s*(import|from)\s+(torch|jax|flax|haiku)\b", re.M)
_TF = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|tf_keras)\b", re.M)
_LEGACY = re.compile(r"keras\s+import\s+backend|keras\.backend\b|^\s*import\s+tf_keras", re.M)
_LOGITS_WORDS = re.compile(r"logit|score|output|raw", re.I)


@dataclass
class Target:
    """One finding's probe, as sent to the worker (JSON-serialisable)."""

    index: int
    code: str
    probe: str
    line: int
    function: str | None
    kind: str  # loss | factory | loss_class | custom_gradient | train_step
    qualname: list[str]
    params: list[str]
    pred_kind: str = "probabilities"
    shape: list[int] | None = None
    patched: str | None = None
    tapped: str | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ModuleJob:
    """Everything the worker needs for one module."""

    path: str
    root: str
    module_name: str
    legacy_keras: bool
    targets: list[Target] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "root": self.root,
            "module_name": self.module_name,
            "legacy_keras": self.legacy_keras,
            "targets": [t.to_json() for t in self.targets],
        }


@dataclass
class Plan:
    jobs: list[ModuleJob]
    skipped: dict[int, str]  # finding index -> not_checked reason


def import_root(path: str) -> tuple[str, str]:
    """(sys.path entry, dotted module name) as pytest's default `prepend` import mode has them.

    The root is the first directory upwards that has no `__init__.py`.
    """
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.exists(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    if parts[-1] == "__init__":
        parts.pop()
    return directory, ".".join(parts)


def _has_default_all(args: ast.arguments, skip_self: bool = False) -> bool:
    positional = args.posonlyargs + args.args
    if skip_self:
        positional = positional[1:]
    required = len(positional) - len(args.defaults)
    kw_required = [d for d in args.kw_defaults if d is None]
    return required <= 0 and not kw_required


def _required(args: ast.arguments, skip_self: bool = False) -> list[str]:
    positional = args.posonlyargs + args.args
    if skip_self:
        positional = positional[1:]
    n = len(positional) - len(args.defaults)
    return [a.arg for a in positional[:n]]


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    names = []
    for d in node.decorator_list:
        if isinstance(d, ast.Call):
            d = d.func
        names.append(ast.unparse(d))
    return names


def _is_loss_class(node: ast.ClassDef) -> bool:
    bases = [ast.unparse(b) for b in node.bases]
    return node.name.endswith("Loss") or any(b.split(".")[-1] == "Loss" for b in bases)


def _returns_nested_function(node: ast.FunctionDef) -> bool:
    inner = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.Lambda))}
    for n in ast.walk(node):
        if isinstance(n, ast.Return) and n.value is not None:
            if isinstance(n.value, ast.Name) and n.value.id in inner:
                return True
            if isinstance(n.value, ast.Lambda):
                return True
    return False


def _pred_kind(func: ast.FunctionDef, params: list[str]) -> str:
    """Probabilities unless the prediction is named or used as logits."""
    if len(params) < 2:
        return "probabilities"
    pred = params[1]
    if _LOGITS_WORDS.search(pred):
        return "logits"
    src = ast.unparse(func)
    if re.search(rf"(sigmoid|softmax|log_softmax|softplus)\(\s*{re.escape(pred)}\b", src):
        return "logits"
    return "probabilities"


def _override(options_overrides: dict, path: str, function: str | None) -> dict:
    if not function:
        return {}
    for key in (f"{path}::{function}", f"{os.path.basename(path)}::{function}", function):
        if key in options_overrides:
            return dict(options_overrides[key])
    return {}


def _classify(
    tree: ast.Module, function: str | None, code: str
) -> tuple[str, list[str], list[str], str] | str:
    """(kind, qualname, required params, pred kind) for the code holding a finding, or a reason."""
    if not function:
        return "module-level code is not called by the probes (only functions are)"
    parts = function.split(".")
    top = {
        n.name: n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    node = top.get(parts[0])
    if node is None:
        return f"`{parts[0]}` is not defined at module level, so the worker cannot call it"
    if isinstance(node, ast.AsyncFunctionDef):
        return f"`{parts[0]}` is async"
    if isinstance(node, ast.ClassDef):
        if len(parts) < 2:
            return f"`{function}` is a class body, not a function"
        methods = {
            n.name: n for n in node.body if isinstance(n, ast.FunctionDef)
        }
        method = methods.get(parts[1])
        if method is None or parts[1] not in {"call", "__call__"} or not _is_loss_class(node):
            return (
                f"`{function}` is a method of `{node.name}`; the probes call Keras `Loss` "
                "subclasses (`call`) only"
            )
        init = methods.get("__init__")
        if init is not None and not _has_default_all(init.args, skip_self=True):
            return f"`{node.name}()` needs constructor arguments (set them as defaults to probe it)"
        params = _required(method.args, skip_self=True)
        if len(params) != 2:
            return f"`{function}` takes {len(params)} inputs, not (y_true, y_pred)"
        return "loss_class", [node.name], params, _pred_kind(method, params)
    decorators = _decorator_names(node)
    if any(d.split(".")[-1] == "custom_gradient" for d in decorators):
        params = _required(node.args)
        return "custom_gradient", [node.name], params, "real"
    if len(parts) > 1:
        # a closure: call the factory when it takes no required arguments
        if _has_default_all(node.args) and _returns_nested_function(node):
            inner = next(
                (n for n in ast.walk(node)
                 if isinstance(n, ast.FunctionDef) and n.name == parts[-1]),
                None,
            )
            params = _required(inner.args) if inner is not None else ["y_true", "y_pred"]
            return "factory", [node.name], params, _pred_kind(inner or node, params)
        return (f"`{function}` is a nested function; its enclosing `{parts[0]}` cannot be "
                "called with defaults")
    params = _required(node.args)
    if len(params) == 2 and not any(d for d in decorators if "function" not in d):
        return "loss", [node.name], params, _pred_kind(node, params)
    if len(params) == 2:
        return "loss", [node.name], params, _pred_kind(node, params)
    if params and all(p in TRAIN_ARGS for p in params) and "model" in {
        TRAIN_ARGS[p] for p in params
    }:
        return "train_step", [node.name], params, "real"
    if not params and _has_default_all(node.args) and _returns_nested_function(node):
        return "factory", [node.name], ["y_true", "y_pred"], "probabilities"
    if not params:
        return f"`{function}()` takes no inputs: not a loss, a custom gradient or a training step"
    return (
        f"cannot call `{function}({', '.join(params)})`: the probes call losses "
        "`(y_true, y_pred)`, custom gradients and training steps `(model, optimizer, x, y)`"
    )


def _framework(source: str) -> str | None:
    """None when the module is TensorFlow/Keras code, else the reason it is not checked."""
    torch = _TORCH.search(source)
    if _TF.search(source):
        return None
    if torch:
        name = torch.group(2)
        label = {"torch": "PyTorch", "jax": "JAX", "flax": "JAX (Flax)", "haiku": "JAX (Haiku)"}
        return f"{label[name]} code: the dynamic pass runs TensorFlow/Keras losses only"
    return ("the module imports neither TensorFlow nor Keras: the dynamic pass runs "
            "TensorFlow/Keras losses only")


def plan(findings: list[Finding], overrides: dict | None = None) -> Plan:
    """Group findings by module and decide each one's probe (or why it is not checked)."""
    overrides = overrides or {}
    skipped: dict[int, str] = {}
    by_path: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        if f.code not in PROBES:
            skipped[i] = f"{f.code} has no dynamic probe"
            continue
        if f.cell is not None or f.path.endswith(".ipynb"):
            skipped[i] = "notebook cells are not executed by the dynamic pass"
            continue
        by_path.setdefault(f.path, []).append(i)
    jobs: list[ModuleJob] = []
    for path, indexes in sorted(by_path.items()):
        try:
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
            for i in indexes:
                skipped[i] = f"cannot read the module: {exc}"
            continue
        reason = _framework(source)
        if reason:
            for i in indexes:
                skipped[i] = reason
            continue
        root, name = import_root(path)
        job = ModuleJob(
            path=os.path.abspath(path),
            root=root,
            module_name=name,
            legacy_keras=bool(_LEGACY.search(source)),
        )
        for i in indexes:
            f = findings[i]
            found = _classify(tree, f.function, f.code)
            if isinstance(found, str):
                skipped[i] = found
                continue
            kind, qualname, params, pred_kind = found
            if f.code in {"LL301", "LL303"} and kind not in {"loss", "train_step", "factory",
                                                             "loss_class"}:
                skipped[i] = (f"{f.code} is probed on losses and training steps, "
                              f"not on `{f.function}`")
                continue
            if kind == "train_step" and f.code not in {"LL301", "LL303", "LL201", "LL203",
                                                       "LL204", "LL205"} | NUMERIC:
                skipped[i] = f"{f.code} in a training step is not probed"
                continue
            over = _override(overrides, path, f.function)
            end = (f.end_line, f.end_column)
            target = Target(
                index=i,
                code=f.code,
                probe=PROBES[f.code],
                line=f.line,
                function=f.function,
                kind=kind,
                qualname=qualname,
                params=params,
                pred_kind=str(over.get("kind", pred_kind)),
                shape=[int(n) for n in over["shape"]] if "shape" in over else None,
            )
            if f.code in GUARDED:
                target.patched = patch_source(source, f.code, f.line, f.column, end, "guard")
            if f.code in TAPPED:
                target.tapped = patch_source(source, f.code, f.line, f.column, end, "tap")
            job.targets.append(target)
        if job.targets:
            jobs.append(job)
    return Plan(jobs=jobs, skipped=skipped)
