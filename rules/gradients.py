"""LL2xx gradients: gradients that are lost, ignored or broken."""

from __future__ import annotations

import libcst as cst

from lossguard.api import (
    KERAS_PRED_NAMES,
    NO_PATH,
    Blocked,
    Function,
    Invalid,
    Rule,
    Valid,
    assigned_names,
    callee_name,
    children,
    dotted,
    is_gradient_name,
    is_loss_name,
    is_optimizer_name,
    is_variables,
    keyword,
    number,
    ops,
    positional,
    reports_only,
    shorten,
    walk,
    walk_own,
)

GRADIENT_KINDS = {"gradients", "tape_gradient"}


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
    return {n.value for n in walk(function.body)
            if isinstance(n, cst.Name) and id(n) not in targets}


class DiscardedGradient(Rule):
    """A gradient is computed and never used.

    ## What it does
    In loss code, flags a `tape.gradient(...)`, `tf.gradients(...)` or `torch.autograd.grad(...)`
    whose result is never read, and a value assigned to a gradient-like name (`grad`, `grads`,
    `gradient*`, `d_loss*`) that is never read or returned. A nested `def grad` (the gradient
    function of `tf.custom_gradient`) is LL202's business.

    The PyTorch twin: a `loss.backward()` in a function that handles an optimizer (calls
    `zero_grad()` or names an `optimizer`) but never calls `.step()` on anything, nor reads the
    `.grad` it filled, nor returns the loss (a Lightning-style `training_step`, whose framework
    steps the optimizer; an LBFGS closure), and that no code stepping an optimizer calls.

    ## Why is this bad?
    The author meant the gradient to shape training; it does not. The loss that is returned is
    differentiated as written, so the hand-made gradient has no effect at all. Gradients of a
    train step that are never applied (no `apply_gradients`, no `optimizer.step()`) leave the
    weights where they are: the loss never goes down.

    ## Example
    ```python
    import tensorflow as tf
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
        # a mixed-precision trainer steps the optimizer in the caller (`trainer.optimize(opt)`)
        Valid("""
        import torch.nn.functional as F
        def train(model, trainer, opt, data, steps):
            def forward_backward(batch, labels):
                trainer.zero_grad()
                loss = F.cross_entropy(model(batch), labels)
                trainer.backward(loss)
            for _ in range(steps):
                batch, labels = next(data)
                forward_backward(batch, labels)
                trainer.optimize(opt)
        """),
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
        Valid("""
        import torch.nn.functional as F
        def train_epoch(model, loader, optimizer, scaler, accumulate=4):
            for i, (x, y) in enumerate(loader):
                loss = F.cross_entropy(model(x), y) / accumulate
                scaler.scale(loss).backward()
                if (i + 1) % accumulate == 0:
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad()
        """),
        Valid("""
        import torch.nn.functional as F
        class Classifier:
            def training_step(self, batch, batch_idx):
                x, y = batch
                opt = self.optimizers()
                opt.zero_grad()
                loss = F.cross_entropy(self(x), y)
                loss.backward()
                return loss
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def sgd_epoch(model, loader, lr=0.1, optimizer=None):
            for x, y in loader:
                loss = F.mse_loss(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= lr * p.grad
                        p.grad = None
        """),
        Valid("""
        import torch.nn.functional as F
        class Pix2Pix:
            def backward_generator(self):
                self.loss_g = F.l1_loss(self.fake, self.real)
                self.loss_g.backward()
            def optimize(self):
                self.optimizer_g.zero_grad()
                self.backward_generator()
                self.optimizer_g.step()
        """),
        Valid("""
        import torch
        def train(args, create_model, loader):
            # `grad_vars` holds what is differentiated (the parameters), not gradients
            model, grad_vars, optimizer = create_model(args)
            for x, y in loader:
                loss = ((model(x) - y) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
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
        """, line=5, message="gradient `grads` = `tape.gradient("),
        Invalid("""
        import torch
        def gradient_penalty_loss(pred, x):
            torch.autograd.grad(pred.sum(), x)
            return pred.mean()
        """, line=3, message="its result is never used"),
        Invalid("""
        import torch.nn.functional as F
        def train(model, loader, optimizer, epochs=10):
            for _ in range(epochs):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
        """, line=7, message="no optimizer step in `train` applies"),
        Invalid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            return loss
        """, line=5, message="never applied: no optimizer step uses it"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.ctx.function
        if function is None or function.node is not node:
            return
        reads: set[str] | None = None
        for statement in _own_statements(node.body):
            if isinstance(statement, cst.Expr) and self._is_gradient_call(statement.value):
                text = shorten(self.ctx.text(statement.value))
                self.report(statement.value, f"the gradient `{text}` is computed and its result"
                            " is never used", hint=self._hint(statement.value))
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
                hint = self._hint(statement.value, unused[0])
                why = "applied: no optimizer step uses it, so the weights never change" \
                    if hint != self.hint else "used: the returned loss does not depend on it"
                self.report(statement, f"gradient `{unused[0]}` = "
                            f"`{shorten(self.ctx.text(statement.value))}` is computed and never "
                            f"{why}", hint=hint)
        self._unstepped(function)

    def _is_gradient_call(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Call) and self.ctx.kind(node) in GRADIENT_KINDS

    def _hint(self, value: cst.BaseExpression, name: str = "grads") -> str:
        """Gradients of the model's variables are meant to be applied by an optimizer: say so,
        in the code's own names."""
        sources = positional(value, 1) or keyword(value, "sources") or keyword(value, "xs") \
            if isinstance(value, cst.Call) else None
        if sources is not None and self.ctx.kind(value) in GRADIENT_KINDS and \
                is_variables(sources):
            return f"apply the gradients: `optimizer.apply_gradients(zip({name}, " \
                f"{shorten(self.ctx.text(sources))}))`"
        return self.hint

    # --- the PyTorch twin: `loss.backward()` that no optimizer step applies ----------------------
    def _unstepped(self, function: Function) -> None:
        """`loss.backward()` in a function that has an optimizer in sight but never steps it, does
        not use the `.grad` it filled, does not return the loss (a Lightning `training_step`, an
        LBFGS closure) and is not called by code that steps."""
        ctx = self.ctx
        calls = [call for call, _ in ctx.flow.body(function).calls
                 if ctx.kind(call) == "backward" and isinstance(call.func, cst.Attribute)]
        if not calls or self._steps(function) or _reads_grad(function.node) or \
                not _optimizer_in_sight(function.node):
            return
        params = {p.name.value for p in function.params}
        returned = {n.value for ret, _ in ctx.flow.body(function).returns
                    if ret.value is not None for n in walk(ret.value) if type(n) is cst.Name}
        for call in calls:
            receiver = call.func.value  # type: ignore[attr-defined]
            roots = {n.value for n in walk(receiver) if type(n) is cst.Name}
            if roots & (params | returned):
                continue  # the loss comes from, or goes back to, the caller
            if self._stepped_by_caller(function):
                return
            self.report(call, f"`{shorten(ctx.text(call))}` computes gradients that no "
                        f"optimizer step in `{function.name}` applies: the weights never "
                        "change", hint="call `optimizer.step()` after `loss.backward()` (and "
                        "`optimizer.zero_grad()` before it)")

    def _steps(self, function: Function, depth: int = 0) -> bool:
        """Whether a function steps an optimizer, itself or through the module functions and
        methods it calls (`self.optimizer_update()`)."""
        if _steps(function.node):
            return True
        if depth >= 3:
            return False
        for name in function.calls:
            callees = [c for c in self.ctx.index.by_name.get(name, ())
                       if c.cls is function.cls or c.cls is None]
            if any(c is not function and self._steps(c, depth + 1) for c in callees):
                return True
        return False

    def _stepped_by_caller(self, function: Function) -> bool:
        """Whether code that refers to `function` steps an optimizer (then the step is the
        caller's), or refers to it other than by a call (a callback: its caller is unknown)."""
        ctx = self.ctx
        pending, seen = [function], {id(function.node)}
        while pending:
            current = pending.pop()
            owners: list[cst.CSTNode] = [f.node for f in ctx.index.functions]
            owners.append(ctx.module)
            for owner in owners:
                if owner is current.node:
                    continue
                uses = _references(owner, current.name)
                if uses is None:
                    continue
                steps = _steps(owner) if isinstance(owner, cst.FunctionDef) else any(
                    _steps(statement) for statement in walk_own(owner)
                    if isinstance(statement, cst.SimpleStatementLine))
                if uses == "reference" or steps:
                    return True
                caller = ctx.index.function_of.get(id(owner))
                if caller is not None and id(owner) not in seen:
                    seen.add(id(owner))
                    pending.append(caller)
        return False


def _steps(node: cst.CSTNode) -> bool:
    """Whether code calls `.step()` on anything (`optimizer.step()`, `scaler.step(opt)`), a
    trainer's `.optimize(opt)` or an `*_step` function, nested closures included."""
    for sub in walk(node):
        if type(sub) is cst.Call:
            name = (dotted(sub.func) or "").rpartition(".")[2]
            if name in ("step", "optimize") or name.endswith("_step"):
                return True
    return False


def _reads_grad(node: cst.CSTNode) -> bool:
    """Whether code uses the gradients `.backward()` leaves in `.grad` (a hand-written update
    `p -= lr * p.grad`, gradient inspection)."""
    return any(type(sub) is cst.Attribute and sub.attr.value == "grad" for sub in walk(node))


def _optimizer_in_sight(node: cst.CSTNode) -> bool:
    """Whether a function handles an optimizer: calls `zero_grad()`, or names one."""
    for sub in walk(node):
        if type(sub) is cst.Call and (dotted(sub.func) or "").endswith("zero_grad"):
            return True
        name = sub.value if type(sub) is cst.Name else \
            sub.attr.value if type(sub) is cst.Attribute else None
        if name is not None and is_optimizer_name(name):
            return True
    return False


def _references(owner: cst.CSTNode, name: str) -> str | None:
    """How `owner`'s own code refers to `name`: "call" (`name(...)`, `self.name(...)`),
    "reference" (any other use, such as a callback argument), or None."""
    body = owner.body if isinstance(owner, cst.FunctionDef) else owner
    called: set[int] = set()
    found: str | None = None
    for sub in walk_own(body):
        if type(sub) is cst.Call:
            func = sub.func
            target = func.attr if type(func) is cst.Attribute else func
            if type(target) is cst.Name and target.value == name:
                called.add(id(target))
                found = "call"
        elif type(sub) is cst.Name and sub.value == name and id(sub) not in called:
            return "reference"
    return found


def _own_statements(body: cst.CSTNode):
    """Small statements of a function body, entering blocks but not nested functions."""
    for node in walk_own(body):
        if isinstance(node, cst.SimpleStatementLine):
            yield from node.body


# --- LL202 ------------------------------------------------------------------------------------

GradFn = cst.FunctionDef | cst.Lambda


def _all_none(value: cst.BaseExpression | None) -> bool:
    if value is None:
        return True
    if isinstance(value, (cst.Tuple, cst.List)):
        return all(_all_none(e.value) for e in value.elements)
    return isinstance(value, cst.Name) and value.value == "None"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _expected_text(expected: set[int]) -> str:
    values = sorted(expected)
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return " or ".join(str(v) for v in values)


def _joined_tuples(value: cst.BaseExpression) -> bool:
    """`(None, None) + (grad,)`, `(None,) + Exchange.apply(g)`: tuples joined by `+`."""
    return isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add) and (
        isinstance(value.left, cst.Tuple) or isinstance(value.right, cst.Tuple))


class CustomGradientContract(Rule):
    """A custom gradient breaks the contract of `tf.custom_gradient` or `autograd.Function`.

    ## What it does
    For a function decorated with (or passed to) `tf.custom_gradient`, flags:
    - an outer `return` that does not return `(value, grad_fn)` (at that `return`);
    - a `return` of the gradient function whose number of gradients differs from the
      function's positional inputs: TensorFlow flattens what `grad_fn` returns (tuples, lists,
      a single value, `None` counts as one) and compares it with *every* positional argument,
      Python numbers included. With the `variables=` keyword form, `grad_fn` returns
      `(input_grads, variable_grads)` and the first part is counted. Where the module calls the
      function, the count is taken from those calls; otherwise any count between the required
      and all positional parameters is accepted;
    - a gradient function that does not use the upstream gradient (`dy`, `upstream`: its
      positional parameters) on every return path (at its `def`). A gradient function that
      hands the upstream gradient to a call made for its effect (a sharded table's own
      `apply_gradients(dy)`) routes it elsewhere on purpose and is not reported.

    For a `torch.autograd.Function`, `backward` must return one gradient (or `None`) per input
    of `forward` after `ctx` (extra values are accepted only when they are `None`, as PyTorch
    does), and must use its upstream gradients (`grad_output`) on every return path.

    ## Why is this bad?
    A gradient function that ignores the upstream gradient breaks the chain rule: every
    parameter before the custom op gets a gradient that does not depend on the loss. A wrong
    count raises at the first backward pass (or, with `None` padding, silently drops a
    gradient), and an outer function that does not return `(value, grad_fn)` fails when called.

    ## Example
    ```python
    import tensorflow as tf
    @tf.custom_gradient
    def clipped_identity(x):
        def grad(dy):
            return tf.clip_by_value(x, -1.0, 1.0)
        return x, grad
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    @tf.custom_gradient
    def clipped_identity(x):
        def grad(dy):
            return tf.clip_by_value(dy, -1.0, 1.0)
        return tf.identity(x), grad
    ```
    """

    code = "LL202"
    name = "custom-gradient-contract"
    scope = "all"
    frameworks = ("tensorflow", "torch")
    probe = "finite-differences"
    hint = ("return `(value, grad_fn)`; make `grad_fn` multiply by the upstream gradient and "
            "return one gradient per positional input")
    VALID = [
        # the `None`s of the ranks and the group, joined to the exchanged gradient
        Valid("""
        import torch
        class Exchange(torch.autograd.Function):
            @staticmethod
            def forward(ctx, src, dst, group, tensor):
                ctx.src, ctx.dst, ctx.group = src, dst, group
                return tensor.clone()
            @staticmethod
            def backward(ctx, grad_output):
                return (None, None, None) + (Exchange.apply(ctx.dst, ctx.src, ctx.group,
                                                            grad_output),)
        """),
        Valid("""
        import torch
        class Quantize(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, codebook):
                idx = torch.cdist(x, codebook).argmin(-1)
                ctx.mark_non_differentiable(idx)
                return idx

            @staticmethod
            def backward(ctx, grad_idx):
                raise RuntimeError("Quantize is not differentiable; use the straight-through op")
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
        import tensorflow as tf
        @tf.custom_gradient
        def log1pexp(x):
            e = tf.exp(tf.minimum(x, 50.0))
            def grad(upstream):
                return upstream * (1 - 1 / (1 + e))
            return tf.math.log1p(e), grad
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def scaled_product(x, y):
            def grad(dy):
                return dy * y, dy * x
            return x * y, grad
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def scale(x, factor):
            def grad(dy):
                if factor > 1:
                    return [dy * factor, None]
                g = dy
                return g, None
            return x * factor, grad
        y = scale(tf.ones(3), 2.0)
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def dense(x):
            out = tf.matmul(x, w)
            def grad(dy, variables=None):
                return tf.matmul(dy, tf.transpose(w)), [tf.matmul(tf.transpose(x), dy)]
            return out, grad
        """),
        Valid("""
        import torch
        class RoundSTE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, scale=1.0):
                return torch.round(x * scale) / scale
            @staticmethod
            def backward(ctx, grad_output):
                return grad_output, None
        """),
        Valid("""
        import torch
        class Clamp(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clamp(0, 1)
            @staticmethod
            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                grad = grad_output.clone()
                grad[x < 0] = 0
                return grad, None, None
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def double_all(*xs):
            def grad(*dys):
                grads = []
                for dy in dys:
                    grads.append(2.0 * dy)
                return grads
            return [2.0 * x for x in xs], grad
        """),
        Valid("""
        import torch
        class Double(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return 2 * x
            @staticmethod
            def backward(ctx, grad_out):
                x, = ctx.saved_tensors
                g = torch.ones_like(x) * 2
                g.mul_(grad_out)
                return g
        """),
        Valid("""
        import torch
        class Triple(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return 3 * x
            @staticmethod
            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                g = torch.empty_like(x)
                torch.mul(grad_output, 3, out=g)
                return g
        """),
        Valid("""
        import torch
        class MaskedIdentity(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, mask):
                ctx.save_for_backward(mask)
                return x * mask
            @staticmethod
            def backward(ctx, grad_output):
                mask, = ctx.saved_tensors
                grad_input = torch.zeros_like(grad_output)
                grad_input[mask] += grad_output[mask]
                return grad_input, None
        """),
        Valid("""
        import tensorflow as tf
        class ShardedEmbedding(tf.keras.layers.Layer):
            def call(self, ids):
                @tf.custom_gradient
                def trap(dummy):
                    rows = self.table.lookup(ids)
                    def grad(*upstream):
                        # the rows' gradients go to the table's own optimiser
                        self.table.apply_gradients(list(upstream))
                        return tf.zeros_like(dummy)
                    return rows, grad
                return trap(self.dummy)
        """),
    ]
    INVALID = [
        Invalid("""
        import torch
        class Exchange(torch.autograd.Function):
            @staticmethod
            def forward(ctx, src, dst, group, tensor):
                ctx.src, ctx.dst = src, dst
                return tensor.clone()
            @staticmethod
            def backward(ctx, grad_output):
                return (None, None) + (grad_output,)
        """, line=9, message="returns 3 gradients"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def double_all(*xs):
            def grad(*dys):
                grads = []
                for x in xs:
                    grads.append(tf.ones_like(x))
                return grads
            return [2.0 * x for x in xs], grad
        """, line=4, message="ignores the upstream gradient `dys` (it returns `grads`)"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def clipped_identity(x):
            def grad(dy):
                return tf.clip_by_value(x, -1.0, 1.0)
            return x, grad
        """, line=4, message="ignores the upstream gradient `dy`"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def safe_log(x):
            def grad(dy):
                return dy / tf.maximum(x, 1e-6)
            return tf.math.log(tf.maximum(x, 1e-6))
        """, line=6, message="not `(value, grad_fn)`"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def scaled_product(x, y):
            def grad(dy):
                return dy * y
            return x * y, grad
        """, line=5, message="returns 1 gradient"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def scale(x, factor):
            def grad(dy):
                return dy * factor
            return x * factor, grad
        y = scale(tf.ones(3), 2.0)
        """, line=5, message="Python numbers included"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def dense(x):
            out = tf.matmul(x, w)
            def grad(dy, variables=None):
                return tf.matmul(dy, tf.transpose(w)), None, [tf.matmul(tf.transpose(x), dy)]
            return out, grad
        """, line=6, message="`(input_grads, variable_grads)`"),
        Invalid("""
        import tensorflow as tf
        def _st_round(x):
            return tf.round(x), lambda dy: tf.ones_like(x)
        st_round = tf.custom_gradient(_st_round)
        """, line=3, message="ignores the upstream gradient"),
        Invalid("""
        import torch
        class ScaledProduct(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x * y
            @staticmethod
            def backward(ctx, grad_output):
                x, y = ctx.saved_tensors
                return grad_output * y
        """, line=10, message="after `ctx`"),
        Invalid("""
        import torch
        class Sign(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.sign()
            @staticmethod
            def backward(ctx, grad_output):
                return torch.ones_like(grad_output)
        """, line=7, message="ignores the upstream gradient `grad_output`"),
        Invalid("""
        import torch
        class Triple(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return 3 * x
            @staticmethod
            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                g = torch.ones_like(x)
                g.mul_(3)
                return g
        """, line=8, message="ignores the upstream gradient `grad_output`"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.ctx.index.function_of.get(id(node))
        if function is None:
            return
        flow = self.ctx.flow
        if flow.is_custom_gradient(function):
            self._tensorflow(function)
        elif function.name == "backward" and flow.autograd_method(function):
            self._torch(function)

    # --- tf.custom_gradient -------------------------------------------------------------------
    def _tensorflow(self, function: Function) -> None:
        body = self.ctx.flow.body(function)
        if not body.returns:
            self.report(function.node, f"`tf.custom_gradient` function `{function.name}` returns"
                        " nothing: it must return `(value, grad_fn)`")
            return
        expected = self._tf_expected(function)
        checked: set[int] = set()
        for ret, _ in body.returns:
            parts = self._parts(function, ret.value)
            if parts is None:
                continue
            if len(parts) != 2:
                text = shorten(self.ctx.text(ret.value)) if ret.value is not None else "None"
                self.report(ret, f"`tf.custom_gradient` function `{function.name}` returns "
                            f"`{text}`, not `(value, grad_fn)`: the gradient function is lost "
                            "and calling it fails")
                continue
            grad = self._grad_fn(function, parts[1])
            if grad is None or id(grad) in checked:
                continue
            checked.add(id(grad))
            self._check(grad, function, expected, tensorflow=True)

    def _tf_expected(self, function: Function) -> set[int] | None:
        params = [p for p in function.positional_params]
        if function.cls is not None and params and params[0].name.value in ("self", "cls"):
            params = params[1:]
        if isinstance(function.node.params.star_arg, cst.Param):
            return None
        counts: set[int] = set()
        for call in self.ctx.index.calls_by_name.get(function.name, ()):
            if any(arg.star for arg in call.args):
                return None
            count = 0
            for arg in call.args:
                if arg.keyword is None:
                    value = arg.value
                    count += len(value.elements) if isinstance(value, (cst.Tuple, cst.List)) \
                        else 1
            counts.add(count)
        if counts:
            return counts
        required = sum(1 for p in params if p.default is None)
        return set(range(required, len(params) + 1))

    # --- torch.autograd.Function --------------------------------------------------------------
    def _torch(self, function: Function) -> None:
        cls = function.cls
        forward = cls.methods.get("forward") if cls is not None else None
        expected: tuple[int, int] | None = None
        if forward is not None and not isinstance(forward.node.params.star_arg, cst.Param):
            params = forward.positional_params
            if cls is not None and "setup_context" not in cls.methods and params:
                params = params[1:]  # ctx
            required = sum(1 for p in params if p.default is None)
            expected = (required, len(params))
        self._check(function.node, function, expected, tensorflow=False)

    # --- the gradient function ----------------------------------------------------------------
    def _check(self, grad: GradFn, owner: Function, expected: object, *,
               tensorflow: bool) -> None:
        params = grad.params
        positional = [p.name.value for p in [*params.posonly_params, *params.params]]
        if not tensorflow:
            positional = positional[1:]  # ctx
        upstream = [n for n in positional if n != "variables"]
        if isinstance(params.star_arg, cst.Param):
            upstream.append(params.star_arg.name.value)
        variables = any(p.name.value == "variables" for p in
                        [*params.params, *params.kwonly_params]) or params.star_kwarg is not None
        label = f"`{grad.name.value}`" if isinstance(grad, cst.FunctionDef) else "the lambda"
        if not upstream:
            self.report(grad, f"gradient function {label} takes no upstream gradient: the chain"
                        " rule is broken")
            return
        returns = self._returns(grad)
        # A path that returns only `None` ("no input needs a gradient", as with
        # `ctx.needs_input_grad`) is fine when another path uses the upstream gradient.
        unused = [value for value, ordinal in returns
                  if value is None or not self._uses(grad, value, ordinal, upstream)]
        real = [value for value in unused if not _all_none(value)]
        ignoring: cst.BaseExpression | None | bool = False
        if unused and self._hands_on(grad, upstream):
            pass  # the upstream gradient goes to a call made for its effect, on purpose
        elif real:
            ignoring = real[0]
        elif unused and len(unused) == len(returns):
            ignoring = unused[0]
        if not returns and not _raises(grad):
            self.report(grad, f"gradient function {label} returns nothing: every input gets a"
                        " `None` gradient")
        elif ignoring is not False:
            text = shorten(self.ctx.text(ignoring)) if ignoring is not None else "None"
            self.report(grad, f"gradient function {label} ignores the upstream gradient "
                        f"`{upstream[0]}` (it returns `{text}`): the chain rule is broken, so "
                        f"everything before `{owner.name}` gets a gradient that does not depend "
                        "on the loss")
        for value, _ in returns:
            node = self._return_node(grad, value)
            if tensorflow:
                self._tf_count(grad, owner, node, value, expected, variables, label)
            else:
                self._torch_count(grad, owner, node, value, expected)

    def _tf_count(self, grad: GradFn, owner: Function, node: cst.CSTNode,
                  value: cst.BaseExpression | None, expected: object, variables: bool,
                  label: str) -> None:
        if not isinstance(expected, set):
            return
        count = self._count(grad, value, flatten=True)
        if not variables:
            if count is None or count in expected:
                return
            self.report(node, f"gradient function {label} returns "
                        f"{_plural(count, 'gradient')} but `{owner.name}` has "
                        f"{_expected_text(expected)} positional input(s): `tf.custom_gradient`"
                        " counts every positional argument, Python numbers included")
            return
        # `variables=`: TensorFlow passes it (and unpacks `(input_grads, variable_grads)`) only
        # when the function reads variables, which the source does not always show: accept
        # either form, flag when neither fits.
        parts = self._parts(self._function(grad), value)
        counts = [count]
        if parts is not None and len(parts) == 2:
            counts.append(self._count(grad, parts[0], flatten=True))
        elif parts is None:
            return
        if any(c is None or c in expected for c in counts):
            return
        self.report(node, f"gradient function {label} takes `variables` but returns "
                    f"`{shorten(self.ctx.text(value))}`: neither "
                    "`(input_grads, variable_grads)` with one input gradient per positional "
                    f"input of `{owner.name}` ({_expected_text(expected)}) nor that many "
                    "gradients")

    def _torch_count(self, grad: GradFn, owner: Function, node: cst.CSTNode,
                     value: cst.BaseExpression | None, expected: object) -> None:
        if not isinstance(expected, tuple):
            return
        required, total = expected
        count = self._count(grad, value, flatten=False)
        if count is None:
            return
        if count > total and isinstance(value, (cst.Tuple, cst.List)) and all(
                isinstance(e.value, cst.Name) and e.value.value == "None"
                for e in value.elements[total:]):
            return
        if required <= count <= total:
            return
        wanted = str(total) if required == total else f"{required} to {total}"
        cls = owner.cls.name if owner.cls is not None else "the function"
        self.report(node, f"`{cls}.backward` returns {_plural(count, 'gradient')} but "
                    f"`forward` takes {wanted} input(s) after `ctx`: PyTorch needs one gradient"
                    " (or `None`) per input")

    # --- helpers ------------------------------------------------------------------------------
    def _function(self, grad: GradFn) -> Function | None:
        return self.ctx.index.function_of.get(id(grad)) if isinstance(grad, cst.FunctionDef) \
            else None

    def _returns(self, grad: GradFn) -> list[tuple[cst.BaseExpression | None, int]]:
        function = self._function(grad)
        if function is None:
            return [(grad.body, 0)] if isinstance(grad, cst.Lambda) else []
        body = self.ctx.flow.body(function)
        return [(r.value, o) for r, o in body.returns]

    def _return_node(self, grad: GradFn, value: cst.BaseExpression | None) -> cst.CSTNode:
        function = self._function(grad)
        if function is not None:
            for ret, _ in self.ctx.flow.body(function).returns:
                if ret.value is value:
                    return ret
        return grad

    def _hands_on(self, grad: GradFn, upstream: list[str]) -> bool:
        """Whether the gradient function passes the upstream gradient to a call made for its
        effect (`optimizer.apply_gradients(dy)`, `buffer.append(dy)`): it routes the gradient
        somewhere else on purpose, so the inputs' gradients it returns need not carry it."""
        function = self._function(grad)
        if function is None:
            return False
        body = self.ctx.flow.body(function)
        for node in walk(grad.body):
            if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call) and \
                    self.ctx.op(node.value) is None and \
                    not reports_only(callee_name(node.value.func)):
                ordinal = body.ordinal_of(node.value)
                if ordinal is not None and any(
                        self.ctx.flow.depends(arg.value, function, ordinal, upstream)
                        for arg in node.value.args):
                    return True
        return False

    def _uses(self, grad: GradFn, value: cst.BaseExpression, ordinal: int,
              upstream: list[str]) -> bool:
        function = self._function(grad)
        if function is None:
            return any(isinstance(n, cst.Name) and n.value in upstream for n in walk(value))
        return self.ctx.flow.depends(value, function, ordinal, upstream)

    def _definition(self, function: Function | None,
                    name: str) -> cst.BaseExpression | None:
        if function is None:
            return None
        defs = self.ctx.flow.body(function).defs.get(name, [])
        if len(defs) == 1 and defs[0].kind == "assign" and defs[0].direct:
            return defs[0].value
        return None

    def _parts(self, function: Function | None,
               value: cst.BaseExpression | None) -> list[cst.BaseExpression] | None:
        """The values a `return` returns: its elements, [value] for one value, None if unknown."""
        if value is None:
            return []
        if isinstance(value, (cst.Tuple, cst.List)):
            if any(isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            return [e.value for e in value.elements]
        if self._single(function, value):
            return [value]
        if isinstance(value, cst.Name):
            definition = self._definition(function, value.value)
            if isinstance(definition, (cst.Tuple, cst.List)):
                return self._parts(function, definition)
        return None

    def _single(self, function: Function | None, value: cst.BaseExpression) -> bool:
        """Whether an expression is surely one tensor (not a tuple)."""
        if _joined_tuples(value):
            return False
        if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison,
                              cst.BaseNumber)):
            return True
        if isinstance(value, cst.Call):
            op = self.ctx.op(value)
            if op is not None:
                return op.kind not in GRADIENT_KINDS
            callee = self.ctx.flow.module_function(function, value) if function else None
            return callee is not None and self.ctx.flow.is_custom_gradient(callee)
        if isinstance(value, cst.Name):
            if value.value == "None":
                return True
            if function is not None and value.value not in self.ctx.flow.body(function).defs \
                    and any(p.name.value == value.value for p in function.params):
                return True
            definition = self._definition(function, value.value)
            return definition is not None and not isinstance(definition, (cst.Tuple, cst.List)) \
                and self._single(function, definition)
        return False

    def _count(self, grad: GradFn, value: cst.BaseExpression | None, *,
               flatten: bool) -> int | None:
        function = self._function(grad)
        if value is None:
            return 1
        if isinstance(value, (cst.Tuple, cst.List)):
            if any(isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            if not flatten:
                return len(value.elements)
            total = 0
            for element in value.elements:
                inner = self._count(grad, element.value, flatten=True)
                if inner is None:
                    return None
                total += inner
            return total
        if isinstance(value, cst.IfExp):
            a = self._count(grad, value.body, flatten=flatten)
            b = self._count(grad, value.orelse, flatten=flatten)
            return a if a == b else None
        if _joined_tuples(value):  # `(None, None) + (grad,)`: the tuples joined
            a = self._count(grad, value.left, flatten=flatten)  # type: ignore[attr-defined]
            b = self._count(grad, value.right, flatten=flatten)  # type: ignore[attr-defined]
            return a + b if a is not None and b is not None else None
        if isinstance(value, cst.Name):
            definition = self._definition(function, value.value)
            if isinstance(definition, cst.Tuple):
                return self._count(grad, definition, flatten=flatten)
        return 1 if self._single(function, value) else None

    def _grad_fn(self, function: Function, value: cst.BaseExpression) -> GradFn | None:
        if isinstance(value, cst.Lambda):
            return value
        if isinstance(value, cst.Name):
            nested = function.nested.get(value.value)
            if nested is not None:
                return nested.node
            definition = self._definition(function, value.value)
            if isinstance(definition, cst.Lambda):
                return definition
        return None


# --- LL203 / LL205: the prediction reaches the differentiated value only through a block ---

def _sources_text(blocked: Blocked) -> str:
    if not blocked.sources:
        return "the model output"
    names = ", ".join(f"`{s}`" for s in blocked.sources)
    return f"the prediction {names}" if len(blocked.sources) == 1 else f"the predictions {names}"


def _where(blocked: Blocked) -> str:
    root = blocked.root
    if blocked.owner is root.node:
        return blocked.target
    return f"{blocked.target} (through the helper that holds it)"


class NonDifferentiableOp(Rule):
    """The prediction reaches the loss only through a non-differentiable operation.

    ## What it does
    Follows the data flow from the prediction parameter of a loss (through local assignments
    and helper functions of the module) to the value that is differentiated: the returned loss,
    or in training-step code the target of `.backward()` / `tape.gradient` / `minimize`. Flags
    the first non-differentiable operation on the path (`argmax`, `argmin`, `round`, `floor`,
    `ceil`, `sign`, a cast to an integer or bool dtype, a comparison) when *every* path from the
    prediction goes through one. A loss that also has a differentiable path (`mse + 0.1 *
    hard_penalty`) is not flagged, nor is the forward of a `tf.custom_gradient` function or a
    `torch.autograd.Function`, nor a straight-through estimator
    (`x + stop_gradient(round(x) - x)`): there the gradient is defined another way. A metric such
    as `accuracy(y_true, y_pred)` is not loss code; a loss made of a metric is.

    ## Why is this bad?
    These operations have a zero gradient almost everywhere (or none at all): TensorFlow
    returns `None` gradients ("No gradients provided for any variable"), PyTorch raises
    "element 0 of tensors does not require grad", or the weights never move.

    ## Example
    ```python
    from tensorflow.keras import backend as K
    def rounded_loss(y_true, y_pred):
        return K.mean(K.square(y_true - K.round(y_pred)), axis=-1)
    ```

    ## Use instead
    ```python
    from tensorflow.keras import backend as K
    def rounded_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LL203"
    name = "non-differentiable-op"
    probe = "gradient-independence"
    hint = ("use a differentiable surrogate (softmax for argmax, sigmoid for a threshold) or a "
            "straight-through estimator")
    VALID = [
        # the branch functions close over the residual: the gradient flows through them
        Valid("""
        import tensorflow as tf
        def huber_loss(labels, predictions, delta=1.0):
            residual = tf.abs(labels - predictions)
            def small():
                return 0.5 * tf.square(residual)
            def large():
                return delta * residual - 0.5 * delta ** 2
            return tf.cond(residual < delta, small, large)
        """),
        Valid("""
        import numpy as np
        def dice_score(prediction, truth, threshold=0.5):
            # an evaluation in NumPy: no graph, no gradient to lose
            hard = (prediction > threshold).astype(np.float32)
            return 2 * np.sum(hard * truth) / (np.sum(hard) + np.sum(truth) + 1e-7)
        """),
        Valid("""
        import tensorflow as tf
        def ste_loss(y_true, y_pred):
            hard = y_pred + tf.stop_gradient(tf.round(y_pred) - y_pred)
            return tf.reduce_mean(tf.square(y_true - hard))
        """),
        Valid("""
        import tensorflow as tf
        @tf.custom_gradient
        def round_ste(x):
            def grad(dy):
                return dy
            return tf.round(x), grad
        def quantized_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - round_ste(y_pred)))
        """),
        Valid("""
        import torch
        class RoundSTE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.round()
            @staticmethod
            def backward(ctx, grad_output):
                return grad_output
        def quantized_loss(pred, target):
            return ((RoundSTE.apply(pred) - target) ** 2).mean()
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def mixed_loss(y_true, y_pred):
            mse = K.mean(K.square(y_true - y_pred), axis=-1)
            hard = K.mean(K.square(y_true - K.round(y_pred)), axis=-1)
            return mse + 0.1 * hard
        """),
        Valid("""
        import keras
        def sparse_loss(y_true, y_pred):
            labels = keras.ops.cast(keras.ops.argmax(y_true, axis=-1), "int32")
            return keras.ops.sparse_categorical_crossentropy(labels, y_pred)
        """),
        Valid("""
        import tensorflow as tf
        def accuracy(y_true, y_pred):
            hits = tf.equal(tf.argmax(y_true, -1), tf.argmax(y_pred, -1))
            return tf.reduce_mean(tf.cast(hits, tf.float32))
        """),
        # `masks` beside `masks_target` is the predicted mask; the boxes only pick which
        Valid("""
        import tensorflow as tf
        def mask_loss(boxes, masks, gt_boxes, masks_target):
            overlap = tf.matmul(boxes, gt_boxes, transpose_b=True)
            picked = tf.where(tf.reduce_max(overlap, axis=1) > 0.5)[:, 0]
            chosen = tf.gather(masks, picked)
            target = tf.gather(masks_target, picked)
            return tf.reduce_mean(tf.keras.losses.binary_crossentropy(target, chosen))
        """),
        Valid("""
        import torch
        def masked_loss(pred, target):
            keep = (target > 0).float()
            return ((pred - target) ** 2 * keep).sum() / keep.sum().clamp_min(1)
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def accuracy_as_loss(y_true, y_pred):
            hits = tf.cast(tf.equal(tf.argmax(y_true, -1), tf.argmax(y_pred, -1)), tf.float32)
            return 1.0 - tf.reduce_mean(hits)
        """, line=3, message="`tf.argmax(y_pred, -1)`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def rounded_loss(y_true, y_pred):
            return K.mean(K.square(y_true - K.round(y_pred)), axis=-1)
        """, line=3, message="`K.round(y_pred)`"),
        Invalid("""
        import keras
        def hard_dice_loss(y_true, y_pred, smooth=1.0):
            hard = keras.ops.cast(y_pred > 0.5, "float32")
            inter = keras.ops.sum(y_true * hard)
            return 1.0 - (2.0 * inter + smooth) / (keras.ops.sum(y_true + hard) + smooth)
        """, line=3, message="comparison"),
        Invalid("""
        import torch
        def accuracy_loss(pred, target):
            return 1.0 - (pred.argmax(dim=1) == target).float().mean()
        """, line=3, message="`pred.argmax(dim=1)`"),
        Invalid("""
        import jax.numpy as jnp
        def sign_loss(pred, target):
            return jnp.mean((jnp.sign(pred) - target) ** 2)
        """, line=3, message="`jnp.sign(pred)`"),
        Invalid("""
        import tensorflow as tf
        def binarize(p):
            return tf.cast(p, tf.int32)
        def count_loss(y_true, y_pred):
            counts = tf.cast(binarize(y_pred), tf.float32)
            return tf.reduce_mean(tf.abs(y_true - counts))
        """, line=3, message="cast to an integer"),
        Invalid("""
        import torch
        def train_step(model, optimizer, x, y):
            labels = model(x).argmax(dim=1)
            loss = (labels.float() - y).abs().mean()
            loss.backward()
            optimizer.step()
        """, line=3, message="the target of `.backward()`"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for blocked in self.ctx.flow.blocked().get(id(node), ()):
            if blocked.kind != "non-differentiable":
                continue
            what = {"comparison": "a comparison", "cast": "a cast to an integer dtype"}.get(
                blocked.what, f"`{blocked.what}`")
            self.report(blocked.node, f"`{shorten(self.ctx.text(blocked.node))}` ({what}) has "
                        f"no gradient, and {_sources_text(blocked)} reaches "
                        f"{_where(blocked)} only through it: the gradient is zero or None")


class StoppedLossGradient(Rule):
    """The prediction reaches the loss only through a stopped gradient.

    ## What it does
    Follows the data flow from the prediction to the differentiated value (the value a loss
    function returns; in training-step code the target of `.backward()` / `tape.gradient` /
    `minimize`) and flags `stop_gradient`, `detach()`, `.item()` or a `with torch.no_grad():`
    block when *every* path from the prediction goes through one. Stopping one branch
    (SimSiam's `z.detach()`, a teacher's output, a straight-through estimator), `loss.item()`
    for logging after `backward()`, and evaluation under `no_grad` (the model itself runs
    inside the block) are fine.

    ## Why is this bad?
    The loss no longer depends on the model's weights through anything that carries a gradient:
    the optimizer gets zero (TensorFlow: `None`) gradients and the model does not train, often
    without any error.

    ## Example
    ```python
    import torch.nn.functional as F
    def detached_loss(pred, target):
        return F.mse_loss(pred.detach(), target)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F
    def detached_loss(pred, target):
        return F.mse_loss(pred, target)
    ```
    """

    code = "LL205"
    name = "stopped-loss-gradient"
    probe = "gradient-independence"
    hint = "remove the `stop_gradient`/`detach()`/`.item()`/`no_grad` from the prediction's path"
    VALID = [
        # style transfer fixes its targets: the loss layers built from them compare later inputs
        Valid("""
        import torch.nn as nn
        import torch.nn.functional as F
        class ContentLoss(nn.Module):
            def __init__(self, target):
                super().__init__()
                self.target = target
            def forward(self, x):
                self.loss = F.mse_loss(x, self.target)
                return x
        def build_content_losses(cnn, content_img):
            model, losses = nn.Sequential(), []
            for i, layer in enumerate(cnn.children()):
                model.add_module(str(i), layer)
                target = model(content_img).detach()
                loss_layer = ContentLoss(target)
                model.add_module(f"content_loss_{i}", loss_layer)
                losses.append(loss_layer)
            return model, losses
        """),
        # `jax.grad` differentiates the first argument: the temperature, not the policy
        Valid("""
        import jax
        import jax.numpy as jnp
        def make_temperature_update(policy, target_entropy):
            def alpha_loss(log_alpha, policy_params, observations, key):
                dist = policy.apply(policy_params, observations)
                log_prob = dist.log_prob(dist.sample(seed=key))
                alpha = jnp.exp(log_alpha)
                return jnp.mean(alpha * jax.lax.stop_gradient(-log_prob - target_entropy))
            return jax.value_and_grad(alpha_loss)
        """),
        Valid("""
        import torch
        class Temperature(torch.nn.Module):
            def __init__(self, target_entropy):
                super().__init__()
                self.log_alpha = torch.nn.Parameter(torch.zeros(1))
                self.target_entropy = target_entropy
            def alpha_loss(self, log_prob):
                return -(self.log_alpha * (log_prob + self.target_entropy).detach()).mean()
        """),
        # `loss` reports the estimate, detached where it is returned; `loss_and_grads` trains
        Valid("""
        import torch
        class TraceELBO:
            def differentiable_loss(self, model, guide, batch):
                return -(model.log_prob(batch) - guide.log_prob(batch)).mean()
            def loss(self, model, guide, batch):
                return self.differentiable_loss(model, guide, batch).detach().item()
            def loss_and_grads(self, model, guide, batch):
                loss = self.differentiable_loss(model, guide, batch)
                loss.backward()
                return loss.item()
        """),
        # the temperature is declared an array: it is what the loss trains
        Valid("""
        import jax
        import jax.numpy as jnp
        def make_losses(policy, target_entropy):
            def alpha_loss(log_alpha: jnp.ndarray, policy_params, observations, key):
                dist = policy.apply(policy_params, observations)
                log_prob = dist.log_prob(dist.sample(seed=key))
                return jnp.mean(jnp.exp(log_alpha) * jax.lax.stop_gradient(-log_prob))
            return alpha_loss
        """),
        Valid("""
        import torch
        from functools import partial
        def _replay(grad, cache):
            return grad
        class CachedLoss(torch.nn.Module):
            def forward(self, reps, labels):
                loss = self.loss_and_cache(reps)
                loss.register_hook(partial(_replay, cache=self.cache))
                return loss
            def loss_and_cache(self, reps):
                loss = reps.pow(2).sum()
                return loss.detach().requires_grad_()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def evaluate_loss(model, x, y):
            with torch.no_grad():
                return F.mse_loss(model(x), y).item()
        """),
        Valid("""
        import torch.nn.functional as F
        def simsiam_loss(p, z):
            return -F.cosine_similarity(p, z.detach(), dim=-1).mean()
        """),
        Valid("""
        import tensorflow as tf
        def distillation_loss(y_true, y_pred, teacher_logits):
            soft = tf.nn.softmax(tf.stop_gradient(teacher_logits))
            return tf.reduce_mean(tf.keras.losses.kl_divergence(soft, tf.nn.softmax(y_pred)))
        """),
        Valid("""
        import jax
        import jax.numpy as jnp
        def ste_loss(pred, target):
            hard = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)
            return jnp.mean((hard - target) ** 2)
        """),
    ]
    INVALID = [
        Invalid("""
        import jax
        import jax.numpy as jnp
        def make_policy_update(policy):
            def policy_loss(policy_params, observations, key):
                dist = policy.apply(policy_params, observations)
                return -jnp.mean(jax.lax.stop_gradient(dist.log_prob(dist.sample(seed=key))))
            return jax.value_and_grad(policy_loss)
        """, line=6, message="the prediction `policy_params`"),
        Invalid("""
        import torch.nn.functional as F
        def detached_loss(pred, target):
            return F.mse_loss(pred.detach(), target)
        """, line=3, message="`pred.detach()`"),
        Invalid("""
        import tensorflow as tf
        def mse_loss(y_true, y_pred):
            y_pred = tf.stop_gradient(y_pred)
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """, line=3, message="`tf.stop_gradient(y_pred)`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def mae_loss(y_true, y_pred):
            return K.mean(K.abs(y_true - K.stop_gradient(y_pred)), axis=-1)
        """, line=3, message="`K.stop_gradient(y_pred)` (`stop_gradient()`) stops the gradient"),
        Invalid("""
        import keras
        def huber_loss(y_true, y_pred):
            err = keras.ops.stop_gradient(y_pred) - y_true
            return keras.ops.mean(keras.ops.minimum(keras.ops.abs(err), 1.0) ** 2)
        """, line=3, message="`keras.ops.stop_gradient(y_pred)` (`stop_gradient()`) stops"),
        Invalid("""
        import jax
        import jax.numpy as jnp
        def l2_loss(pred, target):
            return jnp.mean((jax.lax.stop_gradient(pred) - target) ** 2)
        """, line=4, message="`jax.lax.stop_gradient(pred)`"),
        Invalid("""
        import torch
        def scalar_loss(pred, target):
            value = ((pred - target) ** 2).mean().item()
            return torch.tensor(value, requires_grad=True)
        """, line=3, message="`.item()`"),
        Invalid("""
        import torch
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            pred = model(x)
            with torch.no_grad():
                loss = F.mse_loss(pred, y)
            loss = loss.requires_grad_()
            loss.backward()
        """, line=5, message="`torch.no_grad()`"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for blocked in self.ctx.flow.blocked().get(id(node), ()):
            if blocked.kind != "stopped":
                continue
            if isinstance(blocked.node, cst.With):
                text, what = "with torch.no_grad()", "`torch.no_grad()`"
            else:
                text = shorten(self.ctx.text(blocked.node))
                what = "`.item()`" if blocked.what == "item()" else f"`{blocked.what}`"
            self.report(blocked.node, f"`{text}` ({what}) stops the gradient, and "
                        f"{_sources_text(blocked)} reaches {_where(blocked)} only through it:"
                        " the model gets no gradient from this loss")


# --- LL204 ------------------------------------------------------------------------------------

# Operation kinds whose result is Python metadata (a static shape, a dtype test, a config
# value), not a tensor.
_NOT_TENSORS = {"shape", "shape_assert", "epsilon", "meta", "opaque"}


class GraphBreakingOp(Rule):
    """A NumPy call, `.numpy()`, `float()`/`int()` or a Python `if` on a tensor in a TF loss.

    ## What it does
    In a TensorFlow/Keras loss (a function that uses TensorFlow or Keras operations, or one
    handed to Keras), flags a NumPy call, `.numpy()`, `K.get_value`/`K.eval`, `float(...)` or
    `int(...)` applied to a value computed from the loss's tensor inputs, and a Python `if`
    (or conditional expression) whose test is such a value. Where TensorFlow traces the loss
    (a Keras loss: handed to `compile`, a `Loss.call`, a `(y_true, y_pred)` signature; the
    `call` of a loss class; a `tf.function`) all of them; in a loss run eagerly
    (`compute_loss(pred, conv, label)` called in a training loop) only a conversion of a value
    that carries the prediction's gradient, since NumPy on labels and Python tests work there.
    Static metadata (`y_pred.shape`, `ndim`, `dtype`, `len(...)`, `is None`) and NumPy on
    constants (`np.log(2.0)`) are fine.
    PyTorch code is not flagged: it runs eagerly, and NumPy on a detached tensor is a
    different matter.

    ## Why is this bad?
    Keras runs the loss inside a `tf.function` graph. A NumPy call or `.numpy()` either fails
    there ("Cannot convert a symbolic Tensor to a numpy array") or, in eager mode, leaves the
    graph: the tape records nothing and the gradient is `None`. A Python `if` on a symbolic
    tensor raises "using a `tf.Tensor` as a Python `bool` is not allowed".

    ## Example
    ```python
    import numpy as np
    import tensorflow as tf
    def numpy_inside_loss(y_true, y_pred):
        err = np.abs(y_true - y_pred)
        return tf.reduce_mean(err, axis=-1)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def numpy_inside_loss(y_true, y_pred):
        err = tf.abs(y_true - y_pred)
        return tf.reduce_mean(err, axis=-1)
    ```
    """

    code = "LL204"
    name = "graph-breaking-op"
    frameworks = ("tensorflow", "keras")
    probe = "graph-mode"
    hint = "use the TensorFlow/Keras op (`tf.abs`, `tf.where`, `tf.cond`) instead"
    VALID = [
        # a physics-informed net: the coordinates are data, the model is the class's forward
        Valid("""
        import numpy as np
        import tensorflow as tf
        class PINN(tf.Module):
            def evaluate(self, x):
                return tf.matmul(tf.tanh(tf.matmul(x, self.W1)), self.W2)
            def loss_pde(self, coords):
                g = tf.Variable(coords, dtype="float64", trainable=False)
                x = g[:, 0:1]
                with tf.GradientTape(persistent=True) as tape:
                    tape.watch(x)
                    u = self.evaluate(x)
                    u_x = tape.gradient(u, x)
                u_xx = tape.gradient(u_x, x)
                source = np.sin(np.pi * x)
                return tf.reduce_mean(tf.square(u_xx - source))
        """),
        # TensorFlow 1 with eager execution enabled: the loss runs eagerly
        Valid("""
        import tensorflow as tf
        import tensorflow.contrib.eager as tfe
        tfe.enable_eager_execution()
        def huber_loss(y, y_predicted, m=1.0):
            t = y - y_predicted
            if tf.abs(t) <= m:
                return t ** 2
            return m * (2 * tf.abs(t) - m)
        """),
        # AutoGraph turns the `if` on a tensor into a `tf.cond`
        Valid("""
        import tensorflow as tf
        @tf.function
        def clipped_loss(y_true, y_pred):
            err = tf.reduce_mean(tf.abs(y_true - y_pred))
            if err > 1.0:
                err = tf.sqrt(err)
            return err
        """),
        # options handed in as keyword arguments are configuration, not tensors
        Valid("""
        import numpy as np
        import tensorflow as tf
        def weighted_cost(logits, cost_name, cost_kwargs):
            class_weights = cost_kwargs.pop("class_weights", None)
            weights = tf.constant(np.array(class_weights, dtype=np.float32))
            return tf.reduce_mean(tf.reduce_sum(tf.nn.softmax(logits) * weights, axis=-1))
        """),
        # `model.predict` returns NumPy arrays: nothing of them is differentiated
        Valid("""
        import numpy as np
        import tensorflow as tf
        def calculate_losses(model, x, labels):
            pred = model.predict(x)
            probs = tf.nn.softmax(pred).numpy()
            return -np.log(probs[np.arange(len(labels)), labels] + 1e-12)
        """),
        # an eager loss that runs its own model: its parameters are the data it is run on
        Valid("""
        import numpy as np
        import tensorflow as tf
        class Agent:
            def compute_loss(self, memory, gamma=0.99):
                logits, values = self.model(tf.constant(np.vstack(memory.states)))
                returns = tf.constant(np.array(memory.returns)[:, None], tf.float32)
                return tf.reduce_mean((returns - values) ** 2)
        """),
        Valid("""
        import tensorflow as tf
        def sequence_loss(y_true, y_pred, history):
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                y_true, y_pred, from_logits=True))
            if tf.executing_eagerly():  # only ever runs outside a graph
                history.append(loss.numpy())
            return loss
        """),
        # a project's shape helper returns Python numbers: NumPy on them is no tensor leaving
        Valid("""
        import numpy as np
        import tensorflow as tf
        import tfops as Z
        def flow_loss(x, n_bins):
            z = x + tf.random.uniform(tf.shape(x), 0, 1.0 / n_bins)
            objective = -np.log(n_bins) * np.prod(Z.int_shape(z)[1:])
            return -tf.reduce_mean(encoder(z) + objective)
        """),
        Valid("""
        import tensorflow as tf
        def weighted_loss(losses, weights=1.0):
            if (isinstance(weights, float) and weights != 0.0) or (
                    tf.executing_eagerly() and tf.reduce_all(weights > 0.0)):
                return tf.reduce_mean(losses)
            return tf.math.divide_no_nan(tf.reduce_sum(losses * weights),
                                         tf.reduce_sum(weights))
        """),
        Valid("""
        import tensorflow as tf
        def shift_targets(targets, shift):
            assert isinstance(shift, int) and shift != 0
            if shift > 0:
                return tf.pad(targets, [[shift, 0], [0, 0]])[:-shift]
            return tf.pad(targets, [[0, -shift], [0, 0]])[-shift:]
        """),
        Valid("""
        import tensorflow as tf
        def shift_and_pad(tensor, shift, axis=0):
            \"\"\"Shift a tensor along an axis, padding with zeros.

            Args:
              tensor: Tensor; the values to shift.
              shift: int; how many positions to shift by.
            \"\"\"
            paddings = [[0, 0]] * len(tensor.shape)
            if shift > 0:
                paddings[axis] = [shift, 0]
                return tf.pad(tensor, paddings)[:-shift]
            paddings[axis] = [0, -shift]
            return tf.pad(tensor, paddings)[-shift:]
        def shifted_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(shift_and_pad(y_true, 1) - y_pred))
        """),
        Valid("""
        import tensorflow as tf
        def rolled(tensor, shift: int):
            if shift > 0:
                return tf.concat([tensor[-shift:], tensor[:-shift]], axis=0)
            return tensor
        def rolled_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(rolled(y_true, 1) - y_pred))
        """),
        Valid("""
        import tensorflow as tf
        def objective_loss(self, objective_idx, y_true, y_pred):
            if objective_idx >= self.num_objectives or objective_idx < 0:
                raise ValueError("no such objective")
            return tf.reduce_mean(tf.square(y_true[:, objective_idx] - y_pred))
        """),
        Valid("""
        import numpy as np
        import tensorflow as tf
        def log_cosh_loss(y_true, y_pred):
            err = y_pred - y_true
            return tf.reduce_mean(err + tf.math.softplus(-2.0 * err) - np.log(2.0), axis=-1)
        """),
        Valid("""
        import tensorflow as tf
        def binary_loss(y_true, y_pred, from_logits=False):
            if y_pred.shape[-1] == 1 and from_logits:
                y_pred = tf.sigmoid(y_pred)
            if y_true.dtype != y_pred.dtype:
                y_true = tf.cast(y_true, y_pred.dtype)
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """),
        Valid("""
        import keras
        import numpy as np
        def scaled_loss(y_true, y_pred):
            n = int(y_pred.shape[-1])
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * np.sqrt(n)
        """),
        Valid("""
        import numpy as np
        import torch
        def torch_loss(pred, target):
            weights = torch.from_numpy(np.abs(target.detach().cpu().numpy()))
            return ((pred - target) ** 2 * weights).mean()
        """),
        Valid("""
        import numpy as np
        def numpy_loss(y_true, y_pred):
            return np.mean(np.abs(y_true - y_pred))
        """),
        Valid("""
        import tensorflow as tf
        def huber_loss(errors, delta):
            if delta < 0:
                raise ValueError("delta must be >= 0")
            quadratic = tf.minimum(tf.abs(errors), delta)
            return 0.5 * tf.square(quadratic) + delta * (tf.abs(errors) - quadratic)
        """),
        Valid("""
        import tensorflow as tf
        class Logger:
            def record_losses(self, losses, step):
                # reports the losses' values after the step: no gradient is taken here
                for name, value in losses.items():
                    tf.summary.scalar(name, value, step)
                    print(name, float(value), int(step.numpy()))
        """),
        Valid("""
        import tensorflow as tf
        def summarized_loss(kind, y_true, y_pred):
            loss = tf.reduce_mean(tf.square(y_true - y_pred))
            if kind == "histogram":
                tf.summary.histogram("loss", loss)
            elif kind == "scalar":
                tf.summary.scalar("loss", loss)
            return loss
        """),
        Valid("""
        import tensorflow as tf
        def focal_loss(y_true, y_pred, gamma=2.0, mode="xent", reduction="sum"):
            ce = -y_true * tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
            if gamma == 0.0:
                loss = ce
            else:
                loss = tf.pow(1.0 - y_pred, gamma) * ce
            if mode == "xent":
                loss = tf.reduce_sum(loss, axis=-1)
            if reduction == "sum":
                return tf.reduce_sum(loss)
            return tf.reduce_mean(loss)
        """),
        Valid("""
        import tensorflow as tf
        class FocalLoss(tf.keras.losses.Loss):
            def __init__(self, gamma=2.0, **kwargs):
                super().__init__(**kwargs)
                self.gamma = gamma
            def call(self, y_true, y_pred):
                ce = tf.keras.losses.binary_crossentropy(y_true, y_pred)
                if self.gamma > 0:
                    ce = ce * tf.reduce_sum(tf.pow(1.0 - y_pred, self.gamma), axis=-1)
                return ce
        """),
        Valid("""
        import numpy as np
        import tensorflow as tf
        def compute_loss(pred, label_mask):
            # run eagerly in a training loop: NumPy on the labels loses no gradient
            count = np.sum(label_mask)
            if count == 0:
                return tf.reduce_sum(pred) * 0.0
            return tf.reduce_sum(tf.square(pred) * label_mask) / count
        """),
    ]
    INVALID = [
        Invalid("""
        import numpy as np
        import tensorflow as tf
        def numpy_inside_loss(y_true, y_pred):
            err = np.abs(y_true - y_pred)
            return tf.reduce_mean(err, axis=-1)
        """, line=4, message="NumPy call `np.abs(y_true - y_pred)`"),
        Invalid("""
        import tensorflow as tf
        def weighted_loss(y_true, y_pred):
            w = y_true.numpy().mean()
            return tf.reduce_mean(tf.square(y_true - y_pred)) * w
        """, line=3, message="`.numpy()`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def dice_loss(y_true, y_pred, smooth=1.0):
            inter = K.sum(y_true * y_pred)
            total = float(K.sum(y_true)) + K.sum(y_pred)
            return 1.0 - (2.0 * inter + smooth) / (total + smooth)
        """, line=4, message="`float(K.sum(y_true))`"),
        Invalid("""
        import tensorflow as tf
        def masked_loss(y_true, y_pred):
            if tf.reduce_sum(y_true) == 0:
                return tf.reduce_mean(tf.square(y_pred))
            return tf.reduce_mean(tf.square(y_true - y_pred))
        """, line=3, message="Python `if`"),
        Invalid("""
        import keras
        import numpy as np
        def clipped_loss(y_true, y_pred):
            p = np.clip(y_pred, 1e-7, 1.0)
            return keras.ops.mean(keras.ops.square(y_true - p), axis=-1)
        """, line=4, message="NumPy call `np.clip(y_pred, 1e-7, 1.0)`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def dice_loss(y_true, y_pred):
            if K.eval(K.sum(y_true)) == 0:
                return K.mean(K.square(y_pred))
            inter = K.sum(y_true * y_pred)
            return 1.0 - 2.0 * inter / (K.sum(y_true) + K.sum(y_pred) + 1.0)
        """, line=3, message="Python `if` on a tensor converted to a Python value"),
        Invalid("""
        import tensorflow as tf
        def masked_loss(y_true, y_pred):
            count = float(tf.math.count_nonzero(y_true))
            if count > 0:
                return tf.reduce_sum(tf.square(y_true - y_pred)) / count
            return tf.reduce_mean(tf.square(y_pred))
        """, line=4, message="Python `if`"),
        Invalid("""
        import tensorflow as tf
        def scheduled_loss(y_true, y_pred, step):
            if tf.constant(step).numpy().item() > 100:
                return tf.reduce_mean(tf.abs(y_true - y_pred))
            return tf.reduce_mean(tf.square(y_true - y_pred))
        """, line=3, message="Python `if`"),
        Invalid("""
        import numpy as np
        import tensorflow as tf
        def compute_loss(pred, label_mask):
            # run eagerly: NumPy on the prediction takes it out of the tape
            err = np.abs(pred.numpy() - label_mask)
            return tf.reduce_mean(err)
        """, line=5, message="NumPy call `np.abs(pred.numpy() - label_mask)`"),
        Invalid("""
        import numpy as np
        import tensorflow as tf
        @tf.function
        def compute_loss(pred, label_mask):
            # traced: NumPy on a symbolic tensor fails, labels or not
            return tf.reduce_sum(pred * label_mask) / np.sum(label_mask)
        """, line=6, message="NumPy call `np.sum(label_mask)`"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        function = ctx.function
        if function is None or function.node is not node or \
                id(node) not in ctx.flow.loss_functions() or not self._tensorflow(function):
            return
        flow = ctx.flow
        body = flow.body(function)
        inputs = sorted(ctx.inputs)
        if not inputs:
            return
        found: list[tuple[cst.CSTNode, str]] = []
        eager = _eager_only(node)
        traced = self._traced(function)
        for call, ordinal in body.calls:
            if id(call) in eager:
                continue  # `if tf.executing_eagerly(): x.numpy()`: never reached in a graph
            message = self._call(function, call, ordinal, inputs)
            if message and (traced or self._loses_gradient(function, call, ordinal)):
                found.append((call, message))
        inner: set[int] = set()
        for call, _ in found:
            for sub in walk(call):
                if sub is not call:
                    inner.add(id(sub))
        for call, message in found:
            if id(call) not in inner:
                self.report(call, message)
        autograph = self._autograph(function)
        for statement, test, ordinal in body.tests if traced else ():
            if _validates_argument(statement, test):
                continue
            if self._tensor_test(function, test, ordinal, inputs):
                kind = "`if`" if isinstance(statement, cst.If) else "conditional expression"
                converted = any(type(n) is cst.Call and self._converted(function, n, ordinal)
                                for n in walk(test))
                if autograph and not converted:
                    continue  # AutoGraph turns the `if` on a tensor into a `tf.cond`
                what = "a tensor converted to a Python value" if converted else "the tensor"
                why = "the conversion fails on a symbolic tensor" if converted else \
                    "a symbolic tensor has no Python truth value"
                self.report(statement, f"Python {kind} on {what} "
                            f"`{shorten(ctx.text(test))}` in the TensorFlow loss "
                            f"`{function.name}`: {why} in graph mode (use `tf.where` or "
                            "`tf.cond`)")

    def _traced(self, function: Function) -> bool:
        """Whether TensorFlow may trace the function into a graph, where NumPy and Python tests
        on tensors fail: a Keras loss (handed to `compile`, a `Loss.call`, or with Keras's
        `(y_true, y_pred)` signature), the `call` of a loss class, or a `tf.function`; not in a
        module that enables eager execution. Elsewhere (`compute_loss(pred, conv, label)` run
        eagerly) only a lost gradient matters."""
        if self.ctx.is_keras_loss(function):
            return True
        if any(self.ctx.kind(call) == "enable_eager"
               for call, _ in self.ctx.definitions.body(None).calls):
            return False  # TensorFlow 1 code that enables eager execution: it runs eagerly
        if any(p.name.value in KERAS_PRED_NAMES for p in function.params):
            return True
        if function.cls is not None and function.name in ("call", "__call__") and \
                is_loss_name(function.cls.name):
            return True
        return self._autograph(function)

    @staticmethod
    def _autograph(function: Function) -> bool:
        """Whether a `tf.function` decorates the function (AutoGraph converts its Python
        control flow on tensors into graph operations)."""
        return any((op := ops.lookup(d)) is not None and op.kind == "tf_function"
                   for d in function.decorators if d)

    def _loses_gradient(self, function: Function, call: cst.Call, ordinal: int) -> bool:
        """Whether what a call takes out of the graph would carry a gradient (a prediction,
        not labels or data): then the eager loss silently loses it."""
        operands = [arg.value for arg in call.args]
        if isinstance(call.func, cst.Attribute):
            operands.append(call.func.value)  # `t.numpy()`
        return any(self.ctx.flow.carries_gradient(operand, function, ordinal)
                   for operand in operands)

    def _tensor_test(self, function: Function, test: cst.BaseExpression, ordinal: int,
                     inputs: list[str]) -> bool:
        """Whether an `if` test is surely a tensor: a comparison with a tensor, or a tensor
        operation, on the inputs (a bare flag such as `if use_mask:` is not)."""
        if isinstance(test, cst.BooleanOperation):
            if isinstance(test.operator, cst.And) and _python_guard(test.left):
                return False  # `isinstance(w, float) and w != 0`, `executing_eagerly() and t`
            return self._tensor_test(function, test.left, ordinal, inputs) or \
                self._tensor_test(function, test.right, ordinal, inputs)
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self._tensor_test(function, test.expression, ordinal, inputs)
        if isinstance(test, cst.Comparison):
            if all(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn))
                   for c in test.comparisons):
                return False
            operands = [test.left, *(c.comparator for c in test.comparisons)]
            if any(isinstance(o, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))
                   for o in operands):
                return False  # `kind == "histogram"`: a tensor is never compared with a str
            return any(self._tensor(function, o, ordinal, inputs, bare=True) for o in operands)
        if isinstance(test, cst.Name):
            value = self.ctx.flow.body(function).value_before(test.value, ordinal)
            return value is not None and self._tensor_test(function, value, ordinal, inputs)
        return self._tensor(function, test, ordinal, inputs, bare=False)

    def _tensor(self, function: Function, expr: cst.BaseExpression, ordinal: int,
                inputs: list[str], *, bare: bool, depth: int = 0) -> bool:
        """Whether an expression is a tensor computed from the inputs."""
        if depth > 10:
            return False
        if isinstance(expr, cst.Name):
            if expr.value in inputs and self.ctx.flow.body(function).value_before(
                    expr.value, ordinal) is None:
                return bare
            value = self.ctx.flow.body(function).value_before(expr.value, ordinal)
            return value is not None and self._tensor(function, value, ordinal, inputs,
                                                      bare=bare, depth=depth + 1)
        if isinstance(expr, cst.Subscript):
            return self._tensor(function, expr.value, ordinal, inputs, bare=bare,
                                depth=depth + 1)
        if isinstance(expr, (cst.BinaryOperation, cst.Comparison)):
            return self.ctx.flow.depends(expr, function, ordinal, inputs) and any(
                self._tensor(function, sub, ordinal, inputs, bare=True, depth=depth + 1)
                for sub in children(expr) if isinstance(sub, cst.BaseExpression))
        if isinstance(expr, cst.Call):
            converted = self._converted(function, expr, ordinal)
            if converted is not None:
                return converted
            op = self.ctx.op(expr)
            if op is None or op.kind in NO_PATH or op.framework not in (
                    "tensorflow", "keras", "tensor"):
                return False
            return self.ctx.flow.depends(expr, function, ordinal, inputs)
        return False

    def _converted(self, function: Function, call: cst.Call, ordinal: int) -> bool | None:
        """For a call that turns a tensor into a Python value (`K.eval(t)`, `t.numpy()`,
        `float(t)`, `t.item()`): whether its operand is a TensorFlow value, whatever it is built
        from (a test on it fails in graph mode); None for any other call."""
        op = self.ctx.op(call)
        if op is not None and op.kind == "numpy" and op.framework != "numpy":
            return True  # `K.eval`, `K.get_value`, `.numpy()`: only tensors have them
        operand: cst.BaseExpression | None = None
        if op is not None and op.kind == "item" and isinstance(call.func, cst.Attribute):
            operand = call.func.value
        elif isinstance(call.func, cst.Name) and call.func.value in ("float", "int", "bool") \
                and call.func.value not in self.ctx.flow.body(function).defs and call.args:
            operand = call.args[0].value
        if operand is None:
            return None
        return self._tf_value(function, operand, ordinal)

    def _tf_value(self, function: Function, expr: cst.BaseExpression, ordinal: int,
                  depth: int = 0) -> bool:
        """Whether an expression is a TensorFlow tensor: a TensorFlow/Keras operation (not
        metadata such as a static shape), a value converted from one, or a tensor input."""
        if depth > 10:
            return False
        if isinstance(expr, cst.Name):
            value = self.ctx.flow.body(function).value_before(expr.value, ordinal)
            if value is None:
                return expr.value in self.ctx.inputs and \
                    not self.ctx.flow.body(function).defs.get(expr.value)
            return self._tf_value(function, value, ordinal, depth + 1)
        if isinstance(expr, cst.Subscript):
            return self._tf_value(function, expr.value, ordinal, depth + 1)
        if isinstance(expr, (cst.BinaryOperation, cst.UnaryOperation)):
            return any(self._tf_value(function, sub, ordinal, depth + 1)
                       for sub in children(expr) if isinstance(sub, cst.BaseExpression))
        if isinstance(expr, cst.Call):
            op = self.ctx.op(expr)
            if op is not None:
                if op.kind == "size":  # `tf.size(x)`, `tf.math.count_nonzero(m)`: a tensor
                    return op.framework in ("tensorflow", "keras")
                return op.kind not in _NOT_TENSORS and op.framework in (
                    "tensorflow", "keras", "tensor")
            qualified = self.ctx.resolve(expr.func) or ""  # `tf.math.count_nonzero(mask)`
            return qualified.split(".")[0] in ("tensorflow", "keras", "tf_keras")
        return False

    def _call(self, function: Function, call: cst.Call, ordinal: int,
              inputs: list[str]) -> str | None:
        ctx = self.ctx
        flow = ctx.flow
        qualified = ctx.resolve(call.func) or ""
        op = ctx.op(call)
        where = f"in the TensorFlow loss `{function.name}`"
        if qualified.split(".")[0] == "numpy":
            tensors = [a.value for a in call.args if flow.depends(a.value, function, ordinal,
                                                                  inputs)]
            if tensors:
                return (f"NumPy call `{shorten(ctx.text(call))}` on the tensor "
                        f"`{shorten(ctx.text(tensors[0]))}` {where}: NumPy leaves the graph, so"
                        " no gradient flows back (and graph mode fails)")
            return None
        if op is not None and op.kind == "numpy":
            operands = [a.value for a in call.args]
            if isinstance(call.func, cst.Attribute) and op.framework == "tensor":
                operands.insert(0, call.func.value)
            if any(flow.depends(o, function, ordinal, inputs) for o in operands):
                label = "`.numpy()`" if op.framework == "tensor" else f"`{op.name}`"
                return (f"{label} in `{shorten(ctx.text(call))}` {where}: the value leaves the "
                        "graph, so no gradient flows back (and graph mode fails)")
            return None
        if isinstance(call.func, cst.Name) and call.func.value in ("float", "int") and \
                call.func.value not in flow.body(function).defs and call.args and \
                flow.depends(call.args[0].value, function, ordinal, inputs):
            return (f"`{shorten(ctx.text(call))}` turns a tensor into a Python number {where}:"
                    " the gradient is lost (and graph mode fails)")
        return None

    def _tensorflow(self, function: Function) -> bool:
        """A TensorFlow/Keras loss: uses TensorFlow or Keras operations (and no PyTorch or JAX
        ones), or is handed to Keras."""
        ctx = self.ctx
        imported = {q.split(".")[0] for q in ctx.index.imports.values()}
        if not imported & {"tensorflow", "keras", "tf_keras"}:
            return False
        frameworks = set()
        for call, _ in ctx.flow.body(function).calls:
            op = ctx.op(call)
            if op is not None and op.kind in NO_PATH:
                continue
            if op is not None:
                frameworks.add(op.framework)
            qualified = ctx.resolve(call.func)
            if qualified is not None and qualified.split(".")[0] in ("tensorflow", "torch",
                                                                     "jax"):
                frameworks.add(qualified.split(".")[0])
        if frameworks & {"torch", "jax"}:
            return False
        return bool(frameworks & {"tensorflow", "keras"}) or ctx.is_keras_loss(function)


def _raises(grad: GradFn) -> bool:
    """A gradient function whose body ends by raising: it forbids differentiation on purpose
    (the forward marks its output non-differentiable), it does not return a wrong gradient."""
    body = grad.body if isinstance(grad, cst.FunctionDef) else None
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return False
    last = body.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Raise) for small in last.body)


def _validates_argument(statement: cst.CSTNode, test: cst.BaseExpression) -> bool:
    """`if margin < 0: raise ValueError(...)`: an `if` that only raises, on a comparison of
    bare names with numbers, checks a Python argument (a tensor check would need
    `tf.debugging`)."""
    if not isinstance(statement, cst.If) or statement.orelse is not None or \
            not isinstance(test, cst.Comparison):
        return False
    body = statement.body.body
    raises = bool(body) and all(
        isinstance(line, cst.SimpleStatementLine) and
        all(isinstance(small, cst.Raise) for small in line.body) for line in body)
    operands = [test.left, *(c.comparator for c in test.comparisons)]
    return raises and all(isinstance(o, cst.Name) or number(o) is not None for o in operands)


def _eager_only(function: cst.FunctionDef) -> set[int]:
    """ids of the nodes that run only in eager mode: the body of an
    `if tf.executing_eagerly():` (also `if ... and tf.executing_eagerly():`)."""
    found: set[int] = set()
    for statement in walk(function.body):
        if isinstance(statement, cst.If) and _python_guard(statement.test,
                                                           ("executing_eagerly",)):
            found.update(id(n) for n in walk(statement.body))
    return found


def _python_guard(test: cst.BaseExpression, calls: tuple[str, ...] = ("isinstance",
                                                                       "executing_eagerly")
                  ) -> bool:
    """A test after which `and` runs only on Python values or in eager mode: an `isinstance`
    check, `tf.executing_eagerly()` (also under `and`); only those `calls` when given."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _python_guard(test.left, calls) or _python_guard(test.right, calls)
    if isinstance(test, cst.Call):
        return (dotted(test.func) or "").rpartition(".")[2] in calls
    return False


