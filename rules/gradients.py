"""LL2xx gradients: gradients that are lost, ignored or broken."""

from __future__ import annotations

import libcst as cst

from losslint.rule import Invalid, Rule, Valid
from losslint.engine import shorten
from losslint.tree import assigned_names, walk, walk_own

GRADIENT_KINDS = {"gradients", "tape_gradient"}


def is_gradient_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("grad", "grads") or lowered.startswith(("gradient", "d_loss", "dloss"))


def read_names(function: cst.FunctionDef) -> set[str]:
    """Names read anywhere in a function (nested functions included), not just assigned."""
    targets: set[int] = set()
    for node in walk(function.body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    targets.add(id(target.target))
                elif isinstance(target.target, (cst.Tuple, cst.List)):
                    targets.update(id(e.value) for e in target.target.elements
                                   if isinstance(e.value, cst.Name))
    return {n.value for n in walk(function.body) if isinstance(n, cst.Name) and id(n) not in targets}


class DiscardedGradient(Rule):
    """A gradient is computed and never used.

    ## What it does
    In loss code, flags a `tape.gradient(...)`, `tf.gradients(...)` or `torch.autograd.grad(...)`
    whose result is never read, and a value assigned to a gradient-like name (`grad`, `grads`,
    `gradient*`, `d_loss*`) that is never read or returned. A nested `def grad` (the gradient
    function of `tf.custom_gradient`) is LL202's business.

    ## Why is this bad?
    The author meant the gradient to shape training; it does not. The loss that is returned is
    differentiated as written, so the hand-made gradient has no effect at all.

    ## Example
    ```python
    def mse_loss(y_true, y_pred):
        loss = tf.reduce_mean(tf.square(y_true - y_pred))
        grad = tf.reduce_mean(y_true - y_pred)
        return loss
    ```

    ## Use instead
    Delete the unused computation, or define the gradient with `tf.custom_gradient` and return
    `(value, grad_fn)`.
    """

    code = "LL201"
    name = "discarded-gradient"
    probe = "gradient-independence"
    hint = "use the gradient (e.g. `tf.custom_gradient`) or delete the computation"
    VALID = [
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def clip_gradient(x):
            def grad(dy):
                return tf.clip_by_value(dy, -1.0, 1.0)
            return tf.identity(x), grad
        """),
        Valid("""
        import torch
        def penalty_loss(pred, x):
            grad = torch.autograd.grad(pred.sum(), x, create_graph=True)[0]
            return (grad.norm(dim=1) - 1).pow(2).mean()
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def mse_loss_with_manual_grad(y_true, y_pred):
            loss = tf.reduce_mean(tf.square(y_true - y_pred))
            grad = tf.reduce_mean(y_true - y_pred)
            return loss
        """, line=4, message="`grad`"),
        Invalid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            return loss
        """, line=5),
        Invalid("""
        import torch
        def gradient_penalty_loss(pred, x):
            torch.autograd.grad(pred.sum(), x)
            return pred.mean()
        """, line=3),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.ctx.function
        if function is None or function.node is not node:
            return
        reads: set[str] | None = None
        for statement in _own_statements(node.body):
            if isinstance(statement, cst.Expr) and self._is_gradient_call(statement.value):
                self.report(statement.value, f"the gradient `{shorten(self.ctx.text(statement.value))}`"
                            " is computed and its result is never used")
            if not isinstance(statement, cst.Assign):
                continue
            names = [n for t in statement.targets for n in assigned_names(t.target)]
            gradient_call = self._is_gradient_call(statement.value)
            candidates = names if gradient_call else [n for n in names if is_gradient_name(n)]
            if not candidates:
                continue
            if reads is None:
                reads = read_names(node)
            unused = [n for n in candidates if n not in reads]
            if unused and len(unused) == len(candidates):
                self.report(statement, f"gradient `{unused[0]}` = "
                            f"`{shorten(self.ctx.text(statement.value))}` is computed and never"
                            " used: the returned loss does not depend on it")

    def _is_gradient_call(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Call) and self.ctx.kind(node) in GRADIENT_KINDS


def _own_statements(body: cst.CSTNode):
    """Small statements of a function body, entering blocks but not nested functions."""
    for node in walk_own(body):
        if isinstance(node, cst.SimpleStatementLine):
            yield from node.body
