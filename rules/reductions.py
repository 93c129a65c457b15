"""LL3xx reductions and shapes: objectives that are not the scalar the optimizer needs."""

from __future__ import annotations

import libcst as cst

from losslint.engine import shorten
from losslint.rule import Invalid, Rule, Valid
from losslint.tree import dotted, keyword, positional

VARIABLE_WORDS = ("variables", "weights", "params", "parameters", "vars")


def is_variables(node: cst.CSTNode | None) -> bool:
    """Whether a `tape.gradient` source is model variables (a training objective), not inputs."""
    if node is None:
        return False
    if isinstance(node, cst.Call):
        return is_variables(node.func)
    name = (dotted(node) or "").lower()
    if isinstance(node, (cst.List, cst.Tuple)):
        return any(is_variables(e.value) for e in node.elements)
    return any(word in name.rsplit(".", 1)[-1] for word in VARIABLE_WORDS)


def objective(ctx, node: cst.Call) -> cst.BaseExpression | None:
    """The value a training call differentiates: `tape.gradient(t, vars)`, `opt.minimize(t)`,
    `add_loss(t)`, `t.backward()`; None when the call is not a training objective."""
    kind = ctx.kind(node)
    if kind == "tape_gradient":
        if not is_variables(positional(node, 1) or keyword(node, "sources")):
            return None
        return positional(node, 0) or keyword(node, "target")
    if kind == "minimize":
        return positional(node, 0) or keyword(node, "loss")
    if kind == "add_loss":
        return positional(node, 0) or keyword(node, "losses")
    if kind == "backward" and isinstance(node.func, cst.Attribute) and not node.args:
        return node.func.value
    return None


class MissingReduction(Rule):
    """The training objective is not a scalar.

    ## What it does
    Flags `tape.gradient(loss, model.trainable_variables)`, `optimizer.minimize(loss)`,
    `add_loss(loss)` and torch `loss.backward()` whose `loss` comes from an unreduced
    element-wise or per-sample loss. A gradient with respect to an input tensor, taken for
    inspection, is not a training objective and is not flagged.

    ## Why is this bad?
    TensorFlow silently sums a non-scalar target before differentiating: the effective
    learning rate grows with the batch size (and with the number of elements per sample).
    PyTorch raises `grad can be implicitly created only for scalar outputs`.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        loss = tf.square(y - model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(y - model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    ```
    """

    code = "LL301"
    name = "missing-reduction"
    probe = "output-rank"
    hint = "reduce the loss to a scalar (`reduce_mean`, `.mean()`) before differentiating it"
    VALID = [
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """),
        Valid("""
        import tensorflow as tf
        def saliency_step(model, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = tf.square(model(x))
            return tape.gradient(out, x)
        """),
        Valid("""
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def per_sample_loss(y_true, y_pred):
            return tf.square(y_true - y_pred)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = per_sample_loss(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """, line=7, message="per_sample_loss"),
        Invalid("""
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y, reduction="none")
            loss.backward()
        """, line=4),
        Invalid("""
        import tensorflow as tf
        mse = tf.keras.losses.MeanSquaredError(reduction="none")
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = mse(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=6),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        target = objective(self.ctx, node)
        if target is None:
            return
        reduction = self.ctx.reduction(target)
        if reduction not in ("per_sample", "elementwise"):
            return
        source = self.ctx.value_of(target)
        what = "per-sample" if reduction == "per_sample" else "element-wise"
        self.report(node, f"the training objective `{shorten(self.ctx.text(target))}` is an "
                    f"unreduced {what} loss (`{shorten(self.ctx.text(source), 50)}`), not a "
                    "scalar")
