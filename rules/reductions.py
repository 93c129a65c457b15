"""LL3xx reductions and shapes: objectives that are not the scalar the optimizer needs."""

from __future__ import annotations

import libcst as cst

from lossguard.api import Context as FileContext
from lossguard.api import (
    Function,
    Invalid,
    Rule,
    Valid,
    adaptive_optimizers_only,
    batch_broadcast,
    label_like,
    shorten,
    walk_own,
)

TRAINING_KINDS = ("tape_gradient", "minimize", "backward")


def objective(ctx: FileContext, node: cst.Call) -> cst.BaseExpression | None:
    """The value a training call differentiates (see `Shapes.objective`)."""
    return ctx.shapes.objective(node)


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
    import tensorflow as tf

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.square(y - model(x))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```

    ## Use instead
    ```python
    import tensorflow as tf

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(y - model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```
    """

    code = "LL301"
    name = "missing-reduction"
    probe = "output-rank"
    hint = "reduce the loss to a scalar (`reduce_mean`, `.mean()`) before differentiating it"
    VALID = [
        # a setting read from the estimator's `params` scales the weight penalty
        Valid("""
        import tensorflow as tf
        def model_fn(features, labels, mode, params):
            logits = tf.layers.dense(features, params["num_classes"])
            xent = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            penalty = tf.add_n([tf.nn.l2_loss(v) for v in tf.trainable_variables()])
            loss = xent + params["weight_decay"] * penalty
            return tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
        """),
        # one sample per step, written out: the per-sample loss is one element
        Valid("""
        import tensorflow as tf
        x_data = tf.placeholder(shape=[1], dtype=tf.float32)
        y_target = tf.placeholder(shape=[1], dtype=tf.float32)
        A = tf.Variable(tf.random_normal(mean=10, shape=[1]))
        output = tf.expand_dims(tf.add(x_data, A), 0)
        xentropy = tf.nn.sigmoid_cross_entropy_with_logits(
            logits=output, labels=tf.expand_dims(y_target, 0))
        train_step = tf.train.GradientDescentOptimizer(0.05).minimize(xentropy)
        """),
        # a mean scaled in a method chain by the step's gain is still a scalar
        Valid("""
        import torch.nn.functional as F
        class AdversarialLoss:
            def accumulate_gradients(self, fake_logits, gain):
                loss = F.softplus(-fake_logits)
                loss.mean().mul(gain).backward()
        """),
        # the parameters scaling reduced terms are their coefficients (TF1 graph building)
        Valid("""
        import tensorflow as tf
        class SemiSupervised:
            def model(self, batch, lr, wd, w_match, consistency_weight, warmup_steps):
                x = tf.placeholder(tf.float32, [batch, 32], "x")
                labels = tf.placeholder(tf.int32, [batch], "labels")
                logits = self.classifier(x)
                loss_xe = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=labels, logits=logits))
                loss_mt = tf.reduce_mean(tf.square(tf.nn.softmax(logits) - self.teacher(x)))
                loss_wd = sum(tf.nn.l2_loss(v) for v in self.variables())
                w_match *= tf.clip_by_value(tf.to_float(self.step) / warmup_steps, 0, 1)
                total = loss_xe + w_match * loss_mt + loss_mt * consistency_weight + wd * loss_wd
                return tf.train.AdamOptimizer(lr).minimize(total)
        """),
        Valid("""
        import tensorflow as tf
        x = tf.placeholder(shape=[1], dtype=tf.float32)  # one sample per step
        y = tf.placeholder(shape=[1], dtype=tf.float32)
        a = tf.Variable(tf.random_normal(shape=[1]))
        loss = tf.square(x * a - y)
        step = tf.train.GradientDescentOptimizer(0.02).minimize(loss)
        """),
        Valid("""
        import tensorflow as tf
        x = tf.placeholder(tf.float32, shape=[None, 784])
        k = tf.placeholder(tf.float32)  # a coefficient fed each step, not a batch
        w = tf.Variable(tf.zeros([784, 784]))
        def reconstruction_error(v):
            return tf.reduce_mean(tf.reduce_sum((v - tf.matmul(v, w)) ** 2, 1))
        loss = reconstruction_error(x) - k * reconstruction_error(x * 0.5)
        step = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """),
        Valid("""
        import tensorflow as tf
        def fit_step(prior_terms, likelihood, optimizer):
            # the parts may be vectors: summed along their one axis, a scalar
            log_prob = tf.reduce_sum(tf.concat([prior_terms, likelihood], axis=-1), axis=-1)
            return optimizer.minimize(-log_prob)
        """),
        Valid("""
        import torch
        def replay_cached_gradients(grad_output, reps, cached_grads):
            for rep, cached in zip(reps, cached_grads):
                surrogate = torch.dot(rep.flatten(), cached.flatten()) * grad_output
                surrogate.backward()
        """),
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
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.square(y - model(x))
            return loss
        """),
        Valid("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        def train_epoch(model, optimizer, batches):
            criterion = nn.CrossEntropyLoss()
            for x, y in batches:
                out = model(x)
                loss = criterion(out, y)
                loss.backward()
                F.cross_entropy(out.detach(), y)
                nn.MSELoss()(model(x), y.float()).backward()
                optimizer.step()
        """),
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                p = model(x)
                loss = tf.keras.losses.BinaryCrossentropy()(y, p)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """),
        Valid("""
        import torch
        def train_step(model, optimizer, x, y):
            losses = (model(x) - y) ** 2
            losses[0].backward()
            losses.sum().backward()
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
        """, line=4, message="an unreduced element-wise loss"),
        Invalid("""
        import tensorflow as tf
        mse = tf.keras.losses.MeanSquaredError(reduction="none")
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = mse(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=6, message="an unreduced per-sample loss"),
        Invalid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.square(y - model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.reduce_mean(loss)
            return loss
        """, line=5, message="(`tf.square(y - model(x))`)"),
        Invalid("""
        import torch.nn as nn
        def train_step(model, optimizer, x, y):
            criterion = nn.CrossEntropyLoss(reduction='none')
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        """, line=5, message="element-wise"),
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


def keras_loss(ctx: FileContext, function: Function | None) -> bool:
    """Whether Keras calls `function` as a loss: a `compile(loss=...)` target, a `Loss` subclass's
    `call`, or the closure a `compile(loss=factory(...))` factory returns."""
    if function is None or function.name in ctx.index.minimize_targets:
        return False
    # Keras calls a loss with `(y_true, y_pred)`; `optimizer.minimize(fn)` calls `fn()`.
    if len([p for p in function.positional_params if p.name.value != "self"]) < 2:
        return False
    if ctx.is_keras_loss(function):
        return True
    parent = function.parent
    return parent is not None and ctx.is_keras_loss(parent) and \
        function.name in parent.returned_names


class BatchReducedLoss(Rule):
    """A loss handed to Keras averages over the batch: sample weights no longer weight anything.

    ## What it does
    Flags, in a loss Keras calls (a function given as `compile(loss=...)`, the closure a loss
    factory returns, a `keras.losses.Loss` subclass's `call`), a returned value that is a mean
    over the batch axis: `tf.reduce_mean(x)`, `K.mean(x)`, `keras.ops.mean(x)` with no `axis`
    (or `axis=None`, `axis=0`) of a per-sample or element-wise value, or a Keras loss object
    with its default reduction (`BinaryCrossentropy()(y_true, y_pred)`).
    The finding is `info` (off by default); it is a `warning` when the module passes
    `sample_weight=` or `class_weight=` to `fit`/`evaluate`/`train_on_batch`, where the weights
    are silently lost.

    ## Why is this bad?
    Keras expects one loss value per sample, multiplies it by `sample_weight`/`class_weight`,
    and then reduces. A loss that is already a scalar makes every weight multiply the same
    number: measured with Keras 3.15, a `Dense(1)` fit with half of the samples weighted 0
    learned w=0.12, b=0.12 with a batch-reduced MSE, and the weighted target w=3, b=2 with a
    per-sample MSE.

    ## Example
    ```python
    import tensorflow as tf
    def my_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    model.compile(optimizer="adam", loss=my_mse)
    model.fit(x, y, sample_weight=w)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def my_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LL302"
    name = "batch-reduced-loss"
    severity = "info"
    escalates = True
    frameworks = ("tensorflow", "keras")
    probe = "weighted-training"
    hint = "reduce over the non-batch axes only (`axis=-1`) and let Keras reduce over the batch"
    VALID = [
        Valid("""
        import tensorflow as tf
        def my_mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=my_mse)
        """),
        Valid("""
        import tensorflow as tf
        def batch_mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = batch_mse(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        Valid("""
        import keras
        from keras import ops
        class MyMSE(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.mean(ops.square(y_true - y_pred), axis=-1)
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def my_mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
        def build(model):
            model.compile(optimizer="adam", loss=my_mse)
        """, line=3, message="`tf.reduce_mean(tf.square(y_true - y_pred))`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def weighted_mse(weight):
            def loss(y_true, y_pred):
                err = K.square(y_pred - y_true)
                return weight * K.mean(err)
            return loss
        def train(model, x, y, w):
            model.compile(optimizer="adam", loss=weighted_mse(2.0))
            model.fit(x, y, sample_weight=w)
        """, line=5, message="sample_weight"),
        Invalid("""
        import keras
        from keras import ops
        class MyMSE(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.mean(ops.square(y_true - y_pred))
        """, line=5, message="batch axis"),
        Invalid("""
        import tensorflow as tf
        bce = tf.keras.losses.BinaryCrossentropy()
        def bce_dice(y_true, y_pred):
            return bce(y_true, y_pred) + 1.0 - tf.reduce_sum(y_true * y_pred, axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=bce_dice)
        """, line=4, message="`bce(y_true, y_pred)`"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        function = self.ctx.function
        if not keras_loss(self.ctx, function):
            return
        shapes = self.ctx.shapes
        if id(node) not in shapes.returned_terms(function) or \
                shapes.batch_reduction(node, function) != "mean":
            return
        weighted = self.ctx.index.sample_weighted
        why = ("this module passes `sample_weight`/`class_weight` to Keras, and they no longer "
               "weight anything" if weighted else
               "`sample_weight` and `class_weight` would no longer weight anything")
        self.report(node, f"the Keras loss `{function.qualname}` returns "
                    f"`{shorten(self.ctx.text(node))}`, a mean over the batch axis: Keras "
                    f"expects one value per sample, so {why}",
                    severity="warning" if weighted else None)


class UnnormalizedSum(Rule):
    """The training objective is a sum over the batch, not a mean.

    ## What it does
    Flags a `reduce_sum` / `K.sum` / `keras.ops.sum` / `torch.sum` / `.sum()` with no `axis`
    (or over axis 0) of a per-sample or element-wise value, and a framework loss built with
    `reduction="sum"` (Keras loss objects, PyTorch losses), when it is the final training
    objective (the target of `tape.gradient`, `optimizer.minimize` or `.backward()`, through
    local assignments, negation and `+`/`*`) and nothing divides it by the batch size.
    A sum divided by anything (`/ batch_size`, `* (1. / n)`, `tf.divide`) is not flagged;
    nor is a value returned by a helper function (the helper may normalize it), nor a module
    that trains with adaptive optimizers alone (Adam, RMSprop, Adagrad: a constant scale of the
    loss leaves their steps unchanged).

    ## Why is this bad?
    The loss, and so the gradient and the effective learning rate, grows with the batch size:
    a learning rate tuned at batch 32 diverges at batch 256, and the last, smaller batch of an
    epoch gets a smaller step.

    ## Example
    ```python
    import tensorflow as tf

    mse = tf.keras.losses.MeanSquaredError(reduction="none")

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```

    ## Use instead
    ```python
    import tensorflow as tf

    mse = tf.keras.losses.MeanSquaredError(reduction="none")

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```
    """

    code = "LL303"
    name = "unnormalized-sum"
    severity = "warning"
    probe = "batch-scaling"
    hint = "average over the batch (`reduce_mean`, `.mean()`) or divide the sum by the batch size"
    VALID = [
        Valid("""
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.float32, [None, 10])
        w = tf.Variable(tf.zeros([784, 10]))
        logits = tf.matmul(x, w)
        # summed over the batch, but Adam's steps do not scale with the loss
        cost = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.AdamOptimizer(1e-3).minimize(cost)
        """),
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(y - model(x))) / tf.cast(tf.shape(x)[0], tf.float32)
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        Valid("""
        import torch
        def train_step(model, optimizer, x, y):
            loss = ((model(x) - y) ** 2).sum(dim=1).mean()
            loss.backward()
        """),
        Valid("""
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y, reduction="sum")
            loss = loss / x.shape[0]
            loss.backward()
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        mse = tf.keras.losses.MeanSquaredError(reduction="none")
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(mse(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=5, message="`tf.reduce_sum(mse(y, model(x)))`"),
        # `tf.nn.l2_loss` halves the sum of squares over every element, the batch too
        Invalid("""
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 13])
        y = tf.placeholder(tf.float32, [None, 1])
        w = tf.Variable(tf.zeros([13, 1]))
        loss = tf.nn.l2_loss(y - tf.matmul(x, w))
        train_op = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        """, line=5, message="`tf.nn.l2_loss(y - tf.matmul(x, w))`"),
        # Lightning differentiates what `training_step` returns
        Invalid("""
        import pytorch_lightning as pl
        import torch
        class SpeechModel(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.criterion = torch.nn.CTCLoss(reduction="sum")
            def training_step(self, batch, batch_idx):
                inputs, targets, input_sizes, target_sizes = batch
                loss = self.criterion(self(inputs), targets, input_sizes, target_sizes)
                return {"loss": loss}
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.01)
        """, line=9, message="sums over the batch"),
        Invalid("""
        import torch
        def train_step(model, optimizer, x, y):
            loss = ((model(x) - y) ** 2).sum()
            loss.backward()
            optimizer.step()
        """, line=3, message="sums over the batch (`((model(x) - y) ** 2).sum()`)"),
        Invalid("""
        import torch
        def train_step(model, optimizer, x, y):
            criterion = torch.nn.CrossEntropyLoss(reduction="sum")
            loss = criterion(model(x), y)
            loss.backward()
        """, line=4, message="criterion"),
        Invalid("""
        from tensorflow.keras import backend as K
        def train_step(model, optimizer, x, y):
            cost = K.sum(K.square(model(x) - y))
            optimizer.minimize(cost, model.trainable_variables)
        """, line=3, message="sums over the batch (`K.sum(K.square(model(x) - y))`)"),
        Invalid("""
        import keras
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = keras.ops.sum(keras.ops.abs(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=5, message="sums over the batch (`keras.ops.sum("),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        function = self.ctx.function
        shapes = self.ctx.shapes
        if id(node) not in shapes.objective_terms(function, TRAINING_KINDS,
                                                  normalized_stops=True):
            return
        if shapes.batch_reduction(node, function) != "sum" or \
                adaptive_optimizers_only(self.ctx.index):
            return
        self.report(node, f"the training objective sums over the batch "
                    f"(`{shorten(self.ctx.text(node))}`) and is never divided by the batch "
                    "size: the loss and the effective learning rate scale with the batch size")


class LabelBroadcast(Rule):
    """A `(y_true, y_pred)` loss called directly does element-wise arithmetic on unaligned shapes.

    ## What it does
    Flags the first element-wise operation between `y_true` and `y_pred` (`-`, `+`, `*`, `/`,
    `**`, `subtract`, `multiply`, ...) in a Keras-style loss function (parameters `y_true,
    y_pred`) that training-step code of the same module calls directly with labels (`y`,
    `labels`, `y_batch`; not an image or another prediction), when the function never
    aligns the shapes (`reshape`, `squeeze`, `expand_dims`, `ensure_shape`, `one_hot`, a shape
    assert such as `tf.debugging.assert_shapes` or `assert y_true.shape == y_pred.shape`).
    A loss that is only given to `compile` is not flagged: Keras aligns the ranks of labels and
    predictions before it calls the loss. In module-level (TF1) code, which writes its shapes
    out, flags an element-wise operation between a `(None,)` value (a labels placeholder) and a
    `(None, 1)` one (`matmul(X, W)` with `W` of shape `[13, 1]`).

    ## Why is this bad?
    Labels of shape `(B,)` against predictions of shape `(B, 1)` broadcast to `(B, B)`: every
    prediction is compared with every label, the loss still decreases, and the model learns the
    mean of the labels, with high MSE and an output offset.

    ## Example
    ```python
    import tensorflow as tf
    def per_sample_loss(y_true, y_pred):
        return tf.square(y_true - y_pred)

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(per_sample_loss(y, model(x)))
        ...
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def per_sample_loss(y_true, y_pred):
        y_true = tf.reshape(y_true, tf.shape(y_pred))
        return tf.square(y_true - y_pred)
    ```
    """

    code = "LL304"
    name = "label-broadcast"
    severity = "warning"
    frameworks = ("tensorflow", "keras")
    probe = "label-broadcast"
    hint = "align the shapes first (`y_true = tf.reshape(y_true, tf.shape(y_pred))`)"
    VALID = [
        Valid("""
        import tensorflow as tf
        X = tf.placeholder(tf.float32, [None, 13])
        Y = tf.placeholder(tf.float32, [None, 1])
        W = tf.Variable(tf.zeros([13, 1]))
        cost = tf.reduce_mean(tf.square(tf.matmul(X, W) - Y))
        train_op = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
        """),
        Valid("""
        import tensorflow as tf
        def per_sample_loss(y_true, y_pred):
            y_true = tf.reshape(y_true, tf.shape(y_pred))
            return tf.square(y_true - y_pred)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(per_sample_loss(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        Valid("""
        import tensorflow as tf
        def my_mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=my_mse)
        """),
        Valid("""
        import tensorflow as tf
        def abs_loss(y_true, y_pred):
            tf.debugging.assert_shapes([(y_true, ("B", 1)), (y_pred, ("B", 1))])
            return tf.abs(y_true - y_pred)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(abs_loss(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        Valid("""
        import tensorflow as tf
        def pixel_loss(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))
        def train_step(generator, optimizer, image_lr, image_hr):
            with tf.GradientTape() as tape:
                fake = generator(image_lr)
                loss = pixel_loss(image_hr, fake)
            grads = tape.gradient(loss, generator.trainable_variables)
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        X = tf.placeholder(tf.float32, [None, 13])
        Y = tf.placeholder(tf.float32, [None])
        W = tf.Variable(tf.random_normal([13, 1]))
        b = tf.Variable(tf.zeros([1]))
        pred = tf.matmul(X, W) + b
        cost = tf.reduce_mean(tf.square(pred - Y))
        train_op = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
        """, line=7, message="broadcast to `(B, B)`"),
        Invalid("""
        import tensorflow as tf
        def per_sample_loss(y_true, y_pred):
            return tf.square(y_true - y_pred)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(per_sample_loss(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=3, message="`y_true - y_pred`"),
        Invalid("""
        from tensorflow.keras import backend as K
        import tensorflow as tf
        def weighted_error(y_true, y_pred):
            y_true = K.cast(y_true, "float32")
            return K.mean(K.abs(y_pred * 2.0 - y_true), axis=-1)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = K.mean(weighted_error(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=5, message="`y_pred * 2.0 - y_true` in `weighted_error`"),
        Invalid("""
        import keras
        import tensorflow as tf
        def product_loss(y_true, y_pred):
            return keras.ops.mean(keras.ops.multiply(y_true, y_pred), axis=-1)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = -keras.ops.mean(product_loss(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=4, message="keras.ops.multiply"),
    ]

    _callers: dict[str, list[Function]] | None = None

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self._written(node)

    def visit_Call(self, node: cst.Call) -> None:
        self._written(node)

    def _written(self, node: cst.CSTNode) -> None:
        """Module-level (TF1) code that writes its shapes out: a `(None,)` placeholder of
        labels against a `(None, 1)` prediction (`matmul(X, W)` with `W` of `[13, 1]`)."""
        if self.ctx.function is not None:
            return
        pair = _operands(self.ctx, node)
        if pair is None:
            return
        shapes = self.ctx.shapes
        left, right = (shapes.written_shape(side) for side in pair)
        if batch_broadcast(left, right):
            self.report(node, f"`{shorten(self.ctx.text(node))}` combines a value of shape "
                        f"{_shape_text(left)} with one of shape {_shape_text(right)} "
                        "element-wise: they broadcast to `(B, B)`, every prediction against "
                        "every label")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self.ctx.function
        if function is None or function.node is not node:
            return
        names = [p.name.value for p in function.positional_params
                 if p.name.value not in ("self", "cls")]
        if names[:2] != ["y_true", "y_pred"] or not self._called_by_training(function):
            return
        shapes = self.ctx.shapes
        if shapes.aligns_shapes(function):
            return
        for sub in walk_own(node.body):
            pair = _operands(self.ctx, sub)
            if pair is None:
                continue
            left, right = pair
            if (shapes.derives_from(left, "y_true", function) and
                    shapes.derives_from(right, "y_pred", function)) or (
                    shapes.derives_from(left, "y_pred", function) and
                    shapes.derives_from(right, "y_true", function)):
                self.report(sub, f"`{shorten(self.ctx.text(sub))}` in `{function.qualname}` "
                            "combines `y_true` and `y_pred` element-wise with no shape "
                            "alignment, and training code calls it directly: labels `(B,)` "
                            "against predictions `(B, 1)` broadcast to `(B, B)`")
                return

    def _called_by_training(self, function: Function) -> bool:
        """Training code calls the loss with labels (`per_sample_loss(y, model(x))`), not with
        images or other tensors shaped like the prediction (`pixel_loss(image_hr, fake)`)."""
        for caller in self._training_callers().get(function.name, ()):
            if caller is function:
                continue
            for call in walk_own(caller.node.body):
                if isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and \
                        call.func.value == function.name and call.args and \
                        isinstance(call.args[0].value, cst.Name) and \
                        label_like(call.args[0].value.value):
                    return True
        return False

    def _training_callers(self) -> dict[str, list[Function]]:
        """The training functions of the module by the names they call: built once per module,
        so the rule stays linear in the number of loss functions."""
        if self._callers is None:
            index = self.ctx.index
            self._callers = {}
            for caller in index.functions:
                if caller.trains or caller.name in index.replica_fns or \
                        caller.name in ("train_step", "training_step", "train_batch", "step_fn"):
                    for name in caller.calls:
                        self._callers.setdefault(name, []).append(caller)
        return self._callers


def _shape_text(shape: tuple[int | None, ...] | None) -> str:
    dims = ["B" if d is None else str(d) for d in shape or ()]
    return f"`({dims[0]},)`" if len(dims) == 1 else f"`({', '.join(dims)})`"


def _operands(ctx: FileContext, node: cst.CSTNode
              ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """The two tensor operands of an element-wise arithmetic operation, else None."""
    if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)):
        return node.left, node.right
    if isinstance(node, cst.Call) and ctx.kind(node) in ARITHMETIC:
        args = [a.value for a in node.args if a.keyword is None]
        if len(args) >= 2:
            return args[0], args[1]
    return None


ARITHMETIC = {"add", "subtract", "multiply", "divide", "divide_no_nan", "maximum", "minimum",
              "xlogy"}


class ReplicaReduction(Rule):
    """A `tf.distribute` replica step averages its loss over the per-replica batch.

    ## What it does
    In a function passed to `strategy.run` (and in the same-module helper whose result it
    differentiates), flags a mean over the batch axis (`tf.reduce_mean(x)`, `K.mean(x)`,
    `keras.ops.mean(x)` with no `axis`, or a Keras loss object with its default reduction) of a
    per-sample loss that becomes the training objective. A mean that is divided on its way to
    the gradient (`loss / strategy.num_replicas_in_sync`) is scaled for the replicas and not
    flagged.

    ## Why is this bad?
    Each replica divides by its own batch size, and the gradients of the replicas are then
    summed: the gradient is `num_replicas` times too large, and the learning rate with it.
    `tf.nn.compute_average_loss` divides by the global batch size instead.

    ## Example
    ```python
    import tensorflow as tf

    mse = tf.keras.losses.MeanSquaredError(reduction="none")

    def step_fn(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    strategy.run(step_fn, args=(x, y))
    ```

    ## Use instead
    ```python
    import tensorflow as tf

    mse = tf.keras.losses.MeanSquaredError(reduction="none")

    def step_fn(x, y):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(mse(y, model(x)),
                                              global_batch_size=GLOBAL_BATCH_SIZE)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    strategy.run(step_fn, args=(x, y))
    ```
    """

    code = "LL305"
    name = "replica-reduction"
    severity = "warning"
    frameworks = ("tensorflow", "keras")
    hint = "use `tf.nn.compute_average_loss(per_example_loss, global_batch_size=...)`"
    VALID = [
        Valid("""
        import tensorflow as tf
        from absl import app
        def main(argv):
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            x, y = tf.ones((4, 3)), tf.ones((4, 1))
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            return grads
        app.run(main)
        """),
        Valid("""
        import tensorflow as tf
        mse = tf.keras.losses.MeanSquaredError(reduction="none")
        def replica_step(strategy, model, optimizer, x, y):
            def step_fn(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.nn.compute_average_loss(mse(y, model(x)), global_batch_size=64)
                grads = tape.gradient(loss, model.trainable_variables)
                return loss
            return strategy.run(step_fn, args=(x, y))
        """),
        Valid("""
        import tensorflow as tf
        def train(strategy, model, optimizer, images, labels):
            def step_fn(images, labels):
                with tf.GradientTape() as tape:
                    logits = model(images, training=True)
                    nll = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                        labels, logits, from_logits=True))
                    loss = nll + sum(model.losses)
                    # the replicas' gradients are summed: scale each replica's mean
                    scaled_loss = loss / strategy.num_replicas_in_sync
                grads = tape.gradient(scaled_loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
            strategy.run(step_fn, args=(images, labels))
        """),
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        Valid("""
        import tensorflow as tf
        def step_fn(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(y - model(x))) / GLOBAL_BATCH
            grads = tape.gradient(loss, model.trainable_variables)
            accuracy = tf.reduce_mean(tf.cast(tf.equal(y, model(x)), tf.float32))
            return loss, accuracy
        def run(strategy, x, y):
            return strategy.run(step_fn, args=(x, y))
        """),
        Valid("""
        import tensorflow as tf
        class Trainer:
            def replica_step(self, x, y):
                with tf.GradientTape() as tape:
                    per_example = tf.square(y - self.model(x))
                    loss = tf.nn.compute_average_loss(per_example, global_batch_size=64)
                grads = tape.gradient(loss, self.model.trainable_variables)
                self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
                return loss
            def distributed_step(self, x, y):
                return self.strategy.run(self.replica_step, args=(x, y))
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        mse = tf.keras.losses.MeanSquaredError(reduction="none")
        def replica_step(strategy, model, optimizer, x, y):
            def step_fn(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(mse(y, model(x)))
                grads = tape.gradient(loss, model.trainable_variables)
                return loss
            return strategy.run(step_fn, args=(x, y))
        """, line=6, message="`tf.reduce_mean(mse(y, model(x)))`"),
        Invalid("""
        import tensorflow as tf
        loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        def compute_loss(labels, logits):
            return loss_object(labels, logits)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = compute_loss(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
        def distributed_step(strategy, x, y):
            return strategy.run(train_step, args=(x, y))
        """, line=4, message="loss_object"),
        Invalid("""
        import keras
        import tensorflow as tf
        def step_fn(x, y):
            with tf.GradientTape() as tape:
                per_example = keras.ops.square(y - model(x))
                loss = keras.ops.mean(per_example)
            grads = tape.gradient(loss, model.trainable_variables)
        def run(strategy, x, y):
            return strategy.run(step_fn, args=(x, y))
        """, line=6, message="`keras.ops.mean(per_example)` averages over the per-replica batch"),
        Invalid("""
        import tensorflow as tf
        class Trainer:
            def replica_step(self, x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(y - self.model(x)))
                grads = tape.gradient(loss, self.model.trainable_variables)
                self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
                return loss
            def distributed_step(self, x, y):
                return self.strategy.run(self.replica_step, args=(x, y))
        """, line=5, message="`Trainer.replica_step`"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        function = self.ctx.function
        if function is None:
            return
        shapes = self.ctx.shapes
        if function.name in self.ctx.index.replica_fns:
            # a loss divided on its way to the gradient (`loss / strategy.num_replicas_in_sync`)
            # is scaled for the replicas' summed gradients
            terms = shapes.objective_terms(function, ("tape_gradient", "minimize"),
                                           normalized_stops=True)
            where = f"the replica step `{function.qualname}`"
        elif function.name in self._helpers():
            terms = shapes.returned_terms(function)
            where = f"`{function.qualname}`, whose result a replica step differentiates"
        else:
            return
        if id(node) not in terms or shapes.batch_reduction(node, function) != "mean":
            return
        self.report(node, f"in {where} (run by `strategy.run`), `{shorten(self.ctx.text(node))}`"
                    " averages over the per-replica batch: the summed gradients of the "
                    "replicas scale with the number of replicas")

    def _helpers(self) -> set[str]:
        """Names of module functions whose result a replica step differentiates directly."""
        cached = getattr(self, "_helper_names", None)
        if cached is not None:
            return cached
        names: set[str] = set()
        index = self.ctx.index
        for function in index.functions:
            if function.name not in index.replica_fns:
                continue
            for term in self.ctx.shapes.objective_terms(
                    function, ("tape_gradient", "minimize"), normalized_stops=True).values():
                if isinstance(term, cst.Call) and isinstance(term.func, cst.Name) and \
                        term.func.value not in index.replica_fns:
                    names.add(term.func.value)
        self._helper_names = names
        return names
