"""Order-aware reaching definitions shared by the model reader, the reduction analysis and the
gradient flow: the value a read sees is the one defined before it, not the last one of the
function."""

from __future__ import annotations

import textwrap

import libcst as cst

from lossguard.analysis.gradient_flow import GradientFlow
from lossguard.analysis.index import build
from lossguard.analysis.losscode import compute
from lossguard.analysis.tree import walk

from .helpers import lint


def _logs(source: str) -> dict[str, bool]:
    """`carries_gradient` of every `log(...)` call, by its source text."""
    module = cst.parse_module(textwrap.dedent(source))
    index = build(module)
    flow = GradientFlow(index, compute(index, (), False))
    found = {}
    for function in index.functions:
        for node in walk(function.node.body):
            op = index.op_of(node) if isinstance(node, cst.Call) else None
            if op is not None and op.kind == "log" and index.function_of.get(
                    id(function.node)) is function:
                found.setdefault(module.code_for_node(node), flow.carries_gradient(node, function))
    return found


def test_carries_gradient_separates_labels_from_predictions():
    found = _logs("""
        import tensorflow as tf
        def masked_loss(targets, y_pred):
            safe = tf.where(targets == 0, tf.zeros_like(targets), tf.math.log(targets))
            return tf.reduce_mean(safe * tf.math.log(y_pred + 1e-7))
        def train_step(model, x, y):
            out = model(x)
            return tf.math.log(out), tf.math.log(tf.stop_gradient(out)), tf.math.log(y)
        """)
    assert found == {"tf.math.log(targets)": False, "tf.math.log(y_pred + 1e-7)": True,
                     "tf.math.log(out)": True, "tf.math.log(tf.stop_gradient(out))": False,
                     "tf.math.log(y)": False}


def test_carries_gradient_is_unsure_of_a_closure_over_a_prediction():
    found = _logs("""
        import tensorflow as tf
        def make_loss(y_pred):
            def loss(mask):
                return tf.math.log(y_pred * mask)
            return loss
        """)
    assert found == {"tf.math.log(y_pred * mask)": True}


def test_unpacking_replaces_an_earlier_definition():
    assert [f for f in lint("""
        import torch
        import torch.nn.functional as F
        def evaluate(model, x, target):
            scores = torch.sigmoid(model(x))
            scores, features = model(x)
            return F.binary_cross_entropy_with_logits(scores, target)
        """) if f.code == "LL401"] == []


def test_augmented_assignment_keeps_the_unreduced_part():
    found = [f for f in lint("""
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y)
            loss += F.l1_loss(model(x), y, reduction="none")
            loss.backward()
            optimizer.step()
        """) if f.code == "LL301"]
    assert [f.line for f in found] == [5]


def test_unapplied_tape_gradients_hint_at_apply_gradients():
    found = [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            return loss
        """) if f.code == "LL201"]
    assert len(found) == 1 and "apply_gradients(zip(grads" in found[0].hint


def test_the_differentiated_loss_is_the_one_that_reaches_the_tape_not_a_later_rebinding():
    # The tape differentiates the reduced `loss`; the later `loss = tf.square(...)` is
    # returned, never differentiated: LL301 has nothing to say.
    assert [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.square(model(x) - y)
            return loss
        """) if f.code == "LL301"] == []


def test_an_unreduced_differentiated_loss_is_flagged_though_reduced_later():
    # The mirror case: the tape differentiates the element-wise `loss`; reducing it afterwards
    # for the log does not reduce what was differentiated.
    found = [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.square(model(x) - y)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.reduce_mean(loss)
            return loss
        """) if f.code == "LL301"]
    assert [f.line for f in found] == [5]
    assert "`tf.square(model(x) - y)`" in found[0].message
