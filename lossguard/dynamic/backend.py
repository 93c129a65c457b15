"""The framework a worker runs the probes in: TensorFlow or PyTorch (imported in the worker only).

The probes (`probes.py`) are written once, against NumPy inputs and this small interface:
make a tensor, evaluate a loss and its gradient with respect to the predictions (recording
the values the taps saw), find the op where the first NaN/Inf appears (TensorFlow's
`check_numerics`, PyTorch's anomaly mode), the guards the in-memory patches call, and the
pinned training run. `load("tf")` never imports torch and `load("torch")` never imports
TensorFlow, so a PyTorch-only run keeps TensorFlow out of the worker and the other way round.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EXPLODE = 1e12  # a gradient beyond this is a failure (1/eps for eps < 1e-12)
SEED = 0


def num(x: Any, digits: int = 4) -> float | str:
    """A JSON-safe, rounded number (NaN and infinities as strings)."""
    import math

    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return 0.0
    return float(f"{x:.{digits}g}")


def fmt(x: Any) -> str:
    v = num(x, 3)
    return v if isinstance(v, str) else f"{v:g}"


def short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Eval:
    """One evaluation of a loss: its value, d loss/d y_pred, and what the taps recorded."""

    loss: np.ndarray | None = None
    grad: np.ndarray | None = None
    error: str | None = None
    taps: list[tuple[str, Any]] = field(default_factory=list)
    tap_grads: list[float | None] = field(default_factory=list)
    tap_grads_to_loss: list[float | None] = field(default_factory=list)
    loss_shape: tuple[int, ...] = ()

    @property
    def failing(self) -> bool:
        return self.problem is not None

    @property
    def problem(self) -> str | None:
        if self.error is not None or self.loss is None:
            return None
        if not np.all(np.isfinite(self.loss)):
            return "loss = " + fmt(np.mean(self.loss))
        if self.grad is not None:
            if not np.all(np.isfinite(self.grad)):
                bad = self.grad[~np.isfinite(self.grad)]
                return f"d loss/d y_pred = {fmt(bad.flat[0])}"
            peak = float(np.max(np.abs(self.grad))) if self.grad.size else 0.0
            if peak > EXPLODE:
                return f"max |d loss/d y_pred| = {peak:.3g}"
        return None

    @property
    def grad_norm(self) -> float | None:
        if self.grad is None:
            return None
        return float(np.sqrt(np.sum(np.square(self.grad.astype(np.float64)))))


def _eps(x: Any, f32: float, f16: float) -> float:
    dtype = str(getattr(x, "dtype", ""))
    return f16 if "float16" in dtype or "half" in dtype else f32


class Backend:
    """What the probes need from a framework. Subclasses: `TensorFlow`, `Torch`."""

    name = ""
    label = ""
    version = ""
    taps: list[tuple[str, Any]]
    tf: Any = None  # the framework module, for the probes that are framework-specific
    torch: Any = None

    def __init__(self) -> None:
        self.taps = []

    # -- tensors
    def constant(self, array: Any, dtype: str = "float32", grad: bool = False) -> Any:
        raise NotImplementedError

    def is_tensor(self, x: Any) -> bool:
        raise NotImplementedError

    def is_float_tensor(self, x: Any) -> bool:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> np.ndarray:
        raise NotImplementedError

    def l2_norm(self, g: Any) -> float | None:
        """The L2 norm of a gradient (None when there is none)."""
        return None if g is None else float(np.sqrt(np.sum(np.square(self.to_numpy(g)))))

    # -- the guards and taps the in-memory patches call
    def helpers(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "__ll_guard_pos__": lambda x: self.maximum(x, _eps(x, 1e-7, 1e-4)),
            "__ll_guard_log1p__": lambda x: self.maximum(x, _eps(x, -1 + 1e-6, -1 + 1e-3)),
            "__ll_guard_den__": lambda x: x + _eps(x, 1e-7, 1e-4),
            "__ll_clip_exp__": lambda x: self.minimum(x, _eps(x, 80.0, 10.0)),
            "__ll_plus_one__": lambda x: x + 1.0,
            "__ll_tap_out__": self.tap_out,
            "__ll_tap_in__": self.tap_in,
        }

    def maximum(self, x: Any, value: float) -> Any:
        raise NotImplementedError

    def minimum(self, x: Any, value: float) -> Any:
        raise NotImplementedError

    def tap_out(self, x: Any) -> Any:
        self.taps.append(("out", x))
        return x

    def tap_in(self, x: Any) -> Any:
        if self.is_tensor(x) or isinstance(x, np.ndarray):
            self.taps.append(("in", x))
        return x

    # -- evaluation
    def evaluate(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str = "float32",
                 tap_grads: bool = False) -> Eval:
        raise NotImplementedError

    def evaluate_many(self, fn: Callable, arrays: dict[str, Any], dtype: str = "float32"
                      ) -> Eval:
        raise NotImplementedError

    def failing_op(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str, path: str,
                   backward: bool) -> tuple[str | None, int | None]:
        raise NotImplementedError

    def seed(self) -> None:
        raise NotImplementedError


def _user_line(exc: BaseException, path: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path or frame.filename.endswith("> " + path):
            line = frame.lineno
    return line


class TensorFlow(Backend):
    name, label = "tf", "TensorFlow"

    def __init__(self) -> None:
        super().__init__()
        from .tfenv import configure_tensorflow

        tf = configure_tensorflow()
        self.tf = tf
        self.tape: Any = None
        self.version = tf.__version__

    def constant(self, array: Any, dtype: str = "float32", grad: bool = False) -> Any:
        return self.tf.constant(array, dtype=dtype)

    def is_tensor(self, x: Any) -> bool:
        return bool(self.tf.is_tensor(x))

    def is_float_tensor(self, x: Any) -> bool:
        return self.tf.is_tensor(x) and x.dtype.is_floating

    def to_numpy(self, x: Any) -> np.ndarray:
        if self.tf.is_tensor(x):
            return np.asarray(x.numpy(), dtype=np.float64)
        return np.asarray(x, dtype=np.float64)

    def maximum(self, x: Any, value: float) -> Any:
        return self.tf.maximum(x, self.tf.cast(value, getattr(x, "dtype", self.tf.float32)))

    def minimum(self, x: Any, value: float) -> Any:
        return self.tf.minimum(x, self.tf.cast(value, getattr(x, "dtype", self.tf.float32)))

    def tap_out(self, x: Any) -> Any:
        if self.is_float_tensor(x) and self.tape is not None:
            self.tape.watch(x)
        return super().tap_out(x)

    def seed(self) -> None:
        self.tf.keras.utils.set_random_seed(SEED)

    def _grad_norm(self, tape: Any, target: Any, source: Any) -> float | None:
        if not (self.is_float_tensor(target) and self.is_float_tensor(source)):
            return None
        try:
            g = tape.gradient(target, source)
        except Exception:  # noqa: BLE001
            return None
        return self.l2_norm(g)

    def evaluate(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str = "float32",
                 tap_grads: bool = False) -> Eval:
        tf = self.tf
        yt = tf.constant(y_true, dtype=dtype)
        yp = tf.constant(y_pred, dtype=dtype)
        self.taps.clear()
        try:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(yp)
                self.tape = tape
                loss = fn(yt, yp)
                loss_t = loss if tf.is_tensor(loss) else tf.convert_to_tensor(np.asarray(loss))
                total = tf.reduce_sum(tf.cast(loss_t, tf.float32))
            self.tape = None
            grad = tape.gradient(total, yp) if loss_t.dtype.is_floating else None
            ev = Eval(loss=self.to_numpy(loss_t),
                      grad=None if grad is None else self.to_numpy(grad),
                      taps=list(self.taps), loss_shape=tuple(loss_t.shape))
            if tap_grads:
                ev.tap_grads = [self._grad_norm(tape, v, yp) for _, v in ev.taps]
                ev.tap_grads_to_loss = [self._grad_norm(tape, total, v) for _, v in ev.taps]
            del tape
            return ev
        except Exception as exc:  # noqa: BLE001 - user code
            self.tape = None
            return Eval(error=f"{type(exc).__name__}: {short(str(exc))}")

    def evaluate_many(self, fn: Callable, arrays: dict[str, Any], dtype: str = "float32"
                      ) -> Eval:
        """`fn(**tensors)` and the gradient of its sum with respect to every float input
        (concatenated), for probing one expression with its inputs bound."""
        tf = self.tf
        tensors = {k: tf.constant(v, dtype=dtype) if isinstance(v, np.ndarray) else v
                   for k, v in arrays.items()}
        watched = [t for t in tensors.values() if self.is_float_tensor(t)]
        try:
            with tf.GradientTape() as tape:
                for t in watched:
                    tape.watch(t)
                out = fn(**tensors)
                out_t = out if tf.is_tensor(out) else tf.convert_to_tensor(np.asarray(out))
                total = tf.reduce_sum(tf.cast(out_t, tf.float32))
            grads = tape.gradient(total, watched) if out_t.dtype.is_floating else []
            flat = [self.to_numpy(g).ravel() for g in grads if g is not None]
            return Eval(loss=self.to_numpy(out_t), loss_shape=tuple(out_t.shape),
                        grad=np.concatenate(flat) if flat else None)
        except Exception as exc:  # noqa: BLE001 - user code
            return Eval(error=f"{type(exc).__name__}: {short(str(exc))}")

    def failing_op(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str, path: str,
                   backward: bool) -> tuple[str | None, int | None]:
        """The op (and user line) where the first Inf/NaN appears, from check_numerics."""
        tf = self.tf
        yt = tf.constant(y_true, dtype=dtype)
        yp = tf.constant(y_pred, dtype=dtype)
        tf.debugging.enable_check_numerics()
        try:
            if backward:
                with tf.GradientTape() as tape:
                    tape.watch(yp)
                    tf.debugging.disable_check_numerics()
                    total = tf.reduce_sum(tf.cast(fn(yt, yp), tf.float32))
                    tf.debugging.enable_check_numerics()
                tape.gradient(total, yp)
            else:
                fn(yt, yp)
        except Exception as exc:  # noqa: BLE001
            match = re.search(r'eagerly-executing op "(\w+)"', str(exc))
            return (match.group(1) if match else None), _user_line(exc, path)
        finally:
            tf.debugging.disable_check_numerics()
        return None, None


class Torch(Backend):
    name, label = "torch", "PyTorch"

    def __init__(self) -> None:
        super().__init__()
        import torch

        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.torch = torch
        self.version = torch.__version__
        self.dtypes = {"float32": torch.float32, "float16": torch.float16,
                       "float64": torch.float64}

    def constant(self, array: Any, dtype: str = "float32", grad: bool = False) -> Any:
        t = self.torch.tensor(np.asarray(array), dtype=self.dtypes.get(dtype, self.torch.float32))
        return t.requires_grad_(True) if grad else t

    def is_tensor(self, x: Any) -> bool:
        return isinstance(x, self.torch.Tensor)

    def is_float_tensor(self, x: Any) -> bool:
        return isinstance(x, self.torch.Tensor) and x.is_floating_point()

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, self.torch.Tensor):
            return x.detach().to(self.torch.float64).cpu().numpy()
        return np.asarray(x, dtype=np.float64)

    def maximum(self, x: Any, value: float) -> Any:
        return self.torch.clamp(x, min=value)

    def minimum(self, x: Any, value: float) -> Any:
        return self.torch.clamp(x, max=value)

    def seed(self) -> None:
        self.torch.manual_seed(SEED)

    def _grad_norm(self, target: Any, source: Any) -> float | None:
        torch = self.torch
        if not (self.is_float_tensor(target) and self.is_float_tensor(source)):
            return None
        if not (target.requires_grad and source.requires_grad):
            return None
        try:
            (g,) = torch.autograd.grad(target.sum(), source, retain_graph=True, allow_unused=True)
        except Exception:  # noqa: BLE001
            return None
        return self.l2_norm(g)

    def evaluate(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str = "float32",
                 tap_grads: bool = False) -> Eval:
        torch = self.torch
        yt = self.constant(y_true, dtype)
        yp = self.constant(y_pred, dtype, grad=True)
        self.taps.clear()
        try:
            loss = fn(yt, yp)
            loss_t = loss if isinstance(loss, torch.Tensor) else torch.as_tensor(
                np.asarray(loss, dtype=np.float64))
            total = loss_t.float().sum() if loss_t.is_floating_point() else None
            grad = None
            if total is not None and total.requires_grad:
                (grad,) = torch.autograd.grad(total, yp, retain_graph=True, allow_unused=True)
            ev = Eval(loss=self.to_numpy(loss_t),
                      grad=None if grad is None else self.to_numpy(grad),
                      taps=list(self.taps), loss_shape=tuple(loss_t.shape))
            if tap_grads:
                ev.tap_grads = [self._grad_norm(v, yp) for _, v in ev.taps]
                ev.tap_grads_to_loss = [self._grad_norm(total, v) if total is not None else None
                                        for _, v in ev.taps]
            return ev
        except Exception as exc:  # noqa: BLE001 - user code
            return Eval(error=f"{type(exc).__name__}: {short(str(exc))}")

    def evaluate_many(self, fn: Callable, arrays: dict[str, Any], dtype: str = "float32"
                      ) -> Eval:
        torch = self.torch
        tensors = {k: self.constant(v, dtype, grad=True) if isinstance(v, np.ndarray) else v
                   for k, v in arrays.items()}
        watched = [t for t in tensors.values() if self.is_float_tensor(t)]
        try:
            out = fn(**tensors)
            out_t = out if isinstance(out, torch.Tensor) else torch.as_tensor(
                np.asarray(out, dtype=np.float64))
            flat = []
            if out_t.is_floating_point() and out_t.requires_grad:
                grads = torch.autograd.grad(out_t.float().sum(), watched, allow_unused=True)
                flat = [self.to_numpy(g).ravel() for g in grads if g is not None]
            return Eval(loss=self.to_numpy(out_t), loss_shape=tuple(out_t.shape),
                        grad=np.concatenate(flat) if flat else None)
        except Exception as exc:  # noqa: BLE001 - user code
            return Eval(error=f"{type(exc).__name__}: {short(str(exc))}")

    def failing_op(self, fn: Callable, y_true: Any, y_pred: Any, dtype: str, path: str,
                   backward: bool) -> tuple[str | None, int | None]:
        """The op where the first NaN appears, from anomaly mode (backward) or by
        checking each op's output (forward: a `TorchFunctionMode` that stops at the first
        non-finite result)."""
        torch = self.torch
        yt = self.constant(y_true, dtype)
        yp = self.constant(y_pred, dtype, grad=True)
        if backward:
            try:
                with torch.autograd.detect_anomaly(check_nan=True):
                    total = fn(yt, yp).float().sum()
                    total.backward()
            except Exception as exc:  # noqa: BLE001
                match = re.search(r"Function '(\w+?)(Backward\d*)?' returned nan", str(exc))
                return (match.group(1) if match else None), None
            return None, None
        from torch.overrides import TorchFunctionMode

        class _Stop(Exception):
            pass

        class _FirstNonFinite(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
                out = func(*args, **(kwargs or {}))
                if isinstance(out, torch.Tensor) and out.is_floating_point() and not bool(
                        torch.isfinite(out.detach()).all()):
                    name = getattr(func, "__name__", str(func))
                    raise _Stop(name)
                return out

        try:
            with _FirstNonFinite():
                fn(yt, yp)
        except _Stop as stop:
            return str(stop), _user_line(stop, path)
        except Exception:  # noqa: BLE001
            return None, None
        return None, None


def load(name: str) -> Backend:
    """The backend for `tf` or `torch` (imports that framework only)."""
    return Torch() if name == "torch" else TensorFlow()
