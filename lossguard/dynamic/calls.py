"""Calling what real code defines, with made-up arguments (runs in the worker).

The probes call a loss as `fn(y_true, y_pred)`. Real loss code has other shapes: a
function `weighted_error(truth, forecast, weights)`, a factory `weighted_dice(class_weights)`
returning the loss, a method of a class whose `__init__` takes arguments, an
`nn.Module.forward(input, target)`. `build` turns a planned target (its parameters by
role, `names.parameter_role`) into such a `fn`: labels get `y_true` (one-hot, or class
indices when the loss wants those), the prediction, logits or embeddings get `y_pred`,
masks and weights get ones, a class count gets the number of classes, class weights get
ones per class, hyperparameters get a usual value. A factory is called with the same
made-up arguments, a class is built with its `__init__` defaults (or, when that fails, a
stand-in `self` holding the attributes `__init__` would set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..knowledge.names import hyperparameter_value
from . import probes as checks

_SIZE_IN_INIT = {"embeddings", "tensor", "predictions", "logits", "labels", "class_count"}


class CallError(Exception):
    """The target cannot be turned into a loss the probes can call (the reason)."""


def _classes(yp: Any) -> int:
    shape = tuple(yp.shape)
    return int(shape[-1]) if len(shape) > 1 else 1


def _sparse(yt: Any) -> Any:
    """One-hot labels as class indices (int64 in PyTorch, int32 in TensorFlow)."""
    B = checks.B
    values = B.to_numpy(yt)
    axis = 1 if B.name == "torch" and values.ndim > 2 else -1  # PyTorch: (N, C, ...)
    idx = np.argmax(values, axis=axis)
    if B.name == "torch":
        return B.torch.tensor(idx, dtype=B.torch.long)
    return B.tf.constant(idx, dtype=B.tf.int32)


def _ones_like(x: Any) -> Any:
    B = checks.B
    return B.torch.ones_like(x) if B.name == "torch" else B.tf.ones_like(x)


def value_for(role: str, name: str, yt: Any, yp: Any, state: dict, used: dict) -> Any:
    """The made-up argument for one parameter."""
    B = checks.B
    classes = _classes(yp)
    if role == "labels":
        return _sparse(yt) if state.get("labels") == "sparse" else yt
    if role in {"predictions", "logits", "embeddings", "tensor"}:
        if not used.get("pred"):
            used["pred"] = True
            return yp
        return yp * 0.5  # a second prediction-like input (a positive, a negative)
    if role in {"mask", "weights"}:
        return _ones_like(yp)
    if role == "class_weights":
        return B.constant(np.ones(classes))
    if role == "class_count":
        return classes
    return hyperparameter_value(name, classes)


def _args(specs: list[dict], yt: Any, yp: Any, state: dict, used: dict) -> list[Any]:
    return [value_for(a["role"], a["name"], yt, yp, state, used) for a in specs]


def _construct(cls: type, target: dict, yt: Any, yp: Any, state: dict) -> Any:
    """An instance built with `__init__` defaults (and made-up required arguments), or a
    stand-in `self` holding the attributes `__init__` would set."""
    checks.B.seed()  # the same weights in the original and in the patched copies
    classes = _classes(yp)
    # a constructor takes sizes, not tensors: `in_features`, `out_features`, `n_classes`
    init = [classes if a["role"] in _SIZE_IN_INIT else value_for(
        a["role"], a["name"], yt, yp, state, {"pred": True}) for a in target["init_args"]]
    try:
        return cls(*init)
    except Exception as first:  # noqa: BLE001 - user code
        obj = cls.__new__(cls)
        for base in cls.__mro__[1:]:
            try:
                base.__init__(obj)  # type: ignore[misc]
                break
            except Exception:  # noqa: BLE001, S112 - try the next base
                continue
        for attr, spec in target.get("init_attrs", {}).items():
            value = spec["value"] if "value" in spec else value_for(
                spec["role"], attr, yt, yp, state, {"pred": True})
            if spec.get("role") == "class_count":
                value = classes
            try:
                setattr(obj, attr, value)
            except Exception:  # noqa: BLE001, S112 - a read-only attribute
                continue
        if not target.get("init_attrs"):
            raise CallError(f"`{cls.__name__}()` raised {type(first).__name__}: {first}"
                            ) from first
        return obj


def build(target: dict, namespace: dict | None, state: dict | None = None) -> Callable | None:
    """`fn(y_true, y_pred)` for a planned target, from a namespace (the module's, or a copy
    with the finding's node patched); None without a namespace. `state` (shared by the
    variants of one target) holds the label format the shape search settled on."""
    if namespace is None:
        return None
    kind = target["kind"]
    name = target["qualname"][0] if target["qualname"] else None
    if name is None or name not in namespace:
        raise CallError(f"`{name}` is not defined at module level after import")
    obj = namespace[name]
    if kind in {"custom_gradient", "train_step"}:
        return getattr(obj, target["method"]) if target.get("method") else obj
    state = state if state is not None else {}
    state.setdefault("labels", "dense")
    cache: dict = {}

    def resolve(yt: Any, yp: Any) -> Callable:
        key = (_classes(yp), state["labels"])
        if key in cache:
            return cache[key]
        if kind == "factory":
            made = obj(*_args(target["factory_args"], yt, yp, state, {"pred": True}))
            if not callable(made):
                raise CallError(f"`{name}(...)` returned {type(made).__name__}, not a loss")
            fn = made
        elif kind == "method":
            instance = _construct(obj, target, yt, yp, state)
            fn = getattr(instance, target["method"])
        elif kind == "method_factory":
            instance = _construct(obj, target, yt, yp, state)
            fn = getattr(instance, target["method"])(
                *_args(target["factory_args"], yt, yp, state, {"pred": True}))
        else:
            fn = obj
        cache[key] = fn
        return fn

    def loss(y_true: Any, y_pred: Any) -> Any:
        fn = resolve(y_true, y_pred)
        return fn(*_args(target["args"], y_true, y_pred, state, {}))

    loss.label_state = state  # type: ignore[attr-defined]
    loss.wants_sparse = any(a["role"] == "labels" for a in target["args"])  # type: ignore[attr-defined]
    return loss
