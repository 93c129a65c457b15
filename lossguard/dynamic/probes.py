"""The probes, run inside the worker process (this module imports TensorFlow).

Each probe takes a target (one finding, planned by `plan.py`) and the namespaces it
can call (the user's module, and copies with the finding's node guarded or tapped),
and returns a result dict: status, probe, summary, evidence, reason. A failure is
confirmed only when it is tied to the finding's node: the traceback of the failing
forward op names its line, or the same probe with that one node guarded no longer
fails (README, "Dynamic confirmation").
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..knowledge.names import TRAIN_STEP_ROLES, hyperparameter_value
from .backend import EXPLODE, SEED, Backend, Eval, fmt, num  # noqa: F401 - re-exported
from .backend import short as _short

TRAIN_SETUP = (
    "Dense(1) on 512 samples, x ~ U(-1, 1), y = 3x + 2 + 0.1 N(0, 1); "
    "Adam(learning_rate=0.05), 30 epochs, batch 32, seed 0"
)

# The framework the worker runs in (`use` sets it before any probe runs).
B: Backend = None  # type: ignore[assignment]
HELPERS: dict[str, Callable[[Any], Any]] = {}


def use(backend: Backend) -> None:
    """Run the probes in `backend` (TensorFlow or PyTorch)."""
    global B
    B = backend
    HELPERS.clear()
    HELPERS.update(backend.helpers())


def result(status: str, probe: str, summary: str = "", evidence: dict | None = None,
           reason: str = "") -> dict:
    return {"status": status, "probe": probe, "summary": summary, "evidence": evidence or {},
            "reason": reason}


# --------------------------------------------------------------------------- inputs


@dataclass
class Scenario:
    name: str
    text: str
    y_true: np.ndarray
    y_pred: np.ndarray
    dtype: str = "float32"


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def base_arrays(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    n = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
    c = shape[-1] if len(shape) > 1 else 1
    if c > 1:
        onehot = np.eye(c)[np.arange(n) % c].reshape(shape)
    else:
        onehot = (np.arange(n) % 2).reshape(shape).astype(float)
    normal = rng.normal(size=shape)
    probs = _softmax(normal) if c > 1 else 1 / (1 + np.exp(-normal))
    cont = rng.uniform(0.1, 0.9, size=shape)
    return {"onehot": onehot, "normal": normal, "probs": probs, "cont": cont}


def scenarios(shape: tuple[int, ...], pred_kind: str) -> list[Scenario]:
    a = base_arrays(shape)
    onehot, normal, probs, cont = a["onehot"], a["normal"], a["probs"], a["cont"]
    zeros = np.zeros(shape)
    if pred_kind == "logits":
        typical = ("typical inputs (one-hot y_true, logits ~ 2 N(0, 1))", onehot, 2 * normal)
    elif pred_kind == "regression":
        typical = ("typical inputs (y_true, y_pred ~ N(0, 1))", normal, a["cont"] * 2 - 1)
    else:
        typical = ("typical inputs (one-hot y_true, y_pred softmax probabilities)", onehot, probs)
    out = [
        Scenario("typical", *typical),
        Scenario("zero_at_target", "y_pred = 0 at the true class", onehot, probs * (1 - onehot)),
        Scenario("pred_zero", "y_pred = 0, y_true in (0.1, 0.9)", cont, zeros.copy()),
        Scenario("exact_match", "y_pred == y_true (exact 0 and 1)", onehot, onehot.copy()),
        Scenario("exact_wrong", "y_pred = 1 - y_true (exact 0 and 1)", onehot, 1 - onehot),
        Scenario("equal_cont", "y_true == y_pred (values in (0.1, 0.9))", cont, cont.copy()),
        Scenario("empty", "empty masks (y_true = y_pred = 0)", zeros, zeros.copy()),
        Scenario("zero_true", "y_true = 0, y_pred in (0, 1)", zeros, probs),
        Scenario("negative", "negative predictions (y_pred = -|N(0, 1)|)", onehot, -np.abs(normal)),
        Scenario("sat_mixed", "saturated logits (+100 at the true class, -100 elsewhere)", onehot,
                 (2 * onehot - 1) * 100),
        Scenario("sat_wrong", "saturated logits (-100 at the true class, +100 elsewhere)", onehot,
                 (1 - 2 * onehot) * 100),
        Scenario("sat_pos", "saturated logits (y_pred = +100)", onehot, np.full(shape, 100.0)),
        Scenario("sat_neg", "saturated logits (y_pred = -100)", onehot, np.full(shape, -100.0)),
    ]
    for s in list(out[1:4]):
        out.append(Scenario("f16_" + s.name, s.text + " in float16", s.y_true, s.y_pred, "float16"))
    return out


ORDER = {
    "LL101": ["zero_at_target", "pred_zero", "exact_wrong", "exact_match", "zero_true",
              "equal_cont", "empty"],
    "LL102": ["empty", "zero_true", "exact_match", "equal_cont", "typical", "zero_at_target"],
    "LL103": ["equal_cont", "exact_match", "empty", "zero_true", "typical"],
    "LL104": ["sat_mixed", "sat_wrong", "sat_pos", "sat_neg"],
    "LL105": ["equal_cont", "exact_match", "negative", "empty", "zero_true"],
    "LL106": ["zero_at_target", "exact_wrong", "exact_match", "f16_zero_at_target",
              "f16_exact_wrong", "f16_exact_match"],
    "LL107": ["sat_mixed", "sat_wrong", "sat_neg", "sat_pos", "zero_at_target", "exact_wrong",
              "exact_match"],
    "LL109": ["equal_cont", "exact_match", "empty", "zero_true", "typical"],
}


def ordered(code: str, all_scenarios: list[Scenario]) -> list[Scenario]:
    first = ORDER.get(code, [])
    by_name = {s.name: s for s in all_scenarios}
    picked = [by_name[n] for n in first if n in by_name]
    rest = [s for s in all_scenarios if s.name not in first]
    if code != "LL106":
        rest = [s for s in rest if s.dtype == "float32"]
    return picked + rest


SHAPES = [(8, 4), (8, 1), (8, 6, 6, 1), (8,), (8, 3, 6, 6), (8, 16)]

# --------------------------------------------------------------------------- evaluation


def evaluate(fn: Callable, y_true: np.ndarray, y_pred: np.ndarray, dtype: str = "float32",
             tap_grads: bool = False) -> Eval:
    """Loss and d loss/d y_pred (of the summed loss) at one input, with taps recorded."""
    return B.evaluate(fn, y_true, y_pred, dtype, tap_grads)


def failing_op(fn: Callable, y_true: np.ndarray, y_pred: np.ndarray, dtype: str, path: str,
               backward: bool) -> tuple[str | None, int | None]:
    """The op (and user line) where the first Inf/NaN appears."""
    return B.failing_op(fn, y_true, y_pred, dtype, path, backward)


def _to_numpy(x: Any) -> np.ndarray:
    return B.to_numpy(x)


def find_shape(fn: Callable, target: dict) -> tuple[tuple[int, ...] | None, str]:
    """The first probe shape the loss accepts at typical inputs (or the override)."""
    shapes = [tuple(target["shape"])] if target.get("shape") else SHAPES
    state = getattr(fn, "label_state", None)
    formats = ["dense", "sparse"] if getattr(fn, "wants_sparse", False) else ["dense"]
    errors = []
    for shape in shapes:
        for form in formats:
            if state is not None:
                state["labels"] = form
            s = scenarios(shape, target["pred_kind"])[0]
            ev = evaluate(fn, s.y_true, s.y_pred)
            if ev.error is None and ev.loss is not None:
                return shape, ""
            errors.append(f"{shape}{' class-index labels' if form == 'sparse' else ''}: "
                          f"{ev.error}")
    if state is not None:
        state["labels"] = "dense"
    return None, "; ".join(errors[:2])


# --------------------------------------------------------------------------- probes


def probe_numeric(target: dict, fn: Callable, patched: Callable | None, path: str) -> dict:
    """Drive the flagged operand to its bad point; tie the failure by guarding the node."""
    probe = target["probe"]
    shape, why = find_shape(fn, target)
    if shape is None:
        return result("not_checked", probe, reason=f"the loss raised at every probe shape: {why}")
    seen: list[str] = []
    persisted: list[str] = []
    tried = 0
    for s in ordered(target["code"], scenarios(shape, target["pred_kind"])):
        tried += 1
        ev = evaluate(fn, s.y_true, s.y_pred, s.dtype)
        if ev.error is not None or not ev.failing:
            continue
        problem = ev.problem
        seen.append(f"{problem} when {s.text}")
        if target.get("verify"):
            return result("confirmed", probe, f"{problem} when {s.text}",
                          {"inputs": s.text, "shape": list(shape), "dtype": s.dtype,
                           "loss": num(np.mean(ev.loss)), "scenarios_tried": tried})
        if patched is None:
            continue
        ev2 = evaluate(patched, s.y_true, s.y_pred, s.dtype)
        if ev2.error is not None or ev2.failing:
            persisted.append(f"{problem} when {s.text}")
            continue
        forward = not np.all(np.isfinite(ev.loss))
        op, op_line = failing_op(fn, s.y_true, s.y_pred, s.dtype, path, backward=not forward)
        where = ""
        if op and forward and op_line:
            where = f" ({op} at line {op_line})"
        elif op:
            where = f" ({op} in the backward pass; line {target['line']} guarded: finite)"
        else:
            where = f" (line {target['line']} guarded: finite)"
        evidence = {
            "inputs": s.text,
            "shape": list(shape),
            "dtype": s.dtype,
            "loss": num(np.mean(ev.loss)),
            "grad_norm": num(ev.grad_norm) if ev.grad_norm is not None else None,
            "grad_nonfinite": int(np.sum(~np.isfinite(ev.grad))) if ev.grad is not None else 0,
            "grad_max_abs": num(np.max(np.abs(ev.grad[np.isfinite(ev.grad)])))
            if ev.grad is not None and np.any(np.isfinite(ev.grad)) else None,
            "failing_op": op,
            "failing_line": op_line if forward else None,
            "guarded_loss": num(np.mean(ev2.loss)),
            "guarded_grad_norm": num(ev2.grad_norm) if ev2.grad_norm is not None else None,
            "scenarios_tried": tried,
        }
        evidence["plot"] = sweep(fn, scenarios(shape, target["pred_kind"])[0], s)
        return result("confirmed", probe, f"{problem} when {s.text}{where}", evidence)
    if persisted:
        return result("not_reproduced", probe, reason=(
            f"a failure was seen but persists with line {target['line']} guarded, so it comes from "
            f"elsewhere: {persisted[0]}"), evidence={"seen": persisted[:3]})
    if seen:
        return result("not_reproduced", probe, reason=(
            f"a failure was seen but the node at line {target['line']} could not be guarded to "
            f"tie it: {seen[0]}"), evidence={"seen": seen[:3]})
    return result("not_reproduced", probe, reason=(
        f"loss and d loss/d y_pred stayed finite on all {tried} probe inputs "
        f"(shape {list(shape)})"), evidence={"scenarios_tried": tried, "shape": list(shape)})


def sweep(fn: Callable, typical: Scenario, bad: Scenario) -> dict:
    """Loss and gradient norm on the way from typical inputs to the failing ones."""
    ts = [10.0 ** e for e in range(0, -9, -1)] + [0.0]
    loss, gnorm = [], []
    for t in ts:
        yt = bad.y_true + t * (typical.y_true - bad.y_true)
        yp = bad.y_pred + t * (typical.y_pred - bad.y_pred)
        ev = evaluate(fn, yt, yp, bad.dtype)
        loss.append(num(np.mean(ev.loss)) if ev.loss is not None else None)
        gnorm.append(num(ev.grad_norm) if ev.grad_norm is not None else None)
    return {"kind": "sweep", "x": ts, "x_label": "distance t from the failing inputs "
            "(inputs = failing + t (typical - failing))", "loss": loss, "grad_norm": gnorm}


def pinned_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1, 1, size=(512, 1)).astype("float32")
    y = (3 * x + 2 + 0.1 * rng.normal(size=(512, 1))).astype("float32")
    return x, y


def fit(loss: Any, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> dict:
    """The pinned training run: Dense(1), Adam(0.05), 30 epochs, batch 32, seed 0."""
    if B.name == "torch":
        return _fit_torch(loss, x, y, sample_weight)
    keras = B.tf.keras
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss=loss)
    mse_curve: list[float | str] = []

    def on_epoch_end(epoch: int, logs: dict | None = None) -> None:
        pred = model(x, training=False)
        mse_curve.append(num(np.mean((np.asarray(pred) - y) ** 2)))

    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0, shuffle=True,
                        sample_weight=sample_weight,
                        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)])
    w, b = model.layers[-1].get_weights()
    pred = np.asarray(model(x, training=False))
    return {"mse": float(np.mean((pred - y) ** 2)), "w": float(np.ravel(w)[0]),
            "b": float(np.ravel(b)[0]),
            "loss_curve": [num(v) for v in history.history["loss"]], "mse_curve": mse_curve}


def _fit_torch(loss: Any, x: np.ndarray, y: np.ndarray,
               sample_weight: np.ndarray | None = None) -> dict:
    """The same pinned run in PyTorch: Linear(1, 1), Adam(0.05), 30 epochs, batch 32, seed 0;
    a sample weight scales each sample's loss (the loss is called per batch, as Keras does)."""
    torch = B.torch
    torch.manual_seed(SEED)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = torch.tensor(x), torch.tensor(y)
    sw = None if sample_weight is None else torch.tensor(sample_weight)
    mse = torch.nn.functional.mse_loss if loss == "mse" else None
    gen = torch.Generator().manual_seed(SEED)
    losses, mse_curve = [], []
    for _ in range(30):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), 32):
            idx = order[i:i + 32]
            pred = model(xt[idx])
            if mse is not None:
                per = ((pred - yt[idx]) ** 2).mean(dim=-1)
            else:
                per = loss(yt[idx], pred)
                per = per if per.dim() == 0 else per.reshape(per.shape[0], -1).mean(dim=-1)
            value = (per * sw[idx]).sum() / sw[idx].sum() if sw is not None and per.dim() else \
                per.mean()
            opt.zero_grad()
            value.backward()
            opt.step()
            total += float(value)
        losses.append(num(total / ((len(xt) + 31) // 32)))
        with torch.no_grad():
            mse_curve.append(num(float(((model(xt) - yt) ** 2).mean())))
    with torch.no_grad():
        final = float(((model(xt) - yt) ** 2).mean())
    return {"mse": final, "w": float(model.weight.detach().ravel()[0]),
            "b": float(model.bias.detach().ravel()[0]), "loss_curve": losses,
            "mse_curve": mse_curve}


def _keras_version() -> str:
    if B.name == "torch":
        return f"torch {B.version}"
    from .tfenv import keras_version

    return keras_version()


def probe_training(target: dict, fn: Any, patched: Any) -> dict:
    """LL108: fit with the user's loss and with MSE; tie by refitting with the node fixed."""
    probe = target["probe"]
    x, y = pinned_data()
    user = fit(fn, x, y)
    ref = fit("mse", x, y)
    ratio = user["mse"] / max(ref["mse"], 1e-12)
    evidence: dict[str, Any] = {
        "setup": TRAIN_SETUP,
        "keras": _keras_version(),
        "mse": num(user["mse"]), "mse_reference": num(ref["mse"]), "ratio": num(ratio, 3),
        "bias": num(user["b"]), "weight": num(user["w"]), "bias_expected": 2.0,
        "weight_expected": 3.0, "bias_reference": num(ref["b"]),
    }
    plot = {"kind": "training", "epochs": list(range(1, 31)), "user_mse": user["mse_curve"],
            "reference_mse": ref["mse_curve"], "user_loss": user["loss_curve"],
            "reference_loss": ref["loss_curve"]}
    summary = (f"training MSE {fmt(user['mse'])} vs {fmt(ref['mse'])} with MSE; "
               f"bias {fmt(user['b'])}, expected 2.0")
    if patched is not None:
        fixed = fit(patched, x, y)
        evidence["mse_fixed"] = num(fixed["mse"])
        evidence["bias_fixed"] = num(fixed["b"])
        plot["fixed_mse"] = fixed["mse_curve"]
    evidence["plot"] = plot
    if ratio < 10 and abs(user["b"] - 2.0) < 0.5:
        return result("not_reproduced", probe, summary, evidence,
                      reason=f"the loss trained to MSE {fmt(user['mse'])} "
                      f"({fmt(ratio)}x the MSE baseline), bias {fmt(user['b'])}")
    if patched is None:
        return result("not_reproduced", probe, summary, evidence, reason=(
            f"training degraded ({summary}) but line {target['line']} could not be patched "
            "to tie it to the finding"))
    fixed_ratio = evidence["mse_fixed"]
    if isinstance(fixed_ratio, str) or fixed["mse"] > max(10 * ref["mse"], user["mse"] / 10):
        return result("not_reproduced", probe, summary, evidence, reason=(
            f"training degraded but stays degraded with the log's offset at line "
            f"{target['line']} raised to 1 (MSE {fmt(fixed['mse'])}): the cause is elsewhere"))
    summary += f" (offset at line {target['line']} raised to 1: MSE {fmt(fixed['mse'])})"
    return result("confirmed", probe, summary, evidence)


def probe_weighted(target: dict, fn: Any) -> dict:
    """LL302: a batch-reduced loss returns a scalar and ignores sample weights."""
    probe = target["probe"]
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1, 1, size=(512, 1)).astype("float32")
    half = np.arange(512) % 2 == 0
    y = np.where(half[:, None], 3 * x + 2, -3 * x - 2).astype("float32")
    y += (0.1 * rng.normal(size=(512, 1))).astype("float32")
    sw = half.astype("float32")
    shape_ev = evaluate(fn if not hasattr(fn, "call") else fn.call, y[:8], y[:8] + 0.5)
    user = fit(fn, x, y, sw)
    ref = fit("mse", x, y, sw)
    evidence = {
        "setup": TRAIN_SETUP + "; half the samples weighted 0 (those follow y = -3x - 2)",
        "loss_shape": list(shape_ev.loss_shape), "weight": num(user["w"]), "bias": num(user["b"]),
        "weight_reference": num(ref["w"]), "bias_reference": num(ref["b"]),
    }
    err = abs(user["w"] - 3) + abs(user["b"] - 2)
    ref_err = abs(ref["w"] - 3) + abs(ref["b"] - 2)
    summary = (f"loss returns shape {tuple(shape_ev.loss_shape)}; with half the samples weighted 0 "
               f"it learned w={fmt(user['w'])}, b={fmt(user['b'])} (per-sample MSE: "
               f"w={fmt(ref['w'])}, b={fmt(ref['b'])}; weighted target w=3, b=2)")
    if len(shape_ev.loss_shape) == 0 and err > 1.0 and ref_err < 0.5:
        return result("confirmed", probe, summary, evidence)
    return result("not_reproduced", probe, summary, evidence,
                  reason="the sample weights still steer the fit")


def probe_discarded(target: dict, tapped: Callable | None, fn: Callable) -> dict:
    """LL201: the returned loss's gradient does not depend on the discarded value."""
    probe = target["probe"]
    if tapped is None:
        return result("not_checked", probe, reason="could not locate the assignment to tap it")
    s, skipped = typical_inputs(fn, target)
    if skipped is not None:
        return skipped
    ev = evaluate(tapped, s.y_true, s.y_pred, tap_grads=True)
    outs = [i for i, (tag, _) in enumerate(ev.taps) if tag == "out"]
    if ev.error or not outs:
        return result("not_reproduced", probe, reason=ev.error or
                      f"line {target['line']} did not run at typical inputs")
    i = outs[-1]
    value = ev.taps[i][1]
    to_loss = ev.tap_grads_to_loss[i]
    evidence = {
        "discarded_value": num(np.mean(np.abs(_to_numpy(value)))) if value is not None else None,
        "d_loss_d_discarded": num(to_loss) if to_loss is not None else None,
        "grad_norm": num(ev.grad_norm) if ev.grad_norm is not None else None,
        "inputs": s.text,
    }
    if to_loss is None or to_loss == 0.0:
        return result("confirmed", probe, (
            f"the value computed at line {target['line']} "
            f"(mean |value| {fmt(evidence['discarded_value'])}) "
            f"never reaches the returned loss: d loss/d value = "
            f"{'None' if to_loss is None else 0}; the loss's gradient comes from elsewhere "
            f"(norm {fmt(ev.grad_norm or 0)})"), evidence)
    return result("not_reproduced", probe, reason=(
        f"the value at line {target['line']} reaches the loss "
        f"(d loss/d value norm {fmt(to_loss)})"),
        evidence=evidence)


def typical_inputs(fn: Callable, target: dict, kind: str | None = None
                   ) -> tuple[Any, dict | None]:
    """The first probe scenario at a shape the loss accepts, or (None, the `not_checked` result
    saying why no shape worked)."""
    shape, why = find_shape(fn, target)
    if shape is None:
        return None, result("not_checked", target["probe"],
                            reason=f"the loss raised at every probe shape: {why}")
    return scenarios(shape, kind or target["pred_kind"])[0], None


def probe_gradient_path(target: dict, tapped: Callable | None, fn: Callable) -> dict:
    """LL203/LL204/LL205: no gradient reaches y_pred, and it stops at the flagged node."""
    probe = target["probe"]
    s, skipped = typical_inputs(fn, target)
    if skipped is not None:
        return skipped
    ev = evaluate(fn, s.y_true, s.y_pred)
    norm = ev.grad_norm
    evidence: dict[str, Any] = {"inputs": s.text, "loss": num(np.mean(ev.loss)),
                                "grad": None if norm is None else num(norm)}
    if target["code"] == "LL204" and B.name == "tf":
        try:
            tf = B.tf
            tf.function(fn)(tf.constant(s.y_true, tf.float32), tf.constant(s.y_pred, tf.float32))
            evidence["graph_mode"] = "ran"
        except Exception as exc:  # noqa: BLE001
            evidence["graph_mode"] = f"{type(exc).__name__}: {_short(str(exc), 120)}"
    if norm is not None and norm > 0:
        return result("not_reproduced", probe, reason=(
            f"d loss/d y_pred is finite and nonzero (norm {fmt(norm)}) at {s.text}"),
            evidence=evidence)
    got = "None" if norm is None else "0"
    tie = ""
    if tapped is not None:
        tev = evaluate(tapped, s.y_true, s.y_pred, tap_grads=True)
        ins = [g for (tag, _), g in zip(tev.taps, tev.tap_grads, strict=False) if tag == "in"]
        outs = [g for (tag, _), g in zip(tev.taps, tev.tap_grads, strict=False) if tag == "out"]
        reached = [g for g in ins if g]
        if reached and all(not g for g in outs):
            tie = (f"; the gradient reaches an operand at line {target['line']} "
                   f"(norm {fmt(max(reached))}) and stops at that node")
            evidence["operand_grad"] = num(max(reached))
    if not tie:
        return result("not_reproduced", probe, reason=(
            f"d loss/d y_pred is {got}, but the stop could not be tied to line {target['line']}"),
            evidence=evidence)
    summary = f"d loss/d y_pred = {got} at {s.text}{tie}"
    if "graph_mode" in evidence and evidence["graph_mode"] != "ran":
        summary += f"; in tf.function: {evidence['graph_mode'].split(':')[0]}"
    return result("confirmed", probe, summary, evidence)


def probe_autograd_function(target: dict, fn: Callable) -> dict:
    """LL202 in PyTorch: `torch.autograd.gradcheck` on `Function.apply` (float64 inputs),
    and whether the backward scales with the upstream gradient."""
    torch = B.torch
    probe = target["probe"]
    n = max(1, len(target["params"]))
    rng = np.random.default_rng(SEED)
    xs = [torch.tensor(rng.uniform(0.5, 1.5, size=(3,)), dtype=torch.float64,
                       requires_grad=True) for _ in range(n)]
    try:
        out = fn(*xs)
        out = out[0] if isinstance(out, (tuple, list)) else out
        g1 = torch.autograd.grad(out.sum(), xs, retain_graph=True, allow_unused=True)
        g2 = torch.autograd.grad((2.0 * out).sum(), xs, allow_unused=True)
    except Exception as exc:  # noqa: BLE001
        msg = f"{type(exc).__name__}: {_short(str(exc), 160)}"
        if "backward" in msg or "Function" in msg:
            return result("confirmed", probe, f"calling `{target['function']}` and its backward "
                          f"fails: {msg}", {"error": msg})
        return result("not_checked", probe, reason=f"calling `{target['function']}` raised {msg}")
    ignored = all(a is not None and b is not None and torch.allclose(a, b) and bool(a.abs().sum())
                  for a, b in zip(g1, g2, strict=False))
    evidence: dict[str, Any] = {"upstream_ignored": bool(ignored), "inputs": "float64 U(0.5, 1.5)"}
    try:
        ok = torch.autograd.gradcheck(fn, tuple(xs), eps=1e-6, atol=1e-4, rtol=1e-3,
                                      raise_exception=True)
        err_text = ""
    except Exception as exc:  # noqa: BLE001 - gradcheck raises GradcheckError with the numbers
        ok, err_text = False, _short(str(exc), 240)
    evidence["gradcheck"] = "passed" if ok else err_text
    if ignored:
        return result("confirmed", probe, "the backward ignores the upstream gradient: "
                      "d(2 f)/dx = d f/dx (torch.autograd.gradcheck: "
                      f"{'passed' if ok else 'failed'})", evidence)
    if not ok:
        return result("confirmed", probe, f"torch.autograd.gradcheck fails: {err_text}",
                      evidence)
    return result("not_reproduced", probe, reason=(
        "torch.autograd.gradcheck passes (float64, eps 1e-6) and the backward scales with the "
        "upstream gradient"), evidence=evidence)


def probe_custom_gradient(target: dict, fn: Callable, path: str) -> dict:
    """LL202: the custom gradient's contract, against finite differences."""
    if B.name == "torch":
        return probe_autograd_function(target, fn)
    tf = B.tf
    probe = target["probe"]
    n = max(1, len(target["params"]))
    rng = np.random.default_rng(SEED)
    xs = [tf.constant(rng.uniform(0.5, 1.5, size=(3,)).astype("float32")) for _ in range(n)]

    def contract_error(exc: BaseException) -> bool:
        return any("custom_gradient" in f.filename for f in traceback.extract_tb(exc.__traceback__))

    try:
        with tf.GradientTape(persistent=True) as tape:
            for x in xs:
                tape.watch(x)
            y = fn(*xs)
            y1 = tf.reduce_sum(y)
            y2 = tf.reduce_sum(2.0 * y)
        g1 = tape.gradient(y1, xs)
        g2 = tape.gradient(y2, xs)
    except Exception as exc:  # noqa: BLE001
        msg = f"{type(exc).__name__}: {_short(str(exc), 160)}"
        if contract_error(exc):
            return result("confirmed", probe, f"calling `{target['function']}` with its gradient "
                          f"fails in tf.custom_gradient: {msg}", {"error": msg})
        return result("not_checked", probe, reason=f"calling `{target['function']}` raised {msg}")
    evidence: dict[str, Any] = {}
    ignored = all(
        a is not None and b is not None and np.allclose(_to_numpy(a), _to_numpy(b))
        and np.any(_to_numpy(a) != 0)
        for a, b in zip(g1, g2, strict=False)
    )
    evidence["upstream_ignored"] = bool(ignored)
    try:
        theoretical, numerical = tf.test.compute_gradient(fn, xs, delta=1e-3)
        err = 0.0
        for t_, n_ in zip(theoretical, numerical, strict=False):
            t_, n_ = np.asarray(t_, np.float64), np.asarray(n_, np.float64)
            scale = max(np.max(np.abs(n_)), 1e-6)
            err = max(err, float(np.max(np.abs(t_ - n_)) / scale))
        evidence["max_relative_error"] = num(err)
    except Exception as exc:  # noqa: BLE001
        msg = f"{type(exc).__name__}: {_short(str(exc), 160)}"
        if contract_error(exc):
            return result("confirmed", probe, "tf.custom_gradient rejects "
                          f"`{target['function']}`'s "
                          f"gradient: {msg}", {"error": msg})
        return result("not_checked", probe, reason=f"compute_gradient raised {msg}")
    if ignored:
        return result("confirmed", probe, (
            "the custom gradient ignores the upstream gradient: d(2 f)/dx = d f/dx; max relative "
            f"error against finite differences {fmt(err)}"), evidence)
    if err > 1e-2:
        return result("confirmed", probe, (
            f"custom gradient differs from finite differences: max relative error {fmt(err)}"),
            evidence)
    return result("not_reproduced", probe, reason=(
        f"the custom gradient matches finite differences (max relative error {fmt(err)}) and "
        "scales with the upstream gradient"), evidence=evidence)


def probe_label_broadcast(target: dict, tapped: Callable | None, fn: Callable) -> dict:
    """LL304: labels (B,) against predictions (B, 1), called directly."""
    probe = target["probe"]
    rng = np.random.default_rng(SEED)
    yt = rng.normal(size=(8,))
    yp = rng.normal(size=(8, 1))
    use = tapped or fn
    flat = evaluate(use, yt, yp)
    flat_node = _last_shape(flat, "out")
    aligned = evaluate(use, yt[:, None], yp)
    aligned_node = _last_shape(aligned, "out")
    if flat.error or aligned.error:
        return result("not_checked", probe, reason=flat.error or aligned.error or "")
    evidence = {"shape_unaligned": list(flat.loss_shape), "shape_aligned": list(aligned.loss_shape),
                "node_shape_unaligned": flat_node, "node_shape_aligned": aligned_node,
                "loss_unaligned": num(np.mean(flat.loss)),
                "loss_aligned": num(np.mean(aligned.loss))}
    if flat.loss_shape != aligned.loss_shape or not np.isclose(np.mean(flat.loss),
                                                                np.mean(aligned.loss)):
        where = (f"line {target['line']} gives shape {tuple(flat_node)} (aligned: "
                 f"{tuple(aligned_node)})") if flat_node is not None else (
                 f"the loss has shape {flat.loss_shape} (aligned: {aligned.loss_shape})")
        return result("confirmed", probe, (
            f"labels (8,) against predictions (8, 1): {where}; mean loss "
            f"{fmt(np.mean(flat.loss))} vs {fmt(np.mean(aligned.loss))} aligned"), evidence)
    return result("not_reproduced", probe, reason="the loss gives the same value for (8,) and "
                  "(8, 1) labels", evidence=evidence)


def _last_shape(ev: Eval, tag: str) -> list[int] | None:
    for t, v in reversed(ev.taps):
        if t == tag and hasattr(v, "shape"):
            return [int(d) for d in v.shape]
    return None


def probe_batch_scaling_loss(target: dict, tapped: Callable | None, fn: Callable) -> dict:
    """LL303 on a loss: the same samples at batch 4 and 8 (each twice)."""
    use = tapped or fn
    s, skipped = typical_inputs(fn, target)
    if skipped is not None:
        return skipped
    yt4, yp4 = s.y_true[:4], s.y_pred[:4]
    e4 = evaluate(use, yt4, yp4)
    e8 = evaluate(use, np.concatenate([yt4, yt4]), np.concatenate([yp4, yp4]))
    return _batch_verdict(target, e4, e8)


def _batch_verdict(target: dict, e4: Eval, e8: Eval) -> dict:
    probe = target["probe"]
    if e4.error or e8.error:
        return result("not_checked", probe, reason=e4.error or e8.error or "")
    v4 = _tap_value(e4) if _tap_value(e4) is not None else float(np.sum(e4.loss))
    v8 = _tap_value(e8) if _tap_value(e8) is not None else float(np.sum(e8.loss))
    ratio = v8 / v4 if v4 else float("nan")
    evidence = {"batch4": num(v4), "batch8": num(v8), "ratio": num(ratio, 3)}
    if abs(ratio - 2.0) < 0.05:
        return result("confirmed", probe, (
            f"the objective at line {target['line']} doubles when the same 4 samples are fed "
            f"twice: {fmt(v4)} at batch 4, {fmt(v8)} at batch 8 (ratio {fmt(ratio)})"), evidence)
    return result("not_reproduced", probe, reason=(
        f"batch 4 -> 8 (same samples twice) changes the objective by {fmt(ratio)}x, not 2x"),
        evidence=evidence)


def _tap_value(ev: Eval) -> float | None:
    for t, v in reversed(ev.taps):
        if t == "out" and v is not None:
            return float(np.sum(_to_numpy(v)))
    return None


def probe_rank(target: dict, fn: Callable) -> dict:
    """LL301 on a loss: the objective it returns is not a scalar."""
    probe = target["probe"]
    s, skipped = typical_inputs(fn, target)
    if skipped is not None:
        return skipped
    ev = evaluate(fn, s.y_true, s.y_pred)
    if len(ev.loss_shape) > 0:
        return result("confirmed", probe, f"the loss has shape {ev.loss_shape}, not a scalar",
                      {"shape": list(ev.loss_shape)})
    return result("not_reproduced", probe, reason="the loss is a scalar")


def probe_argument_order(target: dict, fn: Callable) -> dict:
    """LL402: Keras passes (y_true, y_pred); does the order matter for this loss?"""
    probe = target["probe"]
    s, skipped = typical_inputs(fn, target, "probabilities")
    if skipped is not None:
        return skipped
    keras_order = evaluate(fn, s.y_true, s.y_pred)
    named_order = evaluate(fn, s.y_pred, s.y_true)
    if keras_order.error or named_order.error:
        return result("not_checked", probe, reason=keras_order.error or named_order.error or "")
    a, b = float(np.mean(keras_order.loss)), float(np.mean(named_order.loss))
    evidence = {"loss_keras_order": num(a), "loss_named_order": num(b), "inputs": s.text}
    if np.isclose(a, b, rtol=1e-5, atol=1e-7):
        return result("not_reproduced", probe, reason=(
            f"the loss is symmetric in its arguments here (both orders give {fmt(a)}), so the "
            "swap does not change its value; it still misleads readers"), evidence=evidence)
    return result("confirmed", probe, (
        f"Keras calls it as (y_true, y_pred): loss {fmt(a)}; in the order its parameter names say: "
        f"{fmt(b)}"), evidence)


# --------------------------------------------------------------------------- training steps


def make_train_args(params: list[str], batch: int) -> list[Any]:
    tf = B.tf
    keras = tf.keras
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1, 1, size=(4, 1)).astype("float32")
    x = np.concatenate([x] * (batch // 4))
    y = (3 * x + 2).astype("float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    values = {"model": model, "optimizer": keras.optimizers.SGD(learning_rate=0.01),
              "x": tf.constant(x), "y": tf.constant(y)}
    return [values[TRAIN_STEP_ROLES[p]] for p in params]


def run_train_step(fn: Callable, params: list[str], batch: int) -> Eval:
    B.taps.clear()
    try:
        out = fn(*make_train_args(params, batch))
    except Exception as exc:  # noqa: BLE001
        return Eval(error=f"{type(exc).__name__}: {_short(str(exc))}")
    loss = _to_numpy(out) if (B.is_tensor(out) or isinstance(out, (float, np.ndarray))) else None
    return Eval(loss=loss, taps=list(B.taps))


def probe_train_step(target: dict, tapped: Callable | None) -> dict:
    """LL301/LL303 in a training step called with a Dense(1) model, SGD and (x, y)."""
    probe = target["probe"]
    if tapped is None:
        return result("not_checked", probe, reason=f"could not tap line {target['line']}")
    if target["code"] == "LL303":
        return _batch_verdict(target, run_train_step(tapped, target["params"], 4),
                              run_train_step(tapped, target["params"], 8))
    ev = run_train_step(tapped, target["params"], 8)
    if ev.error:
        return result("not_checked", probe, reason=f"the training step raised {ev.error}")
    shape = _last_shape(ev, "in")
    if shape is None:
        return result("not_reproduced", probe, reason=f"line {target['line']} did not run")
    evidence = {"target_shape": shape, "batch": 8}
    if len(shape) > 0:
        return result("confirmed", probe, (
            f"the differentiated value at line {target['line']} has shape {tuple(shape)}, not a "
            "scalar: the gradient sums it (batch 8, Dense(1) model)"), evidence)
    return result("not_reproduced", probe, reason="the differentiated value is a scalar",
                  evidence=evidence)


# --------------------------------------------------------------------------- one expression

# Values for the inputs of a flagged expression probed alone: the prediction-like inputs
# (predictions, logits, embeddings, unnamed tensors) and the label-like ones (labels, masks,
# weights), driven together to the operation's bad points.
EXPRESSION_SCENARIOS = [
    ("zeros", "every input 0", lambda a: 0 * a["normal"], lambda a: 0 * a["onehot"]),
    ("pred_zero", "predictions 0, labels one-hot", lambda a: 0 * a["normal"],
     lambda a: a["onehot"]),
    ("equal", "predictions == labels (exact 0 and 1)", lambda a: a["onehot"],
     lambda a: a["onehot"]),
    ("ones", "every input 1", lambda a: 0 * a["normal"] + 1, lambda a: 0 * a["onehot"] + 1),
    ("sat_pos", "saturated inputs (+100)", lambda a: 0 * a["normal"] + 100,
     lambda a: a["onehot"]),
    ("sat_mixed", "saturated inputs (+100 at the label, -100 elsewhere)",
     lambda a: (2 * a["onehot"] - 1) * 100, lambda a: a["onehot"]),
    ("sat_neg", "saturated inputs (-100)", lambda a: 0 * a["normal"] - 100,
     lambda a: a["onehot"]),
    ("negative", "negative predictions (-|N(0, 1)|)", lambda a: -np.abs(a["normal"]),
     lambda a: a["onehot"]),
]
_EXPR_ORDER = {"LL104": ["sat_pos", "sat_mixed", "sat_neg"], "LL107": ["sat_mixed", "sat_neg"],
               "LL105": ["zeros", "equal", "negative"], "LL102": ["zeros", "pred_zero"]}
_LABEL_ROLES = {"labels", "mask", "weights"}
_TENSOR_ROLES = {"predictions", "logits", "embeddings", "tensor"} | _LABEL_ROLES


def _stand_in_self(target: dict) -> Any:
    import types

    return types.SimpleNamespace(**{k: v["value"] for k, v in target.get("init_attrs", {}).items()
                                    if "value" in v})


def _bindings(target: dict, arrays: dict, pred: np.ndarray, label: np.ndarray) -> dict:
    classes = pred.shape[-1]
    out: dict[str, Any] = {}
    for name, spec in target["locals"].items():
        role = spec["role"]
        if "default" in spec:
            out[name] = spec["default"]
        elif role == "self":
            out[name] = _stand_in_self(target)
        elif role in _LABEL_ROLES:
            out[name] = label.copy()
        elif role in _TENSOR_ROLES:
            out[name] = pred.copy()
        elif role == "class_weights":
            out[name] = np.ones(classes)
        elif role == "class_count":
            out[name] = classes
        else:
            out[name] = hyperparameter_value(name, classes)
    return out


def _expression_fn(source: str, namespace: dict, path: str) -> Callable:
    code = compile(source, f"<lossguard expression> {path}", "eval")
    base = dict(namespace)
    base.update(HELPERS)

    def fn(**bindings: Any) -> Any:
        return eval(code, base, dict(bindings))  # noqa: S307 - the user's own expression

    return fn


def probe_expression(target: dict, namespace: dict, path: str, why: str) -> dict:
    """The flagged expression alone, its inputs driven to the operation's bad point, and
    guarded with the rule's fix at the same inputs (the tie): when the whole function cannot
    be called (`why`)."""
    probe = target["probe"]
    fn = _expression_fn(target["expression"], namespace, path)
    guarded = _expression_fn(target["guarded_expression"], namespace, path)
    shape = tuple(target.get("shape") or (8, 4))
    arrays = base_arrays(shape)
    typical = _bindings(target, arrays, arrays["probs"], arrays["onehot"])
    ev = B.evaluate_many(fn, typical)
    scope = f"the flagged expression `{_short(target['expression'][1:-1], 80)}` alone"
    if ev.error is not None:
        return result("not_checked", probe, reason=(
            f"{why}; {scope} raised {ev.error}"))
    order = _EXPR_ORDER.get(target["code"], [])
    scen = sorted(EXPRESSION_SCENARIOS, key=lambda s: order.index(s[0]) if s[0] in order
                  else len(order))
    dtypes = ["float32", "float16"] if target["code"] == "LL106" else ["float32"]
    tried = 0
    persisted = []
    for dtype in dtypes:
        for _name, text, pred_of, label_of in scen:
            tried += 1
            bound = _bindings(target, arrays, pred_of(arrays), label_of(arrays))
            ev = B.evaluate_many(fn, bound, dtype)
            if ev.error is not None or not ev.failing:
                continue
            problem = (ev.problem or "").replace("loss =", "value =").replace(
                "d loss/d y_pred", "d value/d inputs")
            text_dt = text + (" in float16" if dtype == "float16" else "")
            if target.get("verify"):
                return result("confirmed", probe, f"{problem} when {text_dt}, in {scope}",
                              {"scope": "expression", "inputs": text_dt})
            ev2 = B.evaluate_many(guarded, bound, dtype)
            evidence = {"scope": "expression", "expression": target["expression"][1:-1],
                        "inputs": text_dt, "shape": list(shape), "dtype": dtype,
                        "value": num(np.mean(ev.loss)),
                        "grad_norm": num(ev.grad_norm) if ev.grad_norm is not None else None,
                        "why_not_called": why, "scenarios_tried": tried}
            if ev2.error is not None or ev2.failing:
                persisted.append(f"{problem} when {text_dt}")
                continue
            evidence["guarded_value"] = num(np.mean(ev2.loss))
            evidence["guarded_grad_norm"] = (num(ev2.grad_norm) if ev2.grad_norm is not None
                                             else None)
            return result("confirmed", probe, (
                f"{problem} when {text_dt}, in {scope} (guarded: finite); the whole function "
                f"was not called: {why}"), evidence)
    if persisted:
        return result("not_reproduced", probe, reason=(
            f"{scope} fails ({persisted[0]}) but also with the rule's guard, so the failure "
            f"is not this node's ({why})"), evidence={"scope": "expression"})
    return result("not_reproduced", probe, reason=(
        f"{scope} stayed finite, with a finite gradient, on all {tried} probe inputs "
        f"({why})"), evidence={"scope": "expression", "scenarios_tried": tried})
