"""LL1xx numerical safety: operations that produce inf or NaN at a reachable input."""

from __future__ import annotations

import math

import libcst as cst

from losslint.engine import shorten
from losslint.rule import Invalid, Rule, Valid

class UnguardedLog(Rule):
    """`log` of a value that can be 0 or negative.

    ## What it does
    Flags `log` / `log2` / `log10` whose operand the facts cannot show is `> 0`, and `log1p` of
    an operand they cannot show is `> -1`: a bare input (`log(y_pred)`: a probability can be
    exactly 0), a sum of inputs, a difference (`log(y_true - y_pred + 1)` is NaN below -1).

    ## Why is this bad?
    `log(0)` is `-inf` and its gradient is `inf`; one such element makes the loss and every
    weight NaN after the next update.

    ## Example
    ```python
    def xent(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
    ```

    ## Use instead
    ```python
    def xent(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, K.epsilon(), 1.0 - K.epsilon())
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
    ```
    An explicit offset that survives float32 (`log(p + 1e-7)`) also guards an unknown value.
    """

    code = "LL101"
    name = "unguarded-log"
    probe = "zero-operand"
    hint = "clip the operand to [eps, ...] or add an epsilon that survives float32 (`x + 1e-7`)"
    VALID = [
        Valid("""
        import tensorflow as tf
        def xent(y_true, y_pred):
            y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
            return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def msle_loss(y_true, y_pred):
            return K.mean(K.square(K.log(K.clip(y_pred, K.epsilon(), None) + 1.0)), axis=-1)
        """),
        Valid("""
        import torch
        def nll_loss(pred, target):
            return -(target * torch.log(pred + 1e-7)).mean()
        """),
        Valid("""
        import numpy as np
        def log_returns(prices):
            return np.log(prices[1:] / prices[:-1])
        """),
        Valid("""
        import jax.numpy as jnp
        def kl_loss(p, q, eps=1e-6):
            return jnp.sum(p * jnp.log(jnp.maximum(p, eps) / jnp.maximum(q, eps)))
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def xent(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
        """, line=3, message="`y_pred` is an input and can be 0"),
        Invalid("""
        from tensorflow.keras import backend as K
        def log_ratio_loss(y_true, y_pred):
            return K.mean(K.square(K.log(y_pred) - K.log(y_true)), axis=-1)
        """, line=3),
        Invalid("""
        import keras
        def loss(y_true, y_pred):
            return keras.ops.log(y_true - y_pred + 1.0)
        """, line=3, message="difference"),
        Invalid("""
        import torch
        def nll_loss(pred, target):
            return -(target * pred.log()).mean()
        """, line=3),
        Invalid("""
        import jax.numpy as jnp
        def bce_loss(p, y):
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
        """, line=3),
        Invalid("""
        import numpy as np
        def nll_cost(probs, labels):
            return -np.sum(labels * np.log(probs))
        """, line=3),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        kind = self.ctx.kind(node)
        if kind not in ("log", "log1p"):
            return
        operand = self.ctx.operand(node)
        if operand is None:
            return
        fact = self.ctx.fact(operand)
        if kind == "log1p":
            if fact.lo > -1 or not (fact.negative and fact.lo == float("-inf")):
                return
            reason = fact.negative
            bad = "`log1p` is NaN below -1"
        else:
            reason = fact.log_hazard()
            bad = "log(0) = -inf" if reason is fact.zero else "log of a negative value is NaN"
        if reason is None:
            return
        text = self.ctx.text(operand)
        why = self.ctx.explain(reason)
        self.report(node, f"unguarded log of `{shorten(text)}`: {why} ({bad})")


class UnguardedDivision(Rule):
    """Division by a value that can be exactly 0.

    ## What it does
    Flags `/`, `divide`, `truediv`, `div` whose denominator is *structurally* zero: an input
    itself (`/ y_true`), a sum, mean or count of inputs that can all be 0 (an empty mask), a
    difference that cancels (`y_true - y_pred`), an `abs`/`square`/norm of such a difference, a
    standard deviation. A nonzero constant added to the denominator (the smoothing term of
    dice, IoU and Tversky losses) is a guard; renormalising a prediction by its own sum
    (`p / sum(p, axis, keepdims=True)`) is an idiom, unless the value is a cancelling
    difference. `divide_no_nan` and `reciprocal_no_nan` are safe.

    ## Why is this bad?
    `0 / 0` is NaN and `x / 0` is inf: a batch with an empty mask turns the loss and the
    weights into NaN.

    ## Example
    ```python
    def dice_coef(y_true, y_pred):
        intersection = K.sum(y_true * y_pred)
        return 2.0 * intersection / (K.sum(y_true) + K.sum(y_pred))
    ```

    ## Use instead
    ```python
    def dice_coef(y_true, y_pred, smooth=1.0):
        intersection = K.sum(y_true * y_pred)
        return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)
    ```
    """

    code = "LL102"
    name = "unguarded-division"
    probe = "zero-denominator"
    hint = "add a smoothing term to the denominator, clip it away from 0, or use `divide_no_nan`"
    VALID = [
        Valid("""
        from tensorflow.keras import backend as K
        def dice_coef(y_true, y_pred, smooth=1.0):
            intersection = K.sum(y_true * y_pred)
            return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)
        def dice_loss(y_true, y_pred):
            return 1.0 - dice_coef(y_true, y_pred)
        """),
        Valid("""
        import tensorflow as tf
        def xent(y_true, y_pred):
            y_pred = y_pred / tf.reduce_sum(y_pred, axis=-1, keepdims=True)
            return -tf.reduce_sum(y_true * tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0)))
        """),
        Valid("""
        import torch
        def normalized_loss(pred, target):
            err = (pred - target).abs()
            return (err / err.sum().clamp_min(1e-8)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def masked_loss(y_true, y_pred, mask):
            return tf.math.divide_no_nan(tf.reduce_sum(mask * (y_true - y_pred) ** 2),
                                         tf.reduce_sum(mask))
        """),
        Valid("""
        import keras
        def mean_loss(y_true, y_pred):
            return keras.ops.sum(keras.ops.square(y_true - y_pred)) / keras.ops.shape(y_pred)[0]
        """),
    ]
    INVALID = [
        Invalid("""
        from tensorflow.keras import backend as K
        def dice_coef(y_true, y_pred):
            intersection = K.sum(y_true * y_pred)
            return (2.0 * intersection) / (K.sum(y_true) + K.sum(y_pred))
        def dice_loss(y_true, y_pred):
            return 1.0 - dice_coef(y_true, y_pred)
        """, line=4, message="is 0 when both terms are 0"),
        Invalid("""
        from tensorflow.keras import backend as K
        def relative_error_loss(y_true, y_pred):
            return K.mean(K.abs(y_true - y_pred) / K.abs(y_true), axis=-1)
        """, line=3, message="`y_true` is an input and can be 0"),
        Invalid("""
        import torch
        def normalized_loss(pred, target):
            err = (pred - target).abs()
            return (err / err.sum()).mean()
        """, line=4),
        Invalid("""
        import tensorflow as tf
        def masked_loss(y_true, y_pred, mask):
            return tf.reduce_sum(mask * tf.square(y_true - y_pred)) / tf.reduce_sum(mask)
        """, line=3, message="empty mask"),
        Invalid("""
        import jax.numpy as jnp
        def iou_loss(y_true, y_pred):
            inter = jnp.sum(y_true * y_pred)
            union = jnp.sum(y_true) + jnp.sum(y_pred) - inter
            return 1.0 - inter / union
        """, line=5),
    ]

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.left, node.right)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.kind(node) == "divide":
            numerator, denominator = self.ctx.operand(node, 0), self.ctx.operand(node, 1, "y")
            if numerator is not None and denominator is not None:
                self._check(node, numerator, denominator)

    def _check(self, node: cst.CSTNode, numerator: cst.CSTNode, denominator: cst.CSTNode) -> None:
        fact = self.ctx.fact(denominator)
        reason = fact.division_hazard()
        if reason is None or self._renormalization(numerator, denominator):
            return
        text = self.ctx.text(denominator)
        self.report(node, f"denominator `{shorten(text)}` can be 0: {self.ctx.explain(reason)}")

    def _renormalization(self, numerator: cst.CSTNode, denominator: cst.CSTNode) -> bool:
        """`p / sum(p, ...)`: renormalising a value by its own sum, unless it cancels."""
        denominator = self.ctx.value_of(denominator)
        if not isinstance(denominator, cst.Call) or self.ctx.kind(denominator) not in (
                "sum", "mean", "max"):
            return False
        inner = self.ctx.operand(denominator)
        if inner is None or self.ctx.text(inner) != self.ctx.text(numerator):
            return False
        return "difference" not in self.ctx.fact(numerator).tags and \
            "error" not in self.ctx.fact(numerator).tags


class LogErrorObjective(Rule):
    """The loss is the log of an error magnitude.

    ## What it does
    Flags `log(abs(y_true - y_pred) + c)` and `log(square(...) + c)` with `c < 1` (or no `c`).

    ## Why is this bad?
    The objective is unbounded below as the error goes to 0 (`log(1e-9) = -20.7`) and its
    gradient is `1/c` there: the optimizer is rewarded for fitting a few points exactly and
    ignores the rest. The model "trains", but ends with a high MSE and a constant output
    offset. Measured with one `Dense(1)` on `y = 3x + 2`: MSE 4.42 against 0.0098 with MSE.

    ## Example
    ```python
    def log_abs_loss(y_true, y_pred):
        return tf.math.log(tf.math.abs(y_true - y_pred) + 1e-9)
    ```

    ## Use instead
    ```python
    def log_cosh_loss(y_true, y_pred):
        return tf.reduce_mean(tf.math.log(tf.math.cosh(y_pred - y_true)), axis=-1)
    ```
    `log1p(abs(e))` is bounded below by 0 and also fine.
    """

    code = "LL108"
    name = "log-error-objective"
    probe = "training-run"
    replaces = ("LL101",)
    hint = "use a bounded objective: `log1p(abs(e))`, `log(cosh(e))`, Huber or MSE"
    VALID = [
        Valid("""
        import tensorflow as tf
        def log_cosh_loss(y_true, y_pred):
            return tf.reduce_mean(tf.math.log(tf.math.cosh(y_pred - y_true)), axis=-1)
        """),
        Valid("""
        import torch
        def log1p_loss(pred, target):
            return torch.log1p((pred - target).abs()).mean()
        """),
        Valid("""
        import tensorflow as tf
        def shifted_log_loss(y_true, y_pred):
            return tf.reduce_mean(tf.math.log(tf.square(y_true - y_pred) + 1.0))
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def log_abs_loss(y_true, y_pred):
            return tf.math.log(tf.math.abs(y_true - y_pred) + 1e-9)
        """, line=3, message="error magnitude"),
        Invalid("""
        import torch
        def log_mse_loss(pred, target):
            return torch.log(((pred - target) ** 2).mean() + 1e-8)
        """, line=3),
        Invalid("""
        import keras
        def log_sq_loss(y_true, y_pred):
            err = keras.ops.square(y_true - y_pred)
            return keras.ops.mean(keras.ops.log(err + 1e-6), axis=-1)
        """, line=4),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.kind(node) != "log":
            return
        operand = self.ctx.operand(node)
        if operand is None:
            return
        fact = self.ctx.fact(operand)
        if "error" not in fact.tags or fact.lo >= 1:
            return
        floor = "-inf" if fact.lo <= 0 else f"{math.log(fact.lo):.1f}"
        self.report(node, f"the loss is the log of the error magnitude `{shorten(self.ctx.text(operand))}`:"
                    f" unbounded below (down to {floor}) as the error goes to 0")
