"""LL1xx numerical safety: operations that produce inf or NaN at a reachable input."""

from __future__ import annotations

import math

import libcst as cst

from lossguard.api import (
    FLOAT32_MAX_EXP,
    INF,
    Fact,
    Invalid,
    Rule,
    Valid,
    assigned_names,
    dotted,
    f32,
    keyword,
    leaves,
    number,
    ops,
    positional,
    rewrite,
    shorten,
    walk,
)
from lossguard.api import (
    Context as FileContext,
)


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
    import tensorflow as tf
    def xent(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    from tensorflow.keras import backend as K
    def xent(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, K.epsilon(), 1.0 - K.epsilon())
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
    ```
    An explicit offset that survives float32 (`log(p + 1e-7)`) also guards an unknown value.

    A sum of positive values under a mask with a 1 in every row is > 0: a one-hot or identity
    mask (`one_hot(labels)`, `eye(n)`, `zeros.scatter_(1, labels, 1)`) and, over two columns or
    more, its complement (`~eye(n)`, `1 - one_hot`, `one_hot < 1`) keep an element per row.

    A log of labels (no gradient) whose value a `where` then replaces (`t = log(y_true / a)`,
    `t = switch(has_box, t, zeros_like(t))`) is not flagged, nor one the code checks for
    infinities (`isinf`, `nan_to_num`).

    The log of labels or a mask added to scores that go into a `logsumexp` or `softmax`
    (`logsumexp(y_pred + log(y_true))`) is an additive mask: its -inf entries weigh
    exp(-inf) = 0 on purpose, and no gradient reaches labels. It is not flagged.
    """

    code = "LL101"
    objective = True
    name = "unguarded-log"
    probe = "zero-operand"
    hint = "clip the operand to [eps, ...] or add an epsilon that survives float32 (`x + 1e-7`)"
    VALID = [
        # a cosine over a temperature stays within [-50, 50]: its `exp` does not underflow
        Valid("""
        import torch
        import torch.nn as nn
        class TripletContrastiveLoss(nn.Module):
            def __init__(self, tau):
                super().__init__()
                self.tau = tau
                self.cosine = nn.CosineSimilarity(dim=1, eps=1e-6)
            def forward(self, anchor, positive, negative):
                pos = torch.exp(self.cosine(anchor, positive) / self.tau)
                neg = torch.exp(self.cosine(anchor, negative) / self.tau)
                return -torch.log(pos / (pos + neg)).mean()
        """),
        # a hand-written log-sum-exp shifted by the maximum of its terms: one term is 1
        Valid("""
        import torch
        def soft_min_loss(r0, r1, r2, gamma=1.0):
            rmax = torch.max(torch.max(r0, r1), r2)
            rsum = torch.exp(r0 - rmax) + torch.exp(r1 - rmax) + torch.exp(r2 - rmax)
            return (-gamma * (torch.log(rsum) + rmax)).mean()
        """),
        # one minus the dice loss is the smoothed dice coefficient again: > 0
        Valid("""
        import tensorflow as tf
        def dice_coef(y_true, y_pred, smooth=1.0):
            intersection = tf.reduce_sum(y_true * y_pred)
            union = tf.reduce_sum(y_true) + tf.reduce_sum(y_pred)
            return (2.0 * intersection + smooth) / (union + smooth)
        def log_dice_loss(y_true, y_pred):
            dice_loss = 1.0 - dice_coef(y_true, y_pred)
            return -tf.math.log(1.0 - dice_loss)
        """),
        # the weights the mask's complement selects are negative: their magnitude is > 0
        Valid("""
        import torch
        def signed_weight_loss(inputs, edge_label_weight):
            pos_mask = edge_label_weight >= 0
            neg_mask = ~pos_mask
            neg_weight = edge_label_weight[neg_mask]
            inputs = inputs.clone()
            inputs[:, neg_mask] += neg_weight.abs().log()
            return inputs.logsumexp(dim=-1).mean()
        """),
        # a straight-through estimator's forward value is the one-hot, never negative
        Valid("""
        import jax
        import jax.numpy as jnp
        def codebook_entropy_loss(logits):
            probs = jax.nn.softmax(logits)
            onehots = jax.nn.one_hot(jnp.argmax(probs, -1), probs.shape[-1])
            codes = probs - jax.lax.stop_gradient(probs - onehots)
            usage = jnp.mean(codes, axis=0)
            return jnp.sum(usage * jnp.log(usage + 1e-5))
        """),
        Valid("""
        import torch
        def projection_loss(model, state, action, target_dist):
            dist = model(state).gather(1, action).squeeze(1)
            dist.data.clamp_(0.01, 0.99)  # in place, on the tensor's data
            return -(target_dist * dist.log()).sum(1).mean()
        """),
        Valid("""
        from keras import ops
        def log_depth_loss(y_true, y_pred, min_depth=1e-3):
            # the mask named by the condition tests the labels: their log is hidden where 0
            valid = ops.greater_equal(y_true, min_depth)
            pred = ops.maximum(y_pred, min_depth)
            diff = ops.where(valid, ops.log(y_true) - ops.log(pred), ops.zeros_like(y_true))
            return ops.mean(ops.square(diff))
        """),
        Valid("""
        import torch
        EPS = 1e-12
        def gumbel_relaxed_loss(logits, target, tau=1.0):
            # a uniform sample is < 1, and so is u + 1e-12 in float32: -log of it is > 0
            gumbel = -torch.log(-torch.log(torch.rand_like(logits) + EPS))
            soft = torch.softmax((logits + gumbel) / tau, dim=-1)
            return torch.mean((soft - target) ** 2)
        """),
        Valid("""
        import torch
        def tail_mass_loss(logps, eps=1e-6):
            # log(1 - sum(p)) from log-probabilities: clamped below 0, -expm1 is > 0
            log_mass = torch.clamp(torch.logsumexp(logps, dim=-1), max=-eps)
            return -torch.log(-torch.expm1(log_mass)).mean()
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def box_size_loss(args, anchors, num_outputs=1):
            y_pred, y_true = args[:num_outputs][0], args[num_outputs:][0]
            has_box = y_true[..., 4:5]
            # log(0) where no box is labelled: those cells are replaced by 0 on the next line
            true_wh = K.log(y_true[..., 2:4] / anchors)
            true_wh = K.switch(has_box, true_wh, K.zeros_like(true_wh))
            return K.sum(has_box * K.square(true_wh - y_pred[..., 2:4]))
        """),
        Valid("""
        import tensorflow as tf
        def log_mean_exp_loss(scores):
            # the largest shifted score is exp(0) = 1, so the mean is at least 1/n
            top = tf.reduce_max(scores)
            return -(tf.math.log(tf.reduce_mean(tf.exp(scores - top))) + top)
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def assigned_loss(cls_logits, gt_onehot, k=10):
            # a matching cost: it only picks which anchors learn, a NaN in it picks badly but
            # never reaches the loss
            p = torch.sigmoid(cls_logits)
            cost = -(gt_onehot * torch.log(p)).sum(-1)
            _, chosen = torch.topk(cost, k, largest=False)
            return F.binary_cross_entropy_with_logits(cls_logits[chosen], gt_onehot[chosen])
        """),
        Valid("""
        import torch
        def contrastive_loss(sim, temperature=0.5):
            n = sim.shape[0]
            # every row keeps the other n - 1 columns: the sum of their exps is > 0
            negatives = ~torch.eye(n, dtype=torch.bool)
            denominator = (negatives.float() * torch.exp(sim / temperature)).sum(dim=1)
            return (torch.log(denominator) - sim.diag() / temperature).mean()
        """),
        Valid("""
        import torch
        def other_classes_loss(cos_theta, target, scale=30.0):
            one_hot = torch.zeros_like(cos_theta)
            one_hot.scatter_(1, target.view(-1, 1), 1)
            others = torch.where(one_hot < 1, torch.exp(scale * cos_theta),
                                 torch.zeros_like(cos_theta))
            return torch.log(others.sum(dim=1)).mean()
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def multilabel_crossentropy(y_true, y_pred):
            # log(0) = -inf rules the non-target classes out of the positive logsumexp
            y_pos = K.log(y_true) - y_pred
            y_neg = K.log(1 - y_true) + y_pred
            zeros = K.zeros_like(y_pred[..., :1])
            pos = K.logsumexp(K.concatenate([y_pos, zeros], axis=-1), axis=-1)
            return pos + K.logsumexp(K.concatenate([y_neg, zeros], axis=-1), axis=-1)
        """),
        Valid("""
        import torch
        def focal_loss(y_pred, y_true, from_logits=False, binary=True):
            if not from_logits:
                y_pred = torch.clamp(y_pred, 1e-6, 1 - 1e-6)
                if binary:
                    y_pred = torch.log(y_pred / (1 - y_pred))
                else:  # sees the clamped probabilities, not the logits of the other branch
                    y_pred = torch.log(y_pred)
            return -(y_true * torch.nn.functional.logsigmoid(y_pred)).mean()
        """),
        Valid("""
        import torch
        def bce_loss(probs, target):
            probs = probs.clone()
            probs.clamp_(1e-6, 1 - 1e-6)  # in place: `probs` is clamped from here on
            return -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs)).mean()
        """),
        Valid("""
        import torch
        def cross_entropy_loss(probs, target):
            eps = torch.finfo(probs.dtype).eps
            return -(target * torch.log(probs.clamp(min=eps))).sum(dim=1).mean()
        """),
        Valid("""
        import tensorflow as tf
        from tensorflow.keras import backend as K
        def binary_focal_loss(y_true, y_pred, gamma=2.0, alpha=0.25):
            pt_1 = tf.where(tf.equal(y_true, 1), y_pred, tf.ones_like(y_pred))
            pt_0 = tf.where(tf.equal(y_true, 0), y_pred, tf.zeros_like(y_pred))
            return -K.sum(alpha * K.pow(1. - pt_1, gamma) * K.log(pt_1 + K.epsilon())) - K.sum(
                (1 - alpha) * K.pow(pt_0, gamma) * K.log(1. - pt_0 + K.epsilon()))
        """),
        Valid("""
        import torch
        def training_step_loss(pl_module, batch):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(pl_module(x), y)
            pl_module.log("train_loss", loss)
            return loss
        """),
        Valid("""
        import torch
        def box_loss(pred, target):
            loss = torch.nn.functional.smooth_l1_loss(pred, target)
            with torch.no_grad():
                log_ratio = torch.log(pred / target).abs().mean()
            return loss, log_ratio
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        class NTXentLoss(torch.nn.Module):
            def __init__(self, temperature=0.5):
                super().__init__()
                self.temperature = temperature

            def forward(self, z_i, z_j):
                sim = F.cosine_similarity(z_i.unsqueeze(1), z_j.unsqueeze(0), dim=2)
                positives = torch.cat([torch.diag(sim), torch.diag(sim.T)])
                nominator = torch.exp(positives / self.temperature)
                denominator = torch.exp(sim / self.temperature).sum(dim=1)
                return -torch.log(nominator / denominator.repeat(2)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def gumbel_softmax_loss(labels, logits, eps=1e-20):
            u = tf.random.uniform(tf.shape(logits), minval=0, maxval=1)
            gumbel = -tf.math.log(-tf.math.log(u + eps) + eps)
            return tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits + gumbel))
        """),
        Valid("""
        import tensorflow as tf
        def log_cosh_error(y_true, y_pred):
            x = tf.clip_by_value(y_pred - y_true, -50.0, 50.0)
            return tf.reduce_mean(tf.math.log((tf.exp(x) + tf.exp(-x)) / 2.0))
        """),
        Valid("""
        import torch
        def bce_loss(p, y, eps=1e-7):
            return -(y * torch.log(p + eps) + (1 - y) * torch.log(1 - p + eps)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def mse_loss(y_true, y_pred):
            loss = tf.reduce_mean(tf.square(y_true - y_pred))
            log_acc = tf.reduce_mean(tf.math.log(y_pred))
            tf.summary.scalar("log_acc", log_acc)
            return loss
        """),
        Valid("""
        import tensorflow as tf
        def weighted_loss(y_pred, targets):
            t = tf.where(targets == 0, tf.zeros_like(targets), tf.math.log(targets))
            return tf.reduce_mean(tf.square(t - y_pred))
        """),
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
        Valid("""
        import tensorflow as tf
        class LogMelLoss(tf.keras.losses.Loss):
            def __init__(self):
                super().__init__()
                self.mel = tf.signal.linear_to_mel_weight_matrix(80, 513, 22050)

            def log_mel(self, signal):
                magnitude = tf.abs(tf.signal.stft(signal, 1024, 256))
                # a non-negative filterbank of magnitudes: the epsilon guards
                return tf.math.log(tf.tensordot(magnitude, self.mel, 1) + 1e-6)

            def call(self, y_true, y_pred):
                return tf.reduce_mean(tf.abs(self.log_mel(y_true) - self.log_mel(y_pred)))
        """),
    ]
    INVALID = [
        # a temperature written out below the convention's floor: the `exp` can underflow
        Invalid("""
        import torch
        import torch.nn.functional as F
        def contrastive_loss(anchor, positive, negative):
            pos = torch.exp(F.cosine_similarity(anchor, positive) / 0.005)
            neg = torch.exp(F.cosine_similarity(anchor, negative) / 0.005)
            return -torch.log(pos / (pos + neg)).mean()
        """, line=6, message="underflows to exactly 0"),
        # the shift is the maximum of other values than the terms: all of them can underflow
        Invalid("""
        import torch
        def soft_min_loss(r0, r1, bound):
            m = torch.max(r0, bound)
            total = torch.exp(r1 - m) + torch.exp(-bound - m)
            return -torch.log(total).mean()
        """, line=5, message="unguarded log of `total`"),
        # a functional dense layer without an activation is a linear output (a Poisson rate
        # needs an exp or a softplus)
        Invalid("""
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.placeholder(tf.float32, [None, 1])
        rate = tf.layers.dense(x, 1)
        cost = tf.reduce_mean(rate - y * tf.log(rate))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(cost)
        """, line=5, message="`tf.layers.dense(x, 1)` is a linear output (no activation)"),
        Invalid("""
        import torch
        def adversarial_losses(D, G, real, z):
            fake = G(z)
            d_real = torch.log(D(real))
            d_fake = torch.log(1 - D(fake.detach()) + 1e-8)
            return -torch.mean(d_real + d_fake), -torch.mean(torch.log(D(fake) + 1e-8))
        """, line=4, message="`D(real)` is a model output and can be 0"),
        Invalid("""
        import tensorflow as tf
        class Classifier(tf.keras.Model):
            def train_step(self, data):
                x, y = data
                with tf.GradientTape() as tape:
                    probs = self(x, training=True)
                    loss = -tf.reduce_mean(tf.reduce_sum(y * tf.math.log(probs), axis=-1))
                grads = tape.gradient(loss, self.trainable_variables)
                self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                return {"loss": loss}
        """, line=7, message="`self(x, training=True)` is a model output"),
        Invalid("""
        import torch
        def masked_logsumexp_loss(scores, mask):
            # a row whose mask is all 0 sums to 0
            return torch.log((torch.exp(scores) * mask).sum(dim=1)).mean()
        """, line=4, message="is 0 when every element is 0"),
        Invalid("""
        from tensorflow.keras import backend as K
        def kl_divergence(y_true, y_pred):
            # 0 * log(0) is NaN: no logsumexp reads this log
            return K.sum(y_true * K.log(y_true / K.clip(y_pred, 1e-7, 1.0)), axis=-1)
        """, line=4, message="`y_true` is an input and can be 0"),
        Invalid("""
        import torch
        class RateLoss(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.act = torch.nn.ReLU()
            def forward(self, hidden, counts):
                rate = self.act(hidden)
                return (rate - counts * torch.log(rate)).mean()
        """, line=8, message="`self.act(hidden)` is 0 for every negative input"),
        Invalid("""
        import torch
        def smoothed_nll_loss(probs, target, smooth=True):
            if smooth:
                probs = torch.clamp(probs, 1e-7, 1.0)
            else:
                probs = probs / probs.sum(dim=1, keepdim=True)
            return -(target * torch.log(probs)).sum(dim=1).mean()
        """, line=7, message="unguarded log of `probs`"),
        Invalid("""
        import torch
        def train(model, loader, optimizer):
            for x, y in loader:
                out = model(x)
                loss = -torch.mean(y * torch.log(out) + (1 - y) * torch.log(1 - out + 1e-7))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """, line=5, message="`model(x)` is a model output and can be 0"),
        Invalid("""
        import torch
        def gumbel_loss(logits, target):
            u = torch.rand_like(logits)
            return torch.nn.functional.cross_entropy(logits - torch.log(-torch.log(u)), target)
        """, line=4, message="a uniform sample and can be 0"),
        Invalid("""
        import tensorflow as tf
        def linear_loss(h, W, y):
            return -tf.reduce_mean(y * tf.math.log(tf.matmul(h, W)))
        """, line=3, message='linear output'),
        Invalid("""
        import theano.tensor as T
        def xent_cost(y, p):
            return -T.mean(y * T.log(p) + (1 - y) * T.log(1 - p))
        """, line=3, message='`1 - p` is 0 when the probability is 1'),
        Invalid("""
        import tensorflow as tf
        def xent(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
        """, line=3, message="`y_pred` is an input and can be 0"),
        Invalid("""
        from tensorflow.keras import backend as K
        def log_ratio_loss(y_true, y_pred):
            return K.mean(K.square(K.log(y_pred) - K.log(y_true)), axis=-1)
        """, line=3, message="`y_true` is an input and can be 0"),
        Invalid("""
        import keras
        def loss(y_true, y_pred):
            return keras.ops.log(y_true - y_pred + 1.0)
        """, line=3, message="difference"),
        Invalid("""
        import torch
        def nll_loss(pred, target):
            return -(target * pred.log()).mean()
        """, line=3, message="unguarded log of `pred`"),
        Invalid("""
        import jax.numpy as jnp
        def bce_loss(p, y):
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
        """, line=3, message="`1 - p` is 0 when the probability is 1"),
        Invalid("""
        import numpy as np
        def nll_cost(probs, labels):
            return -np.sum(labels * np.log(probs))
        """, line=3, message="unguarded log of `probs`"),
        Invalid("""
        from mylib.fastmath import numpy as jnp
        def binary_cross_entropy_loss(probs, targets):
            # a project's NumPy shim imported as `jnp` is JAX's API
            return -jnp.mean(targets * jnp.log(probs))
        """, line=4, message="`probs` is an input"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        hazard = log_hazard(self.ctx, node)
        if hazard is not None and not _nonfinite_handled(self.ctx, node):
            operand, why, bad = hazard
            text = shorten(self.ctx.text(operand))
            self.report(node, f"unguarded log of `{text}`: {why} ({bad})",
                        fix=rewrite.log_guard_fix(self.ctx, node, operand))


class UnguardedDivision(Rule):
    """Division by a value that can be exactly 0.

    ## What it does
    Flags `/`, `divide`, `truediv`, `div` (and `reciprocal(x)`, `rsqrt(x)`, which divide 1 by
    `x` and `sqrt(x)`) whose denominator is *structurally* zero: an input
    itself (`/ y_true`), a sum, mean or count of inputs that can all be 0 (an empty mask), a
    difference that cancels (`y_true - y_pred`), an `abs`/`square`/norm of such a difference, a
    standard deviation. A nonzero constant added to the denominator (the smoothing term of
    dice, IoU and Tversky losses) is a guard; renormalising a prediction by its own sum
    (`p / sum(p, axis, keepdims=True)`) is an idiom, unless the value is a cancelling
    difference. `divide_no_nan` and `reciprocal_no_nan` are safe, and so is a division that
    runs only where a test proves the denominator nonzero: `if n > 0:`, `x / n if n else 0`,
    the true branch of `tf.cond(n > 0, lambda: x / n, ...)`, a mask's count under
    `cond(any(mask), ...)`, and the code after `assert n > 0` or
    `assert (n == 0).sum() == 0`. A result the code then checks for infinities
    (`w = 1 / counts` ... `w[torch.isinf(w)] = 0`) is handled, and a helper whose every call
    in the module only feeds a comparison (an IoU for an ignore mask) reaches no loss.

    ## Why is this bad?
    `0 / 0` is NaN and `x / 0` is inf: a batch with an empty mask turns the loss and the
    weights into NaN.

    ## Example
    ```python
    from tensorflow.keras import backend as K
    def dice_coef(y_true, y_pred):
        intersection = K.sum(y_true * y_pred)
        return 2.0 * intersection / (K.sum(y_true) + K.sum(y_pred))
    ```

    ## Use instead
    ```python
    from tensorflow.keras import backend as K
    def dice_coef(y_true, y_pred, smooth=1.0):
        intersection = K.sum(y_true * y_pred)
        return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)
    ```
    """

    code = "LL102"
    objective = True
    name = "unguarded-division"
    probe = "zero-denominator"
    hint = "add a smoothing term to the denominator, clip it away from 0, or use `divide_no_nan`"
    VALID = [
        # an evaluation meter's NumPy confusion matrix: no graph, no loss built from it
        Valid("""
        import numpy as np
        import torch.nn.functional as F
        def seg_measures(conf, measures=("miou", "acc")):
            if isinstance(measures, str):
                return seg_measures(conf, (measures,))[0]
            iou = np.diag(conf) / (conf.sum(1) + conf.sum(0) - np.diag(conf))
            return [float(iou.mean()), float(np.diag(conf).sum() / conf.sum())]
        class ConfMeter:
            def __init__(self, n):
                self.sum = np.zeros((n, n), dtype=np.int64)
            def score(self, kind):
                return seg_measures(self.sum, kind)
        def train(model, loader, optimizer):
            conf = ConfMeter(3)
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return conf.score("miou")
        """),
        # the `else` of `if t == 1.0` divides by `1 - t` with `t` not 1
        Valid("""
        import torch
        def tempered_log_loss(u, t):
            if t == 1.0:
                return u.clamp_min(1e-12).log()
            return (u.pow(1.0 - t) - 1.0) / (1.0 - t)
        """),
        # the module normalises only its own weights: a weight is no structural zero
        Valid("""
        import torch
        import torch.nn.functional as F
        def l2_norm(input, axis=1):
            return torch.div(input, torch.norm(input, 2, axis, True))
        class CosineHead(torch.nn.Module):
            def forward(self, embeddings, labels):
                cosine = torch.mm(F.normalize(embeddings), l2_norm(self.kernel, axis=0))
                return F.cross_entropy(cosine * 30.0, labels)
        """),
        # the only caller patches the empty counts before it hands them over
        Valid("""
        import torch.nn.functional as F
        def heatmap_loss(heatmap, target_heatmap, target_weight, normalizer):
            loss = F.mse_loss(heatmap.sigmoid(), target_heatmap, reduction="none")
            loss = (loss * target_weight[:, :, :, None]).flatten(2).sum(-1)
            return (loss.sum(-1) / normalizer).mean()
        def keypoint_loss(heatmap, target_heatmap, target_weight):
            normalizer = target_weight.squeeze(-1).sum(dim=-1)
            normalizer[normalizer == 0] = 1
            return heatmap_loss(heatmap, target_heatmap, target_weight, normalizer)
        """),
        # a count of the model's parts read from the estimator's settings is at least 1
        Valid("""
        import tensorflow as tf
        def model_fn(features, labels, mode, params):
            logits = tf.layers.dense(features, params["num_classes"])
            onehot = tf.one_hot(labels, params["num_classes"])
            xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=onehot, logits=logits)
            return tf.reduce_sum(xent) / params["num_classes"]
        """),
        # an optimizer's line search: it steps on gradients a closure's loss gave
        Valid("""
        import torch
        def interpolate(f0, g0, f1, step):
            return -g0 * step ** 2 / (2 * (f1 - f0 - g0 * step))
        class LineSearchSGD(torch.optim.Optimizer):
            def step(self, closure):
                loss = closure()
                loss.backward()
                flat = torch.cat([p.grad.view(-1) for p in self.param_groups[0]["params"]])
                trial = closure()
                return interpolate(loss.item(), -flat.dot(flat).item(), trial.item(), 1.0)
        """),
        # a `[SEP]` column of 1s beside the padding mask: every row counts one token at least
        Valid("""
        import torch
        def pooled_loss(hidden, mask, target):
            ones = torch.ones((mask.size(0), 1), dtype=mask.dtype)
            mask = torch.cat([mask, ones], dim=1)
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            return ((pooled - target) ** 2).mean()
        """),
        # `has_aux=True`: only the first value returned is differentiated, the accuracy beside
        # it is reported
        Valid("""
        import functools
        import jax
        import jax.numpy as jnp
        def compute_loss(params, batch, mask, net):
            logits = net.apply(params, batch["x"])
            loss = -jnp.mean(jax.nn.log_softmax(logits) * batch["y"] * mask[:, None])
            hits = jnp.argmax(logits, axis=1) == jnp.argmax(batch["y"], axis=1)
            accuracy = jnp.sum(hits * mask) / jnp.sum(mask)
            return loss, accuracy
        def make_step(net):
            loss_fn = functools.partial(compute_loss, net=net)
            return jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
        """),
        # the author catches the division by zero
        Valid("""
        def safe_div(n, d):
            try:
                return n / d
            except ZeroDivisionError:
                return float("inf") if n >= 0 else float("-inf")
        def scaled_loss(loss, scaler):
            return safe_div(loss, scaler.get_scale())
        """),
        # a float32 normal sample stays within a few standard deviations: `exp` of a scaled
        # one (a log-normal noise level) cannot underflow to 0
        Valid("""
        import torch
        def edm_loss(net, images, p_mean=-1.2, p_std=1.2, sigma_data=0.5):
            rnd_normal = torch.randn([images.shape[0], 1, 1, 1])
            sigma = (rnd_normal * p_std + p_mean).exp()
            weight = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
            return (weight * (net(images + torch.randn_like(images) * sigma) - images) ** 2).mean()
        """),
        # a divisor the caller hands in, named as nothing the loss computes on, is the
        # caller's to keep nonzero (as a hyperparameter is): this module never calls it
        Valid("""
        import tensorflow as tf
        def box_loss(y_true, y_pred, normalizer, delta=0.1):
            huber = tf.keras.losses.Huber(delta, reduction=tf.keras.losses.Reduction.SUM)
            return huber(y_true, y_pred) / normalizer
        """),
        # every call in the module passes a guarded value: `s * s + 1e-6` is > 0 whatever `s`
        Valid("""
        import jax.numpy as jnp
        def gaussian_logpdf(x, mu, sigma):
            return -0.5 * jnp.sum(((x - mu) / sigma) ** 2 + 2 * jnp.log(sigma))
        def gaussian_loss(preds, targets):
            mus, sigmas = preds[..., :2], preds[..., 2:]
            sigmas = sigmas * sigmas + 1e-6
            return -jnp.mean(gaussian_logpdf(targets, mus, sigmas))
        """),
        # a count handed in (`total`, `count`), as `num_samples` is: the caller's number of
        # items, not a mask this loss sums
        Valid("""
        import torch
        def _divergence_compute(measures, total, reduction="mean"):
            return measures.sum() / total if reduction == "mean" else measures
        def squared_distance_loss(p, q):
            measures = torch.sum((p - q) ** 2, dim=-1)
            return _divergence_compute(measures, p.shape[0])
        """),
        # the sizes of an image, handed in as a tensor or as numbers, are >= 1
        Valid("""
        import tensorflow as tf
        def box_mask_loss(inputs, masks_target, width, height):
            image_shape = tf.cast(inputs[0], tf.float32)
            boxes, masks = inputs[1], inputs[2]
            scaled = tf.stack([boxes[:, 0] / image_shape[1], boxes[:, 1] / image_shape[2],
                               boxes[:, 2] / (width - 1), boxes[:, 3] / (height - 1)], axis=1)
            crops = tf.image.crop_and_resize(masks_target, scaled, tf.range(10), (28, 28))
            return tf.reduce_mean(tf.keras.losses.binary_crossentropy(crops, masks))
        """),
        # a ratio that only a metric records never reaches the loss
        Valid("""
        import tensorflow as tf
        def train_step(model, optimizer, metrics, images, labels):
            with tf.GradientTape() as tape:
                logits, routing = model(images, training=True)
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                    labels, logits, from_logits=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            share = tf.reduce_mean(routing, axis=0)
            for i in range(4):
                metrics[f"routing_{i}"].update_state(share[i] / tf.reduce_sum(share))
        """),
        Valid("""
        import tensorflow as tf
        from tensorflow.keras import backend as K
        def box_iou(b1, b2):
            area1, area2 = b1[..., 2] * b1[..., 3], b2[..., 2] * b2[..., 3]
            wh = K.maximum(K.minimum(b1[..., :2], b2[..., :2]) - b1[..., 2:4], 0.0)
            inter = wh[..., 0] * wh[..., 1]
            return inter / (area1 + area2 - inter)
        def detection_loss(y_true, y_pred, ignore_thresh=0.5):
            # the IoU only decides which cells to ignore: a NaN compares False
            def step(b, ignore):
                best = K.max(box_iou(y_pred[b], y_true[b]), axis=-1)
                return b + 1, ignore.write(b, K.cast(best < ignore_thresh, K.dtype(best)))
            ignore = tf.TensorArray(tf.float32, size=1, dynamic_size=True)
            _, ignore = tf.while_loop(lambda b, *rest: b < 4, step, [0, ignore])
            ignore = K.expand_dims(ignore.stack(), -1)
            return K.sum(K.binary_crossentropy(y_true[..., 4:5], y_pred[..., 4:5]) * ignore)
        """),
        Valid("""
        import torch
        def masked_mse(pred, target, mask):
            count = mask.sum()
            count = count + (count == 0).float()  # 1 where the mask is empty
            return ((pred - target) ** 2 * mask).sum() / count
        """),
        Valid("""
        import torch
        class GeneralizedDice(torch.nn.Module):
            def class_weights(self, counts):
                return torch.reciprocal(counts * counts)
            def forward(self, pred, target):
                w = self.class_weights(target.sum((0, 2)))
                # a class absent from the batch weighs inf: replaced by the largest weight
                infs = torch.isinf(w)
                w[infs] = 0.0
                w = w + infs * torch.max(w)
                inter = (w * (pred * target).sum((0, 2))).sum()
                return 1 - 2 * inter / ((w * (pred + target).sum((0, 2))).sum() + 1e-5)
        """),
        Valid("""
        import torch
        def whitening_loss(z, target, eps=1e-5):
            var = ((z - z.mean(0)) ** 2).mean(0)
            return ((z * torch.rsqrt(var + eps) - target) ** 2).mean()
        """),
        Valid("""
        import tensorflow as tf
        def mean_feature_loss(keys, embeddings, y_true):
            counts = tf.reduce_sum(tf.cast(tf.not_equal(keys, 0), tf.float32), -1)
            # an empty row counts 1 instead of 0
            counts = tf.where(tf.equal(counts, tf.zeros_like(counts)), tf.ones_like(counts), counts)
            mean = embeddings / counts[:, None]
            return tf.reduce_mean(tf.square(mean - y_true))
        """),
        Valid("""
        import torch
        def cumulative_norm_loss(spec, target):
            batch, channels, frames = spec.size()
            counts = torch.arange(start=channels, end=channels * (frames + 1), step=channels)
            return ((spec.sum(1).cumsum(-1) / counts - target) ** 2).mean()
        """),
        Valid("""
        import tensorflow as tf
        class YoloLoss:
            def __init__(self, anchors):
                self.anchors = anchors
            def iou_loss(self, y_true, y_pred):
                pred_wh = tf.exp(y_pred[..., 2:4]) * self.anchors
                true_wh = y_true[..., 2:4]
                intersect_wh = tf.maximum(tf.minimum(pred_wh, true_wh), 0.0)
                intersect_areas = intersect_wh[..., 0] * intersect_wh[..., 1]
                pred_areas = pred_wh[..., 0] * pred_wh[..., 1]
                true_areas = true_wh[..., 0] * true_wh[..., 1]
                union_areas = pred_areas + true_areas - intersect_areas
                return tf.reduce_mean(1.0 - intersect_areas / union_areas)
        """),
        Valid("""
        import torch
        def relative_error_loss(pred, target):
            floor = torch.full_like(target, 1e-6)
            return ((pred - target).abs() / torch.maximum(target.abs(), floor)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def mean_positive_loss(y_true, y_pred):
            count = tf.reduce_sum(y_true)
            count = tf.where(tf.equal(count, 0.0), tf.ones_like(count), count)
            return tf.reduce_sum(y_true * tf.square(y_true - y_pred)) / count
        """),
        Valid("""
        import torch
        def masked_mse_loss(pred, target, mask):
            count = mask.sum()
            return ((pred - target) ** 2 * mask).sum() / count if count > 0 else pred.sum() * 0
        """),
        Valid("""
        import torch
        def sum_and_divide_loss(losses, divisor):
            if divisor != 0:
                return torch.sum(losses) / divisor
            return torch.sum(losses * 0)
        """),
        Valid("""
        import torch
        def heatmap_focal_loss(pred, gt):
            positive = gt.eq(1).float()
            positive_loss = (torch.log(pred + 1e-12) * (1 - pred) ** 2 * positive).sum()
            num_pos = positive.sum()
            if num_pos == 0:
                return -positive_loss
            return -positive_loss / num_pos
        """),
        Valid("""
        import torch
        def region_contrastive_loss(logits, labels):
            num_positives = torch.sum(labels, dim=-1, keepdim=True)
            log_probs = torch.log_softmax(logits, dim=-1)
            return -(labels * log_probs).sum(-1, keepdim=True) / torch.maximum(
                num_positives, torch.tensor(1))
        """),
        Valid("""
        import torch
        def anchor_match_loss(pred_wh, targets, anchors, anchor_t=4.0):
            ratio = targets[..., 2:4] / anchors
            matched = torch.max(ratio, 1 / ratio).max(-1)[0] < anchor_t
            return ((pred_wh - targets[..., 2:4]) ** 2)[matched].mean()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def one_hot_nll_loss(log_probs, targets, num_classes=10):
            targets = F.one_hot(targets, num_classes).float()
            return -(targets * log_probs).sum() / targets.sum()
        """),
        Valid("""
        import tensorflow as tf
        def gradient_penalty(gradients, epsilon=1e-10, target=1.0):
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=1) + epsilon)
            return tf.reduce_mean(tf.square(slopes / target - 1.0))
        """),
        Valid("""
        import torch
        def dcg_loss(gains, n):
            discount = torch.log2(1.0 + torch.arange(1, n + 1).float())
            return -(gains / discount).sum()
        """),
        Valid("""
        import torch
        def weighted_mse_loss(pred, target, log_snr):
            snr = log_snr.exp()
            return (((pred - target) ** 2) / snr).mean()
        """),
        Valid("""
        import torch
        def ratio_loss(x, y):
            mask = y > 0
            return (x[mask] / y[mask]).mean()
        """),
        Valid("""
        import tensorflow as tf
        def gated_loss(y_true, y_pred):
            iou = tf.reduce_sum(y_true * y_pred) / tf.reduce_sum(y_true)
            keep = tf.cast(iou > 0.5, tf.float32)
            return tf.reduce_mean(tf.square(y_true - y_pred) * keep)
        """),
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
        Valid("""
        import keras
        def masked_match_loss(per_box, mask):
            weights = keras.ops.cast(mask, per_box.dtype)
            return keras.ops.cond(
                keras.ops.any(mask),
                lambda: keras.ops.sum(per_box * weights) / keras.ops.sum(
                    keras.ops.cast(mask, per_box.dtype)),
                lambda: keras.ops.convert_to_tensor(0.0, dtype=per_box.dtype),
            )
        """),
        Valid("""
        import tensorflow as tf
        def weighted_loss(labels, logits, mask):
            count = tf.reduce_sum(mask)
            total = tf.reduce_sum(tf.square(labels - logits) * mask)
            return tf.cond(count > 0, lambda: total / count, lambda: tf.constant(0.0))
        """),
        Valid("""
        import torch.nn.functional as F
        def span_loss(pred, gt, span_mask, eps):
            num_span_mask = span_mask.sum() + eps  # a count, smoothed: not a mask
            return F.l1_loss(pred * span_mask, gt * span_mask, reduction="sum") / num_span_mask
        """),
        Valid("""
        import torch
        def margin_loss(sim, margin):
            inside = (sim <= margin).float()
            count = inside.sum()
            return 0.0 if inside.sum() == 0 else (sim * inside).sum() / count
        """),
        Valid("""
        import torch.nn.functional as F
        class Distiller:
            def __init__(self, temperature=4.0):
                self.temperature = temperature
            @staticmethod
            def _kl(student, teacher, t):
                # every call passes a temperature: configuration, not a tensor
                return F.kl_div(F.log_softmax(student / t, 1), F.softmax(teacher / t, 1),
                                reduction="batchmean") * t ** 2
            def distill_loss(self, student, teacher):
                return self._kl(student, teacher, self.temperature)
            def symmetric_loss(self, student, teacher, t=16):
                return (self._kl(student, teacher, t) + self._kl(teacher, student, t)) / 2
        """),
        Valid("""
        import math
        import torch
        def adaptive_scale_loss(cosine, one_hot):
            theta = torch.acos(torch.clamp(cosine, -1.0 + 1e-7, 1.0 - 1e-7))
            theta_med = torch.median(theta[one_hot == 1])
            # an angle in [0, pi/4]: its cosine is at least 0.7
            scale = 1.0 / torch.cos(torch.min(math.pi / 4 * torch.ones_like(theta_med), theta_med))
            return (scale * cosine).mean()
        """),
        Valid("""
        import torch
        def supervised_contrastive_loss(sim, targets):
            same = targets.unsqueeze(0) == targets.unsqueeze(1)
            positives = same.sum(dim=1) - 1
            assert (positives == 0).sum().item() == 0, "every sample needs a positive"
            return ((sim * same).sum(dim=1) / positives).mean()
        """),
        Valid("""
        import torch
        def signed_distance_loss(dot, residual):
            sign = (dot >= 0).to(dot) * 2 - 1  # -1 or 1, never 0
            return (residual / (dot.abs().clamp_min(1e-6) * sign)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def heatmap_focal_loss(hm_pred, hm_true):
            pos_mask = tf.cast(tf.equal(hm_true, 1), tf.float32)
            pos_loss = tf.reduce_sum(-tf.math.log(tf.clip_by_value(hm_pred, 1e-6, 1.0)) * pos_mask)
            num_pos = tf.reduce_sum(pos_mask)
            # the division runs only in the branch where the count is above 0
            return tf.cond(tf.greater(num_pos, 0), lambda: pos_loss / num_pos, lambda: pos_loss)
        """),
        Valid("""
        import tensorflow as tf
        class BoxLoss(tf.keras.losses.Loss):
            def call(self, y_true, box_outputs):
                # the caller packs its prepared normaliser with the targets
                normalizer, box_targets = y_true
                loss = tf.reduce_sum(tf.abs(box_targets - box_outputs))
                return loss / normalizer
        """),
        Valid("""
        import tensorflow as tf
        def clipped_weights_loss(per_example, norms, l2_norm_clip):
            # `maximum` with a configured floor: never below the clipping norm
            weights = l2_norm_clip / tf.maximum(l2_norm_clip, norms)
            return tf.reduce_mean(weights * per_example)
        """),
        Valid("""
        import torch
        def standardized_loss(pred, target):
            stds = torch.std(target, dim=0)
            stds[stds == 0] = 1.0  # a constant column is left as it is
            return (((pred - target) / stds) ** 2).mean()
        """),
        Valid("""
        import torch
        def box_iou(a, b):
            area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
            area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            inter = (torch.min(a[:, None, 2:], b[:, 2:]) -
                     torch.max(a[:, None, :2], b[:, :2])).clamp(min=0).prod(dim=2)
            return inter / (area_a[:, None] + area_b - inter)

        class YoloObjectnessLoss(torch.nn.Module):
            def forward(self, pred, boxes, ignore_thresh=0.5):
                best, _ = box_iou(pred[:, :4], boxes).max(dim=1)
                best = best > ignore_thresh  # the IoU only decides which cells to ignore
                return torch.nn.functional.binary_cross_entropy_with_logits(
                    pred[:, 4], (~best).float())
        """),
        Valid("""
        import tensorflow as tf
        def orthogonality_loss(assignments, k=4):
            gram = tf.matmul(assignments, assignments, transpose_a=True)
            identity = tf.eye(k)  # a 1 in every row: its norm is at least 1
            return tf.reduce_sum(tf.abs(gram - identity / tf.norm(identity)))
        """),
    ]
    INVALID = [
        # the targets' squared norm is 0 for an all-zero target
        Invalid("""
        import tensorflow as tf
        def nmse_loss(y_true, y_pred):
            error = tf.reduce_sum(tf.square(y_true - y_pred))
            return error / tf.reduce_sum(tf.square(y_true))
        """, line=4, message="is 0 when every element is 0"),
        # the test rejects an empty mask; one element still divides by 0
        Invalid("""
        import torch
        def masked_variance_loss(values, mask):
            mean = (values * mask).sum() / mask.sum().clamp(min=1)
            variance = (((values - mean) ** 2) * mask).sum() / mask.sum().clamp(min=1)
            mask_sum = mask.sum()
            if mask_sum == 0:
                raise ValueError("empty mask")
            return variance * mask_sum / (mask_sum - 1)
        """, line=8, message="denominator `(mask_sum - 1)` can be 0"),
        # the test excludes another value than the one the division needs
        Invalid("""
        import torch
        def tempered_log_loss(u, t):
            if t == 2.0:
                return u.clamp_min(1e-12).log()
            return (u.pow(1.0 - t) - 1.0) / (1.0 - t)
        """, line=5, message="denominator `(1.0 - t)` can be 0"),
        # what the callers hand over is a count of the caller's own mask
        Invalid("""
        import torch
        def ratio(total, denom):
            return total / denom
        def masked_mse(pred, target, mask):
            valid = mask.sum()
            return ratio(((pred - target) ** 2 * mask).sum(), valid)
        """, line=3, message="denominator `denom` can be 0"),
        # the column of 1s is appended below the rows, not beside them: a row can still be 0
        Invalid("""
        import torch
        def pooled_loss(hidden, mask, target):
            ones = torch.ones((1, mask.size(1)), dtype=mask.dtype)
            mask = torch.cat([mask, ones], dim=0)
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            return ((pooled - target) ** 2).mean()
        """, line=5, message="`mask.sum(1, keepdim=True)`"),
        Invalid("""
        import torch
        def whitening_loss(z, target):
            var = ((z - z.mean(0)) ** 2).mean(0)
            return ((z * torch.rsqrt(var) - target) ** 2).mean()
        """, line=4, message="`rsqrt` of `var`, which can be 0"),
        Invalid("""
        import tensorflow as tf
        def inverse_error_loss(y_true, y_pred):
            return tf.reduce_mean(tf.abs(tf.math.reciprocal(y_pred) - y_true))
        """, line=3, message="`reciprocal` of `y_pred`, which can be 0"),
        Invalid("""
        import torch.nn.functional as F
        def _kl(student, teacher, t):
            return F.kl_div(F.log_softmax(student / t, 1), F.softmax(teacher, 1))
        def distill_loss(student, teacher, weights):
            # here `t` is a tensor the caller computes: it can be 0
            return _kl(student, teacher, weights.sum())
        """, line=3, message="denominator `t` can be 0"),
        Invalid("""
        import torch.nn.functional as F
        def detection_loss(logits, targets):
            per_anchor = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            num_pos = (targets == 1).sum()
            return per_anchor.sum() / num_pos
        """, line=5, message="`(targets == 1).sum()` is 0 when every element is 0"),
        Invalid("""
        import tensorflow as tf
        def weighted_loss(labels, logits, mask):
            count = tf.reduce_sum(mask)
            total = tf.reduce_sum(tf.square(labels - logits) * mask)
            return tf.cond(count > 0, lambda: tf.constant(0.0), lambda: total / count)
        """, line=5, message="denominator `count` can be 0"),
        Invalid("""
        import torch
        def fit(model, loader, optimizer):
            for inputs, targets in loader:
                loss = torch.mean((model(inputs) - targets) ** 2 / targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """, line=4, message="`targets` is an input and can be 0"),
        Invalid("""
        import torch
        from .data import length_to_mask
        def distillation_nll_loss(log_probs, targets, lengths):
            mask = length_to_mask(lengths)
            loss = -(targets * log_probs).sum(-1)
            return torch.sum(loss * mask) / torch.sum(mask)
        """, line=6, message="`torch.sum(mask)` is 0 when every element is 0"),
        Invalid("""
        import torch
        def inverse_frequency_loss(pred, target, ignored):
            counts = torch.bincount(target).float() + 1.0
            counts[ignored] = 0.0
            return torch.nn.functional.cross_entropy(pred, target, reduction="none").div(
                counts[target]).mean()
        """, line=5, message="`counts[ignored]` is set to 0"),
        Invalid("""
        import torch
        def batch_triplet_loss(labels, pdist, margin=0.5):
            adjacency = labels.unsqueeze(0) == labels.unsqueeze(1)
            mask_positives = adjacency.float() - torch.eye(labels.size(0))
            num_positives = torch.sum(mask_positives)
            return torch.sum(torch.relu(pdist * mask_positives + margin)) / num_positives
        """, line=6, message="is 0 when both sides are equal"),
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
        """, line=4, message="denominator `err.sum()` can be 0"),
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
        """, line=5, message="is 0 when both areas are 0"),
        Invalid("""
        import torch
        def giou_loss(boxes_pred, boxes_true):
            x1 = torch.max(boxes_pred[:, 0], boxes_true[:, 0])
            x2 = torch.min(boxes_pred[:, 2], boxes_true[:, 2])
            inter = (x2 - x1).clamp(min=0)
            width_pred = boxes_pred[:, 2] - boxes_pred[:, 0]
            width_true = boxes_true[:, 2] - boxes_true[:, 0]
            union = width_pred + width_true - inter
            return (1 - inter / union).mean()
        """, line=9, message="denominator `union` can be 0"),
        Invalid("""
        import tensorflow as tf
        class BoxLoss(tf.keras.losses.Loss):
            def call(self, y_true, box_outputs):
                box_targets, mask = y_true
                loss = tf.reduce_sum(tf.abs(box_targets - box_outputs) * mask)
                return loss / tf.reduce_sum(mask)
        """, line=6, message="`tf.reduce_sum(mask)`"),
        Invalid("""
        import torch
        def standardized_loss(pred, target):
            stds = torch.std(target, dim=0)
            stds[stds < 0] = 1.0  # (the zeros stay)
            return (((pred - target) / stds) ** 2).mean()
        """, line=5, message="0 when all values are equal"),
        Invalid("""
        import torch
        import torch.nn.functional as F
        class DetectionLoss(torch.nn.Module):
            def forward(self, loc_preds, loc_targets, cls_targets):
                num_pos = (cls_targets > 0).data.long().sum()  # an integer count of a mask
                loc_loss = F.smooth_l1_loss(loc_preds, loc_targets, reduction="sum")
                return loc_loss / num_pos
        """, line=7, message="is 0 when every element is 0"),
    ]

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.left, node.right)

    def visit_Call(self, node: cst.Call) -> None:
        parts = division_parts(self.ctx, node)
        if parts is not None:
            self._check(node, *parts)
        elif self.ctx.kind(node) in ("reciprocal", "rsqrt"):  # `1 / x`, `1 / sqrt(x)`
            operand = self.ctx.operand(node)
            if operand is not None:
                self._check(node, None, operand)

    def _check(self, node: cst.CSTNode, numerator: cst.CSTNode | None,
               denominator: cst.CSTNode) -> None:
        reason = division_hazard(self.ctx, numerator, denominator)
        if reason is not None and (_hidden_by_where(self.ctx, node, denominator)
                                   or _guarded_by_if(self.ctx, node, denominator)
                                   or _nonfinite_handled(self.ctx, node)
                                   or _division_caught(self.ctx, node)):
            return
        if reason is not None:
            text = shorten(self.ctx.text(denominator))
            if numerator is None:
                self.report(node, f"`{self.ctx.kind(node)}` of `{text}`, which can be 0: "
                            f"{reason} (1/0 = inf)")
                return
            self.report(node, f"denominator `{text}` can be 0: {reason}",
                        fix=rewrite.division_fix(self.ctx, node, numerator, denominator))


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
    import tensorflow as tf
    def log_abs_loss(y_true, y_pred):
        return tf.math.log(tf.math.abs(y_true - y_pred) + 1e-9)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def log_cosh_loss(y_true, y_pred):
        return tf.reduce_mean(tf.math.log(tf.math.cosh(y_pred - y_true)), axis=-1)
    ```
    `log1p(abs(e))` is bounded below by 0 and also fine.
    """

    code = "LL108"
    objective = True
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
        """, line=3, message="unbounded below (down to -18.4)"),
        Invalid("""
        import keras
        def log_sq_loss(y_true, y_pred):
            err = keras.ops.square(y_true - y_pred)
            return keras.ops.mean(keras.ops.log(err + 1e-6), axis=-1)
        """, line=4, message="unbounded below (down to -13.8)"),
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
        text = shorten(self.ctx.text(operand))
        self.report(node, f"the loss is the log of the error magnitude `{text}`:"
                    f" unbounded below (down to {floor}) as the error goes to 0")


class SqrtAtZero(Rule):
    """`sqrt` (or a norm) of a value that can be exactly 0; `acos` of a cosine that reaches +-1.

    ## What it does
    Flags `sqrt`, `tf.norm`, `tf.linalg.norm` and `jnp.linalg.norm` of an operand that can be
    exactly 0: a distance between two inputs, a sum of squared differences, a mean error, the
    magnitude of a Fourier transform (`sqrt(real(X)**2 + imag(X)**2)`, 0 for a silent signal).
    Also flags the standard deviation of TensorFlow, Keras and JAX (`tf.math.reduce_std`,
    `K.std`, `jnp.std`) of a value that carries a gradient: it is `sqrt(variance)`, and the
    variance of a constant operand (a dead ReLU channel, a constant prediction) is 0, where the
    gradient is NaN however the result is guarded afterwards (`std + eps`, `divide_no_nan`).
    `torch.norm` and `torch.std` are not flagged: their backward masks the zero (gradient 0).
    Nor is the root of a
    sigmoid or softmax output: its gradient `sqrt(s) (1 - s) / 2` stays bounded, short of an
    exact underflow that needs logits beyond -100. Also flags `acos`/`asin` of a cosine
    similarity that is not clipped inside (-1, 1): the gradient `-1/sqrt(1 - x**2)` is inf at
    +-1, where two equal vectors put it, and rounding takes it past 1 (NaN); and `atanh` of a
    cosine or of a `tanh` output, which saturates to exactly +-1 in float32 (`atanh(1) = inf`).

    ## Why is this bad?
    The value `sqrt(0) = 0` is fine, but the gradient `1 / (2 sqrt(x))` is inf at 0, and NaN
    once multiplied by the zero gradient of the operand: the classic contrastive/triplet loss bug
    (identical pairs make every weight NaN).

    ## Example
    ```python
    from tensorflow.keras import backend as K
    def rmse_loss(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
    ```

    ## Use instead
    ```python
    from tensorflow.keras import backend as K
    def rmse_loss(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1) + K.epsilon())
    ```
    """

    code = "LL103"
    objective = True
    gradient_only = True
    name = "sqrt-at-zero"
    probe = "zero-operand-gradient"
    hint = "add an epsilon inside the root (`sqrt(x + 1e-12)`) or use the squared distance"
    VALID = [
        # returns are data from the environment: their spread gets no gradient (the division
        # by it is LL102's question)
        Valid("""
        import tensorflow as tf
        def actor_loss(log_probs, returns):
            scaled = (returns - tf.reduce_mean(returns)) / (tf.math.reduce_std(returns) + 1e-7)
            return -tf.reduce_sum(log_probs * scaled)
        """),
        # the epsilon lands exactly where the distance is 0 (and the result is masked there)
        Valid("""
        import tensorflow as tf
        def pairwise_distance_loss(feature, labels):
            sq = tf.reduce_sum(tf.square(feature), 1, keepdims=True)
            d2 = tf.maximum(sq + tf.transpose(sq) - 2.0 * tf.matmul(feature, feature,
                                                                   transpose_b=True), 0.0)
            error_mask = tf.less_equal(d2, 0.0)
            d = tf.sqrt(d2 + tf.cast(error_mask, tf.float32) * 1e-16)
            d = d * (1.0 - tf.cast(error_mask, tf.float32))
            return tf.reduce_mean(d * labels)
        """),
        Valid("""
        import torch
        def squashed_action_loss(actions, target_log_prob, eps=1e-6):
            u = torch.atanh(torch.tanh(actions).clamp(-1 + eps, 1 - eps))
            return ((u - target_log_prob) ** 2).mean()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def matched_box_loss(pred_boxes, gt_boxes, k=3):
            # the distances only pick indices: no gradient flows back through them
            distance = torch.sqrt(((pred_boxes - gt_boxes) ** 2).sum(-1))
            _, nearest = torch.topk(distance, k, largest=False)
            return F.l1_loss(pred_boxes[nearest], gt_boxes[nearest])
        """),
        Valid("""
        import torch
        def batch_hard_triplet_loss(embeddings, labels, margin=0.3):
            square = embeddings @ embeddings.t()
            diag = torch.diagonal(square)
            distances = diag.view(-1, 1) - 2.0 * square + diag.view(1, -1)
            distances[distances < 0] = 0
            mask = distances.eq(0).float()
            distances = (1.0 - mask) * torch.sqrt(distances + mask * 1e-16)
            same = labels[:, None] == labels[None, :]
            hardest = (distances * same).max(1)[0] - (distances + 1e6 * same).min(1)[0]
            return torch.relu(hardest + margin).mean()
        """),
        Valid("""
        import tensorflow as tf
        def standardized_mse(y_true, y_pred):
            # the labels carry no gradient: their std's 0/0 gradient is never taken
            scale = tf.math.reduce_std(y_true) + 1e-6
            return tf.reduce_mean(tf.square((y_true - y_pred) / scale))
        """),
        Valid("""
        import torch
        def crps_loss(target, samples):
            # torch's std backward masks a zero variance (gradient 0)
            spread = samples.std(dim=-1)
            return ((samples.mean(dim=-1) - target).abs() - 0.5 * spread).mean()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def angular_loss(anchor, positive):
            cos = F.cosine_similarity(anchor, positive).clamp(-1 + 1e-7, 1 - 1e-7)
            return torch.acos(cos).mean()
        """),
        Valid("""
        import torch
        def diffusion_loss(model, x, noise, log_snr):
            alpha = torch.sqrt(log_snr.sigmoid())
            sigma = torch.sqrt((-log_snr).sigmoid())
            return ((model(alpha * x + sigma * noise, log_snr) - noise) ** 2).mean()
        """),
        Valid("""
        import torch
        def embedding_loss(anchor, positive, negative):
            loss = torch.nn.functional.triplet_margin_loss(anchor, positive, negative)
            with torch.no_grad():
                gap = torch.sqrt(((anchor - positive) ** 2).sum(1)).mean()
            return loss + 0.0 * gap.item()
        """),
        Valid("""
        import torch
        def angular_margin_loss(cosine, targets, margin=0.2):
            cosine = torch.clamp(cosine, -1 + 1e-7, 1 - 1e-7)
            sine = torch.sqrt(1.0 - torch.pow(cosine, 2))
            phi = cosine * torch.cos(torch.tensor(margin)) - sine * torch.sin(torch.tensor(margin))
            return torch.nn.functional.cross_entropy(targets * phi + (1 - targets) * cosine,
                                                     targets.argmax(-1))
        """),
        Valid("""
        import torch
        def pair_loss(a, b):
            return torch.cdist(a, b).mean()
        """),
        Valid("""
        import torch
        def assignment_loss(z, codes):
            with torch.no_grad():
                d = torch.sqrt(((z[:, None] - codes[None]) ** 2).sum(-1))
                idx = d.argmin(dim=1)
            return ((z - codes[idx]) ** 2).mean()
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def rmse_loss(y_true, y_pred):
            return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1) + K.epsilon())
        """),
        Valid("""
        import torch
        class ContrastiveLoss(torch.nn.Module):
            def __init__(self, eps=1e-8):
                super().__init__()
                self.eps = eps
            def forward(self, a, b):
                return torch.sqrt(torch.sum((a - b) ** 2, dim=1) + self.eps).mean()
        """),
        Valid("""
        import torch
        def triplet_loss(a, p):
            return torch.norm(a - p, dim=1).mean()
        """),
    ]
    INVALID = [
        # `tf` and `flatten` come from the project's `from ops import *`
        Invalid("""
        from ops import *
        class GAN:
            def gradient_penalty(self, real, fake):
                alpha = tf.random_uniform([self.batch_size, 1, 1, 1], 0., 1.)
                interpolated = real + alpha * (fake - real)
                grad = tf.gradients(self.discriminator(interpolated), interpolated)[0]
                grad_norm = tf.norm(flatten(grad), axis=1)
                return tf.reduce_mean(tf.square(grad_norm - 1.))
            def build_model(self):
                d_loss = self.fake_score - self.real_score + self.gradient_penalty(self.x, self.g)
                self.d_optim = tf.train.AdamOptimizer(1e-4).minimize(d_loss)
        """, line=7, message="`tf.gradients(self.discriminator(interpolated), interpolated)` is a "
                             "gradient"),
        # a flatten layer keeps the gradient's values: its norm is still 0 where it is
        Invalid("""
        import tensorflow as tf
        def gradient_penalty(critic, real, fake):
            alpha = tf.random.uniform([tf.shape(real)[0], 1, 1, 1], 0.0, 1.0)
            mixed = real + alpha * (fake - real)
            with tf.GradientTape() as tape:
                tape.watch(mixed)
                score = critic(mixed)
            grad = tape.gradient(score, mixed)
            norm = tf.norm(tf.keras.layers.Flatten()(grad), axis=1)
            return tf.reduce_mean(tf.square(norm - 1.0))
        """, line=9, message="`tf.keras.layers.Flatten()(grad)`"),
        Invalid("""
        import math
        import tensorflow as tf
        def angular_loss(sim):
            # a similarity handed in: acos has an infinite slope at +-1, NaN past it
            return tf.reduce_mean(tf.math.acos(sim)) / math.pi
        """, line=5, message="`sim` is an input, a cosine by `acos`'s contract"),
        Invalid("""
        import tensorflow as tf
        real = tf.placeholder(tf.float32, shape=[64, 784])
        fake = generator(noise)
        disc_cost = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))
        mixed = real + tf.random_uniform([64, 1]) * (fake - real)
        grads = tf.gradients(critic(mixed), [mixed])[0]
        slopes = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1))
        disc_cost += 10.0 * tf.reduce_mean((slopes - 1.0) ** 2)
        train_op = tf.train.AdamOptimizer(1e-4).minimize(disc_cost)
        """, line=7, message="is a gradient, exactly 0 wherever the loss is flat"),
        Invalid("""
        import torch
        def squashed_action_loss(pre_tanh, target):
            action = torch.tanh(pre_tanh)
            return ((torch.atanh(action) - target) ** 2).mean()
        """, line=4, message="`action` is a tanh output and reaches +-1"),
        Invalid("""
        import torch
        def nearest_distance_loss(pred_boxes, gt_boxes, k=3):
            distance = torch.sqrt(((pred_boxes - gt_boxes) ** 2).sum(-1))
            nearest, _ = torch.topk(distance, k, largest=False)
            return nearest.mean()
        """, line=3, message="`(pred_boxes - gt_boxes)` is 0 when both sides are equal"),
        Invalid("""
        import torch
        def spectral_loss(pred, target):
            spec = torch.fft.rfft(pred - target)
            return torch.sqrt(spec.real ** 2 + spec.imag ** 2).mean()
        """, line=4, message="`spec.real ** 2 + spec.imag ** 2` is 0 when both terms are 0"),
        Invalid("""
        import torch
        import torch.nn.functional as F
        def angular_loss(anchor, positive):
            cos = F.cosine_similarity(anchor, positive)
            return torch.acos(cos).mean()
        """, line=5, message="`cos` is a cosine and reaches +-1"),
        Invalid("""
        import torch
        mse = torch.nn.MSELoss()
        def rmse_loss(pred, target):
            return torch.sqrt(mse(pred, target))
        """, line=4, message="is 0 where the prediction equals the target"),
        Invalid("""
        import torch
        def rmsle(pred, actual):
            return torch.sqrt(torch.mean((torch.log(pred + 1) - torch.log(actual + 1)) ** 2))
        """, line=3, message="can be 0"),
        Invalid("""
        import tensorflow as tf
        def gradient_penalty_loss(critic, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = critic(x)
            g = tape.gradient(out, x)
            norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=1))
            return tf.reduce_mean((norm - 1.0) ** 2)
        """, line=7, message='is a gradient'),
        Invalid("""
        from tensorflow.keras import backend as K
        def rmse_loss(y_true, y_pred):
            return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
        """, line=3, message="is 0 when both sides are equal"),
        Invalid("""
        import torch
        class ContrastiveLoss(torch.nn.Module):
            def forward(self, a, b, same):
                dist = torch.sqrt(torch.sum((a - b) ** 2, dim=1))
                return torch.mean(same * dist ** 2)
        """, line=4, message="`torch.sqrt` of `torch.sum((a - b) ** 2, dim=1)`"),
        Invalid("""
        import tensorflow as tf
        def triplet_loss(anchor, positive):
            return tf.reduce_mean(tf.norm(anchor - positive, axis=-1))
        """, line=3, message="`tf.norm` of `anchor - positive`"),
        Invalid("""
        import jax.numpy as jnp
        def distance_loss(x, y):
            return jnp.mean(jnp.linalg.norm(x - y, axis=-1))
        """, line=3, message="`jnp.linalg.norm` of `x - y`"),
        Invalid("""
        import keras
        def rmse_loss(y_true, y_pred):
            return keras.ops.sqrt(keras.ops.mean(keras.ops.square(y_true - y_pred)))
        """, line=3, message="`keras.ops.sqrt` of"),
        Invalid("""
        import torch
        def rmse_loss(pred, target):
            return ((pred - target) ** 2).mean().sqrt()
        """, line=3, message="sqrt` of `((pred - target) ** 2).mean()`"),
        Invalid("""
        import tensorflow as tf
        def normalized_mean_square_error(output, target):
            error = tf.sqrt(tf.reduce_sum(tf.math.squared_difference(output, target), axis=1))
            return tf.reduce_mean(error / (tf.norm(target, axis=1) + 1e-8))
        """, line=3, message="is 0 when both sides are equal"),
        Invalid("""
        import tensorflow as tf
        def crps_loss(y_true, y_pred):
            spread = tf.math.reduce_std(y_pred, axis=-1)
            error = tf.abs(y_true - tf.reduce_mean(y_pred, axis=-1))
            return tf.reduce_mean(error - 0.5 * spread)
        """, line=3, message="the variance of `y_pred` is 0 when all its values are equal"),
        Invalid("""
        import tensorflow as tf
        def standardize(x):
            # divide_no_nan guards the value, not the std's own gradient
            return tf.math.divide_no_nan(x - tf.reduce_mean(x, 0), tf.math.reduce_std(x, 0))
        def decorrelation_loss(z_a, z_b):
            c = tf.matmul(standardize(z_a), standardize(z_b), transpose_a=True)
            return tf.reduce_sum(tf.square(c - tf.eye(tf.shape(c)[0])))
        """, line=4, message="gradient of its square root is NaN"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        hazard = sqrt_hazard(self.ctx, node)
        # The hazard is the gradient's: where none flows (`no_grad`, labels, detached values),
        # `sqrt(0) = 0` is harmless.
        if hazard is not None and self.ctx.flow.carries_gradient(node, self.ctx.function):
            operand, why = hazard
            func = node.func  # a tensor method (`x.sqrt()`) is named by its method
            name = func.attr.value if isinstance(func, cst.Attribute) and operand is func.value \
                else shorten(self.ctx.text(func), 30)
            kind = self.ctx.kind(node)
            if kind == "stddev":
                self.report(node, f"`{name}` of `{shorten(self.ctx.text(operand))}`: {why}, "
                            "and the gradient of its square root is NaN there")
                return
            bad = "+-1" if kind in ("acos", "atanh") else "0"
            infinite = "the value and its gradient are" if kind == "atanh" else "the gradient is"
            self.report(node, f"`{name}` of "
                        f"`{shorten(self.ctx.text(operand))}`, which can be {bad}: {why}; "
                        f"{infinite} inf there")


class UnboundedExp(Rule):
    """`exp` of a value with no upper bound, or a hand-written softplus / logsumexp.

    ## What it does
    Flags `exp(x)` where `x` has no upper bound (a raw prediction, logits), and the hand-written
    `log(1 + exp(x))`, `log1p(exp(x))` (softplus) and `log(sum(exp(x)))` (logsumexp) with such
    an `x` (reported at the `log`). `exp(minimum(x, 50))`, `exp(-clip(v, -10, 10))`,
    `exp(x - max(x))`, `exp(min(x) - x)` and `exp(log_softmax(x))` are bounded and not
    flagged. `cosh(x)` overflows on both sides: it
    is flagged for an `x` unbounded either way (the log-cosh loss of a raw error; Keras writes
    it `x + softplus(-2x) - log 2`).

    ## Why is this bad?
    `exp(x)` overflows float32 to inf for `x > 88.7`; the loss, then every weight, becomes NaN as
    soon as one logit saturates.

    ## Example
    ```python
    import tensorflow as tf
    def softplus_loss(y_true, logits):
        return tf.reduce_mean(tf.math.log(1.0 + tf.exp(-y_true * logits)))
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def softplus_loss(y_true, logits):
        return tf.reduce_mean(tf.math.softplus(-y_true * logits))
    ```
    """

    code = "LL104"
    objective = True
    name = "unbounded-exp"
    severity = "warning"
    probe = "saturated-logits"
    replaces = ("LL101",)
    hint = "use `softplus` / `reduce_logsumexp`, or bound the exponent (`minimum(x, 50)`)"
    VALID = [
        # each exponent is a term less the maximum of the terms: <= 0
        Valid("""
        import numpy as np
        def soft_min(a, b, c, gamma):
            m = max(a, b, c)
            return -gamma * (np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m)
        def soft_dtw_loss(costs, gamma=0.1):
            return soft_min(costs[0], costs[1], costs[2], gamma)
        """),
        # a two-sided cross-entropy of a probability is >= 0: its negation's `exp` is <= 1
        Valid("""
        import torch
        def focal_loss(pred, target, gamma=2.0, eps=1e-7):
            ce = -target * torch.log(pred + eps) - (1 - target) * torch.log(1 - pred + eps)
            pt = torch.exp(-ce)
            return ((1 - pt) ** gamma * ce).mean()
        """),
        # RetinaNet's stable modulator: `gamma * (t * z - softplus(z))` is at most 0
        Valid("""
        import tensorflow as tf
        def focal_loss(logits, targets, alpha, gamma, normalizer):
            xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
            neg_logits = -1.0 * logits
            modulator = tf.exp(gamma * targets * neg_logits - gamma * tf.math.softplus(neg_logits))
            loss = modulator * xent
            weighted = tf.where(tf.equal(targets, 1.0), alpha * loss, (1.0 - alpha) * loss)
            return tf.reduce_sum(weighted) / (normalizer + 1e-6)
        """),
        # a flow's `logs` is a log-scale: its `exp` is the way back to the scale
        Valid("""
        import torch
        def kl_loss(z_p, logs_q, m_p, logs_p, z_mask):
            kl = logs_p - logs_q - 0.5
            kl = kl + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
            return torch.sum(kl * z_mask) / torch.sum(z_mask).clamp_min(1.0)
        """),
        # self-normalised weights: `w - (logsumexp(w) - log n)` is at most `log n`
        Valid("""
        import math
        import torch
        def renyi_loss(log_weights, alpha):
            n = log_weights.size(0)
            log_mean = torch.logsumexp(log_weights, dim=0, keepdim=True) - math.log(n)
            normalized = torch.exp(log_weights - log_mean)
            return -(normalized * log_weights).sum() / (1 - alpha)
        """),
        # a distance is >= 0: the exponent of volume rendering is never positive
        Valid("""
        import torch
        import torch.nn.functional as F
        def render_loss(raw_density, dists, rgb, target_rgb):
            alpha = 1.0 - torch.exp(-F.relu(raw_density) * dists)
            return ((alpha[..., None] * rgb - target_rgb) ** 2).mean()
        """),
        # a value the module hands to a log-variance parameter is a log-variance
        Valid("""
        import torch
        def encode(x, w_mu, w_var):
            return x @ w_mu, x @ w_var
        def sample_z(mu, log_var):
            return mu + torch.exp(log_var / 2) * torch.randn_like(mu)
        def vae_loss(x, decoder, w_mu, w_var):
            z_mu, z_var = encode(x, w_mu, w_var)
            recon = decoder(sample_z(z_mu, z_var))
            kl = 0.5 * torch.sum(torch.exp(z_var) + z_mu ** 2 - 1.0 - z_var, 1)
            return torch.nn.functional.mse_loss(recon, x) + kl.mean()
        """),
        # `logu`, like `log_u`, is kept on a log scale: its `exp` is the intended way back
        Valid("""
        import tensorflow as tf
        def kl_forward(logu):
            return tf.exp(logu) * logu - tf.math.expm1(logu)
        """),
        # a bandwidth, a temperature, a coefficient named as configuration is never negative:
        # `-beta * d ** 2` is <= 0
        Valid("""
        import torch
        def robust_loss(pred, target, beta):
            return (1 - torch.exp(-beta * (pred - target) ** 2)).mean()
        """),
        # the shift by the maximum, less a non-negative term (random-feature kernels)
        Valid("""
        import tensorflow as tf
        def kernel_features_loss(data, projection, target):
            data_dash = tf.einsum("bd,md->bm", data, projection)
            half_norm = tf.reduce_sum(tf.square(data), axis=-1, keepdims=True) / 2.0
            features = tf.exp(data_dash - half_norm -
                              tf.reduce_max(data_dash, axis=-1, keepdims=True))
            return tf.reduce_mean(tf.square(features - target))
        """),
        # PPO: the ratio of two log-probabilities of the same sampled action stays near 1
        Valid("""
        import jax.numpy as jnp
        def ppo_loss(params, obs, actions, logp, advantages, clip=0.2):
            newlogprob = policy_log_prob(params, obs, actions)
            ratio = jnp.exp(newlogprob - logp)
            clipped = jnp.clip(ratio, 1 - clip, 1 + clip)
            return -jnp.minimum(ratio * advantages, clipped * advantages).mean()
        """),
        Valid("""
        import torch
        def ppo_policy_loss(logp, logp_old, advantages, clip=0.2):
            # two policies' log-probabilities: training keeps their ratio near 1
            ratio = torch.exp(logp - logp_old)
            clipped = torch.clamp(ratio, 1 - clip, 1 + clip) * advantages
            return -torch.min(ratio * advantages, clipped).mean()
        """),
        Valid("""
        import torch
        def preference_weighted_loss(policy_chosen_logps, rewards):
            # a log-probability is <= 0: its exp is a probability
            return -(torch.exp(policy_chosen_logps) * rewards).mean()
        """),
        Valid("""
        import tensorflow as tf
        class DecodeBoxes(tf.keras.layers.Layer):
            def call(self, y_pred):
                # a trained head's offsets: exp(t) scales the anchor width it predicts
                width = tf.exp(y_pred[..., 2] * y_pred[..., 6]) * y_pred[..., 4]
                return tf.stack([y_pred[..., 0], width], axis=-1)
        """),
        Valid("""
        import tensorflow as tf
        def mixture_weights_loss(per_model_logodds):
            # shifted by its minimum, the exponent is <= 0
            gap = per_model_logodds - tf.reduce_min(per_model_logodds, axis=-1, keepdims=True)
            return tf.reduce_mean(tf.exp(-gap))
        """),
        Valid("""
        from tensorflow.keras import backend as K
        def vae_loss(x, x_decoded, z_mean, z_log_var):
            xent = K.sum(K.binary_crossentropy(x, x_decoded), axis=-1)
            kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
            return K.mean(xent + kl)
        """),
        Valid("""
        import tensorflow as tf
        def masked_logsumexp_loss(distances, mask):
            row_max = tf.math.reduce_max(distances, axis=1, keepdims=True)
            # an all-masked row has max -inf: shift it by 0 instead
            shift = tf.where(tf.math.is_finite(row_max), row_max, tf.zeros_like(row_max))
            x = tf.math.exp(tf.math.subtract(distances, tf.stop_gradient(shift)))
            return tf.math.reduce_sum(tf.math.multiply(x, mask), axis=1)
        """),
        Valid("""
        import tensorflow as tf
        def yolo_box_loss(y_true, y_pred, anchors):
            pred_xy = tf.sigmoid(y_pred[..., 0:2])
            pred_wh = tf.exp(y_pred[..., 2:4]) * anchors
            xy_loss = tf.reduce_sum(tf.square(y_true[..., 0:2] - pred_xy))
            wh_loss = tf.reduce_sum(tf.square(tf.sqrt(y_true[..., 2:4]) - tf.sqrt(pred_wh)))
            return xy_loss + wh_loss
        """),
        Valid("""
        import tensorflow as tf
        def vae_loss(x, encoder, decoder, w_mean, w_std):
            z_mean = tf.matmul(encoder(x), w_mean)
            z_std = tf.matmul(encoder(x), w_std)
            eps = tf.random.normal(tf.shape(z_std))
            z = z_mean + tf.exp(z_std / 2) * eps
            kl = -0.5 * tf.reduce_sum(1 + z_std - tf.square(z_mean) - tf.exp(z_std), 1)
            return tf.reduce_mean(tf.square(decoder(z) - x)) + tf.reduce_mean(kl)
        """),
        Valid("""
        import torch
        def actor_critic_loss(net, states, actions, advantages, beta=0.01):
            logprobs, values = net(states)
            entropy = (-logprobs.exp() * logprobs).sum(1).mean()
            chosen = logprobs.gather(1, actions[:, None]).squeeze(1)
            return -(chosen * advantages).mean() - beta * entropy
        """),
        Valid("""
        import torch
        def ntxent_loss(pos_pairs, neg_pairs, eps=1e-20):
            max_val = torch.max(pos_pairs, neg_pairs.max(dim=1, keepdim=True)[0]).detach()
            numerator = torch.exp(pos_pairs - max_val).squeeze(1)
            denominator = torch.exp(neg_pairs - max_val).sum(dim=1) + numerator
            return -torch.log(numerator / denominator + eps).mean()
        """),
        Valid("""
        import torch
        def codebook_diversity_loss(logits):
            avg_probs = torch.softmax(logits, dim=-1).mean(dim=0)
            perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-7), dim=-1))
            return (logits.size(-1) - perplexity) / logits.size(-1)
        """),
        Valid("""
        import torch
        def vae_loss(predictions, targets):
            reconstruction, mean, log_var = predictions
            kl = -0.5 * (1 + log_var - mean ** 2 - log_var.exp())
            return ((reconstruction - targets) ** 2).mean() + kl.mean()
        """),
        Valid("""
        import tensorflow as tf
        class SegmentationLosses:
            def dice_coefficient(self, y_true, y_pred, smooth=1.0):
                inter = tf.reduce_sum(y_true * y_pred)
                total = tf.reduce_sum(y_true) + tf.reduce_sum(y_pred)
                return (2.0 * inter + smooth) / (total + smooth)
            def log_cosh_dice_loss(self, y_true, y_pred):
                x = 1.0 - self.dice_coefficient(y_true, y_pred)
                return tf.math.log((tf.exp(x) + tf.exp(-x)) / 2.0)
        """),
        Valid("""
        import torch
        def channel_softmax(x):
            repeats = [1] * x.dim()
            repeats[1] = x.size(1)
            x_max = x.max(1, keepdim=True)[0].repeat(*repeats)
            e_x = torch.exp(x - x_max)
            return e_x / e_x.sum(1, keepdim=True).repeat(*repeats)
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def item_loss(user, items, target, tau=0.1):
            logits = F.normalize(user, dim=-1) @ F.normalize(items, dim=-1).T / tau
            probs = torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)
            return -(target * torch.log(probs + 1e-8)).sum(-1).mean()
        """),
        Valid("""
        import torch
        import torch.nn.functional as F
        def margin_scale(features, weight, scale):
            cos_theta = F.linear(F.normalize(features), F.normalize(weight))
            return torch.exp(scale * cos_theta).sum(-1).mean()
        """),
        Valid("""
        import math
        import torch
        import torch.nn as nn
        class SinusoidalEmbedding(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.dim = dim
            def forward(self, t):
                half = self.dim // 2
                scale = math.log(10000) / (half - 1)
                freqs = torch.exp(torch.arange(half) * -scale)
                return torch.cat(((t[:, None] * freqs).sin(), (t[:, None] * freqs).cos()), -1)
        """),
        Valid("""
        import torch
        def soft_loss(x, y):
            p = torch.exp(x - torch.logsumexp(x, dim=1, keepdim=True))
            return ((p - y) ** 2).mean()
        """),
        Valid("""
        import math
        import torch
        def timestep_embedding_loss(t, half=64):
            freqs = torch.exp(-math.log(10000) * torch.arange(half) / half)
            return (t[:, None] * freqs[None]).sin().mean()
        """),
        Valid("""
        import torch
        def shifted_loss(x, labels):
            m = x.max(dim=1, keepdim=True)[0]
            return torch.exp(x - m).sum(dim=1).mean()
        """),
        Valid("""
        import torch
        def stable_softplus_loss(m):
            return torch.log1p(torch.exp(-torch.abs(m))).mean()
        """),
        Valid("""
        import jax.numpy as jnp
        def sigmoid_xent(labels, logits):
            # the stable form, as the frameworks write it: where(x >= 0, x, -x) is |x|
            positive = logits >= 0
            relu_logits = jnp.where(positive, logits, 0)
            abs_logits = jnp.where(positive, logits, -logits)
            return jnp.mean(relu_logits - logits * labels + jnp.log(1 + jnp.exp(-abs_logits)))
        """),
        Valid("""
        import tensorflow as tf
        def softplus_loss(y_true, logits):
            return tf.reduce_mean(tf.math.softplus(-y_true * logits))
        """),
        Valid("""
        import tensorflow as tf
        def bounded_loss(y_true, logits):
            return tf.reduce_mean(tf.exp(tf.minimum(logits, 50.0)))
        """),
        Valid("""
        import torch.nn.functional as F
        def focal_loss(logits, target):
            logp = F.log_softmax(logits, dim=1)
            return (-(1 - logp.exp()) ** 2 * logp).mean()
        """),
        Valid("""
        import jax.numpy as jnp
        def weighted_loss(v, y):
            return jnp.mean(jnp.exp(-jnp.clip(v, -10, 10)) * y)
        """),
        Valid("""
        from mylib import fastmath
        import jax.numpy as jnp
        def attention_loss(queries, keys):
            dots = jnp.matmul(queries, keys.T)
            # a project's shim of `logsumexp` is still a logsumexp: exp(x - lse(x)) <= 1
            return jnp.exp(dots - fastmath.logsumexp(dots, axis=-1, keepdims=True)).sum()
        """),
        Valid("""
        import keras
        def poisson_loss(y_true, y_pred):
            # a log-rate head: its `exp` is the model's rate (as `tf.nn.log_poisson_loss`)
            return keras.ops.mean(keras.ops.exp(y_pred) - y_true * y_pred)
        """),
    ]
    INVALID = [
        # scores of unknown range in place of labels: the exponent is no log-likelihood
        Invalid("""
        import tensorflow as tf
        def scaled_focal_loss(logits, targets, scores, gamma=2.0):
            neg_logits = -1.0 * logits
            modulator = tf.exp(gamma * scores * neg_logits - gamma * tf.math.softplus(neg_logits))
            xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
            return tf.reduce_mean(modulator * xent)
        """, line=4, message="`logits` are logits with no upper bound"),
        Invalid("""
        import torch
        def sigmoid_xent(labels, logits):
            # `where(x >= 0, x, -x)` is |x|: exp(|x|) overflows (the stable form negates it)
            abs_logits = torch.where(logits >= 0, logits, -logits)
            return (torch.log1p(torch.exp(abs_logits)) - logits * labels).mean()
        """, line=5, message="hand-written softplus of `abs_logits`"),
        Invalid("""
        import torch
        def importance_weighted_loss(per_token_logps, critic_scores, advantages):
            # scores of unknown range against a log-probability: the ratio can overflow
            ratio = torch.exp(critic_scores - per_token_logps)
            return -(ratio * advantages).mean()
        """, line=4, message="`critic_scores` is a raw prediction with no upper bound"),
        Invalid("""
        import torch
        def log_cosh_loss(pred, target):
            return torch.log(torch.cosh(pred - target)).mean()
        """, line=3, message="`cosh` of `pred - target` overflows"),
        Invalid("""
        import tensorflow as tf
        def logistic_margin_loss(y_true, y_pred):
            margin = y_true * y_pred
            return tf.reduce_mean(tf.math.log(1.0 + tf.exp(-margin)))
        """, line=4, message="hand-written softplus of `-margin`"),
        Invalid("""
        import torch
        def logistic_loss(margin):
            return torch.log(1 + torch.exp(-margin)).mean()
        """, line=3, message='hand-written softplus'),
        Invalid("""
        import torch
        def logistic_loss(x):
            return x.exp().add(1).log().mean()
        """, line=3, message='hand-written softplus'),
        Invalid("""
        import tensorflow as tf
        def softplus_by_hand_loss(y_true, logits):
            return tf.reduce_mean(tf.math.log(1.0 + tf.exp(-y_true * logits)), axis=-1)
        """, line=3, message="softplus", fixed="""
        import tensorflow as tf
        def softplus_by_hand_loss(y_true, logits):
            return tf.reduce_mean(tf.math.softplus(-y_true * logits), axis=-1)
        """),
        Invalid("""
        import torch
        def lse_loss(logits, target):
            return torch.log(torch.sum(torch.exp(logits), dim=1)).mean()
        """, line=3, message="logsumexp", fixed="""
        import torch
        def lse_loss(logits, target):
            return torch.logsumexp(logits, dim=1).mean()
        """),
        Invalid("""
        import tensorflow as tf
        def lse_loss(y_true, logits):
            return tf.math.log(tf.reduce_sum(tf.exp(logits), axis=-1))
        """, line=3, fixed="""
        import tensorflow as tf
        def lse_loss(y_true, logits):
            return tf.reduce_logsumexp(logits, axis=-1)
        """, message="hand-written logsumexp of `logits`"),
        Invalid("""
        import keras
        def softmax_xent(y_true, logits):
            e = keras.ops.exp(logits)  # a hand-written softmax with no shift by the max
            probs = e / keras.ops.sum(e, axis=-1, keepdims=True)
            return -keras.ops.mean(keras.ops.sum(y_true * keras.ops.log(probs + 1e-7), axis=-1))
        """, line=3, message="`exp` of `logits` overflows float32"),
        Invalid("""
        import jax.numpy as jnp
        def softplus_loss(y, logits):
            return jnp.mean(jnp.log1p(jnp.exp(logits)) - y * logits)
        """, line=3, message="hand-written softplus of `logits`"),
        Invalid("""
        from tensorflow.keras import backend as K
        def exp_loss(y_true, y_pred):
            return K.mean(K.exp(-y_pred) * y_true)
        """, line=3, message="negated raw prediction"),
        Invalid("""
        import tensorflow as tf
        @tf.custom_gradient
        def softplus_activation(z):
            e = tf.exp(z)
            def gradient(upstream):
                return upstream / (1 + 1 / e)
            return tf.math.log(e + 1), gradient
        """, line=7, message="hand-written softplus of `z`"),
    ]

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.explained: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        kind = self.ctx.kind(node)
        if kind in ("log", "log1p"):
            self._hand_written(node, kind)
        elif kind in ("exp", "expm1") and id(node) not in self.explained:
            operand = self.ctx.operand(node)
            if operand is None:
                return
            fact = self.ctx.fact(operand)
            if fact.hi == INF and fact.unbounded is not None and \
                    not self.ctx.reads_log_scale(operand) and \
                    not (self._bare_output(operand, fact) and not self._summed(node)):
                self.report(node, f"`{kind}` of `{shorten(self.ctx.text(operand))}` overflows "
                            f"float32 above 88.7: {self.ctx.explain(fact.unbounded)}")
        elif kind == "cosh":
            # `cosh(x) = (exp(x) + exp(-x)) / 2` overflows on both sides (log-cosh losses).
            operand = self.ctx.operand(node)
            fact = self.ctx.fact(operand) if operand is not None else None
            why = fact and ((fact.hi == INF and fact.unbounded) or
                            (fact.lo == -INF and fact.negative))
            if operand is not None and why:
                self.report(node, f"`cosh` of `{shorten(self.ctx.text(operand))}` overflows "
                            f"float32 beyond +-89.4: {self.ctx.explain(why)}")

    def _bare_output(self, operand: cst.BaseExpression, fact: Fact) -> bool:
        """`exp(y_pred)`, `exp(logits)`, `exp(model(x))`: the exponent is a model's output
        itself, which training keeps in range (a log-rate, a log-scale head), not a value
        arithmetic pushes past 88.7 (`-d`, `a - b`, `x / tau`)."""
        reason = fact.unbounded
        return reason is not None and isinstance(reason.node, (cst.Name, cst.Attribute,
                                                               cst.Subscript, cst.Call)) and \
            self.ctx.text(self.ctx.value_of(operand)) == self.ctx.text(reason.node)

    def _summed(self, node: cst.Call) -> bool:
        """Whether the `exp` is summed in its function (`e / e.sum()`, `exp(z) /
        sum(exp(z))`): a hand-written softmax, whose exponent needs the shift by its max."""
        scope = self.ctx.function.node if self.ctx.function else self.ctx.module
        held = {self.ctx.text(node)}
        for inner in walk(scope):
            if type(inner) is cst.Assign and inner.value is node:
                held |= {name for target in inner.targets
                         for name in assigned_names(target.target)}
        return any(type(inner) is cst.Call and self.ctx.kind(inner) == "sum" and
                   any(self.ctx.text(value) in held for value in
                       (self.ctx.operand(inner),) if value is not None)
                   for inner in walk(scope))

    def _sum_terms(self, node: cst.CSTNode | None) -> tuple[cst.CSTNode, cst.CSTNode] | None:
        """The two terms of `a + b`, `add(a, b)` or `a.add(b)`, else None."""
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return node.left, node.right
        if isinstance(node, cst.Call) and self.ctx.kind(node) == "add":
            first, second = self.ctx.operand(node, 0), self.ctx.operand(node, 1, "other")
            if first is not None and second is not None:
                return first, second
        return None

    def _hand_written(self, node: cst.Call, kind: str) -> None:
        operand = self.ctx.operand(node)
        exp_call, name = None, ""
        if kind == "log1p" and self.ctx.kind(operand) == "exp":
            exp_call, name = operand, "softplus"
        elif (terms := self._sum_terms(operand)) is not None:
            for one, other in (terms, terms[::-1]):
                other = self.ctx.value_of(other)  # also `e = exp(z); log(e + 1)`
                if self.ctx.fact(one).const == 1.0 and self.ctx.kind(other) == "exp":
                    exp_call, name = other, "softplus"
        elif self.ctx.kind(operand) == "sum":
            inner = self.ctx.operand(operand)
            if self.ctx.kind(inner) == "exp":
                exp_call, name = inner, "logsumexp"
        if exp_call is None:
            return
        exponent = self.ctx.operand(exp_call)
        if exponent is None:
            return
        fact = self.ctx.fact(exponent)
        if fact.hi > FLOAT32_MAX_EXP:
            # The pattern itself is the finding: nothing bounds the exponent, and the framework's
            # own function is always the safe rewrite.
            why = self.ctx.explain(fact.unbounded) if fact.unbounded else \
                f"nothing bounds `{shorten(self.ctx.text(exponent))}` above"
            self.explained.add(id(exp_call))
            index = self.ctx.index
            new = rewrite.softplus_of(index, exp_call, exponent) if name == "softplus" else \
                rewrite.logsumexp_of(index, operand, exponent)
            self.report(node, f"hand-written {name} of `{shorten(self.ctx.text(exponent))}`: "
                        f"`exp` overflows float32 above 88.7 ({why}); use the framework's {name}",
                        fix=rewrite.replace(node, new, f"use `{name}`"))


class FractionalPow(Rule):
    """A fractional power of a value that can be negative or zero.

    ## What it does
    Flags `pow(x, p)` / `x ** p` with a non-integer constant exponent `p` where `x` can be
    negative (the value is NaN), or, with `p < 1`, where `x` can be exactly 0 (the gradient
    `p * x ** (p - 1)` is inf; not flagged where no gradient flows: under `no_grad`, or for a
    value that reaches the loss only through `stop_gradient` or as an index).

    ## Why is this bad?
    A NaN or inf gradient at a reachable input poisons every weight at the next update.

    ## Example
    ```python
    import tensorflow as tf
    def pairwise_loss(y_true, y_pred):
        return tf.reduce_mean(tf.pow(tf.abs(y_pred - y_true), 0.5), axis=-1)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def pairwise_loss(y_true, y_pred):
        return tf.reduce_mean(tf.pow(tf.abs(y_pred - y_true) + 1e-6, 0.5), axis=-1)
    ```
    """

    code = "LL105"
    objective = True
    name = "fractional-pow"
    severity = "warning"
    probe = "zero-operand-gradient"
    hint = "add an epsilon to the base (`pow(abs(x) + 1e-6, p)`) or use an integer exponent"
    VALID = [
        # replay priorities computed in NumPy: nothing differentiates them
        Valid("""
        import numpy as np
        import torch
        def weighted_td_loss(q_values, targets, td_errors):
            scaled = np.abs(td_errors) ** 0.6
            weights = torch.from_numpy(scaled / scaled.sum())
            return torch.mean(weights * (q_values - targets) ** 2)
        """),
        Valid("""
        import torch
        def matching_weight_loss(logits, targets, labels):
            prob = logits.sigmoid()
            with torch.no_grad():
                # a matching weight: no gradient flows through the fractional power
                weight = prob[labels] ** 0.25
            return (weight * torch.nn.functional.binary_cross_entropy_with_logits(
                logits[labels], targets, reduction="none")).mean()
        """),
        Valid("""
        import torch
        class FocalLoss(torch.nn.Module):
            def forward(self, pred, true, gamma=1.5):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    pred, true, reduction="none")
                prob = torch.sigmoid(pred)
                p_t = true * prob + (1 - true) * (1 - prob)
                return (loss * (1.0 - p_t) ** gamma).mean()
        """),
        Valid("""
        import tensorflow as tf
        def pairwise_loss(y_true, y_pred):
            return tf.reduce_mean(tf.pow(tf.abs(y_pred - y_true) + 1e-6, 0.5), axis=-1)
        """),
        Valid("""
        import tensorflow as tf
        def squared_loss(y_true, y_pred):
            return tf.reduce_mean(tf.pow(y_pred - y_true, 2), axis=-1)
        """),
        Valid("""
        import torch
        def focal_loss(p, target, gamma=2.0):
            return (-(1 - p) ** gamma * target).mean()
        """),
        Valid("""
        import torch
        class TweedieLoss(torch.nn.Module):
            def forward(self, input, target, p=1.5):
                assert input.min() > 0, "predictions must be positive"
                loss = -target * input.pow(1 - p) / (1 - p) + input.pow(2 - p) / (2 - p)
                return loss.mean()
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def pairwise_loss(y_true, y_pred):
            return tf.reduce_mean(y_true * tf.pow(tf.abs(y_pred - y_true), 0.5), axis=-1)
        """, line=3, message="0.5"),
        Invalid("""
        import torch
        def root_loss(pred, target):
            return ((pred - target) ** 1.5).mean()
        """, line=3, message="negative"),
        Invalid("""
        import jax.numpy as jnp
        def root_loss(pred, target):
            return jnp.mean(jnp.power(jnp.abs(pred - target), 0.25))
        """, line=3, message="to the power 0.25"),
        Invalid("""
        import torch
        def root_loss(pred, target):
            return (pred - target).abs().pow(0.5).mean()
        """, line=3, message="`(pred - target).abs()` to the power 0.5"),
    ]

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power):
            self._check(node, node.left, node.right)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.kind(node) == "pow":
            base, exponent = self.ctx.operand(node, 0), self.ctx.operand(node, 1, "y")
            if base is not None and exponent is not None:
                self._check(node, base, exponent)

    def _check(self, node: cst.CSTNode, base: cst.CSTNode, exponent: cst.CSTNode) -> None:
        p = self.ctx.fact(exponent).const
        if p is None or float(p).is_integer():
            return
        fact = self.ctx.fact(base)
        if fact.lo < 0 and fact.negative is not None:
            why, effect = self.ctx.explain(fact.negative), "the value is NaN"
        elif p < 1 and not fact.positive and fact.zero is not None:
            why, effect = self.ctx.explain(fact.zero), "the gradient is inf at 0"
        else:
            return
        if _guarded_by_if(self.ctx, node, base):  # `assert x.min() > 0`, `if n > 0:`
            return
        self.report(node, f"`{shorten(self.ctx.text(base))}` to the power {p:g}: {why}; {effect}",
                    gradient_only=effect.startswith("the gradient"))


class EpsilonScale(Rule):
    """A guard epsilon that does not guard.

    ## What it does
    Flags the `log`, division or `sqrt` whose epsilon guard fails in float32: absorbed by a term
    of magnitude about 1 (`log(1e-10 + 1 - p)`: float32 resolves only ~6e-8 near 1, so the
    operand still reaches 0); so small that the gradient at the guarded point exceeds 1e12
    (`1/eps` for log and division, `1/(2 sqrt(eps))` for sqrt), where a gradient flows (not
    through `sigmoid`, through `p * log(p + eps)`, to labels, or to a value returned under
    `stop_gradient`); or flushed to
    0 in float16 (below ~3e-8) when the module sets a `mixed_float16` policy and calls the
    loss directly in a custom training loop (through `compile`, Keras casts predictions to
    float32), or inside a `torch.autocast` / `torch.cuda.amp.autocast` block that computes in
    float16 (not `dtype=torch.bfloat16`, a CPU autocast, or an `autocast(enabled=False)` block
    within it).

    ## Why is this bad?
    The code looks guarded and is not: the loss is still -inf/NaN, or its gradient explodes.

    ## Example
    ```python
    import tensorflow as tf
    def log_prob_loss(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(y_pred + 1e-15), axis=-1)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def log_prob_loss(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(y_pred + 1e-7), axis=-1)
    ```
    """

    code = "LL106"
    objective = True
    name = "epsilon-scale"
    severity = "warning"
    probe = "float-precision"
    replaces = ("LL101", "LL102", "LL103")
    hint = "use an epsilon of about 1e-7 (`K.epsilon()`) added to the value it guards"
    VALID = [
        # the decoder's output under a log is a probability head: through it the gradient of
        # `log(p + 1e-15)` with respect to the logits stays bounded
        Valid("""
        import torch
        EPS = 1e-15
        class GraphAutoEncoder(torch.nn.Module):
            def recon_loss(self, z, pos_edges, neg_edges):
                pos = -torch.log(self.decoder(z, pos_edges) + EPS).mean()
                neg = -torch.log(1 - self.decoder(z, neg_edges) + EPS).mean()
                return pos + neg
        """),
        # the helper applies the sigmoid: its flag is set (or left at its default) at the call
        Valid("""
        import torch
        EPS = 1e-15
        class Discriminator(torch.nn.Module):
            def score(self, z, summary, sigmoid=True):
                value = torch.matmul(z, torch.matmul(self.weight, summary))
                return torch.sigmoid(value) if sigmoid else value
            def loss(self, pos_z, neg_z, summary):
                pos = -torch.log(self.score(pos_z, summary, sigmoid=True) + EPS).mean()
                neg = -torch.log(1 - self.score(neg_z, summary) + EPS).mean()
                return pos + neg
        """),
        Valid("""
        import torch
        def train_epoch(model, loader, optimizer, scaler):
            for x, y in loader:
                with torch.cuda.amp.autocast():
                    logits = model(x)
                    with torch.cuda.amp.autocast(enabled=False):  # the loss in float32
                        p = torch.sigmoid(logits.float())
                        loss = -(y * torch.log(p + 1e-8)).mean()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        """),
        Valid("""
        import torch
        def train_epoch(model, loader, optimizer):
            for x, y in loader:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    p = torch.sigmoid(model(x))
                    loss = -(y * torch.log(p + 1e-8)).mean()
                loss.backward()
                optimizer.step()
        """),
        Valid("""
        import torch
        def distance_loss(a, b):
            return torch.sqrt(((a - b) ** 2).sum(-1) + 1e-14).mean()
        """),
        Valid("""
        import torch
        def log_loss(p, y):
            return -(y * torch.log(p + 1e-12)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def sigmoid_loss(y_true, z):
            p = tf.sigmoid(z) + 1e-15
            return -tf.reduce_mean(y_true * tf.math.log(p))
        """),
        Valid("""
        import torch
        def bce_loss(p, y):
            return -(y * torch.log(p + 1e-6) + (1 - y) * torch.log(1 - p + 1e-10)).mean()
        """),
        Valid("""
        import tensorflow as tf
        def log_prob_loss(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred + 1e-7), axis=-1)
        """),
        Valid("""
        import torch
        def bce_loss(p, y):
            return -(y * torch.log(p + 1e-6) + (1 - y) * torch.log(1 - p + 1e-6)).mean()
        """),
        Valid("""
        import keras
        class BoxDistributionLoss(keras.losses.Loss):
            def call(self, y_true, y_pred):
                targets = self._distance_targets(y_true, y_pred)
                return keras.ops.mean(keras.ops.square(y_pred[..., 4:] - targets))
            def _distance_targets(self, boxes, points):
                # regression targets: their gradient is stopped, so 1/eps never reaches it
                left = (points[..., 0] - boxes[..., 0]) / (points[..., 2] + 1e-16)
                return keras.ops.stop_gradient(left)
        """),
        Valid("""
        import torch
        def entropy_loss(probs):
            # `p * log(p + eps)`: the factor `p` vanishes with the log's gradient
            return -(probs * torch.log(probs + 1e-15)).sum(dim=1).mean()
        """),
        Valid("""
        import torch
        def sparsity_loss(M, eps=1e-15):
            return torch.mean(torch.sum(torch.mul(M, torch.log(M + eps)), dim=1))
        """),
    ]
    INVALID = [
        Invalid("""
        import torch
        def train_epoch(model, loader, optimizer, scaler):
            for x, y in loader:
                with torch.cuda.amp.autocast():
                    p = torch.sigmoid(model(x))
                    loss = -(y * torch.log(p + 1e-8)).mean()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        """, line=6, message="flushes to 0 in float16 under `autocast`"),
        Invalid("""
        import keras
        def box_distance_loss(boxes, points):
            # differentiated: 1/eps reaches the gradient where the width is 0
            left = (points[..., 0] - boxes[..., 0]) / (points[..., 2] + 1e-16)
            return keras.ops.mean(left)
        """, line=4, message="epsilon `1e-16` is too small"),
        Invalid("""
        import torch
        def clamped_bce_loss(p, y):
            p = torch.clamp(p, 1e-8, 1 - 1e-8)
            return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        """, line=4, message="epsilon `1e-8` is absorbed by `1`"),
        Invalid("""
        import torch
        def bce_loss(p, y):
            return -(y * torch.log(p + 1e-6) + (1 - y) * torch.log((1 + 1e-10) - p)).mean()
        """, line=3, message='absorbed'),
        Invalid("""
        import tensorflow as tf
        def log_prob_loss(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred + 1e-15), axis=-1)
        """, line=3, message="1e-15"),
        Invalid("""
        import torch
        def bce_loss(p, y):
            return -(y * torch.log(p) + (1 - y) * torch.log(1e-10 + 1 - p)).mean()
        """, line=3, message="absorbed"),
        Invalid("""
        import tensorflow as tf
        tf.keras.mixed_precision.set_global_policy("mixed_float16")
        def xent_loss(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred + 1e-8))
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = xent_loss(y, model(x))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                          model.trainable_variables))
        """, line=4, message="float16"),
        Invalid("""
        import tensorflow as tf
        def ratio_loss(y_true, y_pred):
            return tf.reduce_mean(y_true / (y_pred + 1e-15))
        """, line=3, message="epsilon `1e-15` is too small"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        kind = self.ctx.kind(node)
        if kind in ("log", "sqrt"):
            operand = self.ctx.operand(node)
            if operand is not None:
                self._check(node, operand, sqrt=kind == "sqrt")
        elif kind == "divide":
            parts = division_parts(self.ctx, node)
            if parts is not None:
                self._check(node, parts[1])
        elif kind == "multiply":  # `torch.mul(p, torch.log(p + eps))`
            left, right = self.ctx.operand(node, 0), self.ctx.operand(node, 1, "y")
            if left is not None and right is not None:
                self._note_entropy_term(left, right)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.right)
        elif isinstance(node.operator, cst.Multiply):
            self._note_entropy_term(node.left, node.right)

    def _note_entropy_term(self, left: cst.BaseExpression, right: cst.BaseExpression) -> None:
        """`p * log(p + eps)`: the log's gradient `1/(p + eps)` is multiplied by `p`, which
        vanishes with it at the guarded point (the derivative `log(p + eps) + p/(p + eps)` stays
        finite), so no epsilon there is too small."""
        for factor, log in ((left, right), (right, left)):
            if not (isinstance(log, cst.Call) and self.ctx.kind(log) == "log"):
                continue
            operand = self.ctx.operand(log)
            if operand is not None and any(
                    self.ctx.text(term) == self.ctx.text(factor)
                    for term in _addends(self.ctx.value_of(operand))):
                self.ctx.memo.setdefault("entropy_logs", set()).add(id(log))

    def _check(self, node: cst.CSTNode, operand: cst.CSTNode, sqrt: bool = False) -> None:
        value = self.ctx.value_of(operand)
        absorbed = self._absorbed(value) or self._absorbed_bound(value)
        if absorbed is not None:
            literal, big = absorbed
            self.report(node, f"epsilon `{literal}` is absorbed by `{big:g}` in float32 "
                        "(which resolves only ~6e-8 near 1): the operand still reaches 0")
            return
        terms = _addends(value)
        constants = [(t, self.ctx.fact(t).const) for t in terms]
        small = [(t, c) for t, c in constants if c is not None and 0 < abs(c) < 1e-3]
        # Through `sigmoid`, `softmax` or `exp` the value and its derivative vanish together:
        # the gradient of `log(sigmoid(z) + eps)` with respect to `z` stays below 1. So through
        # a model's output under a log or a division with an epsilon: a probability head.
        vanishing = any(self.ctx.fact(t).tags & _PROBABILITY_HEAD for t, c in constants
                        if c is None)
        # A value the prediction does not reach (random noise, labels) gets no gradient at all.
        vanishing = vanishing or not self.ctx.flow.carries_gradient(value, self.ctx.function) \
            or id(node) in self.ctx.memo.get("entropy_logs", ())
        for term, eps in small:
            literal = self.ctx.text(term)
            # The gradient at the guarded point: 1/eps for log and division, 1/(2 sqrt(eps))
            # for sqrt (an epsilon of 1e-12 under a sqrt bounds it by 5e5).
            gradient, formula = (0.5 / math.sqrt(abs(eps)), "1/(2 sqrt(eps))") if sqrt \
                else (1 / abs(eps), "1/eps")
            if gradient > 1e12 and eps < f32(1e-12) and not vanishing:
                self.report(node, f"epsilon `{literal}` is too small: the gradient {formula} "
                            f"reaches {gradient:.0e} at the guarded point", gradient_only=True)
                return
            if eps < 3e-8 and self._float16_training():
                self.report(node, f"epsilon `{literal}` flushes to 0 in float16 under the "
                            "module's `mixed_float16` policy when the loss is called directly")
                return
            if eps < 3e-8 and self._under_autocast(node):
                self.report(node, f"epsilon `{literal}` flushes to 0 in float16 under "
                            "`autocast`: the guarded value is computed in float16")
                return

    def _under_autocast(self, node: cst.CSTNode) -> bool:
        """Whether `node` runs in a `with torch.autocast(...)` (or `torch.cuda.amp.autocast()`)
        block that computes in float16 (the default on GPU; not `dtype=torch.bfloat16`)."""
        inside = self.ctx.memo.get("autocast_nodes")
        if inside is None:
            found: set[int] = set()
            disabled: set[int] = set()  # `autocast(enabled=False)` nested in an enabled block
            for block in walk(self.ctx.module):
                if type(block) is not cst.With:
                    continue
                calls = [item.item for item in block.items if isinstance(item.item, cst.Call)
                         and self.ctx.kind(item.item) == "autocast"]
                if any(_float16_autocast(call) for call in calls):
                    found.update(id(n) for n in walk(block.body))
                elif calls:  # `autocast(enabled=False)`, a bfloat16 or a CPU one
                    disabled.update(id(n) for n in walk(block.body))
            inside = self.ctx.memo["autocast_nodes"] = frozenset(found - disabled)
        return id(node) in inside  # type: ignore[operator]

    def _float16_training(self) -> bool:
        index, function = self.ctx.index, self.ctx.function
        if not index.mixed_float16 or function is None or self.ctx.is_keras_loss(function):
            return False
        return any(function.name in caller.calls and (caller.trains or caller is not function)
                   for caller in index.functions)


    def _absorbed_bound(self, node: cst.CSTNode) -> tuple[str, float] | None:
        """`1 - p` where `p` was clipped to `1 - eps` and `1 - eps` rounds to 1 in float32
        (`clamp(p, 1e-8, 1 - 1e-8)`): the clip does not keep the complement above 0."""
        if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract)):
            return None
        big = self.ctx.fact(node.left).const
        clipped = self.ctx.value_of(node.right)
        if big is None or not isinstance(clipped, cst.Call) or self.ctx.kind(clipped) != "clip":
            return None
        bound = positional(clipped, 2)
        for name in ("max", "a_max", "clip_value_max", "max_value"):
            bound = keyword(clipped, name) or bound
        if bound is None or self.ctx.fact(bound).const != big:
            return None
        return self._absorbed(bound)

    def _absorbed(self, node: cst.CSTNode) -> tuple[str, float] | None:
        """An epsilon folded into a constant of magnitude about 1 before it meets the value:
        `eps + 1 - p` and `(1 + eps) - p` are absorbed; in `1 - p + eps` the epsilon guards."""
        if not isinstance(node, cst.BinaryOperation) or \
                not isinstance(node.operator, (cst.Add, cst.Subtract)):
            return None
        left, right = self.ctx.fact(node.left).const, self.ctx.fact(node.right).const
        if left is not None and right is not None:
            for eps_node, eps, big in ((node.left, left, right), (node.right, right, left)):
                if 0 < abs(eps) < 1e-3 <= abs(big) and f32(big + eps) == f32(big):
                    return self.ctx.text(eps_node), big
            return None
        return self._absorbed(node.left) or self._absorbed(node.right)


# Values whose derivative vanishes with the value (an epsilon beside them bounds nothing).
_VANISHING_DERIVATIVE = frozenset({"sigmoid", "softmax", "exp", "one_minus_sigmoid"})
# A model's output under a log or a division with an epsilon: a probability head.
_PROBABILITY_HEAD = _VANISHING_DERIVATIVE | {"model_output"}


def _float16_autocast(call: cst.Call) -> bool:
    """Whether an autocast block (`torch.autocast("cuda")`, `torch.cuda.amp.autocast()`)
    computes in float16: not `enabled=False`, a bfloat16 `dtype` or a CPU one."""
    enabled = keyword(call, "enabled")
    if isinstance(enabled, cst.Name) and enabled.value == "False":
        return False
    device = keyword(call, "device_type") or positional(call, 0)
    if device is not None and isinstance(device, cst.SimpleString) and "cpu" in device.value:
        return False  # a CPU autocast computes in bfloat16 by default
    dtype = keyword(call, "dtype")
    return dtype is None or "float16" in (dotted(dtype) or "") and \
        "bfloat16" not in (dotted(dtype) or "")


def _addends(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The terms of a sum, `a + b - c` -> [a, b, c] (signs do not matter for the epsilon scale)."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Subtract)):
        return _addends(node.left) + _addends(node.right)
    return [node]


class LogOfProbability(Rule):
    """`log` of a softmax or sigmoid output.

    ## What it does
    Flags `log` of a value that the local data flow shows is a `softmax` / `sigmoid` output,
    or `1 - sigmoid(...)`, with no effective guard. `log(y_pred)` on an unknown input is LL101;
    `log(p + 1e-7)` is guarded.

    ## Why is this bad?
    In float32 `softmax` and `sigmoid` saturate to exactly 0 or 1 for logits beyond about
    ±17 (sigmoid) or a spread of ~100 (softmax); the log is then -inf and the loss NaN. The
    fused forms compute the same value stably from the logits.

    ## Example
    ```python
    import tensorflow as tf
    def softmax_then_log_loss(y_true, logits):
        probs = tf.nn.softmax(logits)
        return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def softmax_then_log_loss(y_true, logits):
        return -tf.reduce_sum(y_true * tf.nn.log_softmax(logits), axis=-1)
    ```
    or the framework's cross-entropy with `from_logits=True`.
    """

    code = "LL107"
    objective = True
    name = "log-of-probability"
    probe = "saturated-logits"
    replaces = ("LL101",)
    hint = "use `log_softmax` / `log_sigmoid`, or a cross-entropy with `from_logits=True`"
    VALID = [
        # the probability of the action the policy sampled is never exactly 0
        Valid("""
        import tensorflow as tf
        class PolicyEstimator:
            def __init__(self, n_states, n_actions):
                self.state = tf.placeholder(tf.int32, [], "state")
                self.action = tf.placeholder(tf.int32, name="action")
                self.target = tf.placeholder(tf.float32, name="target")
                state_one_hot = tf.one_hot(self.state, n_states)
                logits = tf.layers.dense(tf.expand_dims(state_one_hot, 0), n_actions)
                self.action_probs = tf.squeeze(tf.nn.softmax(logits))
                self.picked_action_prob = tf.gather(self.action_probs, self.action)
                self.loss = -tf.log(self.picked_action_prob) * self.target
                self.train_op = tf.train.AdamOptimizer(0.01).minimize(self.loss)
        """),
        Valid("""
        import tensorflow as tf
        def xent_loss(y_true, logits):
            return -tf.reduce_sum(y_true * tf.nn.log_softmax(logits), axis=-1)
        """),
        Valid("""
        import tensorflow as tf
        def xent_loss(y_true, logits):
            probs = tf.nn.softmax(logits)
            return -tf.reduce_sum(y_true * tf.math.log(probs + 1e-7), axis=-1)
        """),
        Valid("""
        import torch
        def bce_loss(logits, y):
            p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
            return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        """),
    ]
    INVALID = [
        # the head a graph-building method returns in a tuple, built under variable scopes
        Invalid("""
        import tensorflow as tf
        class ActorCritic:
            def __init__(self, n_states, n_actions):
                self.s = tf.placeholder(tf.float32, [None, n_states])
                self.a = tf.placeholder(tf.int32, [None])
                self.v_target = tf.placeholder(tf.float32, [None, 1])
                self.a_prob, self.v = self._build_net(n_actions)
                td = self.v_target - self.v
                picked = tf.reduce_sum(tf.log(self.a_prob) * tf.one_hot(self.a, n_actions), 1)
                self.a_loss = -tf.reduce_mean(picked * tf.stop_gradient(td))
                self.a_grads = tf.gradients(self.a_loss, tf.trainable_variables())
            def _build_net(self, n_actions):
                with tf.variable_scope("actor"):
                    hidden = tf.layers.dense(self.s, 64, tf.nn.relu6)
                    a_prob = tf.layers.dense(hidden, n_actions, tf.nn.softmax)
                with tf.variable_scope("critic"):
                    v = tf.layers.dense(tf.layers.dense(self.s, 64, tf.nn.relu6), 1)
                return a_prob, v
        """, line=9, message="log of `self.a_prob`, a softmax output"),
        # a functional layer applies its activation (by position in TensorFlow 1), also
        # through the helper that builds the policy head
        Invalid("""
        import tensorflow as tf
        def policy_head(state, n_actions):
            hidden = tf.layers.dense(state, 64, tf.nn.relu)
            return tf.layers.dense(hidden, n_actions, tf.nn.softmax)
        state = tf.placeholder(tf.float32, [None, 8])
        action = tf.placeholder(tf.int32, [None])
        advantage = tf.placeholder(tf.float32, [None])
        probs = policy_head(state, 4)
        picked = tf.reduce_sum(tf.log(probs) * tf.one_hot(action, 4), axis=1)
        actor_loss = -tf.reduce_mean(picked * advantage)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(actor_loss)
        """, line=9, message="log of `probs` (`policy_head(state, 4)`), a softmax output"),
        Invalid("""
        import tensorflow as tf
        class Classifier:
            def build(self, x, y, w):
                self.probs = tf.nn.softmax(tf.matmul(x, w))
                self.cost = -tf.reduce_mean(tf.reduce_sum(y * tf.log(self.probs), axis=1))
                self.train_op = tf.train.AdamOptimizer(1e-3).minimize(self.cost)
        """, line=5, message="log of `self.probs`"),
        Invalid("""
        import torch
        import torch.nn as nn
        def softmax_nll_loss(z, y):
            sm = nn.Softmax(dim=1)
            return -(y * torch.log(sm(z))).sum(1).mean()
        """, line=5, message='softmax output'),
        Invalid("""
        import tensorflow as tf
        def softmax_then_log_loss(y_true, logits):
            probs = tf.nn.softmax(logits)
            return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)
        """, line=4, message="softmax"),
        Invalid("""
        import tensorflow as tf
        def focal_loss(y_true, y_pred, gamma=2.0):
            y_pred = tf.nn.sigmoid(y_pred)
            return -y_true * tf.math.log(y_pred) - (1 - y_true) * tf.math.log(1 - y_pred)
        """, line=4, message="1 - sigmoid(...), which saturates"),
        Invalid("""
        import torch
        def weighted_bce_loss(pred, target):
            pred = torch.sigmoid(pred)
            return -(target * torch.log(pred) + (1 - target) * torch.log(1 - pred)).mean()
        """, line=4, message="sigmoid"),
        Invalid("""
        import keras
        def xent_loss(y_true, logits):
            return -keras.ops.sum(y_true * keras.ops.log(keras.ops.softmax(logits)))
        """, line=3, fixed="""
        import keras
        def xent_loss(y_true, logits):
            return -keras.ops.sum(y_true * keras.ops.log_softmax(logits))
        """, message="log of `keras.ops.softmax(logits)`, a softmax output"),
        Invalid("""
        import jax
        import jax.numpy as jnp
        def xent_loss(labels, logits):
            return -jnp.sum(labels * jnp.log(jax.nn.softmax(logits)))
        """, line=4, fixed="""
        import jax
        import jax.numpy as jnp
        def xent_loss(labels, logits):
            return -jnp.sum(labels * jax.nn.log_softmax(logits))
        """, message="log of `jax.nn.softmax(logits)`, a softmax output"),
        Invalid("""
        import torch
        def xent_loss(logits, target):
            return -(target * logits.softmax(dim=1).log()).sum()
        """, line=3, fixed="""
        import torch
        def xent_loss(logits, target):
            return -(target * logits.log_softmax(dim=1)).sum()
        """, message="log of `logits.softmax(dim=1)`, a softmax output"),
        Invalid("""
        import tensorflow as tf
        def bce_loss(y_true, logits):
            return -tf.reduce_mean(y_true * tf.math.log(tf.sigmoid(logits)))
        """, line=3, fixed="""
        import tensorflow as tf
        def bce_loss(y_true, logits):
            return -tf.reduce_mean(y_true * tf.math.log_sigmoid(logits))
        """, message="log of `tf.sigmoid(logits)`, a sigmoid output"),
        Invalid("""
        import torch.nn.functional as F
        def xent_loss(logits, target):
            return -(target * F.softmax(logits, dim=1).log()).sum()
        """, line=3, fixed="""
        import torch.nn.functional as F
        def xent_loss(logits, target):
            return -(target * F.log_softmax(logits, dim=1)).sum()
        """, message="log of `F.softmax(logits, dim=1)`, a softmax output"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.kind(node) != "log":
            return
        operand = self.ctx.operand(node)
        if operand is None:
            return
        fact = self.ctx.fact(operand)
        kinds = ("one_minus_sigmoid", "softmax", "sigmoid")
        kind = next((k for k in kinds if k in fact.tags), None)
        if kind is None or fact.log_hazard() is None:
            return
        what = "1 - sigmoid(...)" if kind == "one_minus_sigmoid" else f"a {kind} output"
        source = self.ctx.value_of(operand)
        origin = f" (`{shorten(self.ctx.text(source), 50)}`)" if source is not operand else ""
        new = None
        if isinstance(operand, cst.Call) and self.ctx.kind(operand) == "softmax":
            new = rewrite.log_softmax_of(self.ctx.index, operand)
        elif isinstance(operand, cst.Call) and self.ctx.kind(operand) == "sigmoid":
            new = rewrite.log_sigmoid_of(self.ctx.index, operand)
        self.report(node, f"log of `{shorten(self.ctx.text(operand))}`{origin}, {what}, which "
                    "saturates to exactly 0 in float32 (log = -inf)",
                    fix=rewrite.replace(node, new, f"use `log_{kind}`"))


class WhereNanGradient(Rule):
    """An unsafe operation inside a branch of `where` that the condition is meant to avoid.

    ## What it does
    Flags a `log`, division or `sqrt` inside a branch of `tf.where` / `jnp.where` /
    `torch.where` whose operand can reach its bad point, when the condition tests that same
    value. The fix, guarding the operand itself with an inner `where` (the "double where"), is
    not flagged.

    ## Why is this bad?
    `where` selects values, not gradients: both branches are differentiated, and the
    unselected branch's inf gradient times 0 is NaN. The forward value looks fine; training
    gets NaN weights.

    ## Example
    ```python
    import tensorflow as tf
    def distance_loss(y_true, y_pred):
        d = tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
        return tf.where(d > 0, tf.sqrt(d), tf.zeros_like(d))
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def distance_loss(y_true, y_pred):
        d = tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
        safe_d = tf.where(d > 0, d, tf.ones_like(d))
        return tf.where(d > 0, tf.sqrt(safe_d), tf.zeros_like(d))
    ```
    """

    code = "LL109"
    objective = True
    gradient_only = True
    name = "where-nan-gradient"
    probe = "zero-operand-gradient"
    replaces = ("LL101", "LL102", "LL103")
    hint = "guard the operand itself with an inner `where` (the double-where trick)"
    VALID = [
        Valid("""
        import tensorflow as tf
        def target_log_loss(y_pred, targets):
            t = tf.where(targets > 0, tf.math.log(targets), tf.zeros_like(targets))
            return tf.reduce_mean(tf.square(t - y_pred))
        """),
        Valid("""
        import tensorflow as tf
        def distance_loss(y_true, y_pred):
            d = tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
            safe_d = tf.where(d > 0, d, tf.ones_like(d))
            return tf.where(d > 0, tf.sqrt(safe_d), tf.zeros_like(d))
        """),
        Valid("""
        import torch
        def ratio_loss(pred, target):
            safe = torch.where(target != 0, target, torch.ones_like(target))
            return torch.where(target != 0, pred / safe, pred).mean()
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def distance_loss(y_true, y_pred):
            d = tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
            return tf.where(d > 0, tf.sqrt(d), tf.zeros_like(d))
        """, line=4, message="`d`"),
        Invalid("""
        import jax.numpy as jnp
        def safe_log_loss(p, y):
            return -jnp.mean(jnp.where(p > 0, y * jnp.log(p), 0.0))
        """, line=3, message="`jnp.log(p)` inside `where`"),
        Invalid("""
        import torch
        def ratio_loss(pred, target):
            return torch.where(target != 0, pred / target, pred).mean()
        """, line=3, message="`pred / target` inside `where`"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        for inner, operand, why in where_guarded(self.ctx, node):
            # Only a value the prediction reaches gets a gradient: a `log` of labels alone
            # inside `where` has no NaN gradient to hide.
            if self.ctx.flow.carries_gradient(inner, self.ctx.function):
                self.report(inner, f"`{shorten(self.ctx.text(inner))}` inside `where`: "
                            f"`{shorten(self.ctx.text(operand), 40)}` can reach its bad point "
                            f"({why}); the condition hides the value, not the NaN gradient")


# --- the hazards, asked by several rules of this family -------------------------------------

def where_guarded(ctx: FileContext, node: cst.Call
                  ) -> list[tuple[cst.CSTNode, cst.CSTNode, str]]:
    """The unsafe operations inside the branches of `where(cond, a, b)` whose operand `cond`
    tests: (operation, operand, why). Their forward value is hidden by the condition (so LL101,
    LL102 and LL103 stay quiet there); their gradient is not (LL109)."""
    if ctx.kind(node) != "where":
        return []
    condition = ctx.operand(node, 0)
    if condition is None:
        return []
    tested = _tested_names(ctx, condition)
    found = []
    for index in (1, 2):
        branch = ctx.operand(node, index)
        if branch is None:
            continue
        for inner in walk(branch):
            hazard = _unsafe(ctx, inner)
            if hazard is None:
                continue
            operand, why = hazard
            if {n.value for n in walk(operand) if isinstance(n, cst.Name)} & tested:
                found.append((inner, operand, why))
    return found


def _tested_names(ctx: FileContext, condition: cst.CSTNode) -> set[str]:
    """The names a `where` condition tests, also through a mask it names
    (`valid = y_true >= eps; where(valid, log(y_true), 0)` tests `y_true`)."""
    modules = ctx.index.imports
    body = ctx.definitions.body(ctx.function)  # (the module's statements outside functions)
    tested: set[str] = set()
    for name in walk(condition):
        if not isinstance(name, cst.Name) or name.value in modules:
            continue
        tested.add(name.value)
        # every assignment of the mask in the function (`if ...: valid = a >= eps` / `else:`)
        for binding in body.defs.get(name.value, ()):
            if binding.plain is not None:
                tested |= {n.value for n in walk(binding.plain)
                           if isinstance(n, cst.Name) and n.value not in modules}
    return tested


_EXP_NORMALISERS = ("logsumexp", "softmax", "log_softmax")


def _additive_mask(ctx: FileContext, node: cst.CSTNode, operand: cst.CSTNode) -> bool:
    """Whether `node`, the log of a value no gradient reaches (labels, a mask), is an additive
    mask: its value, through names, reaches a `logsumexp` or `softmax`
    (`logsumexp(scores + log(y_true))`). There a -inf entry weighs exp(-inf) = 0, on purpose:
    the entries the labels rule out drop from the sum, in the value and the gradient."""
    function = ctx.function
    if function is None or ctx.flow.carries_gradient(operand, function):
        return False
    holders: set[int | str] = {id(node)}

    def normalised(value: cst.CSTNode) -> bool:
        for call in walk(value):
            if type(call) is cst.Call and ctx.kind(call) in _EXP_NORMALISERS:
                inner = ctx.operand(call, 0)
                if inner is not None and any(
                        id(n) in holders or type(n) is cst.Name and n.value in holders
                        for n in walk(inner)):
                    return True
        return False

    assignments = [n for n in walk(function.node.body)
                   if type(n) in (cst.Assign, cst.Return) and n.value is not None]
    for _ in range(4):
        grown = False
        for statement in assignments:
            if not any(id(n) in holders or type(n) is cst.Name and n.value in holders
                       for n in walk(statement.value)):
                continue
            if normalised(statement.value):
                return True
            if type(statement) is cst.Assign:
                for target in statement.targets:
                    for name in assigned_names(target.target):
                        if name not in holders:
                            holders.add(name)
                            grown = True
        if not grown:
            return False
    return False


def _hidden_by_where(ctx: FileContext, node: cst.CSTNode, operand: cst.CSTNode) -> bool:
    """Whether `node`, an unsafe operation on `operand`, sits in a branch of a `where` whose
    condition tests a name of the operand (what the condition hides: see `where_guarded`).
    Where each operation sits is structural, so found once per module, only when some
    operation is unsafe; what a condition tests is read at the operation (a mask it names is
    bound before it)."""
    conditions = ctx.memo.get("where_conditions")
    if conditions is None:
        found: dict[int, tuple[cst.CSTNode, ...]] = {}
        for call in walk(ctx.module):
            if type(call) is not cst.Call or ctx.kind(call) != "where":
                continue
            condition = ctx.operand(call, 0)
            if condition is None:
                continue
            for index in (1, 2):
                branch = ctx.operand(call, index)
                for inner in walk(branch) if branch is not None else ():
                    found[id(inner)] = found.get(id(inner), ()) + (condition,)
        conditions = ctx.memo["where_conditions"] = found
    names = {n.value for n in walk(operand) if isinstance(n, cst.Name)}
    return any(names & _tested_names(ctx, condition)
               for condition in conditions.get(id(node), ()))  # type: ignore[union-attr]


# What `except` catches a division by zero with: Python's own numbers raise it (`safe_div` of a
# gradient scaler's scale), and a handler that catches everything catches it too.
_DIVISION_ERRORS = frozenset({"ZeroDivisionError", "ArithmeticError", "FloatingPointError",
                              "Exception", "BaseException"})


def _division_caught(ctx: FileContext, node: cst.CSTNode) -> bool:
    """Whether `node` runs in the body of a `try` whose handlers catch a division by zero
    (`try: return n / d` `except ZeroDivisionError: ...`): the author handles the 0."""
    caught = ctx.memo.get("division_caught")
    if caught is None:
        found: set[int] = set()
        for statement in walk(ctx.module):
            if type(statement) is cst.Try and any(
                    handler.type is None or {dotted(n) for n in walk(handler.type)
                                             if type(n) in (cst.Name, cst.Attribute)}
                    & _DIVISION_ERRORS for handler in statement.handlers):
                found.update(id(inner) for inner in walk(statement.body))
        caught = ctx.memo["division_caught"] = frozenset(found)
    return id(node) in caught  # type: ignore[operator]


def _nonfinite_handled(ctx: FileContext, node: cst.CSTNode) -> bool:
    """Whether the inf (or NaN) `node` can make is handled after it: its value is bound to a
    name the module then checks for infinities (`w = 1 / counts` ... `w[torch.isinf(w)] = 0`),
    in its function or, when its function returns it, at a call site (`w = self.weights(n)`);
    or, carrying no gradient, a `where` then replaces it
    (`t = log(y_true / anchors)` ... `t = switch(object_mask, t, zeros_like(t))`)."""
    function = ctx.function
    if function is None:
        return False
    checked = ctx.memo.get("nonfinite_checked")
    if checked is None:
        checked = ctx.memo["nonfinite_checked"] = frozenset(
            name.value for call in walk(ctx.module) if type(call) is cst.Call and
            (dotted(call.func) or "").rpartition(".")[2] in ops.NONFINITE_CHECKS
            for name in walk(call) if type(name) is cst.Name)

    def bound_names(body: cst.CSTNode, value: cst.CSTNode) -> set[str]:
        return {name for statement in walk(body) if type(statement) is cst.Assign and
                any(n is value for n in walk(statement.value))
                for target in statement.targets for name in assigned_names(target.target)}

    names = bound_names(function.node.body, node)
    if names & checked:
        return True
    if names and not ctx.flow.carries_gradient(node, function) and any(
            type(statement) is cst.Assign and ctx.kind(statement.value) == "where" and
            names & {n for t in statement.targets for n in assigned_names(t.target)} and
            any(ctx.text(branch) in names for branch in (
                ctx.operand(statement.value, 1), ctx.operand(statement.value, 2))
                if branch is not None)
            for statement in walk(function.node.body)):
        return True
    returned = any(any(n is node for n in walk(value)) for value in function.returned)
    return bool(checked) and returned and any(
        bound_names(caller.node.body if caller else ctx.module, call) & checked
        for call, caller in ctx.index.call_sites.get(function.name, []))


def _guarded_by_if(ctx: FileContext, node: cst.CSTNode, operand: cst.CSTNode) -> bool:
    """Whether `node` runs only where an enclosing test proves its operand (or the value a
    name of it holds) away from 0: an `if` (`if divisor != 0:`, `if n > 0:`, `if count:`, the
    `else` of `if n == 0:`), a conditional expression (`x / n if n > 0 else 0`), or the
    branch functions of a graph conditional (`tf.cond(n > 0, lambda: x / n, lambda: 0.0)`);
    `any(mask)` proves the count of `mask` (`sum(cast(mask))`) away from 0. The bad point is
    never reached, in the value or the gradient. Structural, computed once per module when a
    hazard is found."""
    guards = ctx.memo.get("if_guards")
    if guards is None:
        found: dict[int, frozenset[str]] = {}

        def guard(nodes: list[cst.CSTNode], proven: frozenset[str]) -> None:
            for node in nodes:
                for inner in walk(node):
                    found[id(inner)] = found.get(id(inner), frozenset()) | proven

        for statement in walk(ctx.module):
            if type(statement) is cst.If:
                guard([statement.body], _nonzero_when(ctx, statement.test))
                if statement.orelse is not None:
                    guard([statement.orelse], _nonzero_unless(ctx, statement.test))
            elif type(statement) is cst.IfExp:
                guard([statement.body], _nonzero_when(ctx, statement.test))
                guard([statement.orelse], _nonzero_unless(ctx, statement.test))
            elif type(statement) is cst.Call and ctx.kind(statement) == "cond":
                test = ctx.argument(statement, 0, "pred")
                branches = (ctx.argument(statement, 1, "true_fn"),
                            ctx.argument(statement, 2, "false_fn"))
                if test is not None:
                    guard([_branch_body(ctx, branches[0])], _nonzero_when(ctx, test))
                    guard([_branch_body(ctx, branches[1])], _nonzero_unless(ctx, test))
            elif type(statement) is cst.IndentedBlock:
                # `if n == 0: return ...` guards what follows it in the block
                # `assert (n == 0).sum() == 0`: and so does a precondition asserted
                for position, inner in enumerate(statement.body):
                    if type(inner) is cst.If and inner.orelse is None and leaves(inner.body):
                        guard(list(statement.body[position + 1:]),
                              _nonzero_unless(ctx, inner.test))
                    elif type(inner) is cst.SimpleStatementLine:
                        for small in inner.body:
                            if type(small) is cst.Assert:
                                guard(list(statement.body[position + 1:]),
                                      _nonzero_when(ctx, small.test))
        guards = ctx.memo["if_guards"] = found
    proven = guards.get(id(node), frozenset())  # type: ignore[union-attr]
    if not proven:
        return False
    for value in (operand, ctx.value_of(operand)):
        if ctx.text(value) in proven:
            return True
        counted = _counted(ctx, value)
        if counted is not None and f"any:{ctx.text(counted)}" in proven:
            return True
    return False


def _branch_body(ctx: FileContext, branch: cst.BaseExpression | None) -> cst.CSTNode:
    """What a branch of a graph conditional runs: a lambda's body, or the body of the function
    a name calls (one definition in the module); else nothing."""
    if isinstance(branch, cst.Lambda):
        return branch.body
    if isinstance(branch, cst.Name):
        defined = [f for f in ctx.index.functions if f.name == branch.value]
        if len(defined) == 1:
            return defined[0].node.body
    return cst.Pass()


def _uncast(ctx: FileContext, node: cst.BaseExpression | None,
            kinds: tuple[str, ...] = ("cast", "identity")) -> cst.BaseExpression | None:
    """`m` of `tf.cast(m, tf.float32)`, `m.float()`, `m.to(x)` (and of `kinds` more)."""
    while isinstance(node, cst.Call) and ctx.kind(node) in kinds:
        node = ctx.operand(node, 0)
    return node


def _counted(ctx: FileContext, operand: cst.CSTNode) -> cst.BaseExpression | None:
    """The mask a count counts: `m` of `sum(cast(m, float))`, `m.float().sum()`,
    `count_nonzero(m)`."""
    if not isinstance(operand, cst.Call) or ctx.kind(operand) not in ("sum", "size"):
        return None
    return _uncast(ctx, ctx.operand(operand, 0))


def _zeros_counted(ctx: FileContext, count: cst.BaseExpression) -> str | None:
    """`n` of a count of the zeros of `n`: `(n == 0).sum()`, or `.item()` of it."""
    count = _uncast(ctx, count, ("item", "identity", "cast"))
    counted = _counted(ctx, count) if count is not None else None
    if isinstance(counted, cst.Comparison) and len(counted.comparisons) == 1 and \
            isinstance(counted.comparisons[0].operator, cst.Equal) and \
            number(counted.comparisons[0].comparator) == 0:
        return ctx.text(counted.left)
    return None


def _nonzero_unless(ctx: FileContext, test: cst.BaseExpression) -> frozenset[str]:
    """What a test proves nonzero where it fails (its `else`), as code: `x == 0`, `not x`,
    `mask.sum() == 0`, `tf.equal(n, 0)`."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return frozenset({ctx.text(test.expression)})
    compared = ctx.compared(test)
    if compared is not None and compared[1] == "==":
        left, _, right = compared
        if number(right) == 0:
            return frozenset({ctx.text(left)})
        if number(left) == 0:
            return frozenset({ctx.text(right)})
    return frozenset()


def _nonzero_when(ctx: FileContext, test: cst.BaseExpression) -> frozenset[str]:
    """What a test proves nonzero where it holds, as code: `x != 0`, `x > 0`, `x >= 1`,
    `0 < x`, `tf.greater(x, 0)`, `x` alone (any expression: `n_valid.sum() > 0`), also under
    `and`; `any:<m>` for `any(m)` (`tf.reduce_any(m)`, `m.any()`): some element of `m` is
    nonzero, so its count is not 0. A least element above 0 (`x.min() > 0`) proves every
    element of `x` nonzero."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _nonzero_when(ctx, test.left) | _nonzero_when(ctx, test.right)
    if isinstance(test, cst.Name):
        return frozenset({test.value})
    if isinstance(test, cst.Call) and ctx.kind(test) == "any":
        mask = _uncast(ctx, ctx.operand(test, 0))
        return frozenset({f"any:{ctx.text(mask)}"}) if mask is not None else frozenset()
    compared = ctx.compared(test)
    if compared is None:
        return frozenset()
    left, operator, right = compared
    zeros = _zeros_counted(ctx, left)
    if zeros is not None and operator == "==" and number(right) == 0:
        return frozenset({zeros})  # `(n == 0).sum() == 0`: no element of `n` is 0
    bound = _bound(ctx, right)
    if bound is not None and (operator == "!=" and bound == 0 or operator == ">" and bound >= 0
                              or operator == ">=" and bound > 0):
        return _with_least(ctx, left)
    bound = _bound(ctx, left)
    if bound is not None and (operator == "!=" and bound == 0 or operator == "<" and bound >= 0):
        return _with_least(ctx, right)
    return frozenset()


def _with_least(ctx: FileContext, positive: cst.BaseExpression) -> frozenset[str]:
    """A value proven above 0, and the tensor whose least element it is (`x` of `x.min()`,
    `torch.min(x)`, `tf.reduce_min(x)`): every element of that tensor is above 0 too."""
    proven = {ctx.text(positive)}
    if isinstance(positive, cst.Call) and ctx.kind(positive) == "min" and \
            ctx.operand(positive, 1) is None:
        tensor = ctx.operand(positive, 0)
        if tensor is not None:
            proven.add(ctx.text(tensor))
    return frozenset(proven)


def _bound(ctx: FileContext, side: cst.BaseExpression) -> float | None:
    """The number a test compares with: a literal, or a name holding a constant
    (`if denom > eps:` with `eps = 1e-10`)."""
    value = number(side)
    if value is None and isinstance(side, cst.Name):
        value = ctx.fact(side).const
    return value


def _unsafe(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, str] | None:
    hazard = _log_hazard(ctx, node)
    if hazard is not None:
        return hazard[0], hazard[1]
    hazard_sqrt = _sqrt_hazard(ctx, node)
    if hazard_sqrt is not None:
        return hazard_sqrt
    parts = division_parts(ctx, node)
    if parts is not None:
        reason = division_hazard(ctx, *parts)
        if reason is not None:
            return parts[1], reason
    return None


def log_hazard(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, str, str] | None:
    """For a `log`/`log1p` call whose operand can reach the bad point, where no `where`
    condition hides it: (operand, why, effect)."""
    hazard = _log_hazard(ctx, node)
    return None if hazard is None or _hidden_by_where(ctx, node, hazard[0]) or \
        _guarded_by_if(ctx, node, hazard[0]) or _additive_mask(ctx, node, hazard[0]) \
        else hazard


def sqrt_hazard(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, str] | None:
    """For `sqrt`/`norm` of a value that can be exactly 0, not hidden by `where`."""
    hazard = _sqrt_hazard(ctx, node)
    return None if hazard is None or _hidden_by_where(ctx, node, hazard[0]) or \
        _guarded_by_if(ctx, node, hazard[0]) else hazard

def _log_hazard(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, str, str] | None:
    kind = ctx.kind(node)
    if kind not in ("log", "log1p"):
        return None
    operand = ctx.operand(node)
    if operand is None:
        return None
    fact = ctx.fact(operand)
    if kind == "log1p":
        if fact.lo > -1 or fact.negative is None:
            return None
        return operand, ctx.explain(fact.negative), "`log1p` is NaN below -1"
    reason = fact.log_hazard()
    if reason is None:
        return None
    effect = "log(0) = -inf" if reason is fact.zero else "log of a negative value is NaN"
    return operand, ctx.explain(reason), effect


def division_parts(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, cst.CSTNode] | None:
    """(numerator, denominator) of a division expression or call."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        return node.left, node.right
    if ctx.kind(node) == "divide":
        numerator, denominator = ctx.operand(node, 0), ctx.operand(node, 1, "y")
        if numerator is not None and denominator is not None:
            return numerator, denominator
    return None


def division_hazard(ctx: FileContext, numerator: cst.CSTNode | None,
                    denominator: cst.CSTNode) -> str | None:
    """Why the denominator can be structurally 0, unless it renormalises the numerator (None:
    the numerator is 1)."""
    reason = ctx.fact(denominator).division_hazard()
    if reason is None or numerator is not None and _renormalization(ctx, numerator, denominator):
        return None
    return ctx.explain(reason)


def _renormalization(ctx: FileContext, numerator: cst.CSTNode, denominator: cst.CSTNode) -> bool:
    """`p / sum(p, ...)`: renormalising a value by its own sum, unless it cancels."""
    denominator = ctx.value_of(denominator)
    if not isinstance(denominator, cst.Call) or ctx.kind(denominator) not in ("sum", "mean", "max"):
        return False
    inner = ctx.operand(denominator)
    if inner is None or ctx.text(inner) != ctx.text(numerator):
        return False
    tags = ctx.fact(numerator).tags
    return "difference" not in tags and "error" not in tags


# Of those, the ones that reach 0 only by underflow past any trained range: `sqrt(sigmoid(z))`
# has the bounded gradient `sqrt(s) (1 - s) / 2`, infinite only where the sigmoid underflows to
# exactly 0 (z < -100). Not `exp`: a log-variance does drift there (`exp(log_var) ** 0.5`).
_SATURATING = _VANISHING_DERIVATIVE - {"exp"}


def _sqrt_hazard(ctx: FileContext, node: cst.CSTNode) -> tuple[cst.CSTNode, str] | None:
    kind = ctx.kind(node)
    if kind not in ("sqrt", "norm", "acos", "atanh", "stddev"):
        return None
    operand = ctx.operand(node)
    if operand is None:
        return None
    fact = ctx.fact(operand)
    if kind == "stddev":
        # `reduce_std(x)` is `sqrt(variance(x))`: the variance of a constant `x` is 0.
        if fact.const is not None:
            return None
        return operand, (f"the variance of `{shorten(ctx.text(operand))}` is 0 when all its "
                         "values are equal")
    if kind in ("acos", "atanh"):
        # `acos(x)`, `asin(x)`: the gradient -1/sqrt(1 - x**2) is inf at +-1, which a cosine of
        # two equal (or opposite) vectors reaches, and rounding takes it past (NaN); `atanh(x)`
        # is inf there too, and a `tanh` saturates to exactly +-1 in float32 (|x| > 9).
        what = "a cosine" if "cosine" in fact.tags else "a tanh output" if "tanh" in fact.tags \
            else "an input, a cosine by `acos`'s contract," if kind == "acos" and \
            "input" in fact.tags else None
        if what is None or -1 < fact.lo and fact.hi < 1:
            return None
        return operand, f"`{shorten(ctx.text(operand))}` is {what} and reaches +-1"
    if fact.positive or fact.zero is None or fact.tags & _SATURATING:
        return None
    return operand, ctx.explain(fact.zero)
