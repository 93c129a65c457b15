"""Probe planning: from findings to one job per module (no TensorFlow here).

For each finding the plan says which probe its rule names (README, "Dynamic
confirmation"), how the worker can call the code that holds it (a loss function,
a factory, a Keras `Loss` subclass, a `tf.custom_gradient` function, a training
step), what inputs suit it, and carries the in-memory patches that tie a failure
to the finding's node. Findings the pass cannot run get a `not_checked` reason here.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
from dataclasses import dataclass, field

from ..engine.results import Finding
from ..knowledge.names import TRAIN_STEP_ROLES, may_hold_logits, parameter_role
from .patch import flagged_expression, patch_source


def _declared_probes() -> dict[str, str]:
    """The probe each rule declares (`Rule.probe`): the one vocabulary of probe names."""
    from ..rules import all_rules

    return {cls.code: cls.probe for cls in all_rules() if cls.probe}


# rule code -> the probe it declares; the worker dispatches on the probe name (worker.PROBES)
PROBES: dict[str, str] = _declared_probes()
NUMERIC = {"LL101", "LL102", "LL103", "LL104", "LL105", "LL106", "LL107", "LL109"}
GUARDED = NUMERIC | {"LL108"}
TAPPED = {"LL201", "LL203", "LL204", "LL205", "LL301", "LL303", "LL304"}
LOSS_METHODS = ("call", "__call__", "forward", "compute_loss", "loss")

_TORCH = re.compile(r"^\s*(import|from)\s+(torch|jax|flax|haiku)\b", re.M)
_TF = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|tf_keras)\b", re.M)
_LEGACY = re.compile(r"keras\s+import\s+backend|keras\.backend\b|^\s*import\s+tf_keras", re.M)
_KERAS3 = re.compile(r"keras\s+import\s+ops\b|keras\.ops\b|keras\.src\b")


@dataclass
class Target:
    """One finding's probe, as sent to the worker (JSON-serialisable)."""

    index: int
    code: str
    probe: str
    line: int
    function: str | None
    kind: str  # loss | factory | method | custom_gradient | train_step | expression
    qualname: list[str]
    params: list[str]
    pred_kind: str = "probabilities"
    shape: list[int] | None = None
    patched: str | None = None
    tapped: str | None = None
    # how to call it: the required parameters by role (names.parameter_role), of the
    # function, of its factory and of its class's __init__ ({"name", "role"} each)
    args: list[dict] = field(default_factory=list)
    factory_args: list[dict] = field(default_factory=list)
    init_args: list[dict] = field(default_factory=list)
    init_attrs: dict = field(default_factory=dict)  # self.NAME = literal / parameter default
    method: str | None = None
    # the flagged expression alone (its text, guarded text, and the names it reads), probed
    # when the whole function cannot be called
    expression: str | None = None
    guarded_expression: str | None = None
    locals: dict = field(default_factory=dict)  # name -> {"role", "default"?}
    why_not_called: str = ""
    verify: bool = False  # re-probing a fixed finding: no patch, any failure counts

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
    framework: str = "tf"

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "root": self.root,
            "module_name": self.module_name,
            "legacy_keras": self.legacy_keras,
            "framework": self.framework,
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
    preds = [p for p in params if parameter_role(p) in {"predictions", "logits", "embeddings"}]
    if not preds and len(params) >= 2:
        preds = [params[1]]
    if not preds:
        return "probabilities"
    pred = preds[0]
    if may_hold_logits(pred):
        return "logits"
    src = ast.unparse(func)
    if re.search(rf"(sigmoid|softmax|log_softmax|softplus|cross_entropy_with_logits|"
                 rf"binary_cross_entropy_with_logits)\(\s*{re.escape(pred)}\b", src):
        return "logits"
    return "probabilities"


def _roles(names: list[str], func: ast.FunctionDef | None = None) -> list[dict]:
    """Each required parameter with its role: from its name, then from its use in `func`.
    Parameters neither explains fill the missing slots in Keras's order: labels first, then
    the prediction (one alone is the prediction)."""
    out = [{"name": n, "role": parameter_role(n)} for n in names]
    if func is not None:
        out = _roles_from_use(func, out)
    roles = {a["role"] for a in out}
    unknown = [a for a in out if a["role"] == "tensor"]
    slots = []
    if "labels" not in roles:
        slots.append("labels")
    if not roles & {"predictions", "logits", "embeddings"}:
        slots.append("predictions")
    if len(unknown) == 1 and len(slots) == 2:
        slots = ["predictions"]
    for a, slot in zip(unknown, slots, strict=False):
        a["role"] = slot
    return out


_COUNT_KEYWORDS = {"depth", "num_classes", "n_classes", "nb_classes", "num_labels"}
_TO_TENSOR = {"constant", "variable", "tensor", "as_tensor", "array", "asarray",
              "convert_to_tensor", "FloatTensor", "Tensor"}


def _roles_from_use(func: ast.FunctionDef, args: list[dict]) -> list[dict]:
    """Refine roles the names leave open from how the body uses each parameter: passed as
    `depth=`/`num_classes=` or to `range(...)`, it counts classes; turned into a tensor
    (`tf.constant(p)`, `K.variable(p)`, `torch.tensor(p)`), it holds per-class weights."""
    open_roles = {a["name"] for a in args if a["role"] in {"tensor", "hyperparameter"}}
    found: dict[str, str] = {}
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else (
            node.func.id if isinstance(node.func, ast.Name) else "")
        for kw in node.keywords:
            if kw.arg in _COUNT_KEYWORDS and isinstance(kw.value, ast.Name) and \
                    kw.value.id in open_roles:
                found[kw.value.id] = "class_count"
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Name) and first.id in open_roles:
            if name == "range":
                found[first.id] = "class_count"
            elif name in _TO_TENSOR:
                found.setdefault(first.id, "class_weights")
    return [dict(a, role=found.get(a["name"], a["role"])) for a in args]


def _literal(node: ast.expr | None) -> tuple[bool, object]:
    if node is None:
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _defaults(args: ast.arguments) -> dict[str, object]:
    """Parameter name -> literal default value."""
    out: dict[str, object] = {}
    positional = args.posonlyargs + args.args
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults,
                            strict=False):
        ok, value = _literal(default)
        if ok:
            out[arg.arg] = value
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=False):
        ok, value = _literal(default)
        if ok:
            out[arg.arg] = value
    return out


def _init_attrs(init: ast.FunctionDef | None) -> dict:
    """`self.NAME = ...` in `__init__` whose value is a literal or a parameter (by default or
    role): what a stand-in `self` holds."""
    if init is None:
        return {}
    defaults = _defaults(init.args)
    params = {a.arg for a in init.args.args[1:] + init.args.kwonlyargs}
    attrs: dict = {}
    for node in ast.walk(init):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        t = node.targets[0]
        if not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                and t.value.id == "self"):
            continue
        ok, value = _literal(node.value)
        if ok:
            attrs[t.attr] = {"value": value}
        elif isinstance(node.value, ast.Name) and node.value.id in params:
            name = node.value.id
            if name in defaults:
                attrs[t.attr] = {"value": defaults[name]}
            else:
                attrs[t.attr] = {"role": parameter_role(name)}
    return attrs


def _locals_of(func: ast.FunctionDef, expression: str, module_names: set[str]) -> dict:
    """The names the flagged expression reads that are local to `func`, with a role, and a
    default when the parameter has a literal one or a local is assigned a literal."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return {}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    defaults = _defaults(func.args)
    assigned: dict[str, object] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            ok, value = _literal(node.value)
            if ok and isinstance(value, (int, float)):
                assigned[node.targets[0].id] = value
    out: dict = {}
    for name in sorted(read):
        if name in defaults and defaults[name] is not None:
            out[name] = {"role": "value", "default": defaults[name]}
        elif name in assigned:
            out[name] = {"role": "value", "default": assigned[name]}
        elif name == "self":
            out[name] = {"role": "self"}
        elif name in module_names or name in dir(builtins):
            continue
        else:
            out[name] = {"role": parameter_role(name)}
    return out


def _chain(tree: ast.Module, function: str) -> list[ast.AST] | str:
    """The nodes along a dotted name (`Cls.method.inner`), or why it cannot be followed."""
    nodes: list[ast.AST] = []
    body: list[ast.stmt] = tree.body
    for part in function.split("."):
        found = None
        for n in body:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                    n.name == part:
                found = n
        if found is None:
            for n in body:  # a def nested in an if/with/try block of the enclosing body
                for m in ast.walk(n):
                    if isinstance(m, (ast.FunctionDef, ast.ClassDef)) and m.name == part:
                        found = m
                        break
                if found is not None:
                    break
        if found is None:
            return f"`{part}` of `{function}` could not be found"
        nodes.append(found)
        body = found.body
    return nodes


def _classify(tree: ast.Module, function: str | None, code: str) -> Target | str:
    """How the worker calls the code holding a finding (a partial `Target`), or why not."""
    if not function:
        return "module-level code is not called by the probes (only functions are)"
    chain = _chain(tree, function)
    if isinstance(chain, str):
        return chain
    t = Target(index=-1, code=code, probe="", line=0, function=function, kind="",
               qualname=[], params=[])
    head = chain[0]
    func = chain[-1]
    if isinstance(func, ast.ClassDef):
        return f"`{function}` is a class body, not a function"
    if any(isinstance(n, ast.AsyncFunctionDef) for n in chain):
        return f"`{function}` is async"
    assert isinstance(func, ast.FunctionDef)
    if isinstance(head, ast.ClassDef):
        methods = {n.name: n for n in head.body if isinstance(n, ast.FunctionDef)}
        init = methods.get("__init__")
        t.init_args = _roles(_required(init.args, skip_self=True)) if init else []
        t.init_attrs = _init_attrs(init)
        bases = [ast.unparse(b).split(".")[-1] for b in head.bases]
        if "Function" in bases and len(chain) == 2 and chain[1].name in {"forward", "backward"}:
            forward = methods.get("forward")
            params = _required(forward.args)[1:] if forward else []
            t.kind, t.qualname, t.params = "custom_gradient", [head.name], params
            t.method = "apply"
            return t
        method = chain[1]
        assert isinstance(method, ast.FunctionDef)
        is_static = any(ast.unparse(d) == "staticmethod" for d in method.decorator_list)
        t.qualname, t.method = [head.name], method.name
        if len(chain) == 3 and _returns_nested_function(method):
            # a method that builds and returns the loss: call it on an instance, then the loss
            inner = chain[2]
            assert isinstance(inner, ast.FunctionDef)
            params = _required(inner.args)
            t.kind, t.params, t.args = "method_factory", params, _roles(params)
            t.factory_args = _roles(_required(method.args, skip_self=not is_static))
            t.pred_kind = _pred_kind(inner, params)
            return t
        if len(chain) > 2:
            t.why_not_called = f"`{function}` is a function nested in a method"
            t.kind = "expression"
            return t
        params = _required(method.args, skip_self=not is_static)
        t.kind, t.params, t.args = "method", params, _roles(params, method)
        t.pred_kind = _pred_kind(method, params)
        return t
    decorators = _decorator_names(head)  # type: ignore[arg-type]
    if any(d.split(".")[-1] == "custom_gradient" for d in decorators):
        t.kind, t.qualname, t.params = "custom_gradient", [head.name], _required(head.args)  # type: ignore[union-attr]
        t.pred_kind = "real"
        return t
    assert isinstance(head, ast.FunctionDef)
    if len(chain) > 1:
        inner = func
        if _returns_nested_function(head) and len(chain) == 2:
            params = _required(inner.args)
            t.kind, t.qualname, t.params = "factory", [head.name], params
            t.args = _roles(params, inner)
            t.factory_args = _roles(_required(head.args), head)
            t.pred_kind = _pred_kind(inner, params)
            return t
        t.kind, t.qualname = "expression", [head.name]
        t.why_not_called = f"`{function}` is a nested function that `{head.name}` does not return"
        return t
    params = _required(head.args)
    if params and all(p in TRAIN_STEP_ROLES for p in params) and "model" in {
            TRAIN_STEP_ROLES[p] for p in params}:
        t.kind, t.qualname, t.params, t.pred_kind = "train_step", [head.name], params, "real"
        return t
    if not params and _returns_nested_function(head):
        t.kind, t.qualname, t.params = "factory", [head.name], ["y_true", "y_pred"]
        t.args = _roles(t.params)
        return t
    if not params:
        t.kind, t.qualname = "expression", [head.name]
        t.why_not_called = f"`{function}()` takes no inputs"
        return t
    t.kind, t.qualname, t.params = "loss", [head.name], params
    t.args = _roles(params, head)
    t.pred_kind = _pred_kind(head, params)
    return t


def _framework(source: str) -> tuple[str | None, str]:
    """("tf" or "torch", "") for TensorFlow/Keras or PyTorch code, else (None, the reason)."""
    torch = _TORCH.search(source)
    if _TF.search(source):
        return "tf", ""
    if torch:
        name = torch.group(2)
        if name == "torch":
            return "torch", ""
        label = {"jax": "JAX", "flax": "JAX (Flax)", "haiku": "JAX (Haiku)"}
        return None, f"{label[name]} code: the dynamic pass runs TensorFlow/Keras and PyTorch"
    return None, ("the module imports neither TensorFlow, Keras nor PyTorch: nothing for the "
                  "dynamic pass to run")


def _override(options_overrides: dict, path: str, function: str | None) -> dict:
    if not function:
        return {}
    for key in (f"{path}::{function}", f"{os.path.basename(path)}::{function}", function):
        if key in options_overrides:
            return dict(options_overrides[key])
    return {}


def plan(findings: list[Finding], overrides: dict | None = None, verify: bool = False) -> Plan:
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
        framework, reason = _framework(source)
        if framework is None:
            for i in indexes:
                skipped[i] = reason
            continue
        root, name = import_root(path)
        job = ModuleJob(
            path=os.path.abspath(path),
            root=root,
            module_name=name,
            legacy_keras=framework == "tf" and bool(_LEGACY.search(source))
            and not _KERAS3.search(source),
            framework=framework,
        )
        module_names = _module_names(tree)
        for i in indexes:
            f = findings[i]
            found = _classify(tree, f.function, f.code)
            if isinstance(found, str):
                found = _expression_only(tree, f.function, found)
            if isinstance(found, str):
                skipped[i] = found
                continue
            target = found
            target.index, target.code, target.probe, target.line = i, f.code, PROBES[f.code], \
                f.line
            end = (f.end_line, f.end_column)
            if f.code in NUMERIC:
                expr = flagged_expression(source, f.code, f.line, f.column, end)
                if expr is not None:
                    target.expression, target.guarded_expression = expr
                    func = _function_node(tree, f.function)
                    target.locals = _locals_of(func, expr[0], module_names) if func else {}
            if target.kind == "expression":
                if f.code not in NUMERIC or target.expression is None:
                    skipped[i] = (f"{target.why_not_called}; {f.code}'s probe needs the whole "
                                  "function")
                    continue
            if f.code == "LL402" and len(target.args) == 2:
                # Keras passes (y_true, y_pred) by position, whatever the names say
                target.args = [{"name": target.args[0]["name"], "role": "labels"},
                               {"name": target.args[1]["name"], "role": "predictions"}]
            if f.code in {"LL301", "LL303"} and target.kind not in {
                    "loss", "train_step", "factory", "method", "method_factory"}:
                skipped[i] = (f"{f.code} is probed on losses and training steps, "
                              f"not on `{f.function}`")
                continue
            if target.kind == "train_step" and f.code not in {"LL301", "LL303", "LL201", "LL203",
                                                              "LL204", "LL205"} | NUMERIC:
                skipped[i] = f"{f.code} in a training step is not probed"
                continue
            if target.kind == "custom_gradient" and f.code != "LL202":
                target.kind = "expression" if f.code in NUMERIC and target.expression else ""
                if not target.kind:
                    skipped[i] = f"{f.code} inside a custom gradient is not probed"
                    continue
            over = _override(overrides, path, f.function)
            if "kind" in over:
                target.pred_kind = str(over["kind"])
            if "shape" in over:
                target.shape = [int(n) for n in over["shape"]]
            target.verify = verify
            if f.code in GUARDED and not verify:
                target.patched = patch_source(source, f.code, f.line, f.column, end, "guard")
            if f.code in TAPPED:
                target.tapped = patch_source(source, f.code, f.line, f.column, end, "tap")
            job.targets.append(target)
        if job.targets:
            jobs.append(job)
    return Plan(jobs=jobs, skipped=skipped)


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound at module level (imports, defs, assignments): globals, not locals."""
    names: set[str] = set()
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try, ast.With)) else [node]:
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Assign):
                names |= {t.id for t in sub.targets if isinstance(t, ast.Name)}
    return names


def _function_node(tree: ast.Module, function: str | None) -> ast.FunctionDef | None:
    if not function:
        return None
    chain = _chain(tree, function)
    if isinstance(chain, str) or not isinstance(chain[-1], ast.FunctionDef):
        return None
    return chain[-1]


def _expression_only(tree: ast.Module, function: str | None, reason: str) -> Target | str:
    """A target that probes the flagged expression alone, when the function cannot be called
    (the worker still tries nothing else); `reason` says why not."""
    if _function_node(tree, function) is None:
        return reason
    return Target(index=-1, code="", probe="", line=0, function=function, kind="expression",
                  qualname=[], params=[], why_not_called=reason)
