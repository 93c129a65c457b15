"""LL301-LL305 beyond their examples: severity raised by sample weights, aligned shapes,
normalized objectives, replica steps done right."""

from __future__ import annotations

import textwrap

from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

from .helpers import codes, lint

BATCH_MEAN_LOSS = """
import tensorflow as tf
def my_mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))
def train(model, x, y, w):
    model.compile(optimizer="adam", loss=my_mse)
    model.fit(x, y, {weights}=w)
"""


def default_run(code: str):
    """Findings with the default selection (no `select`)."""
    return lint_source(textwrap.dedent(code).lstrip("\n"), "example.py", Settings(), None)


def test_ll302_is_info_without_sample_weights():
    source = BATCH_MEAN_LOSS.replace("model.fit(x, y, {weights}=w)", "model.fit(x, y)")
    found = [f for f in lint(source) if f.code == "LL302"]
    assert [(f.line, f.severity) for f in found] == [(3, "info")]
    assert not [f for f in default_run(source) if f.code == "LL302"]


def test_ll302_is_a_warning_with_sample_weight_or_class_weight():
    for weights in ("sample_weight", "class_weight"):
        source = BATCH_MEAN_LOSS.format(weights=weights)
        found = [f for f in lint(source) if f.code == "LL302"]
        assert [(f.line, f.severity) for f in found] == [(3, "warning")], weights
        assert "sample_weight" in found[0].message
        # A warning is on by default, although the rule itself is `info`.
        assert [f.line for f in default_run(source) if f.code == "LL302"] == [3], weights


def test_ll302_ignore_still_wins_over_the_raised_severity():
    source = textwrap.dedent(BATCH_MEAN_LOSS.format(weights="sample_weight")).lstrip("\n")
    found = lint_source(source, "example.py", Settings(ignore=["LL302"]), None)
    assert not [f for f in found if f.code == "LL302"]


def test_ll302_weighted_train_on_batch_and_loss_class():
    source = """
    import keras
    from keras import ops
    class MyMSE(keras.losses.Loss):
        def call(self, y_true, y_pred):
            err = ops.square(y_true - y_pred)
            return ops.mean(err, axis=None)
    def step(model, x, y, w):
        model.train_on_batch(x, y, sample_weight=w)
    """
    found = [f for f in lint(source) if f.code == "LL302"]
    assert [(f.line, f.severity) for f in found] == [(6, "warning")]


def test_ll302_quiet_on_per_sample_losses_and_keras_sources_style():
    source = """
    import tensorflow as tf
    from keras import ops
    def my_mse(y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)
    def dice_loss(y_true, y_pred, smooth=1.0):
        inter = tf.reduce_sum(y_true * y_pred, axis=[1, 2])
        return 1.0 - (2.0 * inter + smooth) / (tf.reduce_sum(y_true + y_pred, axis=[1, 2]) + smooth)
    def build(model, x, y, w):
        model.compile(optimizer="adam", loss=[my_mse, dice_loss])
        model.fit(x, y, sample_weight=w)
    """
    assert not [c for c in codes(source) if c[1] == "LL302"]


ALIGNED = [
    "y_true = tf.squeeze(y_true)",
    "y_pred = tf.squeeze(y_pred, axis=-1)",
    "y_true = tf.expand_dims(y_true, -1)",
    "y_true = tf.ensure_shape(y_true, y_pred.shape)",
    "assert y_true.shape == y_pred.shape",
    "y_true.shape.assert_is_compatible_with(y_pred.shape)",
    "tf.debugging.assert_equal(tf.shape(y_true), tf.shape(y_pred))",
]


def test_ll304_quiet_when_shapes_are_aligned():
    for alignment in ALIGNED:
        source = f"""
        import tensorflow as tf
        def per_sample_loss(y_true, y_pred):
            {alignment}
            return tf.square(y_true - y_pred)
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(per_sample_loss(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
        """
        assert not [c for c in codes(source) if c[1] == "LL304"], alignment


def test_ll304_quiet_when_a_column_is_selected_or_labels_are_one_hot():
    source = """
    import tensorflow as tf
    def column_loss(y_true, y_pred):
        return tf.abs(y_true - y_pred[:, 0])
    def xent_loss(y_true, y_pred):
        return -tf.reduce_sum(tf.one_hot(y_true, 10) * tf.math.log(y_pred + 1e-7), axis=-1)
    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            p = model(x)
            loss = tf.reduce_mean(column_loss(y, p) + xent_loss(y, p))
        grads = tape.gradient(loss, model.trainable_variables)
    """
    assert not [c for c in codes(source) if c[1] == "LL304"]


def test_ll304_points_at_the_first_elementwise_operation():
    source = """
    import tensorflow as tf
    def huberish(y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        err = y_true - y_pred
        return tf.where(tf.abs(err) < 1.0, 0.5 * err ** 2, tf.abs(err) - 0.5)
    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(huberish(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
    """
    assert [c for c in codes(source) if c[1] == "LL304"] == [(4, "LL304")]


REPLICA = """
import tensorflow as tf
mse = tf.keras.losses.MeanSquaredError(reduction="none")
GLOBAL_BATCH = 64
def replica_step(strategy, model, optimizer, x, y):
    def step_fn(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            {loss}
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return strategy.run(step_fn, args=(x, y))
"""


def test_ll305_quiet_with_compute_average_loss_or_a_global_division():
    for loss in (
        "loss = tf.nn.compute_average_loss(mse(y, pred), global_batch_size=GLOBAL_BATCH)",
        "loss = tf.reduce_sum(mse(y, pred)) / GLOBAL_BATCH",
        "loss = tf.reduce_sum(mse(y, pred)) * (1.0 / GLOBAL_BATCH)",
    ):
        found = [c for c in codes(REPLICA.format(loss=loss)) if c[1] in ("LL301", "LL303",
                                                                           "LL305")]
        assert found == [], loss


def test_ll305_flags_the_local_mean():
    found = codes(REPLICA.format(loss="loss = tf.reduce_mean(mse(y, pred))"))
    assert (8, "LL305") in found


def test_ll305_helper_with_compute_average_loss_is_quiet():
    source = """
    import tensorflow as tf
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
    def compute_loss(labels, logits):
        per_example_loss = loss_object(labels, logits)
        return tf.nn.compute_average_loss(per_example_loss, global_batch_size=64)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = compute_loss(y, model(x))
        grads = tape.gradient(loss, model.trainable_variables)
    def distributed_step(strategy, x, y):
        return strategy.run(train_step, args=(x, y))
    """
    assert not [c for c in codes(source) if c[1] in ("LL301", "LL303", "LL305")]


def test_ll303_quiet_when_the_sum_is_divided_later():
    source = """
    import tensorflow as tf
    def train_step(model, optimizer, x, y, batch_size):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(y - model(x)))
            loss /= batch_size
        grads = tape.gradient(loss, model.trainable_variables)
    """
    assert not [c for c in codes(source) if c[1] in ("LL301", "LL303")]


def test_ll303_tf1_script_and_torch_module_loss():
    source = """
    import tensorflow as tf
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    y_conv = tf.nn.softmax(tf.matmul(x, W) + b)
    cross_entropy = -tf.reduce_sum(y_ * tf.log(y_conv + 1e-10))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    """
    assert (5, "LL303") in codes(source)
    # Adam divides each step by the gradient's own scale: the sum takes the same steps
    adam = source.replace("GradientDescentOptimizer(0.5)", "AdamOptimizer(1e-4)")
    assert (5, "LL303") not in codes(adam)
    torch_source = """
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.criterion = nn.MSELoss(reduction="sum")
        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = self.criterion(self(x), y)
            loss.backward()
    """
    assert (8, "LL303") in codes(torch_source)


def test_ll301_knows_loss_objects_and_legacy_torch_arguments():
    source = """
    import torch.nn as nn
    import torch.nn.functional as F
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.criterion = nn.CrossEntropyLoss(reduction="none")
        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = self.criterion(self(x), y)
            loss.backward()
        def other_step(self, x, y):
            loss = F.mse_loss(self(x), y, reduce=False)
            loss.backward()
        def fine_step(self, x, y):
            loss = nn.CrossEntropyLoss()(self(x), y)
            loss.backward()
    """
    found = [c for c in codes(source) if c[1] == "LL301"]
    assert found == [(10, "LL301"), (13, "LL301")]


def test_ll302_quiet_on_a_callable_given_to_minimize():
    source = """
    import tensorflow as tf
    def loss_fn():
        return tf.reduce_mean(tf.square(y - model(x)))
    def step(optimizer, model, x, y):
        optimizer.minimize(loss_fn, model.trainable_variables)
        model.fit(x, y, sample_weight=w)
    """
    assert not [c for c in codes(source) if c[1] == "LL302"]


def test_a_helper_returns_the_shape_of_what_it_is_given():
    # `log(Z)` of a scalar `Z` through `def log(x): return torch.log(x + 1e-8)` is a scalar.
    source = """
    import torch

    def log(x):
        return torch.log(x + 1e-8)

    def train(generator, discriminator, loader, optimizer, z):
        for images in loader:
            d_real = discriminator(images)
            d_fake = discriminator(generator(z))
            partition = torch.sum(torch.exp(-d_real)) + torch.sum(torch.exp(-d_fake))
            loss = (torch.sum(d_real) + torch.sum(d_fake)) / 64 + log(partition)
            loss.backward()
            optimizer.step()
    """
    assert not [c for c in codes(source) if c[1] == "LL301"]
