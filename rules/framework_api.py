"""LL4xx framework API: losses, models and calls that do not fit each other.

These rules run on all code (a `compile` call or a model definition is rarely inside a loss
function). They read the model and the loss from the same file through `lossguard.analysis.models`.
"""

from __future__ import annotations

import libcst as cst

from lossguard.api import (
    KERAS_PRED_NAMES,
    Body,
    Function,
    Invalid,
    Replace,
    Rule,
    Valid,
    dotted,
    is_loss_name,
    keyword,
    label_like,
    models,
    name_tokens,
    number,
    ops,
    positional,
    pred_like,
    shorten,
    walk_own,
)

_ACTIVATES = {"softmax_xent_logits": "softmax", "torch_cross_entropy": "softmax",
              "categorical": "softmax", "categorical_xent": "softmax",
              "sigmoid_xent_logits": "sigmoid", "torch_bce_logits": "sigmoid",
              "binary": "sigmoid", "binary_xent": "sigmoid"}


def _compile_receiver(node: cst.Call) -> cst.BaseExpression | None:
    func = node.func
    if type(func) is cst.Attribute and func.attr.value == "compile":
        return func.value
    return None


def _model_and_loss(rule: Rule, node: cst.Call
                    ) -> tuple[models.Output, models.LossSpec] | None:
    """The output of the model compiled by `node` and the Keras loss it is compiled with."""
    receiver = _compile_receiver(node)
    if receiver is None:
        return None
    loss = models.compile_loss(node)
    if loss is None:
        return None
    ctx = rule.ctx
    if models.compiled_for_inference(ctx, receiver, ctx.function):
        return None  # compiled to be run (`g.predict`), trained with no loss of its own
    spec = models.loss_spec(ctx, loss, ctx.function, node)
    if spec is None:
        return None
    out = models.model_output(ctx, receiver, ctx.function, node)
    return (out, spec) if out is not None else None


def _layer_text(rule: Rule, out: models.Output) -> str:
    node = out.units_layer or out.layer
    return shorten(rule.ctx.text(node), 50) if node is not None else "the last layer"


class FromLogitsMismatch(Rule):
    """A cross-entropy fed the wrong kind of input: probabilities where it expects logits, or
    logits where it expects probabilities.

    ## What it does
    Flags a cross-entropy whose input does not match what it expects:
    - `tf.nn.softmax_cross_entropy_with_logits(logits=tf.nn.softmax(x))`, optax
      `softmax_cross_entropy(jax.nn.softmax(x), y)`, a Keras loss with `from_logits=True`, torch
      `cross_entropy` / `CrossEntropyLoss` / `BCEWithLogitsLoss` fed a `softmax`/`sigmoid`
      output (the facts follow local assignments);
    - torch `nll_loss` / `NLLLoss` fed a `softmax` output instead of `log_softmax`;
    - a Keras probability cross-entropy (`from_logits=False`, the default) or torch
      `binary_cross_entropy` / `BCELoss` fed logits: a value named `logits`, or the output of a
      layer with no activation (`Dense(10)`, `nn.Linear(64, 1)`);
    - `model.compile(loss=...)` where the model's last layer (read from `Sequential([...])`,
      `model.add(...)` or a functional chain in the same file) has a `softmax`/`sigmoid`
      activation and the loss has `from_logits=True`, has no activation (or one that gives no
      probabilities: `relu`, `softplus`, `tanh`, ...) and the loss expects probabilities, or
      can output negative values (no activation, `tanh`, `elu`, ...) for a Poisson loss, which
      takes the log of a rate. A categorical loss on a 1-unit output is LL405's business.

    ## Why is this bad?
    A softmax applied twice squashes the outputs towards uniform and the gradient nearly
    vanishes: the model trains very slowly or not at all. Logits given to a loss that expects
    probabilities are clipped into `[eps, 1 - eps]`: every negative logit is "probability 0"
    and its gradient is 0. `nll_loss` of probabilities is not a log-likelihood at all; it is
    minimised by pushing one probability up, without bound on the others.

    ## Example
    ```python
    import tensorflow as tf
    loss = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=tf.nn.softmax(z))
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    loss = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z)
    ```
    Fix: the operand of the extra `softmax`/`sigmoid` is passed instead (safe), and
    `nll_loss(F.softmax(x))` becomes `nll_loss(F.log_softmax(x))` (safe).
    """

    code = "LL401"
    name = "from-logits-mismatch"
    scope = "all"
    calls = models.LOSS_CALLS
    hint = "pass raw logits to losses `*_with_logits` / `from_logits=True`, probabilities " \
           "otherwise"
    VALID = [
        # mixed precision: the softmax is cast back to float32 by an identity activation
        Valid("""
        from tensorflow import keras
        from tensorflow.keras import layers
        inputs = keras.Input(shape=(784,))
        x = layers.Dense(10, name="dense_logits")(inputs)
        x = layers.Activation("softmax")(x)
        outputs = layers.Activation("linear", dtype="float32")(x)
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
        """),
        # a notebook rebinds `loss_fn`: this loop sees the squared error, not the later one
        Valid("""
        import tensorflow as tf
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(30, activation="selu"), keras.layers.Dense(1)])
        loss_fn = keras.losses.mean_squared_error
        for x, y in batches:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(y, model(x)))
        classifier = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
        loss_fn = keras.losses.sparse_categorical_crossentropy
        """),
        Valid("""
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(1, activation="exponential")])
        model.compile(optimizer="adam", loss="poisson")
        """),
        Valid("""
        import tensorflow as tf
        def xent_loss(labels, logits):
            return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        """),
        Valid("""
        import tensorflow as tf
        def build(num_classes):
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dense(num_classes),
            ])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
            return model
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def loss(y_true, y_pred):
            return K.categorical_crossentropy(y_true, K.softmax(y_pred))
        """),
        Valid("""
        import keras
        def loss(y_true, logits):
            return keras.ops.binary_crossentropy(y_true, logits, from_logits=True)
        """),
        Valid("""
        import torch.nn.functional as F
        def forward_loss(logits, target):
            return F.nll_loss(F.log_softmax(logits, dim=1), target)
        """),
        Valid("""
        import torch
        import torch.nn as nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(64, 1)
                self.criterion = nn.BCEWithLogitsLoss()
            def forward(self, x, y):
                return self.criterion(self.fc(x), y)
        """),
        Valid("""
        import jax
        import optax
        def loss_fn(params, x, y):
            return optax.softmax_cross_entropy(apply(params, x), y).mean()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def bce_loss(pred, target):
            loss = F.binary_cross_entropy_with_logits(pred, target)
            pred = torch.sigmoid(pred)
            return loss, pred
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def evaluate(model, x, target):
            scores = model(x)
            loss = F.binary_cross_entropy_with_logits(scores, target)
            scores = torch.sigmoid(scores)
            return loss.item(), (scores > 0.5).float().mean().item()
        """),
        # the generator is compiled only to be run; it learns through the stacked model
        Valid("""
        import numpy as np
        from tensorflow import keras
        def train(data, batch):
            g = keras.Sequential([keras.layers.Dense(784, activation="tanh")])
            d = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
            g_on_d = keras.Sequential([g, d])
            g.compile(loss="binary_crossentropy", optimizer="sgd")
            g_on_d.compile(loss="binary_crossentropy", optimizer="sgd")
            d.compile(loss="binary_crossentropy", optimizer="sgd")
            for real in data:
                noise = np.random.uniform(-1, 1, (batch, 100))
                fake = g.predict(noise)
                d.train_on_batch(np.concatenate([real, fake]), [1] * batch + [0] * batch)
                g_on_d.train_on_batch(noise, [1] * batch)
        """),
    ]
    INVALID = [
        Invalid("""
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dense(10, activation="relu")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        """, line=4, message="has a relu activation, which gives no probabilities"),
        # a builder's model is trained by its caller
        Invalid("""
        from tensorflow import keras
        def build_classifier():
            model = keras.Sequential([keras.layers.Dense(10, activation="relu")])
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            return model
        classifier = build_classifier()
        classifier.fit(x_train, y_train)
        """, line=4, message="has a relu activation, which gives no probabilities"),
        Invalid("""
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="poisson")
        """, line=3, message="the log of a negative rate is NaN"),
        Invalid("""
        import torch
        import torch.nn as nn
        class Scorer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(16, 1)
            def forward(self, x):
                return self.fc(x)
        def train(loader):
            model = Scorer()
            criterion = nn.BCELoss()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """, line=14, message="expects probabilities"),
        Invalid("""
        import tensorflow as tf
        def _probabilities(z):
            return tf.sigmoid(z)
        def sigmoid_loss(labels, z):
            p = _probabilities(z)
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=p))
        """, line=6, message="`p` is a sigmoid output"),
        Invalid("""
        import tensorflow as tf
        def double_softmax(labels, logits):
            return tf.nn.softmax_cross_entropy_with_logits(
                labels=labels, logits=tf.nn.softmax(logits))
        """, line=3, message="`tf.nn.softmax(logits)` is a softmax output", fixed="""
        import tensorflow as tf
        def double_softmax(labels, logits):
            return tf.nn.softmax_cross_entropy_with_logits(
                labels=labels, logits=logits)
        """),
        Invalid("""
        import tensorflow as tf
        def build(num_classes):
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dense(num_classes, activation="softmax"),
            ])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
            return model
        """, line=7, message="softmax"),
        Invalid("""
        from tensorflow import keras
        inputs = keras.Input(shape=(32,))
        hidden = keras.layers.Dense(64, activation="relu")(inputs)
        outputs = keras.layers.Dense(10)(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        """, line=6, message="no activation"),
        Invalid("""
        from tensorflow.keras import backend as K
        def loss(y_true, y_pred):
            probs = K.softmax(y_pred)
            return K.categorical_crossentropy(y_true, probs, from_logits=True)
        """, line=4, message="`probs`"),
        Invalid("""
        import keras
        def loss(y_true, logits):
            return keras.ops.binary_crossentropy(y_true, logits)
        """, line=3, message="`logits` are logits"),
        Invalid("""
        import torch.nn as nn
        import torch.nn.functional as F
        class SoftmaxNLLLoss(nn.Module):
            def forward(self, logits, target):
                return F.nll_loss(F.softmax(logits, dim=1), target)
        """, line=5, message="log-probabilities", fixed="""
        import torch.nn as nn
        import torch.nn.functional as F
        class SoftmaxNLLLoss(nn.Module):
            def forward(self, logits, target):
                return F.nll_loss(F.log_softmax(logits, dim=1), target)
        """),
        Invalid("""
        import torch.nn.functional as F
        def train_step(model, x, y):
            probs = model(x).softmax(dim=-1)
            loss = F.cross_entropy(probs, y)
            loss.backward()
        """, line=4, message="`probs`"),
        Invalid("""
        import torch
        import torch.nn as nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(64, 1)
                self.criterion = nn.BCELoss()
            def forward(self, x, y):
                return self.criterion(self.fc(x), y)
        """, line=9, message="no activation"),
        Invalid("""
        import torch
        import torch.nn as nn
        def bce_loss(pred, target):
            return nn.BCEWithLogitsLoss()(torch.sigmoid(pred), target)
        """, line=4, message="`nn.BCEWithLogitsLoss()` expects logits"),
        Invalid("""
        import jax
        import optax
        def loss_fn(logits, labels):
            return optax.softmax_cross_entropy(jax.nn.softmax(logits), labels).mean()
        """, line=4, message="`optax.softmax_cross_entropy` expects logits"),
        Invalid("""
        import torch.nn.functional as F
        def distillation_loss(student_logits, teacher_logits, T=2.0):
            student = F.softmax(student_logits / T, dim=1)
            teacher = F.softmax(teacher_logits / T, dim=1)
            return F.kl_div(student, teacher, reduction="batchmean") * T * T
        """, line=5, message="`F.kl_div` expects log-probabilities"),
        Invalid("""
        import torch
        import torch.nn.functional as F
        def bce_loss(pred, target):
            pred = torch.sigmoid(pred)
            loss = F.binary_cross_entropy_with_logits(pred, target)
            return loss, pred
        """, line=5, message="`pred` is a sigmoid output"),
        Invalid("""
        import torch
        import torch.nn.functional as F
        def evaluate(model, x, target):
            scores = model(x)
            scores = torch.sigmoid(scores)
            loss = F.binary_cross_entropy_with_logits(scores, target)
            return loss.item()
        """, line=6, message="sigmoid"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if _compile_receiver(node) is not None:
            self._compiled(node)
            return
        use = models.loss_use(self.ctx, node)
        if use is None or use.expects is None:
            return
        kind, why = models.prediction_kind(self.ctx, use.prediction)
        if kind is None:
            return
        value = f"`{shorten(self.ctx.text(use.prediction), 50)}` {why}"
        name = f"`{use.name}`" + (f" (`{shorten(use.via, 40)}`)" if use.via else "")
        if use.expects in ("logits", "log_probs") and kind in models.PROBABILITY_KINDS:
            if use.expects == "log_probs" and kind != "softmax":
                return
            if use.expects == "logits":
                bad = f"{name} expects logits and applies {_ACTIVATES.get(use.kind, kind)} " \
                      f"itself: the {kind} is applied twice and the gradient vanishes"
            else:
                bad = f"{name} expects log-probabilities (`log_softmax`), not probabilities"
            self.report(node, f"{value}, but {bad}", fix=self._fix(use, kind))
        elif use.expects == "probs" and kind == "logits":
            keras = use.kind in ("categorical", "binary", "categorical_xent", "binary_xent")
            self.report(node, f"{value}, but {name} expects probabilities"
                        f"{' (`from_logits=False`)' if keras else ''}: negative logits are "
                        "clipped to probability 0 and get no gradient")

    def _fix(self, use: models.LossUse, kind: str) -> Replace | None:
        pred = use.prediction
        if not isinstance(pred, cst.Call) or self.ctx.kind(pred) != kind:
            return None
        if use.expects == "log_probs":
            func = pred.func
            if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
                return Replace(func.attr, cst.Name("log_softmax"),
                               "use `log_softmax` instead of `softmax`")
            return None
        if _ACTIVATES.get(use.kind) != kind:
            return None
        operand = self.ctx.operand(pred)
        if operand is None:
            return None
        return Replace(pred, operand, f"pass the logits, not their {kind}")

    def _compiled(self, node: cst.Call) -> None:
        found = _model_and_loss(self, node)
        if found is None:
            return
        out, spec = found
        loss = shorten(self.ctx.text(spec.node), 50)
        layer = _layer_text(self, out)
        if spec.family == "poisson" and out.activation in ops.SIGNED_ACTIVATIONS:
            what = "no activation" if out.activation == "linear" else \
                f"a {out.activation} activation"
            self.report(node, f"the model's last layer `{layer}` has {what} (its output can be "
                        f"negative), but the loss `{loss}` takes the log of a predicted rate: "
                        "the log of a negative rate is NaN (use `exponential` or `softplus`)")
            return
        if spec.family not in ("categorical", "binary"):
            return
        if out.activation in ops.NON_PROBABILITY_ACTIVATIONS and not spec.from_logits:
            self.report(node, f"the model's last layer `{layer}` has a {out.activation} "
                        f"activation, which gives no probabilities, but the loss `{loss}` "
                        "expects probabilities: outputs outside [0, 1] are clipped, and a "
                        "categorical row of zeros is normalised by 0 (NaN)")
            return
        if out.activation in models.PROBABILITY_KINDS and spec.from_logits is True:
            self.report(node, f"the model's last layer `{layer}` has a {out.activation} "
                        f"activation, but the loss `{loss}` expects logits (`from_logits=True`)"
                        f": the {out.activation} is applied twice and the gradient vanishes")
        elif out.activation == "linear" and spec.from_logits is False:
            if spec.family == "categorical" and out.units == 1:
                return  # LL405: a categorical loss on one unit is always 0
            self.report(node, f"the model's last layer `{layer}` has no activation (it outputs "
                        f"logits), but the loss `{loss}` expects probabilities "
                        "(`from_logits=False`): negative logits are clipped to probability 0")


def _pred_expr(node: cst.CSTNode | None) -> bool:
    """An argument that is a prediction: `y_pred`, `logits`, `model(x)`, `model.predict(x)`."""
    if node is None:
        return False
    if type(node) is cst.Call:
        name = dotted(node.func) or ""
        last = name.rpartition(".")[2]
        return last == "predict" or bool({"model", "net"} & set(name_tokens(last)))
    name = dotted(node)
    return name is not None and pred_like(name.rpartition(".")[2])


def _soft_target_first(first: cst.CSTNode | None, second: cst.CSTNode | None) -> bool:
    """Both arguments look like predictions and only the second like logits
    (`teacher_probs, student_logits`): the first is a soft target, passed as the labels."""
    while isinstance(second, cst.BinaryOperation):  # `student_logits / temperature`
        second = second.left
    if not _pred_expr(second):
        return False
    first_name = (dotted(first) or "").rpartition(".")[2].lower() if first is not None else ""
    second_name = (dotted(second) or "").rpartition(".")[2].lower() if second is not None else ""
    return "logit" in second_name and "logit" not in first_name


def _label_expr(node: cst.CSTNode | None) -> bool:
    name = dotted(node) if node is not None else None
    return name is not None and label_like(name.rpartition(".")[2])


def _required(function: Function) -> int:
    return sum(1 for p in function.positional_params
               if p.default is None and p.name.value not in ("self", "cls"))


def _two_params(params: list[cst.Param]) -> tuple[str, str] | None:
    names = [p.name.value for p in params if p.name.value not in ("self", "cls")]
    return (names[0], names[1]) if len(names) >= 2 else None


class SwappedArguments(Rule):
    """A Keras loss whose prediction and labels are swapped.

    ## What it does
    In Keras context only (PyTorch and JAX put the prediction first, so `(pred, target)` is
    right there). Flags:
    - a function whose parameters are `(prediction, labels)` (`y_pred`, `pred`, `logits`,
      `output` then `y_true`, `y`, `target`, `labels`) given to `compile` / `add_loss`; or one
      named as a loss, with Keras's own names (`y_pred`/`y_hat` first) and two required
      parameters, in a module that uses TensorFlow/Keras and not PyTorch/JAX. A loss-named
      helper that the module itself calls prediction first is consistent and left alone, and
      `focal_loss(logits, targets, alpha, gamma)` is a TensorFlow helper, not a Keras loss;
    - a Keras `Loss` subclass whose `call` is `call(self, y_pred, y_true)`;
    - a call that passes the prediction first to a `(y_true, y_pred)` loss: a function of the
      module, a `keras.losses` function or loss object, `K.*_crossentropy(target, output)`
      (not a built-in squared, absolute, Huber or log-cosh error: those are symmetric);
    - a positional call of `tf.nn.*_cross_entropy_with_logits` whose first argument is a
      prediction (`logits`, `pred`, `output`): their argument order changed between
      TensorFlow versions, so pass `labels=` and `logits=` by keyword. A soft target passed
      first to logits passed second (`teacher_probs, student_logits` in distillation) is the
      right order.

    ## Why is this bad?
    Keras calls every loss as `loss(y_true, y_pred)`. With the names swapped the code computes
    `log(labels)`, clips the labels or weights by the prediction: an asymmetric loss becomes a
    different loss (often NaN or flat) and a symmetric one misleads every reader.

    ## Example
    ```python
    from tensorflow.keras import backend as K
    def swapped_loss(y_pred, y_true):
        return K.mean(K.square(y_true - y_pred), axis=-1)
    ```

    ## Use instead
    ```python
    from tensorflow.keras import backend as K
    def swapped_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LL402"
    name = "swapped-arguments"
    scope = "all"
    probe = "argument-order"
    hint = "Keras passes `(y_true, y_pred)`: order the parameters and arguments that way"
    VALID = [
        # a layer named like a loss is called as its author writes, not by Keras
        Valid("""
        import tensorflow as tf
        class Loss(tf.keras.layers.Layer):
            def call(self, pred, target):
                return tf.reduce_mean(tf.abs(target - pred))
        class SpectralLoss(Loss):
            def call(self, pred, target):
                return tf.reduce_mean(tf.square(tf.abs(tf.signal.rfft(target - pred))))
        """),
        Valid("""
        import tensorflow as tf
        def regression_step(model, x, y, optimizer):
            loss_fn = tf.keras.losses.MeanSquaredError()
            with tf.GradientTape() as tape:
                y_pred = model(x)
                loss = loss_fn(y_pred, y)  # a squared error is symmetric in its arguments
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """),
        Valid("""
        import tensorflow as tf
        # a TensorFlow library whose own trainer calls `loss(prediction, target)`
        def categorical_crossentropy(y_pred, y_true):
            y_pred = tf.clip_by_value(y_pred / tf.reduce_sum(y_pred, -1, True), 1e-7, 1.0)
            return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
        """),
        Valid("""
        import tensorflow as tf
        def distillation_loss(teacher_logits, student_logits, temperature=4.0):
            teacher_probs = tf.nn.softmax(teacher_logits / temperature)
            soft = tf.nn.softmax_cross_entropy_with_logits(teacher_probs, student_logits / 4.0)
            return tf.reduce_mean(soft)
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def mse_loss(y_true, y_pred):
            return K.mean(K.square(y_true - y_pred), axis=-1)
        """),
        Valid("""
        import torch
        def mse_loss(pred, target):
            return ((pred - target) ** 2).mean()
        """),
        Valid("""
        import tensorflow as tf
        def xent(labels, logits):
            return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        """),
        Valid("""
        import tensorflow as tf
        class MyLoss(tf.keras.losses.Loss):
            def call(self, y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """),
        Valid("""
        import keras
        def loss(y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
        def train_step(model, x, y):
            return loss(y, model(x))
        """),
        Valid("""
        import theano.tensor as T
        def binary_crossentropy(predictions, targets):
            # Theano's cross-entropies take the prediction first: `(output, target)`
            return T.nnet.binary_crossentropy(predictions, targets)
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def hinge_loss(y_pred, y_true):
            return tf.keras.backend.mean(tf.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)
        """, line=2, message="`hinge_loss(y_pred, y_true)` takes the prediction first"),
        Invalid("""
        from tensorflow.keras import backend as K
        def swapped_loss(y_pred, y_true):
            return K.mean(K.square(y_true - y_pred), axis=-1)
        """, line=2, message="`swapped_loss(y_pred, y_true)`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def swapped_loss(y_pred, y_true, weight=1.0):
            return weight * K.mean(K.square(y_true - y_pred), axis=-1)
        def total(y_true, y_pred):
            return swapped_loss(y_pred, y_true) + swapped_loss(y_pred=y_pred, y_true=y_true)
        def build(model):
            model.compile(optimizer="adam", loss=swapped_loss)
        """, line=2, fixed="""
        from tensorflow.keras import backend as K
        def swapped_loss(y_true, y_pred, weight=1.0):
            return weight * K.mean(K.square(y_true - y_pred), axis=-1)
        def total(y_true, y_pred):
            return swapped_loss(y_true, y_pred) + swapped_loss(y_pred=y_pred, y_true=y_true)
        def build(model):
            model.compile(optimizer="adam", loss=swapped_loss)
        """, message="`swapped_loss(y_pred, y_true)` takes the prediction first"),
        Invalid("""
        import tensorflow as tf
        class MyLoss(tf.keras.losses.Loss):
            def call(self, y_pred, y_true):
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """, line=3, message="`call(y_pred, y_true)` takes the prediction first"),
        Invalid("""
        import keras
        def weighted(pred, target):
            return keras.ops.mean(keras.ops.abs(pred - target) * target, axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=weighted)
        """, line=2, message="inside it `pred` holds the labels"),
        Invalid("""
        import tensorflow as tf
        def train_step(model, x, y):
            with tf.GradientTape() as tape:
                logits = model(x)
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits, y))
            return tape.gradient(loss, model.trainable_variables)
        """, line=5, message="`logits`"),
        Invalid("""
        import tensorflow as tf
        bce = tf.keras.losses.BinaryCrossentropy()
        def train_step(model, x, y):
            with tf.GradientTape() as tape:
                loss = bce(model(x), y)
            return tape.gradient(loss, model.trainable_variables)
        """, line=5, message="`model(x)`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def dice_loss(y_true, y_pred):
            return 1.0 - K.sum(y_true * y_pred) / (K.sum(y_true) + K.sum(y_pred) + 1.0)
        def total_loss(y_true, y_pred):
            return dice_loss(y_pred, y_true) + K.binary_crossentropy(y_true, y_pred)
        """, line=5, message="is passed first to `dice_loss(y_true, y_pred)`"),
    ]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        function = ctx.index.function_of.get(id(node))
        if function is None:
            return
        pair = _two_params(function.positional_params)
        if pair is None or not (pred_like(pair[0]) and label_like(pair[1])):
            return
        top = function.cls is None and function.parent is None
        handed = top and function.name in ctx.index.loss_args
        keras_call = function.name == "call" and ctx.is_keras_loss(function)
        named = function.cls is None and is_loss_name(function.name) and \
            pair[0] in KERAS_PRED_NAMES and _required(function) == 2 and \
            models.keras_context(ctx) and models.uses_keras(ctx) and \
            not self._called_in_order(function.name)
        if not (handed or keras_call or named):
            return
        self.report(node, f"`{function.name}({pair[0]}, {pair[1]})` takes the prediction "
                    "first, but Keras calls a loss as `loss(y_true, y_pred)`: inside it "
                    f"`{pair[0]}` holds the labels and `{pair[1]}` the predictions",
                    fix=self._reorder(node, function.name if top else None))

    def _reorder(self, node: cst.FunctionDef, name: str | None) -> Replace | None:
        """Swap the two parameters, and the first two arguments of every call in the file."""
        params = node.params
        if len(params.params) < 2 or params.posonly_params:
            return None
        first, second, *rest = params.params
        swapped = params.with_changes(params=[
            first.with_changes(name=second.name, annotation=second.annotation),
            second.with_changes(name=first.name, annotation=first.annotation), *rest])
        calls = []
        for call in self.ctx.index.calls_by_name.get(name, []) if name else []:
            args = list(call.args)
            given = sum(1 for a in args if a.keyword is None)
            if any(a.star for a in args) or given == 1:
                return None  # a call whose meaning the swap could not keep
            if given == 0:
                continue  # all by keyword: still right after the swap
            args[0], args[1] = (args[0].with_changes(value=args[1].value),
                                args[1].with_changes(value=args[0].value))
            calls.append((call, call.with_changes(args=args)))
        return Replace(params, swapped, "reorder the parameters to `(y_true, y_pred)` and "
                       "update the calls in this file", also=tuple(calls))

    def _called_in_order(self, name: str) -> bool:
        return any(_pred_expr(positional(call, 0))
                   for call in self.ctx.index.calls_by_name.get(name, []))

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        first = positional(node, 0)
        if not _pred_expr(first):  # both mistakes pass the prediction first
            return
        op = ctx.op(node)
        if op is not None and op.kind in ("softmax_xent_logits", "sigmoid_xent_logits") and \
                op.framework == "tensorflow" and op.name.endswith("cross_entropy_with_logits"):
            if _soft_target_first(first, positional(node, 1)):
                return  # `(teacher_probs, student_logits)`: a distribution as the labels
            self.report(node, f"`{ctx.text(first)}` is passed first to "
                        f"`{ctx.text(node.func)}`, whose first parameter is `labels` "
                        "(the order changed between TensorFlow versions): pass "
                        "`labels=` and `logits=` by keyword")
            return
        if not _label_expr(positional(node, 1)):
            return
        callee = self._keras_order_callee(node)
        if callee is None:
            return
        self.report(node, f"`{ctx.text(first)}` (the prediction) is passed first to "
                    f"`{callee}`, which takes `(y_true, y_pred)`: the labels and the "
                    "prediction are swapped")

    def _keras_order_callee(self, node: cst.Call) -> str | None:
        """The name of a `(y_true, y_pred)` loss called by `node`, else None."""
        ctx = self.ctx
        func = node.func
        op = ctx.op(node)
        if op is not None:
            return ctx.text(func) if op.kind in ("binary_xent", "categorical_xent") and \
                op.framework not in ops.PREDICTION_FIRST_XENT else None
        use = models.loss_use(ctx, node)
        if use is not None and use.kind in ("categorical", "binary"):
            return use.name
        spec = models.loss_spec(ctx, func, ctx.function, node)
        if spec is not None:
            # a symmetric loss computes the same loss with its arguments swapped
            return None if spec.family in ops.SYMMETRIC_LOSS_FAMILIES else ctx.text(func)
        if isinstance(func, cst.Name) and models.keras_context(ctx):
            for function in ctx.index.by_name.get(func.value, []):
                pair = _two_params(function.positional_params)
                if function.cls is None and pair and label_like(pair[0]) and pred_like(pair[1]):
                    return f"{func.value}({pair[0]}, {pair[1]})"
        return None


def _signature_problem(params: cst.Parameters) -> str | None:
    """Why a function cannot be called as `f(y_true, y_pred)`, or None."""
    positional_params = [*params.posonly_params, *params.params]
    required = [p for p in positional_params if p.default is None]
    star = isinstance(params.star_arg, cst.Param)
    names = ", ".join(p.name.value for p in positional_params)
    if len(required) > 2:
        return f"it requires {len(required)} positional arguments (`{names}`)"
    if len(positional_params) < 2 and not star:
        count = len(positional_params)
        return f"it takes {count} positional argument{'s' if count != 1 else ''}" + \
            (f" (`{names}`)" if names else "")
    kwonly = [p.name.value for p in params.kwonly_params if p.default is None]
    if kwonly:
        return f"it requires the keyword argument `{kwonly[0]}`"
    return None


class LossSignature(Rule):
    """A `loss=` that Keras cannot call as `loss(y_true, y_pred)`.

    ## What it does
    Flags `model.compile(loss=f)` where `f` is a plain function (or lambda) of the module whose
    signature cannot take `(y_true, y_pred)`: more than two required positional parameters, fewer
    than two positional parameters, a required keyword-only parameter. Also flags
    `loss=f(...)` where `f` is a plain loss function of the module (it returns a tensor
    expression, not a function): the loss is computed once, on whatever was passed, and Keras
    receives a tensor. A factory that returns a function (a nested `def`, a `lambda`,
    `functools.partial`) is fine, as are loss objects (`MyLoss()`).

    ## Why is this bad?
    Keras calls the loss as `loss(y_true, y_pred)` on every batch: a wrong signature raises a
    `TypeError` at the first step, and a tensor passed as the loss either fails in `compile`
    or, with TF1-style graphs, becomes a constant objective that does not depend on the batch.

    ## Example
    ```python
    import tensorflow as tf

    def pairwise_loss(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1)

    model.compile(optimizer="adam", loss=pairwise_loss(y_true, y_pred))
    ```

    ## Use instead
    ```python
    import tensorflow as tf

    def pairwise_loss(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1)

    model.compile(optimizer="adam", loss=pairwise_loss)
    ```
    """

    code = "LL403"
    name = "loss-signature"
    scope = "all"
    calls = frozenset({"compile"})
    hint = "pass a callable `loss(y_true, y_pred)` (use a factory or a closure for extra " \
           "parameters)"
    VALID = [
        Valid("""
        import tensorflow as tf
        def make_weighted_loss(weight=2.0):
            def loss(y_true, y_pred):
                return weight * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            return loss
        def build(model):
            model.compile(optimizer="adam", loss=make_weighted_loss(0.5))
        """),
        Valid("""
        import tensorflow as tf
        def mse(y_true, y_pred, scale=1.0):
            return scale * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=mse)
        """),
        Valid("""
        import functools
        from tensorflow.keras import backend as K
        def focal(y_true, y_pred, gamma):
            return K.mean(K.pow(1.0 - y_pred, gamma) * y_true, axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=functools.partial(focal, gamma=2.0))
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def pairwise_loss(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1)
        def build_with_value(model, y_true, y_pred):
            model.compile(optimizer="adam", loss=pairwise_loss(y_true, y_pred))
        """, line=5, message="`pairwise_loss`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def weighted_loss(y_true, y_pred, weights):
            return K.mean(K.square(y_true - y_pred) * weights, axis=-1)
        def build(model):
            model.compile(optimizer="adam", loss=weighted_loss)
        """, line=5, message="requires 3 positional arguments"),
        Invalid("""
        import keras
        def build(model):
            model.compile(optimizer="adam", loss=lambda y_pred: keras.ops.mean(y_pred))
        """, line=3, message="1 positional argument"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if _compile_receiver(node) is None:
            return
        loss = models.compile_loss(node)
        if loss is None:
            return
        values: list[cst.BaseExpression]
        if isinstance(loss, (cst.List, cst.Tuple)):
            values = [e.value for e in loss.elements]
        elif isinstance(loss, cst.Dict):
            values = [e.value for e in loss.elements if isinstance(e, cst.DictElement)]
        else:
            values = [loss]
        for value in values:
            self._check(node, value)

    def _check(self, node: cst.Call, value: cst.BaseExpression) -> None:
        ctx = self.ctx
        if isinstance(value, cst.Name):
            local = ctx.definitions.value_at(value.value, node, ctx.function)[0]
            if local is not None:
                if isinstance(local, cst.Call):
                    self._called(node, local, value)
                return
        if isinstance(value, cst.Lambda):
            problem = _signature_problem(value.params)
            if problem:
                self.report(node, f"the loss `{shorten(ctx.text(value), 50)}` cannot be called "
                            f"as `loss(y_true, y_pred)`: {problem}")
            return
        if isinstance(value, cst.Name):
            function = self._module_function(value.value)
            if function is None:
                return
            problem = _signature_problem(function.node.params)
            if problem:
                self.report(node, f"the loss `{value.value}` cannot be called as "
                            f"`loss(y_true, y_pred)`: {problem}")
            return
        if isinstance(value, cst.Call):
            self._called(node, value, value)

    def _called(self, node: cst.Call, call: cst.Call, shown: cst.BaseExpression) -> None:
        if not isinstance(call.func, cst.Name):
            return
        function = self._module_function(call.func.value)
        if function is None or not self._returns_tensor(function):
            return
        via = "" if shown is call else f" (`{shorten(self.ctx.text(call), 50)}`)"
        self.report(node, f"`loss={shorten(self.ctx.text(shown), 50)}`{via} passes the value "
                    f"`{function.name}` returns (a tensor), not the loss function: Keras calls "
                    "the loss as `loss(y_true, y_pred)` on every batch")

    def _module_function(self, name: str) -> Function | None:
        found = [f for f in self.ctx.index.by_name.get(name, [])
                 if f.cls is None and f.parent is None]
        return found[0] if len(found) == 1 else None

    def _returns_tensor(self, function: Function) -> bool:
        """Every `return` of a plain loss function is a tensor expression."""
        values = [n.value for n in walk_own(function.node.body)
                  if isinstance(n, cst.Return) and n.value is not None]
        if not values or function.nested:
            return False
        flow = self.ctx.definitions.body(function)
        return all(self._tensor(v, flow, 0) for v in values)

    def _tensor(self, value: cst.BaseExpression, flow: Body, depth: int) -> bool:
        if depth > 8:
            return False
        if isinstance(value, cst.Name):  # the definition that reaches the read
            bound = flow.value(value)
            return bound is not None and self._tensor(bound, flow, depth + 1)
        if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
            return True
        if isinstance(value, cst.Call):
            op = self.ctx.op(value)
            return op is not None and op.kind not in ("opaque",)
        return False


class SingleUnitSoftmax(Rule):
    """`softmax` over an axis of size 1.

    ## What it does
    Flags a `softmax` whose axis has size 1: `Dense(1, activation="softmax")` (or a 1-filter
    convolution), an `Activation("softmax")` / `Softmax()` / `nn.Softmax(dim=1)` layer after a
    1-unit layer, and `tf.nn.softmax` / `keras.ops.softmax` / `F.softmax` / `x.softmax(dim)`
    of the output of a 1-unit layer (`Dense(1)`, `nn.Linear(64, 1)`, read through local
    assignments and `self.fc` set in `__init__`) over its last axis: the default axis for
    TensorFlow/Keras, `dim=-1` for PyTorch. A PyTorch softmax over `dim=1` (or the implicit
    dim) of a `Linear(d, 1)` output is left alone: on a `(batch, time, 1)` tensor it is the
    usual attention pooling over time.

    ## Why is this bad?
    The softmax of a single value is always exactly 1: the output is constant, every gradient
    through it is 0 and the model never learns. A binary classifier wants one unit with
    `sigmoid` (or two units with `softmax`).

    ## Example
    ```python
    import tensorflow as tf
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(1, activation="softmax"),
    ])
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    ```
    """

    code = "LL404"
    name = "single-unit-softmax"
    scope = "all"
    calls = models.LAYER_CALLS | ops.names_of({"softmax"})
    hint = "use one unit with `sigmoid` for a binary output, or N >= 2 units with `softmax`"
    VALID = [
        Valid("""
        import tensorflow as tf
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ])
        """),
        Valid("""
        import torch.nn as nn
        import torch.nn.functional as F
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(64, 10)
            def forward(self, x):
                return F.softmax(self.fc(x), dim=1)
        """),
        Valid("""
        import keras
        def attention(scores):
            return keras.ops.softmax(scores, axis=-1)
        """),
        Valid("""
        import torch.nn as nn
        import torch.nn.functional as F
        class AttentionPool(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.score = nn.Linear(dim, 1)
            def forward(self, h):
                weights = F.softmax(self.score(h), dim=1)
                return (weights * h).sum(dim=1)
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(1, activation="softmax"),
        ])
        """, line=4, message="`tf.keras.layers.Dense(1, activation=\"softmax\")`"),
        Invalid("""
        from keras import layers
        inputs = layers.Input(shape=(8,))
        score = layers.Dense(1)(inputs)
        outputs = layers.Activation("softmax")(score)
        """, line=4, message="it follows the 1-unit layer `layers.Dense(1)`"),
        Invalid("""
        from keras.models import Sequential
        from keras.layers import Dense, Activation
        model = Sequential()
        model.add(Dense(32, input_dim=8))
        model.add(Dense(1))
        model.add(Activation("softmax"))
        model.compile(optimizer="adam", loss="binary_crossentropy")
        """, line=6, message="it follows the 1-unit layer `Dense(1)`"),
        Invalid("""
        import tensorflow as tf
        def head(x):
            score = tf.keras.layers.Dense(1)(x)
            return tf.nn.softmax(score)
        """, line=4, message="the output of `tf.keras.layers.Dense(1)`, which has 1 unit"),
        Invalid("""
        import keras
        def head(x):
            return keras.ops.softmax(keras.layers.Dense(1)(x))
        """, line=3, message="the output of `keras.layers.Dense(1)`, which has 1 unit"),
        Invalid("""
        import torch.nn as nn
        import torch.nn.functional as F
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(64, 1)
            def forward(self, x):
                return F.softmax(self.fc(x), dim=-1)
        """, line=8, message="the output of `nn.Linear(64, 1)`, which has 1 unit"),
        Invalid("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.out = nn.Linear(64, 1)
            def forward(self, x):
                return self.out(x).softmax(dim=-1)
        """, line=7, message="`self.out(x)` is the output of `nn.Linear(64, 1)`"),
        Invalid("""
        import torch.nn as nn
        net = nn.Sequential(nn.Linear(64, 1), nn.Softmax(dim=-1))
        """, line=2, message="`nn.Softmax(dim=-1)` is a softmax over an axis of size 1"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        info = models.layer_of(ctx, node)
        if info is not None:
            out = models.layer_output(ctx, node)
            if info[2] == "dense" and out is not None and out.units == 1 and \
                    out.activation == "softmax":
                self._report(node, "the layer has 1 unit")
            return
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "add":
            layer = positional(node, 0)  # `model.add(Activation("softmax"))`
            if isinstance(layer, cst.Call) and self._is_softmax_layer(layer):
                below = models.model_output(ctx, func.value, ctx.function, node)
                if below is not None and below.units == 1:
                    self._layer_after(layer, below)
            return
        if ctx.kind(node) == "softmax":
            self._softmax_op(node)
            return
        if type(func) is cst.Call and self._is_softmax_layer(func):
            arg = positional(node, 0) or keyword(node, "inputs")
            if arg is not None:
                below = models.tensor_output(ctx, arg, ctx.function, node)
                if below is not None and below.units == 1:
                    self._layer_after(func, below)
            return
        if self._is_sequential(node):
            self._sequential(node)

    def _is_sequential(self, node: cst.Call) -> bool:
        return ops.MODEL_CONSTRUCTORS.get(self.ctx.resolve(node.func) or "") == "sequential"

    def _sequential(self, node: cst.Call) -> None:
        first = positional(node, 0)
        if isinstance(first, (cst.List, cst.Tuple)):
            layers = [e.value for e in first.elements]
        else:
            layers = [a.value for a in node.args if a.keyword is None and not a.star]
        for position, layer in enumerate(layers):
            if isinstance(layer, cst.Call) and self._is_softmax_layer(layer):
                below = models.chain_output(self.ctx, layers[:position], self.ctx.function, node)
                if below is not None and below.units == 1:
                    self._layer_after(layer, below)

    def _is_softmax_layer(self, call: cst.Call) -> bool:
        out = models.layer_output(self.ctx, call)
        info = models.layer_of(self.ctx, call)
        if out is None or info is None or info[2] == "dense" or out.activation != "softmax":
            return False
        axis = keyword(call, "axis") if info[0] == "keras" else \
            (keyword(call, "dim") or positional(call, 0))
        if axis is None:
            return True
        return _axis_value(axis) == -1

    def _layer_after(self, layer: cst.CSTNode, below: models.Output) -> None:
        units = below.units_layer
        shown = f" `{shorten(self.ctx.text(units), 40)}`" if units is not None else ""
        self._report(layer, f"it follows the 1-unit layer{shown}")

    def _softmax_op(self, node: cst.Call) -> None:
        ctx = self.ctx
        op = ctx.op(node)
        operand = ctx.operand(node)
        if op is None or operand is None:
            return
        axis = keyword(node, "axis") or keyword(node, "dim") or ctx.operand(node, 1, "axis")
        value = _axis_value(axis) if axis is not None else None
        torch = op.framework in ("torch", "tensor")
        if value != -1 and (torch or axis is not None):
            return
        below = models.tensor_output(ctx, operand, ctx.function, node)
        if below is None or below.units != 1:
            return
        units = below.units_layer
        shown = f"`{shorten(ctx.text(units), 40)}`" if units is not None else "a 1-unit layer"
        self._report(node, f"its operand `{shorten(ctx.text(operand), 40)}` is the output of "
                     f"{shown}, which has 1 unit")

    def _report(self, node: cst.CSTNode, why: str) -> None:
        self.report(node, f"`{shorten(self.ctx.text(node), 60)}` is a softmax over an axis of "
                    f"size 1 ({why}): its output is always 1 and the loss never moves")


def _axis_value(node: cst.CSTNode | None) -> int | None:
    value = number(node) if node is not None else None
    return int(value) if value is not None else None


class LossOutputMismatch(Rule):
    """A Keras loss that does not fit the model's output layer.

    ## What it does
    Reads the model compiled in the same file (`Sequential([...])`, `model.add(...)`, a
    functional chain, a model returned by a builder function) and flags `model.compile(loss=...)`
    when the loss cannot work with its last layer:
    - a categorical cross-entropy (`categorical_crossentropy`, `sparse_categorical_crossentropy`,
      their classes and focal variants) on a 1-unit output;
    - a binary cross-entropy on a `softmax` output over three or more units, or an unknown
      number (`Dense(num_classes, activation="softmax")`). One unit is LL404's business; over
      exactly two units the outputs are `p` and `1 - p`, and the binary cross-entropy averaged
      over them equals the categorical one, so that is left alone.
    A probability cross-entropy on a linear output is LL401.

    ## Why is this bad?
    Keras normalises a categorical prediction over the last axis: over one unit it is always 1,
    the loss is always 0 and nothing is learned. A binary cross-entropy on a softmax output
    treats mutually exclusive classes as independent yes/no outputs: the loss optimises the
    wrong objective and Keras picks binary accuracy, which reports inflated numbers.

    ## Example
    ```python
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    ```
    """

    code = "LL405"
    name = "loss-output-mismatch"
    scope = "all"
    calls = frozenset({"compile"})
    hint = "one sigmoid unit: `binary_crossentropy`; N softmax units: " \
           "`categorical_crossentropy` (or the sparse one for integer labels)"
    VALID = [
        Valid("""
        import tensorflow as tf
        def binary_model():
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(16, activation="relu"),
                tf.keras.layers.Dense(1, activation="sigmoid"),
            ])
            model.compile(optimizer="adam", loss="binary_crossentropy")
            return model
        """),
        Valid("""
        from tensorflow import keras
        def build(num_classes):
            inputs = keras.Input(shape=(32,))
            outputs = keras.layers.Dense(num_classes, activation="softmax")(inputs)
            model = keras.Model(inputs, outputs)
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            return model
        """),
        Valid("""
        import keras
        model = keras.Sequential([keras.layers.Dense(5, activation="sigmoid")])
        model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy())
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def one_unit_categorical():
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(16, activation="relu"),
                tf.keras.layers.Dense(1, activation="sigmoid"),
            ])
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            return model
        """, line=7, message="1-unit output"),
        Invalid("""
        from keras.models import Sequential
        from keras.layers import Dense
        def build(num_classes):
            model = Sequential()
            model.add(Dense(64, activation="relu"))
            model.add(Dense(num_classes, activation="softmax"))
            return model
        model = build(10)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        """, line=9, message="softmax"),
        Invalid("""
        import keras
        inputs = keras.Input(shape=(4,))
        outputs = keras.layers.Dense(1)(inputs)
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        """, line=5, message="a categorical cross-entropy over one class is always 0"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        found = _model_and_loss(self, node)
        if found is None:
            return
        out, spec = found
        loss = shorten(self.ctx.text(spec.node), 50)
        layer = _layer_text(self, out)
        if spec.family == "categorical" and out.units == 1:
            self.report(node, f"the loss `{loss}` on the model's 1-unit output `{layer}`: a "
                        "categorical cross-entropy over one class is always 0, nothing is "
                        "learned")
        elif spec.family == "binary" and out.activation == "softmax" and \
                out.units not in (1, 2):
            units = f"{out.units} units" if out.units else "several units"
            self.report(node, f"the loss `{loss}` on a softmax output over {units} (`{layer}`)"
                        ": softmax makes the classes exclusive, binary cross-entropy treats "
                        "each unit as an independent yes/no")
