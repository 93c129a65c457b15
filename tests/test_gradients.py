"""LL202-LL205: the hard cases of the gradient rules (every path, straight-through estimators,
custom gradient contracts)."""

from __future__ import annotations

from .helpers import codes, lint


def found(code: str, rule: str) -> list[int]:
    return [line for line, c in codes(code, select=[rule]) if c == rule]


# --- LL203 / LL205: every path --------------------------------------------------------------

def test_one_differentiable_path_keeps_the_loss_live():
    assert found("""
        import tensorflow as tf
        def hybrid_loss(y_true, y_pred):
            soft = tf.reduce_mean(tf.square(y_true - y_pred))
            hard = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y_pred, -1),
                                                   tf.argmax(y_true, -1)), tf.float32))
            return soft + (1.0 - hard)
        """, "LL203") == []


def test_reassignment_is_followed_without_looping():
    assert found("""
        from tensorflow.keras import backend as K
        def rounded_loss(y_true, y_pred):
            y_pred = K.round(y_pred)
            y_pred = K.clip(y_pred, 0.0, 1.0)
            return K.mean(K.square(y_true - y_pred), axis=-1)
        """, "LL203") == [3]


def test_a_branch_that_keeps_the_prediction_is_a_live_path():
    assert found("""
        from tensorflow.keras import backend as K
        def maybe_rounded_loss(y_true, y_pred, hard=False):
            if hard:
                y_pred = K.round(y_pred)
            return K.mean(K.square(y_true - y_pred), axis=-1)
        """, "LL203") == []


def test_every_return_path_must_be_blocked():
    assert found("""
        import torch
        def staged_loss(pred, target, warmup=True):
            if warmup:
                return ((pred - target) ** 2).mean()
            return ((pred.round() - target) ** 2).mean()
        """, "LL203") == []


def test_helper_calls_are_followed_and_reported_in_the_helper():
    code = """
        import torch
        def hard_labels(scores):
            return scores.argmax(dim=1)
        def hard_loss(pred, target):
            labels = hard_labels(pred)
            return (labels.float() - target).abs().mean()
        """
    assert found(code, "LL203") == [3]


def test_tuple_unpacking_from_a_helper_follows_the_element():
    code = """
        import tensorflow as tf
        def split(y_pred):
            return tf.stop_gradient(y_pred), y_pred
        def split_loss(y_true, y_pred):
            frozen, live = split(y_pred)
            return tf.reduce_mean(tf.square(y_true - frozen))
        def live_loss(y_true, y_pred):
            frozen, live = split(y_pred)
            return tf.reduce_mean(tf.square(y_true - live))
        """
    assert found(code, "LL205") == [3]


def test_labels_are_not_the_prediction():
    assert found("""
        import torch.nn.functional as F
        def ce_loss(logits, target):
            return F.cross_entropy(logits, target.argmax(dim=1).long())
        """, "LL203") == []


def test_metric_is_not_loss_code_but_a_metric_as_loss_is():
    metric = """
        import tensorflow as tf
        def accuracy(y_true, y_pred):
            return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y_true, -1),
                                                   tf.argmax(y_pred, -1)), tf.float32))
        """
    assert found(metric, "LL203") == []
    assert found(metric.replace("def accuracy(", "def accuracy_loss("), "LL203") == [4]


# --- straight-through estimators --------------------------------------------------------------

def test_straight_through_with_stop_gradient_is_quiet():
    code = """
        import tensorflow as tf
        def quantized_loss(y_true, y_pred):
            q = y_pred + tf.stop_gradient(tf.round(y_pred) - y_pred)
            return tf.reduce_mean(tf.square(y_true - q))
        """
    assert found(code, "LL203") == [] and found(code, "LL205") == []


def test_straight_through_with_detach_is_quiet():
    code = """
        import torch
        def binary_loss(pred, target):
            hard = (pred > 0.5).float()
            st = pred + (hard - pred).detach()
            return ((st - target) ** 2).mean()
        """
    assert found(code, "LL203") == [] and found(code, "LL205") == []


def test_forward_of_custom_gradient_and_autograd_function_is_exempt():
    code = """
        import tensorflow as tf
        import torch
        def _round(x):
            return tf.round(x), lambda dy: dy
        round_st = tf.custom_gradient(_round)
        class Sign(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return torch.sign(x)
            @staticmethod
            def backward(ctx, grad):
                return grad
        def sign_loss(pred, target):
            return ((Sign.apply(pred) - target) ** 2).mean()
        def round_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - round_st(y_pred)))
        """
    assert found(code, "LL203") == [] and found(code, "LL202") == []


# --- LL205: training steps --------------------------------------------------------------------

def test_item_for_logging_after_backward_is_fine():
    assert found("""
        import torch.nn.functional as F
        def train_loss(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()
        """, "LL205") == []


def test_evaluation_under_no_grad_is_fine():
    assert found("""
        import torch
        import torch.nn.functional as F
        def validation_loss(model, x, y):
            model.eval()
            with torch.no_grad():
                pred = model(x)
                loss = F.mse_loss(pred, y)
            return loss.item()
        """, "LL205") == []


def test_stop_gradient_of_the_model_output_in_a_tape():
    assert found("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                pred = tf.stop_gradient(model(x))
                loss = tf.reduce_mean(tf.square(y - pred))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """, "LL205") == [4]


def test_loss_under_no_grad_is_reported_at_the_with():
    findings = [f for f in lint("""
        import torch
        def my_loss(pred, target):
            with torch.no_grad():
                err = (pred - target).abs()
            return err.mean()
        """, select=["LL205"])]
    assert [(f.line, f.column) for f in findings] == [(3, 5)]


# --- LL204 ------------------------------------------------------------------------------------

def test_torch_loss_is_not_a_graph_break():
    assert found("""
        import numpy as np
        import torch
        def weighted_loss(pred, target):
            w = torch.as_tensor(np.abs(target.cpu().numpy()))
            return ((pred - target) ** 2 * w).mean()
        """, "LL204") == []


def test_nested_numpy_calls_are_one_finding():
    assert found("""
        import numpy as np
        import tensorflow as tf
        def np_loss(y_true, y_pred):
            return tf.constant(np.mean(np.abs(y_true - y_pred)))
        """, "LL204") == [4]


def test_keras_loss_written_with_numpy_only_is_flagged_when_given_to_keras():
    code = """
        import numpy as np
        import tensorflow as tf
        def my_metric(y_true, y_pred):
            return np.mean(np.abs(y_true - y_pred))
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        model.compile(loss=my_metric)
        """
    assert found(code, "LL204") == [4]


# --- LL202 ------------------------------------------------------------------------------------

def test_python_numbers_count_as_inputs_at_the_call_site():
    code = """
        import tensorflow as tf
        @tf.custom_gradient
        def scale(x, factor):
            def grad(dy):
                return dy * factor
            return x * factor, grad
        def scaled_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - scale(y_pred, 2.0)))
        """
    assert found(code, "LL202") == [5]
    assert found(code.replace("return dy * factor", "return dy * factor, None"), "LL202") == []


def test_nested_gradients_are_flattened():
    assert found("""
        import tensorflow as tf
        @tf.custom_gradient
        def pair_op(x, y, z):
            def grad(dy):
                return (dy, dy), dy
            return x + y + z, grad
        """, "LL202") == []


def test_upstream_must_be_used_on_every_return_path():
    assert found("""
        import tensorflow as tf
        @tf.custom_gradient
        def guarded(x):
            def grad(dy):
                if tf.reduce_any(x < 0):
                    return tf.zeros_like(x)
                g = dy * 2.0
                return g
            return x * 2.0, grad
        """, "LL202") == [4]


def test_variables_keyword_form():
    ok = """
        import tensorflow as tf
        @tf.custom_gradient
        def dense(x):
            y = tf.matmul(x, w)
            def grad(upstream, variables=None):
                dx = tf.matmul(upstream, tf.transpose(w))
                return dx, [tf.matmul(tf.transpose(x), upstream)]
            return y, grad
        """
    assert found(ok, "LL202") == []
    # Without variables in use TensorFlow calls `grad(dy)` and counts the plain gradients.
    plain = ok.replace("return dx, [tf.matmul(tf.transpose(x), upstream)]", "return dx")
    assert found(plain, "LL202") == []
    bad = ok.replace("return dx, [", "return dx, None, [")
    assert found(bad, "LL202") == [7]


def test_outer_function_must_return_value_and_grad_fn():
    code = """
        import tensorflow as tf
        @tf.custom_gradient
        def op(x):
            def grad(dy):
                return dy
            out = tf.identity(x)
            return out
        """
    assert found(code, "LL202") == [7]
    assert found(code.replace("return out", "return out, grad"), "LL202") == []


def test_torch_backward_counts_inputs_after_ctx():
    code = """
        import torch
        class Mul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, alpha=1.0):
                ctx.save_for_backward(x, y)
                return x * y * alpha
            @staticmethod
            def backward(ctx, grad_out):
                x, y = ctx.saved_tensors
                return grad_out * y, grad_out * x, None
        """
    assert found(code, "LL202") == []
    assert found(code.replace("return grad_out * y, grad_out * x, None", "return grad_out * y"),
                 "LL202") == [10]
    assert found(code.replace(", None", ", None, grad_out"), "LL202") == [10]


def test_torch_setup_context_form_has_no_ctx_in_forward():
    assert found("""
        import torch
        class Square(torch.autograd.Function):
            @staticmethod
            def forward(x):
                return x ** 2
            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(inputs[0])
            @staticmethod
            def backward(ctx, grad_out):
                x, = ctx.saved_tensors
                return 2 * x * grad_out
        """, "LL202") == []


def test_torch_backward_ignoring_grad_output():
    assert found("""
        import torch
        class Square(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2
            @staticmethod
            def backward(ctx, grad_out):
                x, = ctx.saved_tensors
                return 2 * x
        """, "LL202") == [8]


def test_torch_backward_may_return_none_early():
    assert found("""
        import torch
        class Linear(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x, w)
                return x.mm(w)
            @staticmethod
            def backward(ctx, grad_output):
                x, w = ctx.saved_tensors
                if not any(ctx.needs_input_grad):
                    return None, None
                grad_x = grad_w = None
                if ctx.needs_input_grad[0]:
                    grad_x = grad_output.mm(w.t())
                if ctx.needs_input_grad[1]:
                    grad_w = x.t().mm(grad_output)
                return grad_x, grad_w
        """, "LL202") == []


def test_a_loss_declared_without_gradient_is_a_metric():
    assert found("""
        import torch
        import torch.nn as nn
        class SetCriterion(nn.Module):
            @torch.no_grad()
            def loss_cardinality(self, outputs, targets):
                pred = outputs["pred_logits"]
                card = (pred.argmax(-1) != pred.shape[-1] - 1).sum(1)
                return {"cardinality_error": (card.float() - 1.0).abs().mean()}
        """, "LL203") == []


def test_jax_grad_argnums_names_the_differentiated_parameters():
    """`value_and_grad(f, argnums=(1,))` differentiates `log_alpha`, which reaches the loss:
    the stopped policy term is by design; with the policy differentiated, it is not."""
    source = """
    import jax
    import jax.numpy as jnp
    def make(policy, target_entropy):
        def alpha_loss(policy_params, log_alpha, obs):
            lp = policy.apply(policy_params, obs)
            return jnp.mean(jnp.exp(log_alpha) * jax.lax.stop_gradient(-lp - target_entropy))
        return jax.value_and_grad(alpha_loss, argnums={argnums})
    """
    assert not [f for f in lint(source.format(argnums="(1,)")) if f.code == "LL205"]
    assert [f.code for f in lint(source.format(argnums="0")) if f.code == "LL205"] == ["LL205"]
